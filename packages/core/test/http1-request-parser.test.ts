/**
 * RFC 9112: the HTTP/1.1 request parser (server role). The request line (§3), Host (§3.2), body
 * length for requests (§6.3), persistence (§9.3), pipelining and tunnels (the parser stops at the
 * end of a message), hostile heads, and every message fed split at every byte boundary.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_REQUEST_FIELDS, MAX_REQUEST_HEAD_BYTES, MAX_REQUEST_TARGET_BYTES, RequestParser, type Http1RequestHead } from '../src/index.js';
import { concatBytes } from '../src/bytes.js';
import { http1ErrorCode } from './support/http1.js';

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const latin1 = (b: Uint8Array) => String.fromCharCode(...b);
const codeOf = http1ErrorCode;

interface Parsed {
  heads: Http1RequestHead[];
  body: string;
  ends: number;
  /** What push returned for the last piece fed. */
  taken: number;
  parser: RequestParser;
}

/**
 * Feeds `wire` in the given pieces (lengths) to one parser, as a server would: each push from where
 * the last one stopped, until the message ends; `close` calls finish() after the last piece.
 */
function parse(wire: string | Uint8Array, { pieces, close = false }: { pieces?: number[]; close?: boolean } = {}): Parsed {
  const data = typeof wire === 'string' ? bytes(wire) : wire;
  const out: Parsed = { heads: [], body: '', ends: 0, taken: 0, parser: undefined! };
  const chunks: Uint8Array[] = [];
  const parser = new RequestParser({
    onHead: (head) => out.heads.push(head),
    onData: (b) => chunks.push(b.slice()),
    onEnd: () => out.ends++,
  });
  out.parser = parser;
  let at = 0;
  for (const n of [...(pieces ?? []), data.length]) {
    const end = Math.min(data.length, at + n);
    const piece = data.subarray(0, end);
    out.taken = parser.push(piece, at);
    at = out.taken;
    if (parser.done) break;
  }
  if (close) parser.finish();
  out.body = latin1(concatBytes(chunks));
  return out;
}

/** Reads every request in `wire` with one parser (reset after each); returns heads, bodies and where each ended. */
function parseAll(wire: string) {
  const data = bytes(wire);
  const requests: { head: Http1RequestHead; body: string; end: number }[] = [];
  let chunks: Uint8Array[] = [];
  const parser = new RequestParser({
    onHead: (head) => requests.push({ head, body: '', end: -1 }),
    onData: (b) => chunks.push(b.slice()),
    onEnd: () => {
      requests[requests.length - 1].body = latin1(concatBytes(chunks));
      chunks = [];
    },
  });
  let at = 0;
  while (at < data.length) {
    at = parser.push(data, at);
    if (!parser.done) break;
    requests[requests.length - 1].end = at;
    parser.reset();
  }
  return { requests, at, parser };
}

describe('RFC 9112 §3: the request line', () => {
  it('reads method, target, version and the fields with lower-cased names, in order', () => {
    const r = parse('GET /a?b=c HTTP/1.1\r\nHost: app.example\r\nAccept: */*\r\nX-Ows: \t padded \t\r\nx-empty:\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n');
    expect(r.heads).toEqual([
      {
        method: 'GET',
        target: '/a?b=c',
        minorVersion: 1,
        fields: [
          ['host', 'app.example'],
          ['accept', '*/*'],
          ['x-ows', 'padded'],
          ['x-empty', ''],
          ['cookie', 'a=1'],
          ['cookie', 'b=2'],
        ],
        host: 'app.example',
        keepAlive: true,
        body: 'none',
        contentLength: 0,
      },
    ]);
    expect(r.ends).toBe(1);
    expect(r.parser.done).toBe(true);
  });

  it('keeps the method case (RFC 9110 §9.1) and the target forms: absolute, authority, asterisk', () => {
    expect(parse('patch / HTTP/1.1\r\nHost: a\r\n\r\n').heads[0].method).toBe('patch');
    expect(parse('GET http://a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n').heads[0].target).toBe('http://a.example/x');
    expect(parse('CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n').heads[0].target).toBe('a.example:443');
    expect(parse('OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n').heads[0].target).toBe('*');
  });

  it('keeps octets above 0x7E in the target and values as latin1 characters', () => {
    const wire = concatBytes([bytes('GET /caf'), new TextEncoder().encode('é'), bytes(' HTTP/1.1\r\nHost: a\r\nX-Name: '), new Uint8Array([0xff]), bytes('\r\n\r\n')]);
    const head = parse(wire).heads[0];
    expect(head.target).toBe('/caf\u00c3\u00a9');
    expect(head.fields[1]).toEqual(['x-name', '\u00ff']);
  });

  it('§2.2: ignores empty lines before the request line, also split across reads, and bounds them', () => {
    const r = parse('\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n', { pieces: [1, 2] });
    expect(r.heads.map((h) => h.target)).toEqual(['/']);
    expect(codeOf(() => parse('\r\n'.repeat(MAX_REQUEST_HEAD_BYTES / 2 + 1)))).toBe('head_too_large');
    expect(codeOf(() => parse('\rGET / HTTP/1.1\r\nHost: a\r\n\r\n'))).toBe('invalid_head');
    expect(codeOf(() => parse('\nGET / HTTP/1.1\r\nHost: a\r\n\r\n'))).toBe('invalid_head');
  });

  it('RFC 9110 §6.2: reads a higher minor version of HTTP/1 (HTTP/1.2) as HTTP/1.1', () => {
    const r = parse('GET / HTTP/1.2\r\nHost: a\r\n\r\n');
    expect(r.heads.map((h) => [h.minorVersion, h.keepAlive])).toEqual([[1, true]]);
  });

  it.each([
    ['HTTP/2.0', 'HTTP/2'],
    ['HTTP/0.9', 'HTTP/0.9'],
  ])('refuses version %j (%s) as unsupported_version (505)', (version) => {
    expect(codeOf(() => parse(`GET / ${version}\r\nHost: a\r\n\r\n`))).toBe('unsupported_version');
  });

  it.each([
    ['GET / http/1.1\r\nHost: a\r\n\r\n', 'a lower-case HTTP-name (§2.3: case-sensitive)'],
    ['GET / HTTP/1.10\r\nHost: a\r\n\r\n', 'a two-digit minor version'],
    ['GET / HTTP/11\r\nHost: a\r\n\r\n', 'no dot'],
    ['GET /  HTTP/1.1\r\nHost: a\r\n\r\n', 'two SP after the target'],
    ['GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 'two SP after the method'],
    ['GET /a b HTTP/1.1\r\nHost: a\r\n\r\n', 'a SP in the target'],
    ['GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n', 'HTAB in the target'],
    ['GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n', 'DEL in the target'],
    ['GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n', 'NUL in the target'],
    ['GET HTTP/1.1\r\nHost: a\r\n\r\n', 'no target'],
    ['G(T / HTTP/1.1\r\nHost: a\r\n\r\n', 'a method that is not a token'],
    [' GET / HTTP/1.1\r\nHost: a\r\n\r\n', 'a SP before the method'],
    ['GET / HTTP/1.1 \r\nHost: a\r\n\r\n', 'a SP after the version'],
    ['GET /\r\nHost: a\r\n\r\n', 'no version (HTTP/0.9 form)'],
    ['GET / HTTP/1.1\r\nHost : a\r\n\r\n', 'whitespace before the colon (§5.1)'],
    ['GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n folded\r\n\r\n', 'obs-fold (§5.2)'],
    ['GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n', 'NUL in a value (RFC 9110 §5.5)'],
    ['GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n', 'a bare CR in a value (§2.2)'],
    ['GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\n\r\n', 'a bare LF ending a field line'],
    ['GET / HTTP/1.1\nHost: a\r\n\r\n', 'a bare LF ending the request line'],
    ['GET / HTTP/1.1\r\nHost: a\r\n\n', 'a bare LF as the empty line'],
    ['GET / HTTP/1.1\r\nHost: a\r\nX-A\r\n\r\n', 'a field line without a colon'],
    ['GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n', 'an empty field name'],
  ])('refuses %j (%s) as invalid_head', (wire) => {
    expect(codeOf(() => parse(wire))).toBe('invalid_head');
  });

  it('refuses a control octet or DEL anywhere in a long head, whatever the alignment of the bytes (the scan reads words)', () => {
    const wire = 'GET /a/long/enough/path?with=query HTTP/1.1\r\nHost: a.example\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0\r\nAccept: text/html,application/xhtml+xml\r\n\r\n';
    for (let shift = 0; shift < 4; shift++) {
      const backing = new Uint8Array(wire.length + shift);
      const view = backing.subarray(shift);
      backing.set(bytes(wire), shift);
      expect(parse(view).heads[0].fields).toHaveLength(3);
      for (let k = 0; k < wire.length; k++) {
        if (wire[k] === '\r' || wire[k] === '\n') continue;
        for (const octet of [0x00, 0x0b, 0x1f, 0x7f]) {
          backing.set(bytes(wire), shift);
          backing[shift + k] = octet;
          expect(codeOf(() => parse(view)), `0x${octet.toString(16)} at ${k}, shift ${shift}`).toBe('invalid_head');
        }
      }
    }
  });

  it('accepts obs-text (0x80-0xFF) anywhere in a long value, whatever the alignment', () => {
    const prefix = 'GET / HTTP/1.1\r\nHost: a\r\nX-Long: ';
    const value = Uint8Array.from({ length: 100 }, (_, k) => (k % 7 === 3 ? 0x80 + k : 0x61 + (k % 26)));
    for (let shift = 0; shift < 4; shift++) {
      const wire = concatBytes([new Uint8Array(shift), bytes(prefix), value, bytes('\r\n\r\n')]).subarray(shift);
      expect(parse(wire).heads[0].fields[1]).toEqual(['x-long', latin1(value)]);
    }
  });

  it(`refuses a target longer than MAX_REQUEST_TARGET_BYTES (${MAX_REQUEST_TARGET_BYTES}) as target_too_long (414), and accepts one of that length`, () => {
    const target = (n: number) => `/${'a'.repeat(n - 1)}`;
    expect(parse(`GET ${target(MAX_REQUEST_TARGET_BYTES)} HTTP/1.1\r\nHost: a\r\n\r\n`).heads[0].target.length).toBe(MAX_REQUEST_TARGET_BYTES);
    expect(codeOf(() => parse(`GET ${target(MAX_REQUEST_TARGET_BYTES + 1)} HTTP/1.1\r\nHost: a\r\n\r\n`))).toBe('target_too_long');
    // A request line that does not end within the head's bound is a too-long target too, not a 431.
    expect(codeOf(() => parse(`GET ${target(MAX_REQUEST_HEAD_BYTES)}`))).toBe('target_too_long');
  });

  it('refuses a head larger than MAX_REQUEST_HEAD_BYTES, whole or in pieces, and accepts one just within', () => {
    const filler = (n: number) => `GET / HTTP/1.1\r\nHost: a\r\nX-Fill: ${'a'.repeat(n)}\r\n\r\n`;
    const fixed = filler(0).length;
    const fits = filler(MAX_REQUEST_HEAD_BYTES - fixed);
    expect(fits.length).toBe(MAX_REQUEST_HEAD_BYTES);
    expect(parse(fits).ends).toBe(1);
    expect(parse(fits, { pieces: [1000, 30000, 30000] }).ends).toBe(1);
    const tooBig = filler(MAX_REQUEST_HEAD_BYTES - fixed + 1);
    expect(codeOf(() => parse(tooBig))).toBe('head_too_large');
    expect(codeOf(() => parse(tooBig, { pieces: [1000, 30000, 30000, 5000] }))).toBe('head_too_large');
    expect(codeOf(() => parse(`GET / HTTP/1.1\r\nX: ${'b'.repeat(MAX_REQUEST_HEAD_BYTES)}`))).toBe('head_too_large');
  });

  it(`refuses more than MAX_REQUEST_FIELDS (${MAX_REQUEST_FIELDS}) field lines`, () => {
    const head = (n: number) => `GET / HTTP/1.1\r\nHost: a\r\n${'a:\r\n'.repeat(n - 1)}\r\n`;
    expect(parse(head(MAX_REQUEST_FIELDS)).heads[0].fields.length).toBe(MAX_REQUEST_FIELDS);
    expect(codeOf(() => parse(head(MAX_REQUEST_FIELDS + 1)))).toBe('head_too_large');
  });
});

describe('RFC 9112 §3.2: Host', () => {
  it('refuses an HTTP/1.1 request without Host, and two Host field lines even when equal', () => {
    expect(codeOf(() => parse('GET / HTTP/1.1\r\nAccept: */*\r\n\r\n'))).toBe('invalid_head');
    expect(codeOf(() => parse('GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n'))).toBe('invalid_head');
    expect(codeOf(() => parse('GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n'))).toBe('invalid_head');
  });

  it('accepts HTTP/1.0 without Host (host undefined), and an empty Host (RFC 9110 §7.2)', () => {
    expect(parse('GET / HTTP/1.0\r\n\r\n').heads[0]).toMatchObject({ minorVersion: 0, host: undefined });
    expect(parse('GET / HTTP/1.1\r\nHost:\r\n\r\n').heads[0].host).toBe('');
  });

  it.each(['a.example', 'a.example:8443', 'a.example:', '127.0.0.1:80', '[::1]', '[::1]:443', '[v1.x]', 'xn--caf-dma.example', 'a%41b', "a!$&'()*+,;=b"])('accepts Host %j', (host) => {
    expect(parse(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`).heads[0].host).toBe(host);
  });

  it.each(['a b', 'a/b', 'a@b', 'a:b:c', 'a:8x', '[::1', '[::1]x', '[a/b]', 'a?b', 'a#b', 'caf\u00e9'])('refuses Host %j as invalid_head', (host) => {
    expect(codeOf(() => parse(concatBytes([bytes('GET / HTTP/1.1\r\nHost: '), bytes(host), bytes('\r\n\r\n')])))).toBe('invalid_head');
  });
});

describe('RFC 9112 §6.3: request body length', () => {
  it('rule 6: a Content-Length body ends after that many octets; identical repeated values stand for one', () => {
    const wire = 'POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5, 5\r\n\r\nhello';
    const r = parse(`${wire}GET`);
    expect(r.heads[0]).toMatchObject({ body: 'length', contentLength: 5 });
    expect([r.body, r.ends, r.taken]).toEqual(['hello', 1, wire.length]);
  });

  it('rule 6: Content-Length: 0 is no body, ended right after the head', () => {
    const r = parse('POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n');
    expect(r.heads[0]).toMatchObject({ body: 'none', contentLength: 0 });
    expect(r.ends).toBe(1);
  });

  it('rule 7: neither field is a body of length zero, whatever the method', () => {
    const r = parse('POST /u HTTP/1.1\r\nHost: a\r\n\r\nGET');
    expect(r.heads[0]).toMatchObject({ body: 'none', contentLength: 0 });
    expect([r.ends, r.taken, r.body]).toEqual([1, 'POST /u HTTP/1.1\r\nHost: a\r\n\r\n'.length, '']);
  });

  it('rule 4: a chunked body (RFC 9112 §7.1 example), extensions ignored, trailers read and dropped', () => {
    const r = parse('POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: Expires\r\n\r\n4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n');
    expect(r.heads[0]).toMatchObject({ body: 'chunked', contentLength: 0 });
    expect([r.body, r.ends]).toEqual(['Wikipedia in\r\n\r\nchunks.', 1]);
    expect(parse('POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n').ends).toBe(1);
  });

  it.each([
    ['Content-Length: 3\r\nTransfer-Encoding: chunked', 'Content-Length with Transfer-Encoding (rule 3)'],
    ['Transfer-Encoding: chunked\r\nContent-Length: 3', 'Transfer-Encoding with Content-Length (rule 3)'],
    ['Transfer-Encoding: gzip', 'a final coding other than chunked (rule 4)'],
    ['Transfer-Encoding: chunked, gzip', 'chunked not last (§7)'],
    ['Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked', 'chunked twice (§7)'],
    ['Transfer-Encoding:', 'an empty Transfer-Encoding'],
    ['Content-Length: 3\r\nContent-Length: 4', 'conflicting Content-Length (rule 5)'],
    ['Content-Length: 3, 4', 'a list of different lengths'],
    ['Content-Length: +3', 'a sign'],
    ['Content-Length: -1', 'a negative length'],
    ['Content-Length: 3a', 'a non-digit'],
    ['Content-Length:', 'an empty Content-Length'],
    ['Content-Length: 1234567890123456', 'more digits than a number holds exactly'],
  ])('refuses %j (%s) as invalid_framing', (fields) => {
    expect(codeOf(() => parse(`POST /u HTTP/1.1\r\nHost: a\r\n${fields}\r\n\r\n`))).toBe('invalid_framing');
  });

  it('§6.1: Transfer-Encoding in an HTTP/1.0 request is invalid_framing', () => {
    expect(codeOf(() => parse('POST /u HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'))).toBe('invalid_framing');
  });

  it('§6.1: a coding other than chunked before chunked is unsupported_transfer_coding (501)', () => {
    expect(codeOf(() => parse('POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'))).toBe('unsupported_transfer_coding');
    expect(codeOf(() => parse('POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n'))).toBe('unsupported_transfer_coding');
  });

  it('a malformed chunked body is invalid_chunk', () => {
    expect(codeOf(() => parse('POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n'))).toBe('invalid_chunk');
    expect(codeOf(() => parse('POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n'))).toBe('invalid_chunk');
  });
});

describe('RFC 9110 §9.3.6 and §7.8: CONNECT and Upgrade leave the tunnel bytes untaken', () => {
  it('CONNECT has no content: the bytes after its head are not taken', () => {
    const head = 'CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n';
    const r = parse(`${head}\x16\x03\x01tls bytes`);
    expect(r.heads[0]).toMatchObject({ method: 'CONNECT', body: 'none' });
    expect([r.ends, r.taken, r.body]).toEqual([1, head.length, '']);
    // More pushes after the end take nothing either.
    expect(r.parser.push(bytes('more'), 0)).toBe(0);
  });

  it('CONNECT with Content-Length or Transfer-Encoding is invalid_framing', () => {
    expect(codeOf(() => parse('CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 0\r\n\r\n'))).toBe('invalid_framing');
    expect(codeOf(() => parse('CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nTransfer-Encoding: chunked\r\n\r\n'))).toBe('invalid_framing');
  });

  it('an Upgrade request ends at its head; the new protocol bytes after it are not taken', () => {
    const head = 'GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
    const r = parse(`${head}\x81\x85frame`);
    expect(r.heads[0].fields).toContainEqual(['upgrade', 'websocket']);
    expect([r.ends, r.taken, r.heads[0].keepAlive]).toEqual([1, head.length, true]);
  });
});

describe('RFC 9112 §9.3: persistence', () => {
  it.each([
    ['HTTP/1.1', undefined, true],
    ['HTTP/1.1', 'close', false],
    ['HTTP/1.1', 'Close', false],
    ['HTTP/1.1', 'keep-alive', true],
    ['HTTP/1.1', 'x-a, close', false],
    ['HTTP/1.1', 'Upgrade', true],
    ['HTTP/1.0', undefined, false],
    ['HTTP/1.0', 'keep-alive', true],
    ['HTTP/1.0', 'Keep-Alive', true],
    ['HTTP/1.0', 'x-a, keep-alive', true],
    ['HTTP/1.0', 'keep-alive, close', false],
    ['HTTP/1.0', 'x-a', false],
  ])('%s with Connection %j: keepAlive %s', (version, connection, keepAlive) => {
    const wire = `GET / ${version}\r\nHost: a\r\n${connection === undefined ? '' : `Connection: ${connection}\r\n`}\r\n`;
    expect(parse(wire).heads[0].keepAlive).toBe(keepAlive);
  });

  it('two Connection field lines are read as one list', () => {
    expect(parse('GET / HTTP/1.1\r\nHost: a\r\nConnection: x-a\r\nConnection: close\r\n\r\n').heads[0].keepAlive).toBe(false);
  });
});

describe('pipelining, reset, inHead and finish', () => {
  it('reads pipelined requests from one buffer: push returns each boundary, reset reads the next', () => {
    const a = 'POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc';
    const b = 'POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n';
    const c = '\r\nGET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n';
    const { requests, at, parser } = parseAll(a + b + c);
    expect(requests.map((r) => [r.head.target, r.body, r.end])).toEqual([
      ['/a', 'abc', a.length],
      ['/b', 'de', a.length + b.length],
      ['/c', '', a.length + b.length + c.length],
    ]);
    expect(requests[2].head.keepAlive).toBe(false);
    expect(at).toBe(a.length + b.length + c.length);
    expect(() => parser.finish()).not.toThrow();
  });

  it('inHead is true only while a head is part-read, not for the empty lines before it nor in the body', () => {
    const parser = new RequestParser({ onHead: () => {}, onData: () => {}, onEnd: () => {} });
    expect(parser.inHead).toBe(false);
    parser.push(bytes('\r\n'));
    expect(parser.inHead).toBe(false);
    parser.push(bytes('\r'));
    expect(parser.inHead).toBe(false);
    parser.push(bytes('\nG'));
    expect(parser.inHead).toBe(true);
    parser.push(bytes('ET / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n'));
    expect(parser.inHead).toBe(true);
    parser.push(bytes('\r\nx'));
    expect([parser.inHead, parser.done]).toEqual([false, false]);
    parser.push(bytes('y'));
    expect([parser.inHead, parser.done]).toEqual([false, true]);
    parser.reset();
    expect([parser.inHead, parser.done]).toEqual([false, false]);
  });

  it('§8: finish() mid-head or mid-body is incomplete_message; idle, after empty lines, or after the end it is nothing', () => {
    expect(codeOf(() => parse('GET / HTTP/1.1\r\nHo', { close: true }))).toBe('incomplete_message');
    expect(codeOf(() => parse('G', { close: true }))).toBe('incomplete_message');
    expect(codeOf(() => parse('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nshort', { close: true }))).toBe('incomplete_message');
    expect(codeOf(() => parse('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n', { close: true }))).toBe('incomplete_message');
    expect(codeOf(() => parse('', { close: true }))).toBeUndefined();
    expect(codeOf(() => parse('\r\n', { close: true }))).toBeUndefined();
    expect(codeOf(() => parse('GET / HTTP/1.1\r\nHost: a\r\n\r\n', { close: true }))).toBeUndefined();
  });
});

describe('split at every byte boundary', () => {
  const chunked = 'POST /upload?x=1 HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n3;a=b\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\n';
  const after = 'GET /next HTTP/1.1\r\nHost: a\r\n\r\n';

  it('a chunked request gives the same head, body, end and boundary for every split in two, and byte by byte', () => {
    const whole = parse(chunked + after);
    expect(whole.heads).toHaveLength(1);
    expect([whole.body, whole.ends, whole.taken]).toEqual(['abc0123456789abcdef', 1, chunked.length]);
    const expected = { heads: whole.heads, body: whole.body, ends: 1, taken: chunked.length };
    for (let at = 0; at <= chunked.length + after.length; at++) {
      const split = parse(chunked + after, { pieces: [at] });
      expect({ heads: split.heads, body: split.body, ends: split.ends, taken: split.taken }).toEqual(expected);
    }
    const byByte = parse(chunked + after, { pieces: Array.from({ length: chunked.length + after.length }, () => 1) });
    expect({ heads: byByte.heads, body: byByte.body, ends: byByte.ends, taken: byByte.taken }).toEqual(expected);
  });

  it('property: a hostile request (a byte flipped) is refused with an Http1Error or read as some request, never a crash (fast-check)', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 255 }), (at, octet) => {
        const wire = bytes(chunked);
        wire[at % wire.length] = octet;
        codeOf(() => parse(wire, { close: true }));
      }),
      { numRuns: 500 },
    );
  });
});

describe('property: random valid requests read back as written (fast-check)', () => {
  const tchars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const token = fc.string({ unit: fc.constantFrom(...tchars), minLength: 1, maxLength: 12 });
  // Target octets: anything but CTLs and SP (octets above 0x7E included).
  const targetOctet = fc.integer({ min: 0x21, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c));
  const target = fc.string({ unit: targetOctet, minLength: 1, maxLength: 40 });
  // Values without leading or trailing whitespace (the parser trims OWS).
  const valueOctet = fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c));
  const value = fc.string({ unit: fc.oneof(valueOctet, fc.constant('\t')), maxLength: 30 }).map((v) => v.replace(/^[ \t]+|[ \t]+$/g, ''));
  const framingNames = new Set(['host', 'content-length', 'transfer-encoding', 'connection']);
  const field = fc.tuple(token, value).filter(([name]) => !framingNames.has(name.toLowerCase()));
  const bodyBytes = fc.string({ unit: fc.integer({ min: 0, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 200 });

  it('method, target, fields and body bytes survive serialization and any split', () => {
    fc.assert(
      fc.property(
        token,
        target,
        fc.array(field, { maxLength: 8 }),
        bodyBytes,
        fc.constantFrom('length', 'chunked'),
        fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 10 }),
        fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 30 }),
        (method, target, fields, body, framing, chunkSizes, pieces) => {
          fc.pre(method !== 'CONNECT');
          const all: [string, string][] = [['Host', 'a.example'], ...fields];
          let wire = `${method} ${target} HTTP/1.1\r\n${all.map(([n, v]) => `${n}: ${v}\r\n`).join('')}`;
          if (framing === 'length') wire += `Content-Length: ${body.length}\r\n\r\n${body}`;
          else {
            wire += 'Transfer-Encoding: chunked\r\n\r\n';
            let at = 0;
            for (let k = 0; at < body.length; k++) {
              const size = Math.min(chunkSizes.length === 0 ? body.length : chunkSizes[k % chunkSizes.length], body.length - at);
              wire += `${size.toString(16)}\r\n${body.slice(at, at + size)}\r\n`;
              at += size;
            }
            wire += '0\r\n\r\n';
          }
          const r = parse(wire + 'GET / HTTP/1.1\r\n', { pieces });
          expect(r.heads).toHaveLength(1);
          const head = r.heads[0];
          expect(head.method).toBe(method);
          expect(head.target).toBe(target);
          expect(head.fields.slice(0, all.length)).toEqual(all.map(([n, v]) => [n.toLowerCase(), v]));
          expect(r.body).toBe(body);
          expect([r.ends, r.taken]).toEqual([1, wire.length]);
          expect(head.body).toBe(framing === 'length' && body.length === 0 ? 'none' : framing);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('RFC 9112 §7.1.1 and §7.1.2: chunk extensions and trailer lines are read by their grammar (found against llhttp, http1-request-parser-differential.test.ts)', () => {
  const chunked = (body: string) => `POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${body}`;

  it('§7.1.2: a request line after a last-chunk without its final CRLF is not swallowed as a trailer field line', () => {
    // Read leniently, the second request became the first one's trailer section, one request where a stricter hop sees two.
    const wire = chunked('0\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    expect(codeOf(() => parse(wire))).toBe('invalid_chunk');
  });

  it.each([
    ['0\r\nno-colon\r\n\r\n', 'a line without a colon'],
    ['0\r\n folded\r\n\r\n', 'obs-fold'],
    ['0\r\nX: 1\r\n continued\r\n\r\n', 'obs-fold after a field line'],
    ['0\r\na b: c\r\n\r\n', 'a space in the name'],
    ['0\r\nX : 1\r\n\r\n', 'whitespace before the colon'],
    ['0\r\n: 1\r\n\r\n', 'an empty name'],
    ['0\r\nX: \x01\r\n\r\n', 'a control octet in the value'],
    ['0\r\nX: \x7f\r\n\r\n', 'DEL in the value'],
  ])('§7.1.2: refuses the trailer section %j (%s) as invalid_chunk', (body) => {
    expect(codeOf(() => parse(chunked(body)))).toBe('invalid_chunk');
  });

  it.each([
    ['1 x\r\na\r\n0\r\n\r\n', 'a word after the size'],
    ['1 \r\na\r\n0\r\n\r\n', 'whitespace after the size, no extension'],
    ['0 \r\n\r\n', 'whitespace after the last chunk size'],
    ['1;\r\na\r\n0\r\n\r\n', 'an empty extension name'],
    ['1;=b\r\na\r\n0\r\n\r\n', 'a value without a name'],
    ['1;a=\r\na\r\n0\r\n\r\n', 'an empty value'],
    ['1;a="b\r\na\r\n0\r\n\r\n', 'an unclosed quoted-string'],
    ['1;a=b c\r\na\r\n0\r\n\r\n', 'two words as a value'],
    ['1;a=\x80\r\na\r\n0\r\n\r\n', 'obs-text in a token'],
  ])('§7.1.1: refuses the chunk-size line in %j (%s) as invalid_chunk', (body) => {
    expect(codeOf(() => parse(chunked(body)))).toBe('invalid_chunk');
  });

  it('§7.1.1: accepts extensions by the grammar, with BWS around ";" and "=", tokens and quoted-strings, in any split', () => {
    const body = '1 ;a\r\nx\r\n1\t; a = b ;c="q\\"; r\x80"\r\ny\r\n1;a;b=c\r\nz\r\n0;last\r\nX-Trailer: 1\r\nEmpty:\r\n\r\n';
    const wire = chunked(body);
    for (let cut = 0; cut <= wire.length; cut++) {
      const r = parse(wire, { pieces: [cut] });
      expect([r.body, r.ends, r.taken], `cut at ${cut}`).toEqual(['xyz', 1, wire.length]);
    }
  });
});
