/**
 * The server role's Fetch adapter on HTTP/3: the same `handler` option (and FetchExchange) as
 * HTTP/2, alone or behind `onStream` for the requests it leaves.
 */
import { describe, expect, it } from 'vitest';
import { h3Pair } from './support/h3-pair.js';

describe('Http3Session handler (the Fetch adapter)', () => {
  for (const reversed of [false, true]) {
    it(`answers a POST with the Request's body, fields and trailers (${reversed ? 'reversed' : 'usual'} arrangement)`, async () => {
      const { client } = h3Pair({
        reversed,
        server: {
          handler: async (request, info) => {
            const body = await request.text();
            return new Response(`${request.method} ${new URL(request.url).pathname} ${request.headers.get('x-test')} ${body} on ${info.streamId}`, { status: 201, headers: { 'x-reply': 'yes' } });
          },
        },
      });
      const response = await client.fetch('https://app.example.com/echo', { method: 'POST', headers: { 'x-test': 'ok' }, body: 'payload' });
      expect(response.status).toBe(201);
      expect(response.headers.get('x-reply')).toBe('yes');
      expect(await response.text()).toBe(`POST /echo ok payload on ${reversed ? 1 : 0}`);
      client.close();
    });
  }

  it('takes the requests onStream declines; the others stay on the stream path', async () => {
    const { client } = h3Pair({
      server: {
        onStream: (stream) => {
          if (stream.head.path !== '/stream') return false;
          stream.respond(200, { 'x-path': 'stream' });
          void stream.end(new TextEncoder().encode('from onStream'));
        },
        handler: () => new Response('from handler', { headers: { 'x-path': 'handler' } }),
      },
    });
    const [a, b] = await Promise.all([client.fetch('https://app.example.com/stream'), client.fetch('https://app.example.com/other')]);
    expect([a.headers.get('x-path'), await a.text()]).toEqual(['stream', 'from onStream']);
    expect([b.headers.get('x-path'), await b.text()]).toEqual(['handler', 'from handler']);
    client.close();
  });

  it('a handler that throws answers 500 and onError hears it', async () => {
    const errors: unknown[] = [];
    const { client } = h3Pair({
      server: {
        handler: () => {
          throw new Error('boom');
        },
        onError: (error) => errors.push(error),
      },
    });
    const response = await client.fetch('https://app.example.com/');
    expect(response.status).toBe(500);
    await response.text();
    expect((errors[0] as Error).message).toBe('boom');
    client.close();
  });
});
