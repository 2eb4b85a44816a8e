import { describe, expect, it } from 'vitest';
import { sessionPair } from './support/session-pair.js';
import { ErrorCode, Http2Session, responseTrailers, SessionClosedError, StreamResetError, withTrailers, type Handler, type Http2SessionOptions } from '../src/index.js';

const pair = sessionPair;

function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = x >>> 16;
  }
  return out;
}

async function sha(data: ArrayBuffer | Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', data);
  return Buffer.from(digest).toString('hex');
}

describe('HTTP/2 session pair (RFC 9113 §8)', () => {
  it('§8.3 carries a GET with pseudo-headers and regular fields', async () => {
    const { client } = pair(async (req) => new Response(`${req.method} ${new URL(req.url).pathname}${new URL(req.url).search} ${req.headers.get('x-test')}`, { headers: { 'x-answer': '42' } }));
    const res = await client.fetch('https://app.example.com/a/b?c=d', { headers: { 'x-test': 'yes' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-answer')).toBe('42');
    expect(await res.text()).toBe('GET /a/b?c=d yes');
  });

  it('§8.1 echoes a POST body across many DATA frames', async () => {
    const { client } = pair(async (req) => new Response(await req.arrayBuffer()));
    const body = bytes(300_000);
    const res = await client.fetch('https://app.example.com/echo', { method: 'POST', body });
    const echoed = new Uint8Array(await res.arrayBuffer());
    expect(echoed.length).toBe(body.length);
    expect(await sha(echoed)).toBe(await sha(body));
  });

  it('§6.9 moves a 64 MiB body each way under flow control', async () => {
    const size = 64 << 20;
    const { client } = pair(async (req) => {
      let n = 0;
      const reader = req.body!.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        n += value.length;
      }
      const chunk = bytes(1 << 16, 7);
      let sent = 0;
      return new Response(
        new ReadableStream({
          pull(controller) {
            if (sent >= size) return controller.close();
            controller.enqueue(chunk);
            sent += chunk.length;
          },
        }),
        { headers: { 'x-received': String(n) } },
      );
    });
    const chunk = bytes(1 << 16, 3);
    let sent = 0;
    const upload = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= size) return controller.close();
        controller.enqueue(chunk);
        sent += chunk.length;
      },
    });
    const res = await client.fetch('https://app.example.com/bulk', { method: 'POST', body: upload, duplex: 'half' } as RequestInit);
    expect(res.headers.get('x-received')).toBe(String(size));
    let received = 0;
    const reader = res.body!.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      received += value.length;
    }
    expect(received).toBe(size);
  }, 120_000);

  it('handles 1000 concurrent streams', async () => {
    const { client } = pair(async (req) => new Response(new URL(req.url).pathname));
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => client.fetch(`https://app.example.com/${i}`).then((r) => r.text())));
    expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => `/${i}`));
  });

  it('queues requests beyond the peer SETTINGS_MAX_CONCURRENT_STREAMS (§5.1.2)', async () => {
    let active = 0;
    let peak = 0;
    const { client } = pair(
      async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 5));
        active--;
        return new Response('ok');
      },
      { settings: { maxConcurrentStreams: 3 } },
    );
    await client.fetch('https://app.example.com/warmup').then((r) => r.text());
    await Promise.all(Array.from({ length: 20 }, () => client.fetch('https://app.example.com/').then((r) => r.text())));
    expect(peak).toBeLessThanOrEqual(3);
  });

  it('§8.1 carries trailers both ways', async () => {
    const { client } = pair(async () => withTrailers(new Response('body'), () => new Headers({ 'grpc-status': '0', 'grpc-message': 'fine' })));
    const res = await client.fetch('https://app.example.com/');
    expect(await res.text()).toBe('body');
    const trailers = await responseTrailers(res);
    expect(trailers.get('grpc-status')).toBe('0');
    expect(trailers.get('grpc-message')).toBe('fine');
  });

  it('streams a response chunk by chunk (SSE) before the body ends', async () => {
    let push!: (s: string) => void;
    let end!: () => void;
    const { client } = pair(async () => {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          push = (s) => controller.enqueue(new TextEncoder().encode(s));
          end = () => controller.close();
        },
      });
      return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
    });
    const res = await client.fetch('https://app.example.com/events');
    const reader = res.body!.getReader();
    push('data: one\n\n');
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: one\n\n');
    push('data: two\n\n');
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: two\n\n');
    end();
    expect((await reader.read()).done).toBe(true);
  });

  it('§8.7 a server RST_STREAM(REFUSED_STREAM) rejects fetch with a retryable error', async () => {
    const { client, server } = pair(async () => new Response('never'));
    server.connection.events.onStream = (stream) => {
      server.connection.resetStream(stream, ErrorCode.REFUSED_STREAM);
    };
    const error = await client.fetch('https://app.example.com/').catch((e) => e);
    expect(error).toBeInstanceOf(StreamResetError);
    expect(error.retryable).toBe(true);
    expect(error.errorCode).toBe(ErrorCode.REFUSED_STREAM);
  });

  it('aborting a fetch resets the stream with CANCEL and the handler sees the abort', async () => {
    let aborted!: Promise<unknown>;
    const { client } = pair(async (req) => {
      aborted = new Promise((r) => req.signal.addEventListener('abort', () => r(req.signal.reason)));
      return new Response(new ReadableStream({ pull() {} }));
    });
    const controller = new AbortController();
    const res = await client.fetch('https://app.example.com/slow', { signal: controller.signal });
    expect(res.status).toBe(200);
    controller.abort();
    const reason = await aborted;
    expect(reason).toBeInstanceOf(StreamResetError);
    expect((reason as StreamResetError).errorCode).toBe(ErrorCode.CANCEL);
  });

  it('§6.8 GOAWAY lets in-flight streams finish, refuses new ones, then closes', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { client, server } = pair(async () => {
      await gate;
      return new Response('finished');
    });
    const inflight = client.fetch('https://app.example.com/slow');
    await new Promise((r) => setTimeout(r, 20));
    server.goaway();
    await new Promise((r) => setTimeout(r, 20));
    expect(client.draining).toBe(true);
    await expect(client.fetch('https://app.example.com/new')).rejects.toBeInstanceOf(SessionClosedError);
    release();
    const res = await inflight;
    expect(await res.text()).toBe('finished');
    await client.closed;
    await server.closed;
  });

  it('a handler that throws answers 500 and the connection lives on', async () => {
    const { client } = pair(async (req) => {
      if (new URL(req.url).pathname === '/boom') throw new Error('boom');
      return new Response('fine');
    });
    expect((await client.fetch('https://app.example.com/boom')).status).toBe(500);
    expect(await (await client.fetch('https://app.example.com/ok')).text()).toBe('fine');
  });

  it('RFC 8336 the server ORIGIN frame reaches the client', async () => {
    let seen: readonly string[] = [];
    const { client } = pair(async () => new Response('ok'), { origins: ['https://app.example.com', 'https://*.app.example.com'] }, { onOrigin: (all) => (seen = [...all]) });
    await client.fetch('https://app.example.com/');
    expect(seen).toEqual(['https://app.example.com', 'https://*.app.example.com']);
    expect(client.peerOrigins).toEqual(seen);
  });

  it('§6.7 ping measures the round trip: from the PING sent to its ACK, on the injected clock', async () => {
    let now = 1_000;
    const { client } = pair(async () => new Response('ok'), {}, { now: () => now });
    const rtt = client.ping();
    // The ACK is delivered in a later turn: 42 ms pass on the client's clock meanwhile.
    now += 42;
    expect(await rtt).toBe(42);
    expect(client.rttMs).toBe(42);
  });

  it('the connection dying mid-body errors the response body', async () => {
    const { client, server } = pair(async () => new Response(new ReadableStream({ start(c) { c.enqueue(new Uint8Array([1, 2, 3])); } })));
    const res = await client.fetch('https://app.example.com/');
    const reader = res.body!.getReader();
    expect((await reader.read()).value).toEqual(new Uint8Array([1, 2, 3]));
    server.close();
    await expect(reader.read()).rejects.toBeInstanceOf(StreamResetError);
  });
});
