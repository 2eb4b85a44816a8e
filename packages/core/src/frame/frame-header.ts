/**
 * The 9-octet frame header (RFC 9113 §4.1), read with shifts and written in place.
 *
 * ```
 * +-----------------------------------------------+
 * |                 Length (24)                   |
 * +---------------+---------------+---------------+
 * |   Type (8)    |   Flags (8)   |
 * +-+-------------+---------------+-------------------------------+
 * |R|                 Stream Identifier (31)                      |
 * +=+=============================================================+
 * ```
 */
import { Http2UsageError } from '../errors.js';
import { DEFAULT_MAX_FRAME_SIZE, FRAME_HEADER_LENGTH, type FrameHeader, MAX_ALLOWED_FRAME_SIZE } from './types.js';

/** Largest value of the 24-bit length field. */
const MAX_LENGTH_FIELD = 0xff_ffff;
/** Largest stream identifier: 31 bits (RFC 9113 §5.1.1). */
export const MAX_STREAM_ID = 0x7fff_ffff;

/**
 * Writes `h` as 9 octets into `out` at `offset`. The reserved bit is always sent as 0.
 * Throws `Http2UsageError` for values the fields cannot hold.
 *
 * @example
 * const out = new Uint8Array(9);
 * encodeFrameHeader({ length: 8, type: FrameType.PING, flags: 0, streamId: 0 }, out);
 */
export function encodeFrameHeader(h: FrameHeader, out: Uint8Array, offset = 0): void {
  const { length, type, flags, streamId } = h;
  if (!(length >= 0 && length <= MAX_LENGTH_FIELD) || (length | 0) !== length) {
    throw new Http2UsageError(`frame length ${length} does not fit in 24 bits`);
  }
  if ((type & 0xff) !== type || (flags & 0xff) !== flags) {
    throw new Http2UsageError(`frame type ${type} / flags ${flags} do not fit in one octet`);
  }
  checkStreamId(streamId);
  out[offset] = length >>> 16;
  out[offset + 1] = (length >>> 8) & 0xff;
  out[offset + 2] = length & 0xff;
  out[offset + 3] = type;
  out[offset + 4] = flags;
  // RFC 9113 §4.1: the reserved bit MUST remain unset (0x0) when sending.
  out[offset + 5] = streamId >>> 24;
  out[offset + 6] = (streamId >>> 16) & 0xff;
  out[offset + 7] = (streamId >>> 8) & 0xff;
  out[offset + 8] = streamId & 0xff;
}

/**
 * Reads the 9-octet header at `offset` (the caller guarantees 9 octets are there).
 * The reserved bit is masked off: RFC 9113 §4.1 says it MUST be ignored when receiving.
 */
export function decodeFrameHeader(bytes: Uint8Array, offset = 0): FrameHeader {
  if (bytes.length - offset < FRAME_HEADER_LENGTH) {
    throw new Http2UsageError(`need ${FRAME_HEADER_LENGTH} octets for a frame header, got ${bytes.length - offset}`);
  }
  return {
    length: (bytes[offset] << 16) | (bytes[offset + 1] << 8) | bytes[offset + 2],
    type: bytes[offset + 3],
    flags: bytes[offset + 4],
    streamId: ((bytes[offset + 5] & 0x7f) << 24) | (bytes[offset + 6] << 16) | (bytes[offset + 7] << 8) | bytes[offset + 8],
  };
}

/**
 * Allocates one buffer for a whole frame, writes its header and returns it; the payload
 * starts at `FRAME_HEADER_LENGTH`.
 */
export function allocFrame(length: number, type: number, flags: number, streamId: number): Uint8Array {
  if (!(length >= 0 && length <= MAX_LENGTH_FIELD)) {
    throw new Http2UsageError(`frame length ${length} does not fit in 24 bits`);
  }
  const out = new Uint8Array(FRAME_HEADER_LENGTH + length);
  encodeFrameHeader({ length, type, flags, streamId }, out, 0);
  return out;
}

/** Throws `Http2UsageError` unless `id` is an integer in [0, 2^31-1]. */
export function checkStreamId(id: number, what = 'stream id'): void {
  if (!(id >= 0 && id <= MAX_STREAM_ID) || Math.floor(id) !== id) {
    throw new Http2UsageError(`${what} ${id} is not in [0, 2^31-1]`);
  }
}

/** Reads a 31-bit stream id at `offset`, masking off the reserved bit. */
export function readStreamId(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] & 0x7f) << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3];
}

/** Reads an unsigned 32-bit big-endian integer at `offset`. */
export function readUint32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}

/** Writes an unsigned 32-bit big-endian integer at `offset`. */
export function writeUint32(out: Uint8Array, offset: number, value: number): void {
  out[offset] = value >>> 24;
  out[offset + 1] = (value >>> 16) & 0xff;
  out[offset + 2] = (value >>> 8) & 0xff;
  out[offset + 3] = value & 0xff;
}

/** Throws `Http2UsageError` unless `value` is an unsigned 32-bit integer. */
export function checkUint32(value: number, what: string): void {
  if (!(value >= 0 && value <= 0xffff_ffff) || Math.floor(value) !== value) {
    throw new Http2UsageError(`${what} ${value} is not an unsigned 32-bit integer`);
  }
}

/** Throws `Http2UsageError` unless `n` is a legal SETTINGS_MAX_FRAME_SIZE (RFC 9113 §6.5.2). */
export function checkMaxFrameSize(n: number): void {
  if (!(n >= DEFAULT_MAX_FRAME_SIZE && n <= MAX_ALLOWED_FRAME_SIZE) || Math.floor(n) !== n) {
    throw new Http2UsageError(`max frame size ${n} is not in [${DEFAULT_MAX_FRAME_SIZE}, ${MAX_ALLOWED_FRAME_SIZE}]`);
  }
}
