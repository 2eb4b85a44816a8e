/**
 * HTTP/3 sessions back to back over in-memory QUIC (RFC 9114 §4): requests as ServerStreams in the
 * server role, ClientExchange/ResponseMessage in the client role, in the usual arrangement and
 * reversed (the QUIC client is the HTTP/3 server, h3-reverse).
 */
import { describe, expect, it } from 'vitest';
import type { ServerStream } from '../src/http/server-stream.js';
import { h3Pair, readAll } from './support/h3-pair.js';

const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

const echo = async (stream: ServerStream) => {
  const body = await stream.bytes();
  stream.respond(200, { 'content-type': 'text/plain', 'x-method': stream.head.method, 'x-path': stream.head.path });
  await stream.end(body.length > 0 ? body : text(`hello ${stream.head.authority}`));
};

describe('RFC 9114 §4.1 a request and its response', () => {
  for (const reversed of [false, true]) {
    const arrangement = reversed ? 'reversed (QUIC client = HTTP/3 server)' : 'QUIC server = HTTP/3 server';
    it(`GET, ${arrangement}`, async () => {
      const seen: Array<{ id: number; authority: string }> = [];
      const { client } = h3Pair({
        reversed,
        server: {
          onStream: (stream) => {
            seen.push({ id: stream.id, authority: stream.head.authority });
            void echo(stream);
          },
        },
      });
      const exchange = client.open({ method: 'GET', url: new URL('https://app.example.com/hi?x=1') });
      const response = await exchange.response;
      expect(response.status).toBe(200);
      expect(response.fields).toContainEqual(['x-path', '/hi?x=1']);
      expect(decode(await readAll(response.body))).toBe('hello app.example.com');
      // RFC 9000 §2.1: the request went on the HTTP client's first bidirectional stream.
      expect(seen).toEqual([{ id: reversed ? 1 : 0, authority: 'app.example.com' }]);
      client.close();
    });

    it(`POST echoed, fetch adapter, ${arrangement}`, async () => {
      const { client } = h3Pair({ reversed, server: { onStream: (s) => void echo(s) } });
      const response = await client.fetch('https://app.example.com/upload', { method: 'POST', body: 'payload' });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-method')).toBe('POST');
      expect(await response.text()).toBe('payload');
      client.close();
    });
  }

  it('several requests at once each get their own answer', async () => {
    const { client } = h3Pair({ server: { onStream: (s) => void echo(s) } });
    const responses = await Promise.all([1, 2, 3, 4, 5].map((n) => client.fetch(`https://a.example/${n}`, { method: 'POST', body: `n=${n}` })));
    expect(await Promise.all(responses.map((r) => r.text()))).toEqual(['n=1', 'n=2', 'n=3', 'n=4', 'n=5']);
    client.close();
  });
});
