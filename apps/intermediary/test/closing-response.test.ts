/**
 * closing-response.ts: whole HTTP/1.1 responses written straight onto a socket (refusals of the
 * HTTP/1.1 server, of upgrades and of CONNECT), parsed back with core's ResponseParser.
 */
import { describe, expect, it } from 'vitest';
import { ResponseParser, type Http1ResponseHead } from '@rhttp/core';
import { closingRefusal, closingResponse } from '../src/closing-response.js';

function parse(bytes: Uint8Array): { head: Http1ResponseHead; body: string } {
  let head!: Http1ResponseHead;
  let body = '';
  const parser = new ResponseParser('GET', {
    onHead: (h) => {
      head = h;
    },
    onData: (chunk) => {
      body += new TextDecoder().decode(chunk);
    },
    onEnd: () => {},
  });
  parser.push(bytes);
  return { head, body };
}

const fieldsOf = (head: Http1ResponseHead) => head.rawFields.reduce<string[][]>((out, value, i, all) => (i % 2 === 0 ? [...out, [value.toLowerCase(), all[i + 1]]] : out), []);

describe('closingResponse / closingRefusal', () => {
  it('the standard reason, the fields but their own framing, then Content-Length, Date and Connection: close', () => {
    const { head, body } = parse(closingResponse(502, 'upstream gone\n', [['x-a', '1'], ['content-length', '999'], ['transfer-encoding', 'chunked'], ['connection', 'keep-alive']]));
    expect([head.status, head.reason, body]).toEqual([502, 'Bad Gateway', 'upstream gone\n']);
    const fields = fieldsOf(head);
    expect(fields.filter(([name]) => name === 'x-a')).toEqual([['x-a', '1']]);
    expect(fields.filter(([name]) => name === 'content-length')).toEqual([['content-length', '14']]);
    expect(fields.filter(([name]) => name === 'connection')).toEqual([['connection', 'close']]);
    expect(fields.some(([name]) => name === 'transfer-encoding')).toBe(false);
    expect(fields.filter(([name]) => name === 'date')).toHaveLength(1);
  });

  it('a refusal is plain text, not cached, unless its fields say otherwise, and never says a field twice', () => {
    const plain = fieldsOf(parse(closingRefusal(426, 'Only WebSocket version 13', [['sec-websocket-version', '13']])).head);
    expect(plain.filter(([name]) => name === 'content-type')).toEqual([['content-type', 'text/plain; charset=utf-8']]);
    expect(plain.filter(([name]) => name === 'cache-control')).toEqual([['cache-control', 'no-store']]);
    expect(plain.filter(([name]) => name === 'sec-websocket-version')).toEqual([['sec-websocket-version', '13']]);
    const own = fieldsOf(parse(closingRefusal(401, 'sign it', [['content-type', 'text/plain; charset=utf-8'], ['cache-control', 'no-store'], ['www-authenticate', 'Signature realm="rhttp"']])).head);
    expect(own.filter(([name]) => name === 'content-type')).toHaveLength(1);
    expect(own.filter(([name]) => name === 'cache-control')).toHaveLength(1);
    expect(own.filter(([name]) => name === 'www-authenticate')).toEqual([['www-authenticate', 'Signature realm="rhttp"']]);
  });
});
