/**
 * WINDOW_UPDATE (RFC 9113 §6.9): grants flow-control credit to a stream or (stream 0) the
 * connection.
 *
 * ```
 * R (1) Window Size Increment (31)
 * ```
 */
import { ConnectionError, ErrorCode, Http2UsageError, StreamError } from '../errors.js';
import { allocFrame, readStreamId, writeUint32 } from './frame-header.js';
import { FRAME_HEADER_LENGTH, type FrameHeader, FrameType, type WindowUpdateFrame } from './types.js';

/** RFC 9113 §6.9: the increment is 31 bits, 1 to 2^31-1. */
export const MAX_WINDOW_INCREMENT = 0x7fff_ffff;

/**
 * Encodes a whole WINDOW_UPDATE frame. An increment of 0 is encodable on purpose (tests send
 * it to peers); anything wider than 31 bits is not.
 */
export function encodeWindowUpdate(frame: WindowUpdateFrame): Uint8Array {
  const { increment } = frame;
  if (!(increment >= 0 && increment <= MAX_WINDOW_INCREMENT) || Math.floor(increment) !== increment) {
    throw new Http2UsageError(`window increment ${increment} is not in [0, 2^31-1]`);
  }
  const out = allocFrame(4, FrameType.WINDOW_UPDATE, 0, frame.streamId);
  writeUint32(out, FRAME_HEADER_LENGTH, increment);
  return out;
}

/** Decodes a WINDOW_UPDATE payload. */
export function decodeWindowUpdate(header: FrameHeader, payload: Uint8Array): WindowUpdateFrame {
  // RFC 9113 §6.9: a WINDOW_UPDATE frame with a length other than 4 octets MUST be treated as a
  // connection error of type FRAME_SIZE_ERROR.
  if (payload.length !== 4) {
    throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `WINDOW_UPDATE payload of ${payload.length} octets, expected 4`);
  }
  // The reserved bit is masked off.
  const increment = readStreamId(payload, 0);
  // RFC 9113 §6.9: a receiver MUST treat the receipt of a WINDOW_UPDATE frame with a flow-control
  // window increment of 0 as a stream error of type PROTOCOL_ERROR; errors on the connection
  // flow-control window MUST be treated as a connection error.
  if (increment === 0) {
    if (header.streamId === 0) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE with increment 0 on the connection');
    }
    throw new StreamError(header.streamId, ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE with increment 0');
  }
  return { kind: 'window-update', streamId: header.streamId, increment };
}
