import { describe, expect, it } from 'vitest';
import { sessionPair } from './support/session-pair.js';
import { carryTrailers, Http2Session, responseTrailers, withTrailers, type Handler } from '../src/index.js';
import type { HeaderField } from '../src/frame/types.js';

const pair = sessionPair;

/** A relay: one pair's client answers the next pair's handler, like the agent forwarding to an h2c upstream. */
function relay(origin: Handler, rewrite: (from: Response) => Response) {
  const inner = pair(origin);
  return pair(async (request) => rewrite(await inner.client.fetch(request)));
}

describe('RFC 9113 §8.1 trailers through a relay (carryTrailers)', () => {
  it('a rewritten Response keeps the trailers it was made from, received and sent on', async () => {
    const { client } = relay(
      () => withTrailers(new Response('body'), () => new Headers({ 'grpc-status': '0', 'grpc-message': 'ok' })),
      (from) => carryTrailers(from, new Response(from.body, { status: from.status, headers: { 'x-relayed': '1' } })),
    );
    const res = await client.fetch('http://app.example.com/');
    expect(res.headers.get('x-relayed')).toBe('1');
    expect(await res.text()).toBe('body');
    const trailers = await responseTrailers(res);
    expect(trailers.get('grpc-status')).toBe('0');
    expect(trailers.get('grpc-message')).toBe('ok');
  });

  it('without carryTrailers the rewritten Response loses them (the reason it exists)', async () => {
    const { client } = relay(
      () => withTrailers(new Response('body'), () => new Headers({ 'grpc-status': '0' })),
      (from) => new Response(from.body, { status: from.status }),
    );
    const res = await client.fetch('http://app.example.com/');
    await res.text();
    expect((await responseTrailers(res)).get('grpc-status')).toBeNull();
  });

  it('responseTrailers of the rewritten Response resolves on the receiving side too', async () => {
    const { client } = pair(() => withTrailers(new Response('x'), () => new Headers({ 'grpc-status': '5' })));
    const from = await client.fetch('http://app.example.com/');
    const to = carryTrailers(from, new Response(from.body, from));
    await to.text();
    expect((await responseTrailers(to)).get('grpc-status')).toBe('5');
  });

  it('§8.1 a response ending with its HEADERS (gRPC trailers-only) has a null body and stays one HEADERS frame when relayed', async () => {
    const sent: { fields: HeaderField[]; endStream: boolean }[] = [];
    const { client, server } = relay(
      () => new Response(null, { headers: { 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'not found' } }),
      (from) => carryTrailers(from, new Response(from.body, { status: from.status, headers: from.headers })),
    );
    const original = server.connection.sendHeaders.bind(server.connection);
    server.connection.sendHeaders = ((stream: Parameters<typeof original>[0], fields: HeaderField[], endStream: boolean) => {
      sent.push({ fields, endStream });
      return original(stream, fields, endStream);
    }) as typeof original;
    const res = await client.fetch('http://app.example.com/');
    expect(res.body).toBeNull();
    expect(res.headers.get('grpc-status')).toBe('5');
    expect(res.headers.get('grpc-message')).toBe('not found');
    expect(sent).toHaveLength(1);
    expect(sent[0].endStream).toBe(true);
  });
});
