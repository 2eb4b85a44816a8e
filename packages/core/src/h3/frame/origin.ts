/**
 * ORIGIN (RFC 9412 §2): the origins the server claims authority for, on its control stream.
 * The payload is HTTP/2's (RFC 8336 §2: `(Origin-Len (16) ASCII-Origin (..)) ...`), so HTTP/2's
 * entry codec (frame/origin.ts) reads and writes it.
 */
import { decodeOrigin, encodeOrigin } from '../../frame/origin.js';
import { FRAME_HEADER_LENGTH, FrameType } from '../../frame/types.js';
import { allocH3Frame } from './frame-header.js';
import { H3FrameType, type H3OriginFrame, type H3UnknownFrame } from './types.js';

export function encodeH3Origin(frame: H3OriginFrame): Uint8Array {
  const payload = encodeOrigin({ kind: 'origin', streamId: 0, origins: frame.origins }).subarray(FRAME_HEADER_LENGTH);
  const { out, at } = allocH3Frame(H3FrameType.ORIGIN, payload.length);
  out.set(payload, at);
  return out;
}

/** A payload whose entries do not fill it exactly decodes to an unknown frame, ignored as HTTP/2 ignores it (RFC 8336 §2.2, non-critical). */
export function decodeH3Origin(payload: Uint8Array): H3OriginFrame | H3UnknownFrame {
  const decoded = decodeOrigin({ length: payload.length, type: FrameType.ORIGIN, flags: 0, streamId: 0 }, payload);
  if (decoded.kind !== 'origin') return { kind: 'unknown', type: H3FrameType.ORIGIN, payload };
  return { kind: 'origin', origins: decoded.origins };
}
