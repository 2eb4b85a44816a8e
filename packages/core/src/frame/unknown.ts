/**
 * Frames of types this engine does not implement (RFC 9113 §4.1, §5.5: implementations MUST
 * ignore and discard frames of unknown types). They decode to `UnknownFrame` and are passed
 * through untouched; the connection decides to discard them. `encodeUnknown` writes any
 * type/flags/payload verbatim, which also lets tests craft malformed frames.
 */
import { allocFrame } from './frame-header.js';
import { FRAME_HEADER_LENGTH, type FrameHeader, type UnknownFrame } from './types.js';

/** Encodes a whole frame from its raw type, flags, stream id and payload. */
export function encodeUnknown(frame: UnknownFrame): Uint8Array {
  const out = allocFrame(frame.payload.length, frame.type, frame.flags, frame.streamId);
  out.set(frame.payload, FRAME_HEADER_LENGTH);
  return out;
}

/** Wraps a frame as `UnknownFrame`; `payload` is kept as given (no copy). */
export function decodeUnknown(header: FrameHeader, payload: Uint8Array): UnknownFrame {
  return { kind: 'unknown', type: header.type, flags: header.flags, streamId: header.streamId, payload };
}
