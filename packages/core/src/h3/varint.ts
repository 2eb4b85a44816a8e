/**
 * QUIC variable-length integers (RFC 9000 §16): the two most significant bits of the first
 * octet give the length (1, 2, 4 or 8 octets), the rest is the value, big-endian. HTTP/3 frames,
 * stream types and settings are made of them (RFC 9114 §7.1).
 *
 * Values are JavaScript numbers: exact up to 2^53 - 1, which covers every stream id, push id,
 * length and setting this engine acts on. Larger values (reserved "grease" types can reach
 * 2^62 - 1) decode to the nearest double: enough to recognise them as unknown and skip them.
 */
import { Http2UsageError } from '../errors.js';

/** RFC 9000 §16: the largest value a varint can hold, 2^62 - 1 (as a double, not exact). */
export const MAX_VARINT = 2 ** 62 - 1;

/** Octets `value` takes as a varint (the shortest encoding). */
export function varintLength(value: number): 1 | 2 | 4 | 8 {
  if (value < 0x40) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x40000000) return 4;
  return 8;
}

/** Writes `value` at `offset` in its shortest encoding; returns the offset after it. */
export function writeVarint(out: Uint8Array, offset: number, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_VARINT) throw new Http2UsageError(`${value} does not fit a QUIC varint (0..2^62-1)`);
  if (value < 0x40) {
    out[offset] = value;
    return offset + 1;
  }
  if (value < 0x4000) {
    out[offset] = 0x40 | (value >>> 8);
    out[offset + 1] = value & 0xff;
    return offset + 2;
  }
  if (value < 0x40000000) {
    out[offset] = 0x80 | (value >>> 24);
    out[offset + 1] = (value >>> 16) & 0xff;
    out[offset + 2] = (value >>> 8) & 0xff;
    out[offset + 3] = value & 0xff;
    return offset + 4;
  }
  const high = Math.floor(value / 2 ** 32);
  const low = value - high * 2 ** 32;
  out[offset] = 0xc0 | (high >>> 24);
  out[offset + 1] = (high >>> 16) & 0xff;
  out[offset + 2] = (high >>> 8) & 0xff;
  out[offset + 3] = high & 0xff;
  out[offset + 4] = low >>> 24;
  out[offset + 5] = (low >>> 16) & 0xff;
  out[offset + 6] = (low >>> 8) & 0xff;
  out[offset + 7] = low & 0xff;
  return offset + 8;
}

/** `value` as a varint of its own. */
export function encodeVarint(value: number): Uint8Array {
  const out = new Uint8Array(varintLength(value));
  writeVarint(out, 0, value);
  return out;
}

/**
 * Reads a varint at `offset`: its value and the offset after it, or undefined when `bytes` ends
 * before the varint does (read more and try again).
 */
export function readVarint(bytes: Uint8Array, offset: number): { value: number; next: number } | undefined {
  if (offset >= bytes.length) return undefined;
  const first = bytes[offset];
  const length = 1 << (first >>> 6);
  if (offset + length > bytes.length) return undefined;
  let value = first & 0x3f;
  // Multiplication rather than shifts: shifts are 32-bit in JavaScript.
  for (let i = 1; i < length; i++) value = value * 256 + bytes[offset + i];
  return { value, next: offset + length };
}
