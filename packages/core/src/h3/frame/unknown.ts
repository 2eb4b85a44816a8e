/**
 * Frames of unknown and reserved types (RFC 9114 §9: implementations MUST ignore unknown frame
 * types; §7.2.8: reserved ones exist to exercise that). They decode to `H3UnknownFrame` and pass
 * through; `encodeH3Unknown` writes any type and payload verbatim, which also lets tests craft
 * frames the engine would never send.
 */
import { allocH3Frame } from './frame-header.js';
import type { H3UnknownFrame } from './types.js';

export function encodeH3Unknown(frame: H3UnknownFrame): Uint8Array {
  const { out, at } = allocH3Frame(frame.type, frame.payload.length);
  out.set(frame.payload, at);
  return out;
}

export function decodeH3Unknown(type: number, payload: Uint8Array): H3UnknownFrame {
  return { kind: 'unknown', type, payload };
}
