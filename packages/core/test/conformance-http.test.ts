/**
 * Scripted-peer conformance, HTTP semantics over the session (RFC 9113 §8; RFC 8441 extended
 * CONNECT; RFC 8336 ORIGIN), in both roles.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, Http2UsageError, MAX_PEER_ORIGINS, SettingId, StreamResetError, type HeaderField, type StreamInfo } from '../src/index.js';
import { ScriptedPeer } from './support/scripted-peer.js';

const GET: HeaderField[] = [[':method', 'GET'], [':scheme', 'https'], [':authority', 'example.com'], [':path', '/']];

/** The engine as server with a handler that records requests and answers 200 "ok". */
async function server(settings = {}) {
  const seen: Array<{ request: Request; info: StreamInfo; body: string }> = [];
  const peer = await ScriptedPeer.start({
    role: 'server',
    settings,
    session: {
      handler: async (request, info) => {
        seen.push({ request, info, body: request.body && info.head.method !== 'CONNECT' ? await request.text() : '' });
        return new Response('ok');
      },
    },
  });
  return { peer, seen };
}

/** Send a request whose header block is `fields` and expect a RST PROTOCOL_ERROR (handler never called). */
async function expectMalformedRequest(fields: HeaderField[], body?: { data: string[]; endOnHeaders?: boolean }) {
  const { peer, seen } = await server();
  peer.headers(1, fields, body === undefined || body.endOnHeaders === true);
  if (body) body.data.forEach((d, i) => peer.data(1, d, i === body.data.length - 1));
  await peer.expectRst(1, ErrorCode.PROTOCOL_ERROR);
  await peer.expectAlive();
  // A malformed header section never reaches the handler.
  if (body === undefined) expect(seen.some((s) => s.info.streamId === 1)).toBe(false);
  // The connection still serves a well-formed request afterwards.
  peer.headers(3, GET, true);
  const response = await peer.expectEventually('headers', (f) => f.streamId === 3);
  expect(response.fields).toContainEqual([':status', '200']);
  return { peer, seen };
}

describe('RFC 9113 §8.1 HTTP message framing', () => {
  it('server: a well-formed request reaches the handler and is answered', async () => {
    const { peer, seen } = await server();
    peer.headers(1, [...GET.slice(0, 3), [':path', '/a?b=c'], ['x-one', '1'], ['cookie', 'a=1'], ['cookie', 'b=2']], true);
    const headers = await peer.expectFrame('headers', { streamId: 1 });
    expect(headers.fields).toContainEqual([':status', '200']);
    const data = (await peer.drain()).flatMap((f) => (f.kind === 'data' ? [new TextDecoder().decode(f.data)] : []));
    expect(data.join('')).toBe('ok');
    expect(seen[0].request.url).toBe('https://example.com/a?b=c');
    expect(seen[0].request.headers.get('cookie')).toBe('a=1; b=2'); // §8.2.3
  });

  it('server: trailers without END_STREAM are malformed', async () => {
    const { peer } = await server();
    peer.headers(1, [[':method', 'POST'], ...GET.slice(1)], false);
    peer.headers(1, [['x-trailer', '1']], false);
    await peer.expectRst(1, ErrorCode.PROTOCOL_ERROR);
  });

  it('server: content-length larger than the DATA is malformed (§8.1.1)', () =>
    expectMalformedRequest([[':method', 'POST'], ...GET.slice(1), ['content-length', '5']], { data: ['abc'] }));

  it('server: content-length smaller than the DATA is malformed, across several frames (§8.1.1)', () =>
    expectMalformedRequest([[':method', 'POST'], ...GET.slice(1), ['content-length', '3']], { data: ['ab', 'cd'] }));

  it('server: content-length with END_STREAM on the HEADERS and no DATA is malformed (§8.1.1)', () =>
    expectMalformedRequest([[':method', 'POST'], ...GET.slice(1), ['content-length', '1']]));

  it('server: a body matching content-length is delivered', async () => {
    const { peer, seen } = await server();
    peer.headers(1, [[':method', 'POST'], ...GET.slice(1), ['content-length', '4']], false);
    peer.data(1, 'ab');
    peer.data(1, 'cd', true);
    await peer.expectEventually('headers', (f) => f.streamId === 1);
    expect(seen[0].body).toBe('abcd');
  });

  it('server: a handler that cancels the request body before answering gets its answer out, then RST_STREAM(NO_ERROR)', async () => {
    // §8.1: a server can send a complete response prior to the client sending an entire request ...
    // the server MAY request that the client abort transmission of a request without error by sending
    // a RST_STREAM with an error code of NO_ERROR after sending a complete response.
    const peer = await ScriptedPeer.start({
      role: 'server',
      session: {
        handler: async (request) => {
          await request.body!.cancel();
          return new Response(null, { status: 413 });
        },
      },
    });
    peer.headers(1, [[':method', 'POST'], ...GET.slice(1)], false);
    peer.data(1, 'part of a large upload');
    const answer = await peer.expectFrame('headers', { streamId: 1, endStream: true });
    expect(answer.fields).toContainEqual([':status', '413']);
    await peer.expectRst(1, ErrorCode.NO_ERROR);
    peer.data(1, 'more, in flight'); // §5.1: frames in flight after our reset are ignored
    await peer.expectAlive();
  });

  it('server: a request body cancelled after the response ended is stopped with RST_STREAM(NO_ERROR) at once', async () => {
    let release!: () => void;
    const peer = await ScriptedPeer.start({
      role: 'server',
      session: {
        handler: async (request) => {
          const body = request.body!;
          release = () => void body.cancel();
          return new Response(null, { status: 200 });
        },
      },
    });
    peer.headers(1, [[':method', 'POST'], ...GET.slice(1)], false);
    await peer.expectFrame('headers', { streamId: 1, endStream: true });
    await peer.expectSilence();
    release();
    await peer.expectRst(1, ErrorCode.NO_ERROR);
  });

  it('client: a response whose DATA exceeds content-length is reset and its body errors', async () => {
    const peer = await ScriptedPeer.start({ role: 'client', session: {} });
    const pending = peer.session!.fetch('https://example.com/');
    await peer.expectFrame('headers', { streamId: 1 });
    peer.headers(1, [[':status', '200'], ['content-length', '2']], false);
    const response = await pending;
    peer.data(1, 'abc', true); // the stream is closed by this frame: the body must error all the same
    await expect(response.text()).rejects.toBeInstanceOf(StreamResetError);
  });

  it('client: informational responses precede the final one', async () => {
    const peer = await ScriptedPeer.start({ role: 'client', session: {} });
    const pending = peer.session!.fetch('https://example.com/');
    await peer.expectFrame('headers', { streamId: 1 });
    peer.headers(1, [[':status', '103'], ['link', '</a.css>; rel=preload']], false);
    peer.headers(1, [[':status', '200']], false);
    peer.data(1, 'hi', true);
    const response = await pending;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('hi');
  });

  it('client: 101 is not allowed in HTTP/2 (§8.6)', async () => {
    const peer = await ScriptedPeer.start({ role: 'client', session: {} });
    const pending = peer.session!.fetch('https://example.com/');
    await peer.expectFrame('headers', { streamId: 1 });
    peer.headers(1, [[':status', '101']], false);
    await peer.expectRst(1, ErrorCode.PROTOCOL_ERROR);
    await expect(pending).rejects.toBeInstanceOf(StreamResetError);
  });
});

describe('RFC 9113 §8.2 HTTP fields', () => {
  it('server: an uppercase field name is malformed', () => expectMalformedRequest([...GET, ['X-Upper', '1']]));

  for (const name of ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']) {
    it(`server: connection-specific field ${name} is malformed (§8.2.2)`, () => expectMalformedRequest([...GET, [name, 'x']]));
  }

  it('server: te other than "trailers" is malformed (§8.2.2)', () => expectMalformedRequest([...GET, ['te', 'gzip']]));

  it('server: te: trailers is allowed', async () => {
    const { peer } = await server();
    peer.headers(1, [...GET, ['te', 'trailers']], true);
    const response = await peer.expectFrame('headers', { streamId: 1 });
    expect(response.fields).toContainEqual([':status', '200']);
  });

  it('server: a field value with a line feed is malformed', () => expectMalformedRequest([...GET, ['x-bad', 'a\nb']]));

  it('client: a response with an uppercase field name is reset', async () => {
    const peer = await ScriptedPeer.start({ role: 'client', session: {} });
    const pending = peer.session!.fetch('https://example.com/');
    await peer.expectFrame('headers', { streamId: 1 });
    peer.headers(1, [[':status', '200'], ['Bad', 'x']], false);
    await peer.expectRst(1, ErrorCode.PROTOCOL_ERROR);
    await expect(pending).rejects.toBeInstanceOf(StreamResetError);
  });

  it('client: a malformed response that ends the stream fails the fetch (no RST on the closed stream)', async () => {
    const peer = await ScriptedPeer.start({ role: 'client', session: {} });
    const pending = peer.session!.fetch('https://example.com/');
    await peer.expectFrame('headers', { streamId: 1, endStream: true });
    peer.headers(1, [[':status', '200'], ['Bad', 'x']], true);
    await expect(pending).rejects.toMatchObject({ errorCode: ErrorCode.PROTOCOL_ERROR, by: 'local' });
    await peer.expectSilence();
  });
});

describe('RFC 9113 §8.3 pseudo-header fields', () => {
  it('server: a pseudo-header after a regular field is malformed', () => expectMalformedRequest([...GET.slice(0, 3), ['x-a', '1'], [':path', '/']]));
  it('server: an unknown pseudo-header is malformed', () => expectMalformedRequest([...GET, [':foo', 'bar']]));
  it('server: a response pseudo-header in a request is malformed', () => expectMalformedRequest([...GET, [':status', '200']]));
  it('server: a repeated pseudo-header is malformed', () => expectMalformedRequest([...GET, [':path', '/again']]));
  it('server: a request without :method is malformed', () => expectMalformedRequest(GET.filter(([n]) => n !== ':method')));
  it('server: a request without :scheme is malformed', () => expectMalformedRequest(GET.filter(([n]) => n !== ':scheme')));
  it('server: a request without :path is malformed', () => expectMalformedRequest(GET.filter(([n]) => n !== ':path')));
  it('server: an empty :path is malformed', () => expectMalformedRequest([...GET.slice(0, 3), [':path', '']]));
  it('server: CONNECT with :path is malformed (§8.5)', () => expectMalformedRequest([[':method', 'CONNECT'], [':authority', 'a:443'], [':path', '/']]));

  it('server: trailers with a pseudo-header are malformed', async () => {
    const { peer } = await server();
    peer.headers(1, [[':method', 'POST'], ...GET.slice(1)], false);
    peer.headers(1, [[':path', '/x']], true);
    await peer.expectRst(1, ErrorCode.PROTOCOL_ERROR);
  });

  it('client: a response without :status is reset', async () => {
    const peer = await ScriptedPeer.start({ role: 'client', session: {} });
    const pending = peer.session!.fetch('https://example.com/');
    await peer.expectFrame('headers', { streamId: 1 });
    peer.headers(1, [['x-a', '1']], false);
    await peer.expectRst(1, ErrorCode.PROTOCOL_ERROR);
    await expect(pending).rejects.toBeInstanceOf(StreamResetError);
  });

  it('client: response trailers with a pseudo-header are reset, and the body errors', async () => {
    const peer = await ScriptedPeer.start({ role: 'client', session: {} });
    const pending = peer.session!.fetch('https://example.com/');
    await peer.expectFrame('headers', { streamId: 1 });
    peer.headers(1, [[':status', '200']], false);
    const response = await pending;
    peer.data(1, 'partial');
    peer.headers(1, [[':status', '200']], true); // ends the stream: no RST, but the body must error
    await expect(response.text()).rejects.toBeInstanceOf(StreamResetError);
  });

  it('client: the request carries :method, :scheme, :authority, :path in that order, and no connection-specific fields', async () => {
    const peer = await ScriptedPeer.start({ role: 'client', session: {} });
    void peer.session!.fetch('https://example.com:8443/p?q=1', { headers: { connection: 'close', 'x-a': '1', te: 'trailers, deflate' } }).catch(() => {});
    const headers = await peer.expectFrame('headers', { streamId: 1, endStream: true });
    expect(headers.fields!.slice(0, 4)).toEqual([[':method', 'GET'], [':scheme', 'https'], [':authority', 'example.com:8443'], [':path', '/p?q=1']]);
    expect(headers.fields!.map(([n]) => n)).not.toContain('connection');
    expect(headers.fields).toContainEqual(['te', 'trailers']);
  });
});

describe('RFC 8441 extended CONNECT', () => {
  const websocket: HeaderField[] = [[':method', 'CONNECT'], [':protocol', 'websocket'], [':scheme', 'https'], [':authority', 'example.com'], [':path', '/chat']];

  it('server: :protocol is accepted when we enabled SETTINGS_ENABLE_CONNECT_PROTOCOL', async () => {
    const { peer, seen } = await server({ enableConnectProtocol: true });
    const settings = peer.written.find((f) => f.kind === 'settings' && !f.ack);
    expect(settings?.kind === 'settings' && settings.settings).toContainEqual([SettingId.ENABLE_CONNECT_PROTOCOL, 1]);
    peer.headers(1, websocket, false);
    await peer.expectEventually('headers', (f) => f.streamId === 1);
    expect(seen[0].info.head.protocol).toBe('websocket');
  });

  it('server: :protocol is malformed when we did not enable it', async () => {
    const { peer, seen } = await server({ enableConnectProtocol: false });
    peer.headers(1, websocket, false);
    await peer.expectRst(1, ErrorCode.PROTOCOL_ERROR);
    expect(seen).toHaveLength(0);
  });

  it('server: :protocol on a method other than CONNECT is malformed', () => expectMalformedRequest([[':method', 'GET'], ...websocket.slice(1)]));

  it('client: extended CONNECT needs the peer to enable it', async () => {
    const peer = await ScriptedPeer.start({ role: 'client', session: {} });
    await expect(peer.session!.request({ method: 'CONNECT', url: new URL('https://example.com/chat'), protocol: 'websocket' })).rejects.toBeInstanceOf(Http2UsageError);
  });

  it('client: with the peer\'s SETTINGS_ENABLE_CONNECT_PROTOCOL, the request carries :protocol', async () => {
    const peer = await ScriptedPeer.start({ role: 'client', session: {} }, { settings: [[SettingId.ENABLE_CONNECT_PROTOCOL, 1]] });
    void peer.session!.request({ method: 'CONNECT', url: new URL('https://example.com/chat'), protocol: 'websocket' }).catch(() => {});
    const headers = await peer.expectFrame('headers', { streamId: 1, endStream: false });
    expect(headers.fields).toContainEqual([':protocol', 'websocket']);
    expect(headers.fields).toContainEqual([':method', 'CONNECT']);
  });

  it('client: SETTINGS_ENABLE_CONNECT_PROTOCOL going from 1 to 0 is a PROTOCOL_ERROR (§3)', async () => {
    const peer = await ScriptedPeer.start({ role: 'client' }, { settings: [[SettingId.ENABLE_CONNECT_PROTOCOL, 1]] });
    peer.send({ kind: 'settings', ack: false, settings: [[SettingId.ENABLE_CONNECT_PROTOCOL, 0]] });
    await peer.expectGoaway(ErrorCode.PROTOCOL_ERROR);
  });
});

describe('RFC 8336 ORIGIN', () => {
  it('server: the engine sends ORIGIN right after its SETTINGS', async () => {
    const peer = new ScriptedPeer({ role: 'server', origins: ['https://a.example', 'https://b.example'] });
    await peer.settle();
    const kinds = peer.written.map((f) => f.kind);
    expect(kinds.indexOf('origin')).toBeGreaterThan(kinds.indexOf('settings'));
    const origin = peer.written.find((f) => f.kind === 'origin');
    expect(origin).toMatchObject({ streamId: 0, origins: ['https://a.example', 'https://b.example'] });
  });

  it('client: ORIGIN on stream 0 builds the Origin Set', async () => {
    const peer = await ScriptedPeer.start({ role: 'client' });
    peer.send({ kind: 'origin', streamId: 0, origins: ['https://a.example'] });
    peer.send({ kind: 'origin', streamId: 0, origins: ['https://a.example', 'https://b.example'] });
    await peer.expectAlive();
    expect(peer.connection.peerOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(peer.events.origins).toEqual([['https://a.example'], ['https://b.example']]);
  });

  it(`client: an Origin Set past ${MAX_PEER_ORIGINS} origins (it only grows, §2.3) closes the connection with ENHANCE_YOUR_CALM`, async () => {
    const peer = await ScriptedPeer.start({ role: 'client' });
    const origins = Array.from({ length: MAX_PEER_ORIGINS }, (_, i) => `https://o${i}.example`);
    for (let i = 0; i < origins.length; i += 256) peer.send({ kind: 'origin', streamId: 0, origins: origins.slice(i, i + 256) });
    // Repeating known origins costs nothing.
    peer.send({ kind: 'origin', streamId: 0, origins: origins.slice(0, 10) });
    await peer.expectAlive();
    expect(peer.connection.peerOrigins).toHaveLength(MAX_PEER_ORIGINS);
    peer.send({ kind: 'origin', streamId: 0, origins: ['https://one-more.example'] });
    await peer.expectGoaway(ErrorCode.ENHANCE_YOUR_CALM);
  });

  it('client: ORIGIN on a stream other than 0 is ignored (§2.1)', async () => {
    const peer = await ScriptedPeer.start({ role: 'client' });
    const stream = peer.open();
    peer.send({ kind: 'origin', streamId: stream.id, origins: ['https://evil.example'] });
    await peer.expectAlive();
    expect(peer.connection.peerOrigins).toEqual([]);
  });

  it('server: ORIGIN is ignored by the server role (§2.2)', async () => {
    const peer = await ScriptedPeer.start({ role: 'server' });
    peer.send({ kind: 'origin', streamId: 0, origins: ['https://a.example'] });
    await peer.expectAlive();
    expect(peer.connection.peerOrigins).toEqual([]);
    expect(peer.events.origins).toEqual([]);
  });
});
