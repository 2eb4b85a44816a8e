/**
 * HTTP/3 sessions back to back over in-memory QUIC (RFC 9114 §4): requests as ServerStreams in the
 * server role, ClientExchange/ResponseMessage in the client role, in the usual arrangement and
 * reversed (the QUIC client is the HTTP/3 server, h3-reverse).
 */
import { describe, expect, it } from 'vitest';
import type { ServerStream } from '../src/http/server-stream.js';
import { H3ErrorCode } from '../src/h3/index.js';
import { h3Pair, readAll } from './support/h3-pair.js';
import { until } from './support/until.js';

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

const settle = async (turns = 50) => {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

describe('RFC 9114 §4.1 bodies: bounded buffering, trailers, resets', () => {
  it('a 1 MiB POST streams through a bounded per-stream budget while the server does not read', async () => {
    const budget = 64 * 1024;
    const chunk = 16 * 1024;
    const total = 1 << 20;
    let serverStream!: ServerStream;
    const { client, server } = h3Pair({ streamWindow: chunk, server: { limits: { streamBufferBytes: budget }, onStream: (s) => void (serverStream = s) } });
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (pulled >= total) return controller.close();
          const piece = new Uint8Array(chunk).fill((pulled / chunk) & 0xff);
          pulled += chunk;
          controller.enqueue(piece);
        },
      },
      { highWaterMark: 0 },
    );
    const exchange = client.open({ method: 'POST', url: new URL('https://a.example/upload'), body });
    await until(() => serverStream !== undefined && server.bufferedBytes >= budget);
    await settle(200);
    // The engine stopped reading at the budget: what it holds is the budget and at most one transport read more.
    expect(server.bufferedBytes).toBeLessThanOrEqual(budget + chunk);
    // QUIC flow control (the pair's stream window) held the sender: most of the body was never even pulled.
    expect(pulled).toBeLessThan(total / 2);
    let received = 0;
    let ok = true;
    for await (const piece of serverStream) {
      for (const b of piece) if (b !== (Math.floor(received++ / chunk) & 0xff)) ok = false;
    }
    expect(received).toBe(total);
    expect(ok).toBe(true);
    expect(server.connection.peakStreamBufferedBytes).toBeLessThanOrEqual(budget + chunk);
    serverStream.respond(204, {}, { endStream: true });
    expect((await exchange.response).status).toBe(204);
    client.close();
  });

  it('response trailers arrive after the body, on the low-level API and through fetch (§4.1)', async () => {
    const { client } = h3Pair({
      server: {
        onStream: async (s) => {
          await s.bytes();
          s.respond(200, { 'content-type': 'application/grpc' });
          await s.write(text('abc'));
          await s.end(undefined, { 'grpc-status': '0', 'grpc-message': 'ok' });
        },
      },
    });
    const response = await client.open({ method: 'POST', url: new URL('https://a.example/svc/M'), body: new Blob(['x']).stream() }).response;
    expect(decode(await readAll(response.body))).toBe('abc');
    expect(response.trailers).toEqual([
      ['grpc-status', '0'],
      ['grpc-message', 'ok'],
    ]);
    const viaFetch = await client.fetch('https://a.example/svc/M', { method: 'POST', body: 'y' });
    expect(await viaFetch.text()).toBe('abc');
    client.close();
  });

  it('a gRPC Trailers-Only response (HEADERS then FIN) arrives as a response that ends with its HEADERS: body null', async () => {
    const { client } = h3Pair({ server: { onStream: (s) => s.respond(200, { 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true }) } });
    const response = await client.open({ method: 'POST', url: new URL('https://a.example/svc/Missing'), body: null }).response;
    expect(response.status).toBe(200);
    expect(response.fields).toContainEqual(['grpc-status', '12']);
    expect(response.body).toBeNull();
    expect(response.trailers).toBeUndefined();
    client.close();
  });

  it('a response with grpc-status that goes on with DATA is delivered as an ordinary one when the DATA comes', async () => {
    const { client } = h3Pair({
      server: {
        onStream: async (s) => {
          s.respond(200, { 'content-type': 'application/grpc', 'grpc-status': '0' });
          await s.end(text('odd'));
        },
      },
    });
    const response = await client.open({ method: 'POST', url: new URL('https://a.example/svc/Odd'), body: null }).response;
    expect(decode(await readAll(response.body))).toBe('odd');
    client.close();
  });

  it('the server resetting mid-body fails the client body with the HTTP/3 code; the client cancelling resets the server stream', async () => {
    const serverResets: number[] = [];
    let second!: ServerStream;
    const { client } = h3Pair({
      server: {
        onStream: async (s) => {
          if (s.head.path === '/reset') {
            s.respond(200);
            await s.write(text('partial'));
            s.reset(); // HTTP/2's CANCEL → H3_REQUEST_CANCELLED
          } else {
            second = s;
            s.onReset = (e) => serverResets.push(e.errorCode);
            s.respond(200);
            await s.write(text('first'));
          }
        },
      },
    });
    const response = await client.open({ method: 'GET', url: new URL('https://a.example/reset') }).response;
    const failure = await readAll(response.body).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((failure as { errorCode?: number }).errorCode).toBe(H3ErrorCode.H3_REQUEST_CANCELLED);
    expect((failure as { by?: string }).by).toBe('peer');

    const exchange = client.open({ method: 'GET', url: new URL('https://a.example/cancel') });
    const r2 = await exchange.response;
    expect(r2.body?.read() ?? (await r2.body!.wait(), r2.body!.read())).toEqual(text('first'));
    exchange.cancel();
    await until(() => serverResets.length > 0);
    expect(serverResets).toEqual([H3ErrorCode.H3_REQUEST_CANCELLED]);
    expect(second.status).toBe(200);
    client.close();
  });
});

describe('RFC 9114 §5.2 GOAWAY and refused requests', () => {
  for (const reversed of [false, true]) {
    it(`graceful drain from the server: in-flight requests finish, later ones are refused as retryable, then the connection closes${reversed ? ' (reversed)' : ''}`, async () => {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const arrived: number[] = [];
      const { client, server } = h3Pair({
        reversed,
        server: {
          onStream: async (s) => {
            arrived.push(s.id);
            await released;
            s.respond(200);
            await s.end(text('done'));
          },
        },
      });
      const first = client.open({ method: 'GET', url: new URL('https://a.example/1') });
      await until(() => arrived.length === 1);
      server.goaway();
      // Opened before the GOAWAY reached the client: its id is at or above the GOAWAY id.
      const second = client.open({ method: 'GET', url: new URL('https://a.example/2') });
      const refused = await second.response.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((refused as { retryable?: boolean }).retryable).toBe(true);
      await until(() => client.draining);
      const late = (() => {
        try {
          client.open({ method: 'GET', url: new URL('https://a.example/3') });
        } catch (error) {
          return error;
        }
      })();
      expect((late as { retryable?: boolean }).retryable).toBe(true);
      expect(server.openStreams).toBe(1);
      release();
      const response = await first.response;
      expect(decode(await readAll(response.body))).toBe('done');
      expect(await server.closed).toBeUndefined();
      expect(await client.closed).toBeUndefined();
      expect(arrived).toEqual([reversed ? 1 : 0]);
    });
  }

  it('a request over the server limit is rejected with H3_REQUEST_REJECTED, retryable', async () => {
    const { client } = h3Pair({ server: { limits: { maxConcurrentStreams: 1 }, onStream: () => {} } });
    const first = client.open({ method: 'GET', url: new URL('https://a.example/1') });
    const second = client.open({ method: 'GET', url: new URL('https://a.example/2') });
    const error = await second.response.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ errorCode: H3ErrorCode.H3_REQUEST_REJECTED, retryable: true });
    first.cancel();
    client.close();
  });

  it('onStream returning false refuses the request as not processed (retryable)', async () => {
    const { client } = h3Pair({ server: { onStream: () => false } });
    const error = await client.open({ method: 'GET', url: new URL('https://a.example/') }).response.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ retryable: true });
    client.close();
  });

  it('the client GOAWAY (a push id) drains the client: no new requests, then close', async () => {
    const { client, server } = h3Pair({ server: { onStream: (s) => s.respond(204, {}, { endStream: true }) } });
    expect((await client.open({ method: 'GET', url: new URL('https://a.example/') }).response).status).toBe(204);
    client.goaway();
    expect(() => client.open({ method: 'GET', url: new URL('https://a.example/') })).toThrow();
    expect(await client.closed).toBeUndefined();
    await server.closed;
    expect(server.isClosed).toBe(true);
  });
});

describe('RFC 9220 extended CONNECT, RFC 9412 ORIGIN', () => {
  it('extended CONNECT once the server enabled it: :protocol reaches the server, both directions stream', async () => {
    const { client } = h3Pair({
      reversed: true,
      server: {
        onStream: async (s) => {
          s.respond(200, { 'x-protocol': s.head.protocol ?? '' });
          for await (const piece of s) await s.write(piece);
          await s.end();
        },
      },
    });
    expect(() => client.open({ method: 'CONNECT', url: new URL('https://a.example/chat'), protocol: 'websocket' })).toThrow(/extended CONNECT/);
    await client.ready;
    let push!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (push = c) });
    const exchange = client.open({ method: 'CONNECT', url: new URL('https://a.example/chat'), protocol: 'websocket', body });
    const response = await exchange.response;
    expect(response.status).toBe(200);
    expect(response.fields).toContainEqual(['x-protocol', 'websocket']);
    push.enqueue(text('ping'));
    const reader = response.body!;
    let chunk = reader.read();
    while (chunk === undefined) {
      await reader.wait();
      chunk = reader.read();
    }
    expect(decode(chunk!)).toBe('ping');
    push.close();
    expect(decode(await readAll(reader))).toBe('');
    client.close();
  });

  it('the client role hears the ORIGIN frame the server sends on its control stream', async () => {
    const heard: Array<{ origins: readonly string[]; added: readonly string[] }> = [];
    const { client } = h3Pair({
      reversed: true,
      server: { origins: ['https://a.example', 'https://*.b.example'] },
      client: { onOrigin: (origins, added) => heard.push({ origins: [...origins], added: [...added] }) },
    });
    await until(() => heard.length > 0);
    expect(heard).toEqual([{ origins: ['https://a.example', 'https://*.b.example'], added: ['https://a.example', 'https://*.b.example'] }]);
    expect(client.peerOrigins).toEqual(['https://a.example', 'https://*.b.example']);
    client.close();
  });
});

describe('RFC 9114 §4.1 a complete response before the whole request', () => {
  it('the server answers, then stops the request body with H3_NO_ERROR: the client keeps the response', async () => {
    const { client } = h3Pair({
      server: {
        onStream: async (s) => {
          s.respond(413, { 'content-type': 'text/plain' });
          await s.end(text('too large'));
          s.reset(0x0); // HTTP/2's NO_ERROR → STOP_SENDING(H3_NO_ERROR) on the unread request body
        },
      },
    });
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls++;
        controller.enqueue(new Uint8Array(4096));
      },
    });
    const exchange = client.open({ method: 'POST', url: new URL('https://a.example/upload'), body });
    const response = await exchange.response;
    expect(response.status).toBe(413);
    expect(decode(await readAll(response.body))).toBe('too large');
    expect(pulls).toBeGreaterThan(0);
    await until(() => client.openStreams === 0);
    client.close();
  });
});

describe('property: any body, cut into any chunks, arrives whole through HTTP/3 (both arrangements)', () => {
  it('echo of random bodies with random chunk sizes', async () => {
    const fc = (await import('fast-check')).default;
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.integer({ min: 0, max: 200_000 }), fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 8 }), async (reversed, size, cuts) => {
        const { client } = h3Pair({ reversed, streamWindow: 8192, server: { limits: { streamBufferBytes: 16_384 }, onStream: (s) => void echo(s) } });
        const payload = new Uint8Array(size);
        for (let i = 0; i < size; i++) payload[i] = (i * 31 + size) & 0xff;
        let at = 0;
        let cut = 0;
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (at >= size) return controller.close();
            const n = cuts[cut++ % cuts.length];
            controller.enqueue(payload.slice(at, at + n));
            at += n;
          },
        });
        const response = await client.open({ method: 'POST', url: new URL('https://a.example/echo'), body }).response;
        const echoed = await readAll(response.body);
        client.close();
        // An empty body is answered with a greeting instead.
        if (size === 0) return decode(echoed) === 'hello a.example';
        return echoed.length === size && echoed.every((b, i) => b === payload[i]);
      }),
      { numRuns: 25 },
    );
  });
});

describe('the broker-facing surface', () => {
  it('request() waits for a free slot under the client limit, and onSlotFree hears streams close', async () => {
    let slotFree = 0;
    const { client } = h3Pair({
      client: { limits: { maxConcurrentStreams: 1 }, onSlotFree: () => slotFree++ },
      server: { onStream: (s) => void echo(s) },
    });
    expect(client.maxConcurrentStreams).toBe(1);
    const a = client.fetch('https://a.example/a', { method: 'POST', body: 'a' });
    const b = client.fetch('https://a.example/b', { method: 'POST', body: 'b' });
    expect(client.openStreams).toBe(1);
    expect(await (await a).text()).toBe('a');
    expect(await (await b).text()).toBe('b');
    expect(slotFree).toBeGreaterThan(0);
    client.close();
    expect(await client.closed).toBeUndefined();
    expect(client.isClosed).toBe(true);
  });
});

describe('ServerStream.closed over HTTP/3', () => {
  it('settles when both sides ended, whichever way the response ended (HEADERS only, or end())', async () => {
    const closed: Array<Promise<unknown>> = [];
    const { client } = h3Pair({
      server: {
        onStream: async (s) => {
          closed.push(s.closed);
          // The request is all here before the response starts: only the response's end can settle `closed`.
          await s.bytes();
          if (s.head.path === '/headers-only') s.respond(204, {}, { endStream: true });
          else {
            s.respond(200);
            await s.end(text('x'));
          }
        },
      },
    });
    expect((await client.open({ method: 'POST', url: new URL('https://a.example/headers-only'), body: new Blob(['abc']).stream() }).response).status).toBe(204);
    const r = await client.open({ method: 'POST', url: new URL('https://a.example/body'), body: new Blob(['abc']).stream() }).response;
    await readAll(r.body);
    expect(await Promise.all(closed)).toEqual([undefined, undefined]);
    client.close();
  });
});
