/**
 * GOAWAY (RFC 9113 §6.8): starts a graceful (or fatal) shutdown of the connection.
 *
 * ```
 * R (1) Last-Stream-ID (31) | Error Code (32) | Additional Debug Data (..)
 * ```
 */
import { ConnectionError, ErrorCode } from '../errors.js';
import { allocFrame, checkStreamId, checkUint32, readStreamId, readUint32, writeUint32 } from './frame-header.js';
import { FRAME_HEADER_LENGTH, type FrameHeader, FrameType, type GoawayFrame } from './types.js';

/** Last-Stream-ID and Error Code: 8 octets before the debug data. */
const GOAWAY_FIXED_LENGTH = 8;

/** Encodes a whole GOAWAY frame. */
export function encodeGoaway(frame: GoawayFrame): Uint8Array {
  checkStreamId(frame.lastStreamId, 'last stream id');
  checkUint32(frame.errorCode, 'error code');
  const out = allocFrame(GOAWAY_FIXED_LENGTH + frame.debugData.length, FrameType.GOAWAY, 0, 0);
  writeUint32(out, FRAME_HEADER_LENGTH, frame.lastStreamId);
  writeUint32(out, FRAME_HEADER_LENGTH + 4, frame.errorCode);
  out.set(frame.debugData, FRAME_HEADER_LENGTH + GOAWAY_FIXED_LENGTH);
  return out;
}

/** Decodes a GOAWAY payload; `debugData` is a view into `payload`. */
export function decodeGoaway(header: FrameHeader, payload: Uint8Array): GoawayFrame {
  // RFC 9113 §6.8: an endpoint MUST treat a GOAWAY frame with a stream identifier other than
  // 0x00 as a connection error of type PROTOCOL_ERROR.
  if (header.streamId !== 0) {
    throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `GOAWAY frame on stream ${header.streamId}`);
  }
  // RFC 9113 §4.2: a frame too small to contain mandatory frame data is a FRAME_SIZE_ERROR
  // (stream 0, so a connection error).
  if (payload.length < GOAWAY_FIXED_LENGTH) {
    throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `GOAWAY payload of ${payload.length} octets, expected at least 8`);
  }
  return {
    kind: 'goaway',
    lastStreamId: readStreamId(payload, 0),
    errorCode: readUint32(payload, 4),
    debugData: payload.subarray(GOAWAY_FIXED_LENGTH),
  };
}
