import { describe, expect, it } from 'vitest';
import { FrameReader } from '../src/codec/frame-reader.js';
import { Connection, ErrorCode, Http2Session, StreamResetError, type Frame, type Handler } from '../src/index.js';

/** Two sessions back to back through asynchronous delivery; `serverFrames` collects what the server sent. */
function pair(handler: Handler) {
  let client!: Http2Session;
  let server!: Http2Session;
  const serverFrames: Frame[] = [];
  const reader = new FrameReader({ maxFrameSize: (1 << 24) - 1 });
  const deliver = (to: () => Http2Session, record: boolean) => (chunk: Uint8Array) => {
    const copy = chunk.slice();
    if (record) serverFrames.push(...reader.push(copy.slice()));
    setImmediate(() => to().receive(copy));
    return true;
  };
  client = new Http2Session({ write: deliver(() => server, false), close: () => setImmediate(() => server.receiveEnd()) }, { role: 'client' });
  server = new Http2Session({ write: deliver(() => client, true), close: () => setImmediate(() => client.receiveEnd()) }, { role: 'server', handler });
  return { client, server, serverFrames };
}

describe('server Request: signal made on first use (RFC 9113 §6.4 RST_STREAM aborts it)', () => {
  it('a signal first read after the peer reset the stream is already aborted, with the reset as reason', async () => {
    let request!: Request;
    let handlerCalled!: () => void;
    const called = new Promise<void>((r) => (handlerCalled = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { client } = pair(async (req) => {
      request = req;
      handlerCalled();
      await gate;
      return new Response('late');
    });
    const controller = new AbortController();
    const fetched = client.fetch('https://app.example.com/slow', { signal: controller.signal }).catch((e) => e);
    await called;
    controller.abort();
    await fetched;
    await new Promise((r) => setTimeout(r, 20));
    expect(request).toBeInstanceOf(Request);
    expect(request.signal.aborted).toBe(true);
    expect(request.signal.reason).toBeInstanceOf(StreamResetError);
    expect((request.signal.reason as StreamResetError).errorCode).toBe(ErrorCode.CANCEL);
    release();
  });

  it('a copy made with new Request(request, init) before the reset follows it too', async () => {
    let copy!: Request;
    let handlerCalled!: () => void;
    const called = new Promise<void>((r) => (handlerCalled = r));
    const { client } = pair(async (req) => {
      copy = new Request(req, { headers: { 'x-copied': '1' } });
      handlerCalled();
      return new Response(new ReadableStream({ pull() {} }));
    });
    const controller = new AbortController();
    const res = await client.fetch('https://app.example.com/slow', { signal: controller.signal });
    expect(res.status).toBe(200);
    await called;
    const aborted = new Promise((r) => copy.signal.addEventListener('abort', () => r(copy.signal.reason)));
    expect(copy.signal.aborted).toBe(false);
    controller.abort();
    expect(await aborted).toBeInstanceOf(StreamResetError);
  });

  it('a request that completes normally never aborts its signal', async () => {
    let request!: Request;
    const { client } = pair(async (req) => {
      request = req;
      return new Response(await req.text());
    });
    const res = await client.fetch('https://app.example.com/echo', { method: 'POST', body: 'hello' });
    expect(await res.text()).toBe('hello');
    await new Promise((r) => setTimeout(r, 20));
    expect(request.signal.aborted).toBe(false);
  });
});

describe('RFC 9113 §6.1 END_STREAM on the last DATA frame', () => {
  it('a short response body ends in the same DATA frame that carries it (no empty DATA frame)', async () => {
    const { client, serverFrames } = pair(() => new Response('ok'));
    const res = await client.fetch('https://app.example.com/');
    expect(await res.text()).toBe('ok');
    const data = serverFrames.filter((f) => f.kind === 'data');
    expect(data).toHaveLength(1);
    expect(data[0]).toMatchObject({ kind: 'data', endStream: true });
    expect(new TextDecoder().decode((data[0] as Extract<Frame, { kind: 'data' }>).data)).toBe('ok');
  });

  it('a streamed body still goes out chunk by chunk, each chunk before the next is produced', async () => {
    let next!: () => void;
    const { client } = pair(() => {
      let n = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (n === 3) return controller.close();
            await new Promise<void>((r) => (next = r));
            controller.enqueue(new TextEncoder().encode(`event ${n++}\n`));
          },
        }),
      );
    });
    const res = await client.fetch('https://app.example.com/events');
    const reader = res.body!.getReader();
    for (let i = 0; i < 3; i++) {
      while (!next) await new Promise((r) => setTimeout(r, 1));
      const release = next;
      next = undefined as unknown as () => void;
      release();
      const { value } = await reader.read();
      expect(new TextDecoder().decode(value)).toBe(`event ${i}\n`);
    }
    expect((await reader.read()).done).toBe(true);
  });
});

describe('Connection output: short frames of one flush reach the transport as one write', () => {
  it('the preface, SETTINGS and WINDOW_UPDATE go out in a single write, in order', async () => {
    const writes: Uint8Array[] = [];
    let writevCalls = 0;
    new Connection(
      {
        write: (chunk) => void writes.push(chunk.slice()),
        writev: () => void writevCalls++,
        close() {},
      },
      { role: 'client' },
    );
    await new Promise((r) => setTimeout(r, 5));
    expect(writevCalls).toBe(0);
    expect(writes).toHaveLength(1);
    const preface = new TextEncoder().encode('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    expect(writes[0].subarray(0, preface.length)).toEqual(preface);
    const frames = new FrameReader().push(writes[0].subarray(preface.length));
    expect(frames.map((f) => f.kind)).toEqual(['settings', 'window-update']);
  });
});

describe('Connection output: trailers after accepted DATA', () => {
  it('§8.1 trailers sent while accepted DATA waits for the end-of-turn flush follow that DATA', async () => {
    const writes: Uint8Array[] = [];
    const deferred: Array<() => void> = [];
    const connection = new Connection(
      { write: (chunk) => void writes.push(chunk.slice()), scheduleFlush: (flush) => void deferred.push(flush), close() {} },
      { role: 'client' },
    );
    const listener = { onHeaders() {}, onData() {}, onReset() {} };
    const stream = connection.openStream([[':method', 'POST'], [':scheme', 'https'], [':authority', 'a.example'], [':path', '/']], false, listener);
    // Accepted at once (within the windows and the stream's queue), framed only at the flush.
    await connection.sendData(stream, new Uint8Array(10));
    connection.sendHeaders(stream, [['grpc-status', '0']], true);
    for (const flush of deferred.splice(0)) flush();
    const bytes = writes.reduce((all, w) => new Uint8Array([...all, ...w]), new Uint8Array(0));
    const frames = new FrameReader().push(bytes.subarray(24)).filter((f) => f.kind === 'headers' || f.kind === 'data');
    expect(frames.map((f) => [f.kind, 'endStream' in f ? f.endStream : undefined])).toEqual([
      ['headers', false],
      ['data', false],
      ['headers', true],
    ]);
  });
});
