/**
 * PRIORITY (RFC 9113 §6.3) and the priority fields HEADERS may carry. RFC 9113 deprecates this
 * prioritization scheme: the frames are parsed and validated, and the connection ignores them.
 *
 * ```
 * E (1) | Stream Dependency (31) | Weight (8)
 * ```
 */
import { ConnectionError, ErrorCode, Http2UsageError, StreamError } from '../errors.js';
import { allocFrame, checkStreamId, readStreamId } from './frame-header.js';
import { FRAME_HEADER_LENGTH, type FrameHeader, FrameType, type PriorityFrame, type PrioritySpec } from './types.js';

/** Exclusive flag, stream dependency and weight take 5 octets. */
export const PRIORITY_SPEC_LENGTH = 5;

/** Reads the 5-octet priority fields at `offset`; the wire weight 0..255 becomes 1..256. */
export function readPrioritySpec(bytes: Uint8Array, offset: number): PrioritySpec {
  return {
    exclusive: (bytes[offset] & 0x80) !== 0,
    dependency: readStreamId(bytes, offset),
    weight: bytes[offset + 4] + 1,
  };
}

/** Writes the 5-octet priority fields at `offset`. Throws `Http2UsageError` for unrepresentable values. */
export function writePrioritySpec(out: Uint8Array, offset: number, spec: PrioritySpec): void {
  checkStreamId(spec.dependency, 'stream dependency');
  if (!(spec.weight >= 1 && spec.weight <= 256) || Math.floor(spec.weight) !== spec.weight) {
    throw new Http2UsageError(`priority weight ${spec.weight} is not in [1, 256]`);
  }
  const d = spec.dependency;
  out[offset] = (spec.exclusive ? 0x80 : 0) | (d >>> 24);
  out[offset + 1] = (d >>> 16) & 0xff;
  out[offset + 2] = (d >>> 8) & 0xff;
  out[offset + 3] = d & 0xff;
  out[offset + 4] = spec.weight - 1;
}

/** Encodes a whole PRIORITY frame. */
export function encodePriority(frame: PriorityFrame): Uint8Array {
  const out = allocFrame(PRIORITY_SPEC_LENGTH, FrameType.PRIORITY, 0, frame.streamId);
  writePrioritySpec(out, FRAME_HEADER_LENGTH, frame.priority);
  return out;
}

/** Decodes a PRIORITY payload. */
export function decodePriority(header: FrameHeader, payload: Uint8Array): PriorityFrame {
  // RFC 9113 §6.3: if a PRIORITY frame is received with a stream identifier of 0x00, the recipient
  // MUST respond with a connection error of type PROTOCOL_ERROR.
  if (header.streamId === 0) {
    throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PRIORITY frame on stream 0');
  }
  // RFC 9113 §6.3: a PRIORITY frame with a length other than 5 octets MUST be treated as a stream
  // error of type FRAME_SIZE_ERROR.
  if (payload.length !== PRIORITY_SPEC_LENGTH) {
    throw new StreamError(header.streamId, ErrorCode.FRAME_SIZE_ERROR, `PRIORITY payload of ${payload.length} octets, expected 5`);
  }
  const priority = readPrioritySpec(payload, 0);
  // RFC 9113 §5.3.1 (RFC 7540 §5.3.1): a stream cannot depend on itself; an endpoint MUST treat
  // this as a stream error of type PROTOCOL_ERROR.
  if (priority.dependency === header.streamId) {
    throw new StreamError(header.streamId, ErrorCode.PROTOCOL_ERROR, 'PRIORITY makes the stream depend on itself');
  }
  return { kind: 'priority', streamId: header.streamId, priority };
}
