/**
 * SETTINGS (RFC 9113 §6.5): configuration parameters, or an acknowledgement (ACK, empty).
 *
 * ```
 * (Identifier (16) Value (32)) ...
 * ```
 *
 * The values of known parameters are range-checked here (a pure check); applying them, the
 * acknowledgement and SETTINGS_TIMEOUT are the connection's business.
 */
import { ConnectionError, ErrorCode, Http2UsageError } from '../errors.js';
import { allocFrame, checkUint32, readUint32, writeUint32 } from './frame-header.js';
import {
  DEFAULT_MAX_FRAME_SIZE,
  Flag,
  FRAME_HEADER_LENGTH,
  type FrameHeader,
  FrameType,
  MAX_ALLOWED_FRAME_SIZE,
  SettingId,
  type SettingsFrame,
} from './types.js';

/** One parameter is a 16-bit identifier and a 32-bit value. */
const SETTING_LENGTH = 6;
/** RFC 9113 §6.9.1: the largest flow-control window, 2^31-1. */
const MAX_WINDOW_SIZE = 0x7fff_ffff;

/** Encodes a whole SETTINGS frame; an ACK must have no parameters. */
export function encodeSettings(frame: SettingsFrame): Uint8Array {
  const { settings } = frame;
  if (frame.ack && settings.length > 0) {
    throw new Http2UsageError('a SETTINGS ACK carries no parameters');
  }
  const out = allocFrame(settings.length * SETTING_LENGTH, FrameType.SETTINGS, frame.ack ? Flag.ACK : 0, 0);
  let at = FRAME_HEADER_LENGTH;
  for (const [id, value] of settings) {
    if ((id & 0xffff) !== id) throw new Http2UsageError(`setting id ${id} does not fit in 16 bits`);
    checkUint32(value, `setting ${id} value`);
    out[at] = id >>> 8;
    out[at + 1] = id & 0xff;
    writeUint32(out, at + 2, value);
    at += SETTING_LENGTH;
  }
  return out;
}

/** Decodes a SETTINGS payload, validating the values of known parameters. */
export function decodeSettings(header: FrameHeader, payload: Uint8Array): SettingsFrame {
  // RFC 9113 §6.5: if an endpoint receives a SETTINGS frame whose Stream Identifier field is
  // anything other than 0x00, the endpoint MUST respond with a connection error of type PROTOCOL_ERROR.
  if (header.streamId !== 0) {
    throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS frame on stream ${header.streamId}`);
  }
  const ack = (header.flags & Flag.ACK) !== 0;
  // RFC 9113 §6.5: receipt of a SETTINGS frame with the ACK flag set and a length field value
  // other than 0 MUST be treated as a connection error of type FRAME_SIZE_ERROR.
  if (ack && payload.length !== 0) {
    throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `SETTINGS ACK with a ${payload.length}-octet payload`);
  }
  // RFC 9113 §6.5: a SETTINGS frame with a length other than a multiple of 6 octets MUST be
  // treated as a connection error of type FRAME_SIZE_ERROR.
  if (payload.length % SETTING_LENGTH !== 0) {
    throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `SETTINGS payload of ${payload.length} octets is not a multiple of 6`);
  }
  const settings: Array<[number, number]> = [];
  for (let at = 0; at < payload.length; at += SETTING_LENGTH) {
    const id = (payload[at] << 8) | payload[at + 1];
    const value = readUint32(payload, at + 2);
    checkSettingValue(id, value);
    settings.push([id, value]);
  }
  return { kind: 'settings', ack, settings };
}

function checkSettingValue(id: number, value: number): void {
  switch (id) {
    case SettingId.ENABLE_PUSH:
      // RFC 9113 §6.5.2: any value other than 0 or 1 MUST be treated as a connection error of
      // type PROTOCOL_ERROR.
      if (value > 1) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH = ${value}`);
      break;
    case SettingId.INITIAL_WINDOW_SIZE:
      // RFC 9113 §6.5.2: values above the maximum flow-control window size of 2^31-1 MUST be
      // treated as a connection error of type FLOW_CONTROL_ERROR.
      if (value > MAX_WINDOW_SIZE) {
        throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, `SETTINGS_INITIAL_WINDOW_SIZE = ${value}`);
      }
      break;
    case SettingId.MAX_FRAME_SIZE:
      // RFC 9113 §6.5.2: values outside [2^14, 2^24-1] MUST be treated as a connection error of
      // type PROTOCOL_ERROR.
      if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_ALLOWED_FRAME_SIZE) {
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE = ${value}`);
      }
      break;
    case SettingId.ENABLE_CONNECT_PROTOCOL:
      // RFC 8441 §3: the value MUST be 0 or 1; a mismatch is treated as PROTOCOL_ERROR (as for
      // ENABLE_PUSH, whose rule this setting mirrors).
      if (value > 1) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_ENABLE_CONNECT_PROTOCOL = ${value}`);
      break;
    case SettingId.NO_RFC7540_PRIORITIES:
      // RFC 9218 §2.1: a value other than 0 or 1 MUST be treated as a connection error of type PROTOCOL_ERROR.
      if (value > 1) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_NO_RFC7540_PRIORITIES = ${value}`);
      break;
    default:
      // RFC 9113 §6.5.2: an endpoint that receives a SETTINGS frame with any unknown or unsupported
      // identifier MUST ignore that setting (kept in the list; the connection skips it).
      break;
  }
}
