/**
 * RFC 9112: the HTTP/1.1 response parser. Message framing (§6.3, each rule in turn), the head's
 * grammar (§4, §5) and hostile heads, and every message fed split at every byte boundary.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Http1Error, MAX_RESPONSE_FIELDS, MAX_RESPONSE_HEAD_BYTES, ResponseParser, type Http1ResponseHead } from '../src/index.js';
import { concatBytes } from '../src/bytes.js';
import { http1ErrorCode } from './support/http1.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

interface Parsed {
  heads: Http1ResponseHead[];
  body: string;
  ended: boolean;
  keepAlive: boolean;
  parser: ResponseParser;
}

/** Feeds `wire` in the given pieces (lengths); `close` also signals the end of the connection. */
function parse(wire: string | Uint8Array, { method = 'GET', pieces, close = false }: { method?: string; pieces?: number[]; close?: boolean } = {}): Parsed {
  const data = typeof wire === 'string' ? bytes(wire) : wire;
  const out: Parsed = { heads: [], body: '', ended: false, keepAlive: false, parser: undefined! };
  const chunks: Uint8Array[] = [];
  const parser = new ResponseParser(method, {
    onHead: (head) => out.heads.push(head),
    onData: (b) => chunks.push(b.slice()),
    onEnd: () => (out.ended = true),
  });
  out.parser = parser;
  let at = 0;
  for (const n of pieces ?? [data.length]) {
    parser.push(data.subarray(at, at + n));
    at += n;
  }
  if (at < data.length) parser.push(data.subarray(at));
  if (close) parser.finish();
  out.body = dec.decode(concatBytes(chunks));
  out.keepAlive = parser.keepAlive;
  return out;
}

const codeOf = http1ErrorCode;

describe('RFC 9112 §4, §5: the response head', () => {
  it('reads the status line, the reason phrase and the fields with their names as received', () => {
    const r = parse('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-Empty:\r\nX-Ows: \t padded \t\r\nContent-Length: 2\r\n\r\nhi');
    expect(r.heads).toEqual([
      { status: 200, reason: 'OK', minorVersion: 1, rawFields: ['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'set-cookie', 'b=2', 'X-Empty', '', 'X-Ows', 'padded', 'Content-Length', '2'] },
    ]);
    expect(r.body).toBe('hi');
    expect(r.ended).toBe(true);
    expect(r.keepAlive).toBe(true);
  });

  it('§4: accepts an empty reason phrase, with or without its SP', () => {
    expect(parse('HTTP/1.1 204 \r\n\r\n').heads[0]).toMatchObject({ status: 204, reason: '' });
    expect(parse('HTTP/1.1 204\r\n\r\n').heads[0]).toMatchObject({ status: 204, reason: '' });
  });

  it('keeps obs-text octets (0x80-0xFF) in values as latin1 characters', () => {
    const wire = concatBytes([bytes('HTTP/1.1 204 No Content\r\nX-Name: '), enc.encode('café'), bytes('\r\n\r\n')]);
    expect(parse(wire).heads[0].rawFields[1]).toBe('caf\u00c3\u00a9');
  });

  it.each([
    ['HTTP/2.0 200 OK\r\n\r\n', 'another major version'],
    ['HTTP/1.1 20 OK\r\n\r\n', 'a two-digit status'],
    ['HTTP/1.1 099 OK\r\n\r\n', 'a status below 100'],
    ['HTTP/1.1  200 OK\r\n\r\n', 'two SP'],
    ['http/1.1 200 OK\r\n\r\n', 'a lower-case HTTP-name'],
    ['HTTP/1.1 200 O\x01K\r\n\r\n', 'a control in the reason'],
    ['HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n', 'whitespace before the colon (§5.1)'],
    ['HTTP/1.1 200 OK\r\nX-A\r\n\r\n', 'no colon'],
    ['HTTP/1.1 200 OK\r\n: 1\r\n\r\n', 'an empty name'],
    ['HTTP/1.1 200 OK\r\nX(A): 1\r\n\r\n', 'a name that is not a token'],
    ['HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n', 'obs-fold (§5.2)'],
    ['HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n', 'NUL in a value (RFC 9110 §5.5)'],
    ['HTTP/1.1 200 OK\r\nX-A: a\x7fb\r\n\r\n', 'DEL in a value'],
    ['HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n', 'a bare CR in a value (§2.2)'],
    ['HTTP/1.1 200 OK\nX-A: 1\r\n\r\n', 'a bare LF ending the status line'],
    ['HTTP/1.1 200 OK\r\nX-A: 1\n\r\n', 'a bare LF ending a field line'],
    ['HTTP/1.1 200 OK\r\nX-A: 1\r\n\n', 'a bare LF as the empty line'],
    ['\r\nHTTP/1.1 200 OK\r\n\r\n', 'an empty line before the status line'],
  ])('refuses %j (%s) as invalid_head', (wire) => {
    expect(codeOf(() => parse(wire))).toBe('invalid_head');
  });

  it('refuses a head larger than MAX_RESPONSE_HEAD_BYTES, whole or fed in pieces, and accepts one just within', () => {
    const filler = (n: number) => `HTTP/1.1 204 No Content\r\nX-Fill: ${'a'.repeat(n)}\r\n\r\n`;
    const fixed = filler(0).length;
    const fits = filler(MAX_RESPONSE_HEAD_BYTES - fixed);
    expect(fits.length).toBe(MAX_RESPONSE_HEAD_BYTES);
    expect(parse(fits).ended).toBe(true);
    expect(parse(fits, { pieces: [1000, 30000, 30000] }).ended).toBe(true);
    const tooBig = filler(MAX_RESPONSE_HEAD_BYTES - fixed + 1);
    expect(codeOf(() => parse(tooBig))).toBe('head_too_large');
    expect(codeOf(() => parse(tooBig, { pieces: [1000, 30000, 30000, 5000] }))).toBe('head_too_large');
    // A head that never ends is refused once the limit is passed, without waiting for its end.
    expect(codeOf(() => parse(`HTTP/1.1 200 OK\r\nX: ${'b'.repeat(MAX_RESPONSE_HEAD_BYTES)}`))).toBe('head_too_large');
  });

  it(`refuses more than MAX_RESPONSE_FIELDS (${MAX_RESPONSE_FIELDS}) field lines`, () => {
    const head = (n: number) => `HTTP/1.1 204 No Content\r\n${'a:\r\n'.repeat(n)}\r\n`;
    expect(parse(head(MAX_RESPONSE_FIELDS)).heads[0].rawFields.length).toBe(MAX_RESPONSE_FIELDS * 2);
    expect(codeOf(() => parse(head(MAX_RESPONSE_FIELDS + 1)))).toBe('head_too_large');
  });

  it('RFC 9110 §15.2: skips 100 Continue and 103 Early Hints before the final response', () => {
    const r = parse('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    expect(r.heads.map((h) => h.status)).toEqual([200]);
    expect(r.body).toBe('ok');
  });

  it('RFC 9110 §15.2.2: 101 is a final head without a body, and the connection is not reused', () => {
    const r = parse('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n');
    expect(r.heads.map((h) => h.status)).toEqual([101]);
    expect(r.ended).toBe(true);
    expect(r.keepAlive).toBe(false);
  });
});

describe('RFC 9112 §6.3: message body length', () => {
  it('rule 1: HEAD, 204 and 304 end at the empty line whatever the fields say; 205 is framed as usual', () => {
    const head = parse('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', { method: 'HEAD' });
    expect([head.ended, head.body, head.keepAlive]).toEqual([true, '', true]);
    for (const status of ['204 No Content', '304 Not Modified']) {
      const r = parse(`HTTP/1.1 ${status}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n`);
      expect([r.ended, r.body, r.keepAlive]).toEqual([true, '', true]);
    }
    const reset = parse('HTTP/1.1 205 Reset Content\r\nContent-Length: 3\r\n\r\nabc');
    expect([reset.ended, reset.body]).toEqual([true, 'abc']);
  });

  it('rule 4: a chunked body (RFC 9112 §7.1 example), trailers read and dropped', () => {
    const r = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Expires\r\n\r\n4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n');
    expect(r.body).toBe('Wikipedia in\r\n\r\nchunks.');
    expect(r.ended).toBe(true);
    expect(r.keepAlive).toBe(true);
  });

  it('rule 4: chunked after another coding is chunked; a final coding other than chunked reads until close', () => {
    expect(parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n').body).toBe('x');
    const r = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw bytes', { close: true });
    expect([r.body, r.ended, r.keepAlive]).toEqual(['raw bytes', true, false]);
  });

  it('rule 3 and §7: Content-Length with Transfer-Encoding, chunked not last or twice, TE in HTTP/1.0 are invalid_framing', () => {
    for (const wire of [
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n',
      'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
    ]) {
      expect(codeOf(() => parse(wire)), wire).toBe('invalid_framing');
    }
  });

  it('rule 5: a Content-Length body ends after that many octets; identical repeated values stand for one', () => {
    const r = parse('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\nabc');
    expect([r.body, r.ended, r.keepAlive]).toEqual(['abc', true, true]);
    const zero = parse('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    expect([zero.ended, zero.body]).toEqual([true, '']);
  });

  it.each(['-1', '+3', '3a', '0x3', '1 2', '', '3,', '1234567890123456', '3, 4'])('rule 5: Content-Length %j is invalid_framing', (value) => {
    expect(codeOf(() => parse(`HTTP/1.1 200 OK\r\nContent-Length: ${value}\r\n\r\n`))).toBe('invalid_framing');
  });

  it('rule 5: conflicting Content-Length fields are invalid_framing', () => {
    expect(codeOf(() => parse('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n'))).toBe('invalid_framing');
  });

  it('rule 8: no framing fields: the body runs until the connection closes, and the connection is not reused', () => {
    const r = parse('HTTP/1.1 200 OK\r\n\r\nuntil the end', { close: true });
    expect([r.body, r.ended, r.keepAlive]).toEqual(['until the end', true, false]);
  });

  it('§8: a connection closed before the declared end is incomplete_message, never a complete body', () => {
    expect(codeOf(() => parse('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort', { close: true }))).toBe('incomplete_message');
    expect(codeOf(() => parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc', { close: true }))).toBe('incomplete_message');
    expect(codeOf(() => parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n', { close: true }))).toBe('incomplete_message');
    expect(codeOf(() => parse('HTTP/1.1 200 OK\r\nContent-', { close: true }))).toBe('incomplete_message');
  });

  it('§9.3: persistence: HTTP/1.1 unless "close", HTTP/1.0 only with "keep-alive"; bytes after the response spoil it', () => {
    expect(parse('HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n').keepAlive).toBe(false);
    expect(parse('HTTP/1.1 200 OK\r\nConnection: x-a, close\r\nContent-Length: 0\r\n\r\n').keepAlive).toBe(false);
    expect(parse('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').keepAlive).toBe(false);
    expect(parse('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n').keepAlive).toBe(true);
    expect(parse('HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n').keepAlive).toBe(false);
    const extra = parse('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n\r\n');
    expect([extra.body, extra.ended, extra.keepAlive]).toEqual(['x', true, false]);
    expect(extra.heads.length).toBe(1);
  });
});

describe('split at every byte boundary', () => {
  const messages: { wire: string; method?: string; close?: boolean; status: number; body: string }[] = [
    { wire: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello', status: 200, body: 'hello' },
    { wire: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\n', status: 201, body: 'abc0123456789abcdef' },
    { wire: 'HTTP/1.0 200 OK\r\n\r\nto the close', close: true, status: 200, body: 'to the close' },
    { wire: 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n', status: 304, body: '' },
    { wire: 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n', method: 'HEAD', status: 200, body: '' },
  ];

  it('gives the same head, body and end for every split in two', () => {
    for (const m of messages) {
      const whole = parse(m.wire, m);
      expect(whole.heads.map((h) => h.status)).toEqual([m.status]);
      expect(whole.body).toBe(m.body);
      expect(whole.ended).toBe(true);
      for (let at = 0; at <= m.wire.length; at++) {
        const split = parse(m.wire, { ...m, pieces: [at] });
        expect({ heads: split.heads, body: split.body, ended: split.ended, keepAlive: split.keepAlive }).toEqual({ heads: whole.heads, body: whole.body, ended: true, keepAlive: whole.keepAlive });
      }
    }
  });

  it('property: any split into any number of pieces gives the same result (fast-check)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...messages), fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 30 }), (m, pieces) => {
        const whole = parse(m.wire, m);
        const split = parse(m.wire, { ...m, pieces });
        expect({ heads: split.heads, body: split.body, ended: split.ended, keepAlive: split.keepAlive }).toEqual({ heads: whole.heads, body: whole.body, ended: true, keepAlive: whole.keepAlive });
      }),
      { numRuns: 300 },
    );
  });

  it('property: a chunked body of random chunks and random splits decodes to its data (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, maxLength: 40 }), { maxLength: 8 }), fc.array(fc.integer({ min: 0, max: 25 }), { maxLength: 40 }), fc.boolean(), (parts, pieces, upper) => {
        const chunks = parts.map((p) => `${p.length.toString(16)[upper ? 'toUpperCase' : 'toLowerCase']()}\r\n${p}\r\n`).join('');
        const wire = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`;
        const r = parse(bytes(wire), { pieces });
        expect(r.body).toBe(parts.join(''));
        expect(r.ended).toBe(true);
        expect(r.keepAlive).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('property: a hostile head (a byte flipped) is refused with an Http1Error or read as some response, never a crash (fast-check)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...messages), fc.nat(), fc.integer({ min: 0, max: 255 }), (m, at, octet) => {
        const wire = bytes(m.wire);
        wire[at % wire.length] = octet;
        try {
          parse(wire, { ...m, close: true });
        } catch (error) {
          expect(error).toBeInstanceOf(Http1Error);
        }
      }),
      { numRuns: 500 },
    );
  });
});
