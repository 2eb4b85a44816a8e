/**
 * QPACK primitives (RFC 9204 §4.1): HPACK's prefixed integers and string literals, where a
 * string's H bit and length prefix can sit anywhere in its first octet. The integer and Huffman
 * codecs are HPACK's; this file maps their CompressionError to the QPACK error of the stream
 * being read, and tells "incomplete" from "malformed" for the two instruction streams.
 */
import { CompressionError } from '../errors.js';
import { huffmanDecode, huffmanEncode, huffmanEncodedLength } from '../hpack/huffman.js';
import { decodeInteger, encodeInteger, type HpackCursor } from '../hpack/integer.js';
import { decodeLatin1 } from '../hpack/latin1.js';
import { QpackError } from './errors.js';

export type { HpackCursor as QpackCursor };

/**
 * Continuation octets after which decodeInteger has either finished or failed (five carry 35
 * bits, above its 2^31 - 1 ceiling): fewer than this unterminated means "wait for more".
 */
const MAX_CONTINUATION = 5;

/**
 * Reads an integer with an N-bit prefix; `code` is the QpackErrorCode for malformed input.
 *
 * RFC 9204 §4.1.1 asks implementations to decode integers of up to 62 bits; HPACK's decoder
 * stops at 2^31 - 1, which every QPACK integer stays below by our own limits (capacities,
 * lengths and indices are bounded by the table, counts by what was sent) except a stream ID,
 * which would need more than 2^29 streams of one type on one connection.
 */
export function readInteger(cursor: HpackCursor, prefixBits: number, code: number): number {
  if (cursor.pos >= cursor.end) throw new QpackError(code, 'truncated integer');
  try {
    return decodeInteger(cursor, prefixBits);
  } catch (e) {
    if (e instanceof CompressionError) throw new QpackError(code, e.reason, { cause: e });
    throw e;
  }
}

/**
 * Whether a whole prefixed integer starts at `cursor.pos` (or a malformed one that readInteger
 * will reject): false means the instruction stream must wait for more octets.
 */
export function integerAvailable(cursor: HpackCursor, prefixBits: number): boolean {
  const { buf, pos, end } = cursor;
  if (pos >= end) return false;
  const max = (1 << prefixBits) - 1;
  if ((buf[pos] & max) < max) return true;
  for (let i = pos + 1; i < end; i++) {
    if ((buf[i] & 0x80) === 0 || i - pos >= MAX_CONTINUATION) return true;
  }
  return end - pos - 1 >= MAX_CONTINUATION;
}

/**
 * Reads a string literal whose H bit is `1 << prefixBits` of the first octet and whose length
 * has a `prefixBits` prefix (RFC 9204 §4.1.2). The caller has checked the octets are there.
 */
export function readString(cursor: HpackCursor, prefixBits: number, code: number): string {
  if (cursor.pos >= cursor.end) throw new QpackError(code, 'truncated string literal');
  const huffman = (cursor.buf[cursor.pos] >> prefixBits) & 1;
  const length = readInteger(cursor, prefixBits, code);
  const start = cursor.pos;
  if (length > cursor.end - start) throw new QpackError(code, 'string literal is cut short');
  cursor.pos = start + length;
  if (!huffman) return decodeLatin1(cursor.buf, start, start + length);
  try {
    return huffmanDecode(cursor.buf, start, start + length);
  } catch (e) {
    if (e instanceof CompressionError) throw new QpackError(code, e.reason, { cause: e });
    throw e;
  }
}

/**
 * A string literal's encoded length and whether it is Huffman-coded, or `undefined` when its
 * length is not all there yet (instruction streams). Leaves the cursor unchanged.
 */
export function peekStringLength(cursor: HpackCursor, prefixBits: number, code: number): { huffman: boolean; length: number; headerEnd: number } | undefined {
  if (!integerAvailable(cursor, prefixBits)) return undefined;
  const pos = cursor.pos;
  const huffman = ((cursor.buf[pos] >> prefixBits) & 1) === 1;
  const length = readInteger(cursor, prefixBits, code);
  const headerEnd = cursor.pos;
  cursor.pos = pos;
  return { huffman, length, headerEnd };
}

/** Fewest octets a Huffman string of `encodedLength` octets decodes to: the longest code is 30 bits. */
export function huffmanMinDecodedLength(encodedLength: number): number {
  return Math.floor((encodedLength * 8) / 30);
}

/** A growable output buffer for field sections and instructions. */
export class ByteWriter {
  buf: Uint8Array;
  pos = 0;
  constructor(initial = 64) {
    this.buf = new Uint8Array(initial);
  }

  ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.pos + extra));
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
  }

  /** An integer with an N-bit prefix; `pattern` holds the bits above the prefix. */
  integer(value: number, prefixBits: number, pattern: number): void {
    this.ensure(11);
    this.pos = encodeInteger(this.buf, this.pos, value, prefixBits, pattern);
  }

  /**
   * A string literal: `pattern` holds the first octet's bits above the H bit, which is
   * `1 << prefixBits`. Huffman-coded when that is shorter (RFC 9204 §4.1.2).
   */
  string(s: string, prefixBits: number, pattern: number): void {
    const hbit = 1 << prefixBits;
    const huffLength = huffmanEncodedLength(s);
    if (huffLength < s.length) {
      this.integer(huffLength, prefixBits, pattern | hbit);
      this.ensure(huffLength + 8);
      this.pos = huffmanEncode(s, this.buf, this.pos);
      return;
    }
    this.integer(s.length, prefixBits, pattern);
    this.ensure(s.length);
    const buf = this.buf;
    let pos = this.pos;
    // huffmanEncodedLength has checked every char is Latin-1.
    for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
    this.pos = pos;
  }

  /** The bytes written so far (a copy), and resets the writer. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    return out;
  }
}
