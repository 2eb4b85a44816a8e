/**
 * DATA (RFC 9114 §7.2.1): a chunk of the message's content. `Data (..)`
 */
import { allocH3Frame } from './frame-header.js';
import { type H3DataFrame, H3FrameType } from './types.js';

export function encodeH3Data(frame: H3DataFrame): Uint8Array {
  const { out, at } = allocH3Frame(H3FrameType.DATA, frame.data.length);
  out.set(frame.data, at);
  return out;
}

/** `data` is the payload itself (a view). */
export function decodeH3Data(payload: Uint8Array): H3DataFrame {
  return { kind: 'data', data: payload };
}
