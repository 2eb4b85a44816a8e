/**
 * SETTINGS (RFC 9114 §7.2.4): `(Identifier (i) Value (i)) ...`, sent once, first on the control
 * stream.
 */
import { ConnectionError } from '../../errors.js';
import { H3ErrorCode } from '../error-codes.js';
import { varintLength, writeVarint } from '../varint.js';
import { allocH3Frame, PayloadCursor } from './frame-header.js';
import { H3FrameType, type H3SettingsFrame, HTTP2_ONLY_SETTING_IDS } from './types.js';

export function encodeH3Settings(frame: H3SettingsFrame): Uint8Array {
  let length = 0;
  for (const [id, value] of frame.settings) length += varintLength(id) + varintLength(value);
  const { out, at } = allocH3Frame(H3FrameType.SETTINGS, length);
  let offset = at;
  for (const [id, value] of frame.settings) offset = writeVarint(out, writeVarint(out, offset, id), value);
  return out;
}

/** Unknown ids are kept, in wire order (RFC 9114 §7.2.4: they MUST be ignored, by the connection). */
export function decodeH3Settings(payload: Uint8Array): H3SettingsFrame {
  const cursor = new PayloadCursor(payload, H3FrameType.SETTINGS);
  const settings: Array<[number, number]> = [];
  const seen = new Set<number>();
  while (!cursor.done) {
    const id = cursor.varint();
    const value = cursor.varint();
    // RFC 9114 §7.2.4: the same setting identifier MUST NOT occur more than once; a receiver MAY treat it as H3_SETTINGS_ERROR.
    if (seen.has(id)) throw new ConnectionError(H3ErrorCode.H3_SETTINGS_ERROR, `setting 0x${id.toString(16)} repeated`);
    // RFC 9114 §7.2.4.1: receipt of an HTTP/2 setting identifier MUST be treated as H3_SETTINGS_ERROR.
    if (HTTP2_ONLY_SETTING_IDS.has(id)) throw new ConnectionError(H3ErrorCode.H3_SETTINGS_ERROR, `HTTP/2 setting 0x${id.toString(16)} in HTTP/3 SETTINGS`);
    seen.add(id);
    settings.push([id, value]);
  }
  return { kind: 'settings', settings };
}
