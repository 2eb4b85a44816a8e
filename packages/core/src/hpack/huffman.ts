/**
 * HPACK Huffman coding (RFC 7541 §5.2, Appendix B).
 *
 * Decoding is a 4-bit state machine built once at module load: a state is an internal node of
 * the code tree, and `DECODE_TABLE[state * 16 + nibble]` gives the next state and the symbol, if
 * any, completed on the way (no code is shorter than 5 bits, so at most one per nibble).
 */
import { CompressionError, Http2UsageError } from '../errors.js';
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from './huffman-code.js';
import { decodeLatin1 } from './latin1.js';

const EOS = 256;
const EMIT = 1 << 16;
const FAIL = 1 << 17;

/** Internal nodes of the code tree: 257 leaves need 256. */
const NODE_COUNT = 256;
const DECODE_TABLE = new Uint32Array(NODE_COUNT * 16);
/** 1 for states where the input may end: the root, or up to 7 bits of the EOS prefix (all ones). */
const ACCEPTING = new Uint8Array(NODE_COUNT);

function buildDecodeTable(): void {
  // children[2n + bit]: > 0 → internal node id, < 0 → leaf for symbol -(child + 1), 0 → unset.
  const children = new Int32Array(NODE_COUNT * 2);
  let nodes = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const code = HUFFMAN_CODES[sym];
    const len = HUFFMAN_LENGTHS[sym];
    let node = 0;
    for (let i = len - 1; i > 0; i--) {
      const slot = node * 2 + ((code >>> i) & 1);
      if (children[slot] === 0) children[slot] = nodes++;
      node = children[slot];
    }
    children[node * 2 + (code & 1)] = -(sym + 1);
  }
  if (nodes !== NODE_COUNT) throw new Error(`HPACK Huffman table is not a complete code (${nodes} nodes)`);

  for (let state = 0; state < NODE_COUNT; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let bit = 3; bit >= 0; bit--) {
        const child = children[node * 2 + ((nibble >>> bit) & 1)];
        if (child < 0) {
          const sym = -child - 1;
          if (sym === EOS) entry |= FAIL;
          else entry |= EMIT | (sym << 8);
          node = 0;
        } else {
          node = child;
        }
      }
      DECODE_TABLE[state * 16 + nibble] = entry | node;
    }
  }
  let node = 0;
  ACCEPTING[0] = 1;
  for (let depth = 1; depth <= 7; depth++) {
    node = children[node * 2 + 1];
    ACCEPTING[node] = 1;
  }
}
buildDecodeTable();

/** Reused output buffer for decoding; grown on demand (decoding is synchronous). */
let scratch = new Uint8Array(256);

/**
 * Decodes the Huffman-coded octets `src[start..end)` to a Latin-1 string. Throws CompressionError
 * if the input contains EOS, or ends in padding that is longer than 7 bits or not all ones.
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number): string {
  // The shortest code is 5 bits, so n octets decode to at most n * 8 / 5 symbols.
  const maxOut = ((end - start) * 8) / 5 + 1;
  if (scratch.length < maxOut) scratch = new Uint8Array(Math.max(maxOut, scratch.length * 2) | 0);
  const out = scratch;
  const table = DECODE_TABLE;
  let o = 0;
  let state = 0;
  for (let i = start; i < end; i++) {
    const b = src[i];
    let e = table[(state << 4) | (b >>> 4)];
    if (e & EMIT) out[o++] = e >>> 8;
    const e2 = table[((e & 0xff) << 4) | (b & 0x0f)];
    if (e2 & EMIT) out[o++] = e2 >>> 8;
    state = e2 & 0xff;
    e |= e2;
    // RFC 7541 §5.2: a Huffman-encoded string literal containing the EOS symbol MUST be treated
    // as a decoding error.
    if (e & FAIL) throw new CompressionError('Huffman string contains EOS');
  }
  // RFC 7541 §5.2: padding strictly longer than 7 bits MUST be treated as a decoding error, and
  // padding not corresponding to the most significant bits of the code for EOS MUST be too.
  if (ACCEPTING[state] === 0) throw new CompressionError('invalid Huffman padding');
  return decodeLatin1(out, 0, o);
}

/**
 * Octets the Huffman coding of `s` takes. Throws Http2UsageError if `s` has a char above U+00FF
 * (field names and values are octets).
 */
export function huffmanEncodedLength(s: string): number {
  const lengths = HUFFMAN_LENGTHS;
  let bits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new Http2UsageError(`header field has a non-Latin-1 character at ${i}`);
    bits += lengths[c];
  }
  return (bits + 7) >>> 3;
}

/**
 * Writes the Huffman coding of `s` into `out` at `pos`, padded with the EOS prefix; returns the
 * position after it. `out` needs room for 4 octets per char. Throws Http2UsageError if `s` has a
 * char above U+00FF.
 */
export function huffmanEncode(s: string, out: Uint8Array, pos: number): number {
  const codes = HUFFMAN_CODES;
  const lengths = HUFFMAN_LENGTHS;
  let acc = 0; // holds `n` < 8 pending bits between symbols
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new Http2UsageError(`header field has a non-Latin-1 character at ${i}`);
    const code = codes[c];
    const len = lengths[c];
    if (n + len > 31) {
      // Only for codes of 25+ bits: push the high part first so `acc` stays within 31 bits.
      const high = len - 16;
      acc = (acc << high) | (code >>> 16);
      n += high;
      while (n >= 8) {
        n -= 8;
        out[pos++] = acc >>> n;
      }
      acc = ((acc & ((1 << n) - 1)) << 16) | (code & 0xffff);
      n += 16;
    } else {
      acc = (acc << len) | code;
      n += len;
    }
    while (n >= 8) {
      n -= 8;
      out[pos++] = acc >>> n;
    }
    acc &= (1 << n) - 1;
  }
  if (n > 0) out[pos++] = (acc << (8 - n)) | (0xff >>> n);
  return pos;
}
