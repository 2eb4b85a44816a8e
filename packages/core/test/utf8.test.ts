/**
 * encodeUtf8 (http/utf8.ts): a string's UTF-8 bytes for string bodies, short ASCII copied in
 * JavaScript and the rest left to TextEncoder. It must give exactly TextEncoder's bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeUtf8 } from '../src/http/utf8.js';

const encoder = new TextEncoder();

describe('encodeUtf8', () => {
  it('gives TextEncoder bytes for any string: ASCII, non-ASCII, lone surrogates, short and long', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary-ascii', maxLength: 80 }),
      fc.string({ unit: 'grapheme', maxLength: 80 }),
      fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 80 }),
    );
    fc.assert(fc.property(text, (s) => {
        expect(Array.from(encodeUtf8(s))).toEqual(Array.from(encoder.encode(s)));
      }), { numRuns: 2000 });
  });

  it('at the edges: empty, 0x7f and 0x80 at either end, 64 and 65 units', () => {
    for (const s of ['', '\x7f', 'ok\x80', '\x80ok', 'é', 'a'.repeat(64), 'a'.repeat(65), 'a'.repeat(63) + '☃', '\ud800']) {
      expect(Array.from(encodeUtf8(s)), JSON.stringify(s)).toEqual(Array.from(encoder.encode(s)));
    }
  });
});
