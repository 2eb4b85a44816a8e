/**
 * HEADERS (RFC 9114 §7.2.2): a QPACK-encoded field section. `Encoded Field Section (..)`
 */
import { allocH3Frame } from './frame-header.js';
import { H3FrameType, type H3HeadersFrame } from './types.js';

export function encodeH3Headers(frame: H3HeadersFrame): Uint8Array {
  const { out, at } = allocH3Frame(H3FrameType.HEADERS, frame.fieldSection.length);
  out.set(frame.fieldSection, at);
  return out;
}

/** `fieldSection` is the payload itself (a view). */
export function decodeH3Headers(payload: Uint8Array): H3HeadersFrame {
  return { kind: 'headers', fieldSection: payload };
}
