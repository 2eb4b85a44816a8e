/** RFC 9112 §3, §5: the request head written to an HTTP/1.1 upstream, and what it refuses to write. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { httpDate, InvalidRequestHeadError, requestHead, responseHead } from '../src/index.js';

describe('requestHead (RFC 9112 §3)', () => {
  it('writes the request line, the fields in order with their names as given, and the empty line', () => {
    expect(requestHead('GET', '/a?b=c', ['host', 'app.example', 'X-Trace', 'abc', 'cookie', 'a=1; b=2'])).toBe(
      'GET /a?b=c HTTP/1.1\r\nhost: app.example\r\nX-Trace: abc\r\ncookie: a=1; b=2\r\n\r\n',
    );
    expect(requestHead('OPTIONS', '*', [])).toBe('OPTIONS * HTTP/1.1\r\n\r\n');
  });

  it('passes obs-text (0x80-0xFF) in values and targets, as latin1 octets', () => {
    expect(requestHead('GET', '/caf\u00e9', ['x', '\u00ff'])).toBe('GET /caf\u00e9 HTTP/1.1\r\nx: \u00ff\r\n\r\n');
  });

  it.each([
    ['GET /', '/', []],
    ['', '/', []],
    ['GET', '/a b', []],
    ['GET', '/a\r\nX: injected', []],
    ['GET', '', []],
    ['GET', '/\u0100', []],
    ['GET', '/', ['x y', '1']],
    ['GET', '/', ['', '1']],
    ['GET', '/', ['x', 'a\r\nInjected: 1']],
    ['GET', '/', ['x', 'a\nb']],
    ['GET', '/', ['x', 'a\u0000b']],
    ['GET', '/', ['x', '\u0100']],
  ] as [string, string, string[]][])('refuses method %j target %j fields %j (RFC 9110 §5.5: no field may split the message)', (method, target, fields) => {
    expect(() => requestHead(method, target, fields)).toThrow(InvalidRequestHeadError);
  });
});

describe('responseHead (RFC 9112 §4)', () => {
  it('writes the status line, the fields not skipped, the extra fields, and the empty line', () => {
    const fields: [string, string][] = [['content-type', 'text/plain'], ['connection', 'close'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']];
    expect(responseHead(200, 'OK', fields, new Set(['connection']), ['content-length', '5'])).toBe(
      'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nset-cookie: a=1\r\nset-cookie: b=2\r\ncontent-length: 5\r\n\r\n',
    );
    expect(responseHead(204, '', [])).toBe('HTTP/1.1 204 \r\n\r\n');
  });

  it.each([
    [99, 'OK', []],
    [1000, 'OK', []],
    [200.5, 'OK', []],
    [200, 'OK\r\nX: injected', []],
    [200, 'OK', [['x', 'a\r\nInjected: 1']]],
    [200, 'OK', [['x y', '1']]],
    [200, 'OK', [['x', 'a\u0000b']]],
  ] as [number, string, [string, string][]][])('refuses status %j reason %j fields %j', (status, reason, fields) => {
    expect(() => responseHead(status, reason, fields)).toThrow(InvalidRequestHeadError);
  });

  it('checks the extra fields too', () => {
    expect(() => responseHead(200, 'OK', [], undefined, ['content-length', '1\r\nx: y'])).toThrow(InvalidRequestHeadError);
  });
});

describe('httpDate (RFC 9110 §5.6.7 IMF-fixdate)', () => {
  afterEach(() => vi.useRealTimers());

  it('gives the current second in IMF-fixdate and a new value when the second changes', () => {
    vi.useFakeTimers({ now: Date.UTC(1994, 10, 6, 8, 49, 37, 250) });
    expect(httpDate()).toBe('Sun, 06 Nov 1994 08:49:37 GMT');
    vi.setSystemTime(Date.UTC(1994, 10, 6, 8, 49, 37, 999));
    expect(httpDate()).toBe('Sun, 06 Nov 1994 08:49:37 GMT');
    vi.setSystemTime(Date.UTC(1994, 10, 6, 8, 49, 38, 0));
    expect(httpDate()).toBe('Sun, 06 Nov 1994 08:49:38 GMT');
  });
});
