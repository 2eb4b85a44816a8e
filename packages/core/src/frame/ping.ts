/**
 * PING (RFC 9113 §6.7): 8 opaque octets, echoed back with ACK. Measures RTT, checks liveness.
 */
import { ConnectionError, ErrorCode, Http2UsageError } from '../errors.js';
import { allocFrame } from './frame-header.js';
import { Flag, FRAME_HEADER_LENGTH, type FrameHeader, FrameType, type PingFrame } from './types.js';

/** RFC 9113 §6.7: PING frames carry exactly 8 octets of opaque data. */
export const PING_PAYLOAD_LENGTH = 8;

/** Encodes a whole PING frame. `opaque` must be 8 octets. */
export function encodePing(frame: PingFrame): Uint8Array {
  if (frame.opaque.length !== PING_PAYLOAD_LENGTH) {
    throw new Http2UsageError(`PING opaque data is ${frame.opaque.length} octets, expected 8`);
  }
  const out = allocFrame(PING_PAYLOAD_LENGTH, FrameType.PING, frame.ack ? Flag.ACK : 0, 0);
  out.set(frame.opaque, FRAME_HEADER_LENGTH);
  return out;
}

/** Decodes a PING payload; `opaque` is a view into `payload`. */
export function decodePing(header: FrameHeader, payload: Uint8Array): PingFrame {
  // RFC 9113 §6.7: if a PING frame is received with a Stream Identifier field value other than
  // 0x00, the recipient MUST respond with a connection error of type PROTOCOL_ERROR.
  if (header.streamId !== 0) {
    throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `PING frame on stream ${header.streamId}`);
  }
  // RFC 9113 §6.7: receipt of a PING frame with a length field value other than 8 MUST be
  // treated as a connection error of type FRAME_SIZE_ERROR.
  if (payload.length !== PING_PAYLOAD_LENGTH) {
    throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `PING payload of ${payload.length} octets, expected 8`);
  }
  return { kind: 'ping', ack: (header.flags & Flag.ACK) !== 0, opaque: payload };
}
