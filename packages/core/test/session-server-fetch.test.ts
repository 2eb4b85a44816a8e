/**
 * The server role's Fetch adapter (session.ts FetchExchange): the Request is filled once from the
 * checked field block, and `info.head` describes the same request.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, type HeaderField, type StreamInfo } from '../src/index.js';
import { ScriptedPeer } from './support/scripted-peer.js';

const POST: HeaderField[] = [[':method', 'POST'], [':scheme', 'https'], [':authority', 'example.com'], [':path', '/up']];

async function server() {
  const seen: Array<{ request: Request; info: StreamInfo; body: string }> = [];
  const peer = await ScriptedPeer.start({
    role: 'server',
    session: {
      handler: async (request, info) => {
        const entry = { request, info, body: '' };
        seen.push(entry);
        entry.body = request.body ? await request.text() : '';
        return new Response('ok');
      },
    },
  });
  return { peer, seen };
}

describe('server Fetch adapter: the Request from the checked fields', () => {
  it('§8.1.1 a repeated content-length is still checked against the DATA', async () => {
    const { peer } = await server();
    peer.headers(1, [...POST, ['content-length', '5'], ['content-length', '5']], false);
    peer.data(1, 'abc', true);
    await peer.expectRst(1, ErrorCode.PROTOCOL_ERROR);
    await peer.expectAlive();
  });

  it('info.head carries the pseudo-header fields and the same headers as the Request, cookie crumbs joined (§8.2.3)', async () => {
    const { peer, seen } = await server();
    peer.headers(1, [...POST, ['content-type', 'text/plain'], ['cookie', 'a=1'], ['x-many', '1'], ['cookie', 'b=2'], ['x-many', '2']], false);
    peer.data(1, 'hello', true);
    const headers = await peer.expectFrame('headers', { streamId: 1 });
    expect(headers.fields).toContainEqual([':status', '200']);
    const { request, info, body } = seen[0];
    expect(body).toBe('hello');
    expect(request.method).toBe('POST');
    expect(request.url).toBe('https://example.com/up');
    expect([...request.headers]).toEqual([['content-type', 'text/plain'], ['cookie', 'a=1; b=2'], ['x-many', '1, 2']]);
    expect(info.head).toMatchObject({ method: 'POST', scheme: 'https', authority: 'example.com', path: '/up' });
    expect([...info.head.headers]).toEqual([...request.headers]);
  });
});
