/**
 * HPACK integer representation (RFC 7541 §5.1): an N-bit prefix, then 7-bit groups, least
 * significant first, with the high bit saying "more follows".
 */
import { CompressionError } from '../errors.js';

/**
 * Largest integer we accept (2^31 - 1). Every HPACK integer is a length, an index or a table size;
 * none can sensibly reach 2 GiB, and staying below 2^31 keeps arithmetic in V8's small integers.
 */
export const MAX_INTEGER = 0x7fff_ffff;

/** A read position in a header block; `integer.ts` and the decoder advance `pos`. */
export interface HpackCursor {
  buf: Uint8Array;
  pos: number;
  end: number;
}

/**
 * Writes `value` with an N-bit prefix (1 ≤ N ≤ 8) into `out` at `pos`; `pattern` holds the bits
 * above the prefix in the first octet. Returns the position after the integer. `out` must have
 * room for 6 octets.
 */
export function encodeInteger(out: Uint8Array, pos: number, value: number, prefixBits: number, pattern: number): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out[pos++] = pattern | value;
    return pos;
  }
  out[pos++] = pattern | max;
  value -= max;
  while (value >= 0x80) {
    out[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  out[pos++] = value;
  return pos;
}

/**
 * Reads an integer with an N-bit prefix at `cursor.pos` (which must be < `cursor.end`) and
 * advances the cursor. Throws CompressionError on truncation or when the value exceeds
 * MAX_INTEGER.
 */
export function decodeInteger(cursor: HpackCursor, prefixBits: number): number {
  const buf = cursor.buf;
  const max = (1 << prefixBits) - 1;
  let pos = cursor.pos;
  let value = buf[pos++] & max;
  if (value < max) {
    cursor.pos = pos;
    return value;
  }
  const end = cursor.end;
  let multiplier = 1;
  for (;;) {
    if (pos >= end) throw new CompressionError('truncated integer');
    const b = buf[pos++];
    value += (b & 0x7f) * multiplier;
    // RFC 7541 §5.1: integer encodings that exceed implementation limits, in value or octet
    // length, MUST be treated as decoding errors.
    if (value > MAX_INTEGER) throw new CompressionError('integer exceeds 2^31 - 1');
    if ((b & 0x80) === 0) break;
    multiplier *= 0x80;
    // Five continuation octets carry 35 bits; a sixth can only be zero padding.
    if (multiplier > 0x1000_0000) throw new CompressionError('integer has too many continuation octets');
  }
  cursor.pos = pos;
  return value;
}
