/**
 * The low-level server API (`onStream`, server-stream.ts): requests as ServerStreams, answered
 * with respond/write/end, bodies with credit returned as consumed; RFC 9113 §8 checks kept.
 */
import http2 from 'node:http2';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { FrameReader } from '../src/codec/frame-reader.js';
import { connectSocket, ErrorCode, Http2Session, Http2UsageError, responseTrailers, StreamResetError, TAKE_JOIN_BYTES, type Frame, type Handler, type HeaderField, type ServerStream } from '../src/index.js';
import { ScriptedPeer } from './support/scripted-peer.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A client Http2Session and a server Http2Session with `onStream`; `serverWrites` holds the frames of each server write. */
function pair(onStream: (stream: ServerStream) => void | false, handler?: Handler) {
  let client!: Http2Session;
  let server!: Http2Session;
  const serverWrites: Frame[][] = [];
  const reader = new FrameReader({ maxFrameSize: (1 << 24) - 1 });
  const deliver = (to: () => Http2Session, record: boolean) => (chunk: Uint8Array) => {
    const copy = chunk.slice();
    if (record) serverWrites.push(reader.push(copy.slice()));
    setImmediate(() => to().receive(copy));
    return true;
  };
  const errors: unknown[] = [];
  client = new Http2Session({ write: deliver(() => server, false), close: () => setImmediate(() => server.receiveEnd()) }, { role: 'client' });
  server = new Http2Session({ write: deliver(() => client, true), close: () => setImmediate(() => client.receiveEnd()) }, { role: 'server', onStream, handler, onError: (e) => errors.push(e) });
  return { client, server, serverWrites, errors };
}

/** Echo: 200 with the body (or "ok"), content-type copied. */
const echo = (stream: ServerStream) => {
  void stream.bytes().then((body) => {
    stream.respond(200, { 'content-type': stream.header('content-type') ?? 'text/plain' });
    void stream.end(body.length > 0 ? body : enc.encode('ok'));
  });
};

function pattern(size: number, seed = 7): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

function chunked(data: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= data.length) return controller.close();
      controller.enqueue(data.slice(at, at + size));
      at += size;
    },
  });
}

const POST: HeaderField[] = [[':method', 'POST'], [':scheme', 'https'], [':authority', 'example.com'], [':path', '/upload']];
const GET: HeaderField[] = [[':method', 'GET'], [':scheme', 'https'], [':authority', 'example.com'], [':path', '/']];

describe('server stream API: requests and responses (RFC 9113 §8.1, §8.3)', () => {
  it('GET: head carries the pseudo-headers and the raw fields; respond + end answers it', async () => {
    let seen!: ServerStream;
    const { client } = pair((stream) => {
      seen = stream;
      stream.respond(200, [['content-type', 'text/plain'], ['x-served-by', 'stream']]);
      void stream.end(enc.encode(`hello ${stream.head.path}`));
    });
    const res = await client.fetch('https://app.example.com/a/b?c=d', { headers: { 'x-one': '1', cookie: 'a=1; b=2' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-served-by')).toBe('stream');
    expect(await res.text()).toBe('hello /a/b?c=d');
    expect(seen.head).toMatchObject({ method: 'GET', scheme: 'https', authority: 'app.example.com', path: '/a/b?c=d', contentLength: -1 });
    expect(seen.head.fields).toContainEqual(['x-one', '1']);
    expect(seen.header('x-one')).toBe('1');
    expect(seen.received).toBe(true);
    // §8.2.3: cookie crumbs are joined when a Headers object is asked for.
    expect(seen.headers().get('cookie')).toBe('a=1; b=2');
    expect(await seen.closed).toBeUndefined();
  });

  it('respond() then end(body) in the same tick goes out as HEADERS + one DATA with END_STREAM in one write', async () => {
    const { client, serverWrites } = pair((stream) => {
      stream.respond(200, { 'content-type': 'text/plain' });
      void stream.end(enc.encode('small'));
    });
    const res = await client.fetch('https://app.example.com/');
    expect(await res.text()).toBe('small');
    const write = serverWrites.find((frames) => frames.some((f) => f.kind === 'headers' && f.streamId === 1))!;
    const onStream1 = write.filter((f) => f.streamId === 1).map((f) => `${f.kind}${'endStream' in f && f.endStream ? '+END_STREAM' : ''}`);
    expect(onStream1).toEqual(['headers', 'data+END_STREAM']);
  });

  it("responses made in the same turn leave each with its DATA right behind its HEADERS (a 1xx first, trailers last)", async () => {
    const streams: ServerStream[] = [];
    const peer = await ScriptedPeer.start({ role: 'server', session: { onStream: (stream) => void streams.push(stream) } });
    for (const id of [1, 3, 5]) peer.headers(id, GET, true);
    await peer.settle();
    expect(await peer.drain()).toEqual([]);
    // The three answers in one turn: one flush, in which every HEADERS is queued before any DATA is framed.
    for (const stream of streams) {
      if (stream.id === 3) stream.respond(103, { link: '</a.css>; rel=preload' });
      stream.respond(200, { 'content-type': 'text/plain' });
      if (stream.id === 5) {
        void stream.write(enc.encode('five'));
        void stream.end(undefined, [['x-checksum', '5']]);
      } else void stream.end(enc.encode(`body ${stream.id}`));
    }
    await peer.settle();
    const order = (await peer.drain())
      .filter((f) => f.kind === 'headers' || f.kind === 'data')
      .map((f) => `${f.kind}${f.streamId}${'endStream' in f && f.endStream ? '+END' : ''}`);
    expect(order).toEqual(['headers1', 'data1+END', 'headers3', 'headers3', 'data3+END', 'headers5', 'data5', 'headers5+END']);
  });

  it('respond(status, fields, { endStream: true }) sends one HEADERS frame with END_STREAM', async () => {
    const { client, serverWrites } = pair((stream) => stream.respond(204, undefined, { endStream: true }));
    const res = await client.fetch('https://app.example.com/');
    expect(res.status).toBe(204);
    const frames = serverWrites.flat().filter((f) => f.streamId === 1);
    expect(frames.map((f) => f.kind)).toEqual(['headers']);
    expect((frames[0] as Frame & { endStream: boolean }).endStream).toBe(true);
  });

  it('an informational 103 may precede the final response; 101 and out-of-range statuses are refused', async () => {
    const thrown: unknown[] = [];
    const { client } = pair((stream) => {
      for (const bad of [99, 600, 101, 200.5]) {
        try {
          stream.respond(bad);
        } catch (e) {
          thrown.push(e);
        }
      }
      stream.respond(103, { link: '</style.css>; rel=preload' });
      stream.respond(200);
      void stream.end(enc.encode('done'));
    });
    const res = await client.fetch('https://app.example.com/');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('done');
    expect(thrown).toHaveLength(4);
    for (const e of thrown) expect(e).toBeInstanceOf(Http2UsageError);
  });

  it('respond() refuses connection-specific, pseudo-header and invalid fields (RFC 9113 §8.2, §8.2.2)', async () => {
    const outcomes: string[] = [];
    const { client } = pair((stream) => {
      const attempts: Array<HeaderField[] | Record<string, string>> = [
        { connection: 'close' },
        [['transfer-encoding', 'chunked']],
        [['keep-alive', '5']],
        { upgrade: 'websocket' },
        { te: 'gzip' },
        [[':status', '200']],
        { 'x-bad': 'a\nb' },
        { 'x-bad': ' padded' },
        { 'bad name': 'x' },
      ];
      for (const fields of attempts) {
        try {
          stream.respond(200, fields);
          outcomes.push('sent');
        } catch (e) {
          outcomes.push(e instanceof Http2UsageError ? 'refused' : String(e));
        }
      }
      // Upper-case names are lower-cased, as HTTP/2 requires them on the wire.
      stream.respond(200, { 'X-Upper': 'yes', te: 'trailers' });
      void stream.end();
    });
    const res = await client.fetch('https://app.example.com/');
    expect(outcomes).toEqual(Array(9).fill('refused'));
    expect(res.headers.get('x-upper')).toBe('yes');
  });

  it('write() before respond() is refused', async () => {
    let error: unknown;
    const { client } = pair((stream) => {
      stream.write(enc.encode('x')).catch((e) => {
        error = e;
        stream.respond(500, undefined, { endStream: true });
      });
    });
    const res = await client.fetch('https://app.example.com/');
    expect(res.status).toBe(500);
    expect(error).toBeInstanceOf(Http2UsageError);
  });

  it('concurrent streams on one connection are answered independently', async () => {
    const { client } = pair((stream) => {
      const delay = stream.head.path.length % 3;
      setTimeout(() => {
        stream.respond(200);
        void stream.end(enc.encode(stream.head.path));
      }, delay);
    });
    const paths = Array.from({ length: 40 }, (_, i) => `/item/${i}`);
    const bodies = await Promise.all(paths.map(async (p) => (await client.fetch(`https://app.example.com${p}`)).text()));
    expect(bodies).toEqual(paths);
  });
});

describe('server stream API: request bodies and flow control (RFC 9113 §5.2, §6.9)', () => {
  it('POST echo of a 4 MiB body (above the 1 MiB stream window) written back in chunks with backpressure', async () => {
    const body = pattern(4 << 20);
    const { client } = pair(async (stream) => {
      stream.respond(200, { 'content-type': 'application/octet-stream' });
      for await (const chunk of stream) await stream.write(chunk);
      await stream.end();
    });
    const res = await client.fetch('https://app.example.com/echo', { method: 'POST', body: chunked(body, 48 * 1024), duplex: 'half' } as RequestInit);
    const echoed = new Uint8Array(await res.arrayBuffer());
    expect(echoed.length).toBe(body.length);
    expect(Buffer.compare(echoed, body)).toBe(0);
  });

  it('bytes() collects the whole body', async () => {
    const body = pattern(300_000, 3);
    const { client } = pair(echo);
    const res = await client.fetch('https://app.example.com/', { method: 'POST', body, headers: { 'content-type': 'application/x-test' } });
    expect(res.headers.get('content-type')).toBe('application/x-test');
    expect(Buffer.compare(new Uint8Array(await res.arrayBuffer()), body)).toBe(0);
  });

  /** A POST on stream 1 with three 16 KiB DATA frames received and not taken: no stream credit has gone back yet. */
  async function postHeldAtWindow() {
    let server!: ServerStream;
    const peer = await ScriptedPeer.start({ role: 'server', settings: { initialWindowSize: 65_535 }, session: { onStream: (s) => (server = s) } });
    peer.headers(1, POST, false);
    const frame = pattern(16_384);
    for (let i = 0; i < 3; i++) peer.data(1, frame);
    await peer.settle();
    expect((await peer.drain()).filter((f) => f.kind === 'window-update' && f.streamId === 1)).toEqual([]);
    return { server, peer, frame };
  }

  it('credit goes back only as the consumer takes: what arrived is one chunk, credited when taken; a consumer that does not read holds the sender at the window', async () => {
    const { server, peer, frame } = await postHeldAtWindow();
    // The three DATA frames queued unread come as one chunk, in order, and exactly their octets
    // come back as credit, not before.
    const iterator = server[Symbol.asyncIterator]();
    const chunk = (await iterator.next()).value!;
    expect(chunk.length).toBe(3 * 16_384);
    for (let i = 0; i < 3; i++) expect(chunk.subarray(i * 16_384, (i + 1) * 16_384)).toEqual(frame);
    const update = await peer.expectEventually('window-update', (f) => f.streamId === 1);
    expect(update.increment).toBe(3 * 16_384);
    // The sender is held at the window: 65,535 − 49,152 + 49,152 = 65,535 octets may follow, and
    // four more frames (65,536) are one too many: FLOW_CONTROL_ERROR (§6.9.1).
    for (let i = 0; i < 4; i++) peer.data(1, frame);
    await peer.expectRst(1, ErrorCode.FLOW_CONTROL_ERROR);
  });

  it(`joins at most TAKE_JOIN_BYTES (${TAKE_JOIN_BYTES / 1024} KiB) of what arrived into one chunk`, async () => {
    let server!: ServerStream;
    const peer = await ScriptedPeer.start({ role: 'server', settings: { initialWindowSize: 1 << 20 }, session: { onStream: (s) => (server = s) } });
    peer.headers(1, POST, false);
    const frames = TAKE_JOIN_BYTES / 16_384 + 4;
    for (let i = 0; i < frames; i++) peer.data(1, pattern(16_384, i));
    peer.data(1, new Uint8Array(0), true);
    await peer.settle();
    const chunks: Uint8Array[] = [];
    for await (const chunk of server) chunks.push(chunk);
    expect(chunks.map((c) => c.length)).toEqual([TAKE_JOIN_BYTES, 4 * 16_384]);
    const all = new Uint8Array(frames * 16_384);
    for (let i = 0; i < frames; i++) all.set(pattern(16_384, i), i * 16_384);
    expect(Buffer.concat(chunks).equals(all)).toBe(true);
  });

  it('discard() gives back the credit of what is queued and of everything that arrives later, and keeps none of it', async () => {
    const { server, peer, frame } = await postHeldAtWindow();
    server.discard();
    const first = await peer.expectEventually('window-update', (f) => f.streamId === 1);
    expect(first.increment).toBe(3 * 16_384); // the queued chunks' credit, at once
    // The sender may now send a whole window more (65,535 octets) without a FLOW_CONTROL_ERROR,
    // because what arrives is dropped and credited as it comes.
    for (let i = 0; i < 8; i++) peer.data(1, frame);
    peer.data(1, new Uint8Array(0), true);
    await peer.settle();
    const frames = await peer.drain();
    expect(frames.filter((f) => f.kind === 'rst-stream')).toEqual([]);
    expect(server.received).toBe(true);
    expect(await server.bytes()).toHaveLength(0); // nothing was kept
  });

  it('sendCredit: the peer’s stream window less what is queued or sent, never below 0', async () => {
    const credits: number[] = [];
    let stream!: ServerStream;
    const { client } = pair((s) => {
      stream = s;
      s.respond(200);
      credits.push(s.sendCredit!);
      void s.write(new Uint8Array(100_000)).catch(() => {});
      credits.push(s.sendCredit!); // queued, not yet sent
    });
    const res = await client.request({ method: 'GET', url: new URL('https://app.example.com/credit') });
    expect(res.response.status).toBe(200);
    await new Promise((r) => setImmediate(r));
    credits.push(stream.sendCredit!); // sent, and nobody read it: no WINDOW_UPDATE yet
    void stream.write(new Uint8Array(2 << 20)).catch(() => {});
    credits.push(stream.sendCredit!); // more than the window: none left
    const window = 1 << 20; // the client's initial stream window (DEFAULT_LOCAL_SETTINGS)
    expect(credits).toEqual([window, window - 100_000, window - 100_000, 0]);
    stream.reset();
  });

  it('request trailers arrive after the body; response trailers go after the last DATA', async () => {
    let seen!: ServerStream;
    const { client } = pair(async (stream) => {
      seen = stream;
      let n = 0;
      for await (const chunk of stream) n += chunk.length;
      stream.respond(200);
      await stream.write(enc.encode(`${n} octets`));
      await stream.end(undefined, { 'x-checksum': 'abc', 'grpc-status': '0' });
    });
    const res = await client.request({
      method: 'POST',
      url: new URL('https://app.example.com/t'),
      headers: new Headers({ te: 'trailers' }),
      body: new ReadableStream({
        start(c) {
          c.enqueue(enc.encode('12345'));
          c.close();
        },
      }),
    });
    expect(await res.response.text()).toBe('5 octets');
    const trailers = await responseTrailers(res.response);
    expect(trailers.get('x-checksum')).toBe('abc');
    expect(trailers.get('grpc-status')).toBe('0');
    expect(seen.trailers).toBeUndefined(); // the Fetch client sends none
  });

  it('request trailers sent by the peer are kept, validated, on stream.trailers', async () => {
    let server!: ServerStream;
    const peer = await ScriptedPeer.start({ role: 'server', session: { onStream: (s) => (server = s) } });
    peer.headers(1, POST, false);
    peer.data(1, 'abc');
    peer.headers(1, [['x-trailer', 'yes']], true);
    await peer.settle();
    expect(dec.decode(await server.bytes())).toBe('abc');
    expect(server.trailers).toEqual([['x-trailer', 'yes']]);
    server.respond(200);
    void server.end(undefined, [['x-done', '1']]);
    await peer.expectEventually('headers', (f) => f.streamId === 1 && f.fields!.some(([n]) => n === ':status'));
    // Trailers with nothing queued go as one HEADERS frame with END_STREAM, no empty DATA.
    const trailers = await peer.expectFrame('headers', { streamId: 1, endStream: true });
    expect(trailers.fields).toEqual([['x-done', '1']]);
  });
});

describe('server stream API: resets (RFC 9113 §6.4, §8.1.1)', () => {
  it('a reset from the client reaches onReset and settles closed; the body iterator rejects', async () => {
    let server!: ServerStream;
    let started!: () => void;
    const ready = new Promise<void>((r) => (started = r));
    const resets: StreamResetError[] = [];
    let iterError: unknown;
    const { client } = pair((stream) => {
      server = stream;
      stream.onReset = (e) => resets.push(e);
      void (async () => {
        try {
          for await (const _ of stream) started();
        } catch (e) {
          iterError = e;
        }
      })();
    });
    const controller = new AbortController();
    let push!: ReadableStreamDefaultController<Uint8Array>;
    const fetched = client.fetch('https://app.example.com/', { method: 'POST', body: new ReadableStream({ start: (c) => void (push = c) }), duplex: 'half', signal: controller.signal } as RequestInit);
    push.enqueue(enc.encode('part'));
    await ready;
    controller.abort();
    await expect(fetched).rejects.toBeDefined();
    const closed = await server.closed;
    expect(closed).toBeInstanceOf(StreamResetError);
    expect(closed).toMatchObject({ errorCode: ErrorCode.CANCEL, by: 'peer' });
    expect(resets).toHaveLength(1);
    expect(resets[0]).toBe(closed);
    await new Promise((r) => setImmediate(r));
    expect(iterError).toBe(closed);
  });

  it('reset(code) sends RST_STREAM with that code', async () => {
    const peer = await ScriptedPeer.start({ role: 'server', session: { onStream: (s) => s.reset(ErrorCode.REFUSED_STREAM) } });
    peer.request(1);
    await peer.expectRst(1, ErrorCode.REFUSED_STREAM);
  });

  it('onStream throwing resets the stream with INTERNAL_ERROR and reports the error', async () => {
    const errors: unknown[] = [];
    const peer = await ScriptedPeer.start({
      role: 'server',
      session: {
        onStream: () => {
          throw new Error('boom');
        },
        onError: (e) => errors.push(e),
      },
    });
    peer.request(1);
    await peer.expectRst(1, ErrorCode.INTERNAL_ERROR);
    expect((errors[0] as Error).message).toBe('boom');
  });

  it('onStream returning false leaves the request, body and all, to the Fetch handler', async () => {
    const { client } = pair(
      (stream) => {
        if (stream.head.path === '/fetch') return false;
        stream.respond(200);
        void stream.end(enc.encode('stream'));
      },
      async (request, info) => new Response(`fetch ${request.method} ${info.head.path} ${(await request.bytes()).length}`),
    );
    const body = pattern(200_000);
    const viaFetch = await client.fetch('https://app.example.com/fetch', { method: 'POST', body: chunked(body, 16_384), duplex: 'half' } as RequestInit);
    expect(await viaFetch.text()).toBe('fetch POST /fetch 200000');
    expect(await (await client.fetch('https://app.example.com/other')).text()).toBe('stream');
  });

  it('onStream returning false without a handler refuses the stream (REFUSED_STREAM)', async () => {
    const peer = await ScriptedPeer.start({ role: 'server', session: { onStream: () => false } });
    peer.request(1);
    await peer.expectRst(1, ErrorCode.REFUSED_STREAM);
  });

  const malformedCases: Array<[string, HeaderField[], boolean, string[]?]> = [
    ['missing :path', GET.slice(0, 3), true],
    ['missing :method', GET.slice(1), true],
    ['an upper-case field name', [...GET, ['X-Upper', '1']], true],
    ['a connection-specific field (§8.2.2)', [...GET, ['connection', 'close']], true],
    ['te other than "trailers"', [...GET, ['te', 'gzip']], true],
    ['a pseudo-header after a regular field', [...GET.slice(0, 3), ['x-a', '1'], [':path', '/']], true],
    ['a repeated pseudo-header', [...GET, [':path', '/again']], true],
    ['an unknown pseudo-header', [...GET, [':foo', 'x']], true],
    ['a relative :path', [...GET.slice(0, 3), [':path', 'x']], true],
    [':protocol on a method other than CONNECT (RFC 8441 §4)', [...GET, [':protocol', 'websocket']], true],
    ['content-length with END_STREAM on the HEADERS and no DATA (§8.1.1)', [...POST, ['content-length', '5']], true],
  ];
  for (const [what, fields, endStream] of malformedCases) {
    it(`a request with ${what} is reset with PROTOCOL_ERROR before reaching onStream (§8.1.1)`, async () => {
      const seen: number[] = [];
      const peer = await ScriptedPeer.start({ role: 'server', session: { onStream: (s) => seen.push(s.id) } });
      peer.headers(1, fields, endStream);
      await peer.expectRst(1, ErrorCode.PROTOCOL_ERROR);
      expect(seen).toEqual([]);
      peer.headers(3, GET, true);
      await peer.settle();
      expect(seen).toEqual([3]);
    });
  }

  it('content-length smaller than the DATA is malformed: the stream is reset and the body fails (§8.1.1)', async () => {
    let server!: ServerStream;
    const peer = await ScriptedPeer.start({ role: 'server', session: { onStream: (s) => (server = s) } });
    peer.headers(1, [...POST, ['content-length', '3']], false);
    peer.data(1, 'abcdef', true);
    await peer.expectRst(1, ErrorCode.PROTOCOL_ERROR);
    await expect(server.bytes()).rejects.toMatchObject({ errorCode: ErrorCode.PROTOCOL_ERROR });
  });

  it('trailers without END_STREAM are malformed (§8.1)', async () => {
    const peer = await ScriptedPeer.start({ role: 'server', session: { onStream: () => {} } });
    peer.headers(1, POST, false);
    peer.headers(1, [['x-trailer', '1']], false);
    await peer.expectRst(1, ErrorCode.PROTOCOL_ERROR);
  });
});

describe('server stream API: interop with a node:http2 client', () => {
  it('GET, POST echo of 3 MiB, and trailers', async () => {
    const sessions: Http2Session[] = [];
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      sessions.push(
        connectSocket(socket, {
          role: 'server',
          onStream: (stream) => {
            if (stream.head.path === '/trailers') {
              stream.respond(200, { 'content-type': 'text/plain' });
              void stream.end(enc.encode('with trailers'), { 'x-checksum': 'abc' });
              return;
            }
            echo(stream);
          },
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.on('error', () => {});
    const request = (headers: http2.OutgoingHttpHeaders, body?: Uint8Array) =>
      new Promise<{ status: number; body: Buffer; trailers: http2.IncomingHttpHeaders; headers: http2.IncomingHttpHeaders }>((resolve, reject) => {
        const req = client.request(headers, { endStream: body === undefined, waitForTrailers: false });
        const chunks: Buffer[] = [];
        let head: http2.IncomingHttpHeaders = {};
        let trailers: http2.IncomingHttpHeaders = {};
        req.on('response', (h) => (head = h));
        req.on('trailers', (t) => (trailers = t));
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks), trailers }));
        req.on('error', reject);
        if (body) req.end(body);
      });
    try {
      const get = await request({ ':path': '/' });
      expect(get.status).toBe(200);
      expect(get.body.toString()).toBe('ok');
      const big = pattern(3 << 20, 11);
      const post = await request({ ':method': 'POST', ':path': '/echo', 'content-type': 'application/x-big' }, big);
      expect(post.status).toBe(200);
      expect(post.headers['content-type']).toBe('application/x-big');
      expect(Buffer.compare(post.body, big)).toBe(0);
      const withTrailers = await request({ ':path': '/trailers' });
      expect(withTrailers.body.toString()).toBe('with trailers');
      expect(withTrailers.trailers['x-checksum']).toBe('abc');
    } finally {
      client.close();
      for (const s of sessions) s.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
