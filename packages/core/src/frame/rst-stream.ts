/**
 * RST_STREAM (RFC 9113 §6.4): immediately terminates a stream.
 *
 * ```
 * Error Code (32)
 * ```
 */
import { ConnectionError, ErrorCode } from '../errors.js';
import { allocFrame, checkUint32, readUint32, writeUint32 } from './frame-header.js';
import { FRAME_HEADER_LENGTH, type FrameHeader, FrameType, type RstStreamFrame } from './types.js';

/** Encodes a whole RST_STREAM frame. */
export function encodeRstStream(frame: RstStreamFrame): Uint8Array {
  checkUint32(frame.errorCode, 'error code');
  const out = allocFrame(4, FrameType.RST_STREAM, 0, frame.streamId);
  writeUint32(out, FRAME_HEADER_LENGTH, frame.errorCode);
  return out;
}

/** Decodes a RST_STREAM payload. Unknown error codes are kept (RFC 9113 §7). */
export function decodeRstStream(header: FrameHeader, payload: Uint8Array): RstStreamFrame {
  // RFC 9113 §6.4: if a RST_STREAM frame is received with a stream identifier of 0x00, the
  // recipient MUST treat this as a connection error of type PROTOCOL_ERROR.
  if (header.streamId === 0) {
    throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM frame on stream 0');
  }
  // RFC 9113 §6.4: a RST_STREAM frame with a length other than 4 octets MUST be treated as a
  // connection error of type FRAME_SIZE_ERROR.
  if (payload.length !== 4) {
    throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `RST_STREAM payload of ${payload.length} octets, expected 4`);
  }
  return { kind: 'rst-stream', streamId: header.streamId, errorCode: readUint32(payload, 0) };
}
