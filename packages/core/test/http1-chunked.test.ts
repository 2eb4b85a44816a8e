/** RFC 9112 §7.1: the chunked transfer coding, decoded on its own: extensions, trailers, limits, hostile lines. */
import { describe, expect, it } from 'vitest';
import { ChunkedDecoder, MAX_CHUNK_LINE_BYTES, MAX_TRAILER_BYTES } from '../src/index.js';
import { http1ErrorCode } from './support/http1.js';

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

function decode(wire: string): { data: string; done: boolean; next: number } {
  const decoder = new ChunkedDecoder();
  let data = '';
  const next = decoder.decode(bytes(wire), 0, (d) => (data += String.fromCharCode(...d)));
  return { data, done: decoder.done, next };
}

const codeOf = (wire: string): string | undefined => http1ErrorCode(() => decode(wire));

describe('ChunkedDecoder (RFC 9112 §7.1)', () => {
  it('hands on chunk data, ignores extensions (§7.1.1), drops the trailer section (§7.1.2), stops at the end', () => {
    const r = decode('a;name="quoted;value"\r\n0123456789\r\n1 ; x\r\n!\r\n000\r\nServer-Timing: a\r\nX: y\r\n\r\nNEXT');
    expect(r).toEqual({ data: '0123456789!', done: true, next: 'a;name="quoted;value"\r\n0123456789\r\n1 ; x\r\n!\r\n000\r\nServer-Timing: a\r\nX: y\r\n\r\n'.length });
  });

  it('is not done before the final CRLF', () => {
    expect(decode('0\r\n').done).toBe(false);
    expect(decode('0\r\nX: 1\r\n').done).toBe(false);
  });

  it.each([
    ['\r\n', 'no size'],
    ['x\r\n', 'not hex'],
    ['5x\r\nabcde\r\n', 'junk after the size'],
    ['5\nabcde\r\n', 'a bare LF after the size'],
    ['5\r\rabcde\r\n', 'a bare CR after the size'],
    ['5;a\x00\r\nabcde\r\n', 'NUL in an extension'],
    ['5\r\nabcdeX\r\n', 'data longer than its size'],
    ['5\r\nabcde\n', 'a bare LF after the data'],
    ['0\r\nX: 1\n\r\n', 'a bare LF in the trailers'],
    ['0\r\nX: 1\r\r\n', 'a bare CR in the trailers'],
    ['0\r\n\n', 'a bare LF as the final line'],
    ['fffffffffffffffff\r\n', 'a size beyond 2^53'],
  ])('refuses %j (%s) as invalid_chunk', (wire) => {
    expect(codeOf(wire)).toBe('invalid_chunk');
  });

  it(`refuses a chunk-size line over ${MAX_CHUNK_LINE_BYTES} octets and a trailer section over ${MAX_TRAILER_BYTES}`, () => {
    expect(codeOf(`1;${'e'.repeat(MAX_CHUNK_LINE_BYTES - 4)}\r\nx\r\n0\r\n\r\n`)).toBeUndefined();
    expect(codeOf(`1;${'e'.repeat(MAX_CHUNK_LINE_BYTES)}\r\n`)).toBe('invalid_chunk');
    expect(codeOf(`0\r\nX: ${'t'.repeat(MAX_TRAILER_BYTES - 10)}\r\n\r\n`)).toBeUndefined();
    expect(codeOf(`0\r\nX: ${'t'.repeat(MAX_TRAILER_BYTES)}\r\n\r\n`)).toBe('invalid_chunk');
  });
});
