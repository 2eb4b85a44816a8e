/**
 * CONTINUATION (RFC 9113 §6.10): further fragments of a field block begun by HEADERS or
 * PUSH_PROMISE. The `FrameReader` assembles them; this file only encodes and decodes one frame.
 */
import { ConnectionError, ErrorCode } from '../errors.js';
import { allocFrame } from './frame-header.js';
import { type ContinuationFrame, Flag, FRAME_HEADER_LENGTH, type FrameHeader, FrameType } from './types.js';

/** Encodes a whole CONTINUATION frame. */
export function encodeContinuation(frame: ContinuationFrame): Uint8Array {
  const out = allocFrame(frame.fragment.length, FrameType.CONTINUATION, frame.endHeaders ? Flag.END_HEADERS : 0, frame.streamId);
  out.set(frame.fragment, FRAME_HEADER_LENGTH);
  return out;
}

/** Decodes a CONTINUATION payload; `fragment` is `payload` itself. */
export function decodeContinuation(header: FrameHeader, payload: Uint8Array): ContinuationFrame {
  // RFC 9113 §6.10: if a CONTINUATION frame is received with a Stream Identifier field of 0x00,
  // the recipient MUST respond with a connection error of type PROTOCOL_ERROR.
  if (header.streamId === 0) {
    throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'CONTINUATION frame on stream 0');
  }
  return {
    kind: 'continuation',
    streamId: header.streamId,
    endHeaders: (header.flags & Flag.END_HEADERS) !== 0,
    fragment: payload,
  };
}
