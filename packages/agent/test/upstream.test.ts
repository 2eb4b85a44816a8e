import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as http from 'node:http';
import type { Http2Session, ServerStream } from '@rhttp/core';
import { HttpUpstream, type ExchangeMeter } from '../src/upstream.js';
import { sessionPair } from '../../core/test/support/session-pair.js';
import { READ_MIN } from '../src/read-buffers.js';

let server: http.Server;
let base: string;
let lastHeaders: http.IncomingHttpHeaders = {};
let lastUrl = '';
let lastRawHeaders: string[] = [];
let holdClosed = deferred();

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    lastHeaders = req.headers;
    lastUrl = req.url ?? '';
    lastRawHeaders = req.rawHeaders;
    if (req.url === '/never') return; // holds the request open without answering
    if (req.url === '/cookies') {
      res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
      res.end('two cookies');
      return;
    }
    if (req.url === '/empty') {
      res.writeHead(204).end();
      return;
    }
    if (req.url === '/echo' && req.method === 'POST') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.writeHead(200, { connection: 'x-private', 'x-private': '1', 'keep-alive': 'timeout=5', 'x-public': 'yes' }).end(Buffer.concat(chunks)));
      return;
    }
    if (req.url === '/hold') {
      // Headers now, the body never: the browser's reset must reach us as a closed request.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      req.on('close', () => holdClosed.resolve());
      return;
    }
    if (req.url === '/redirect') {
      res.writeHead(302, { location: '/elsewhere' }).end();
      return;
    }
    if (req.url === '/big') {
      // 16 MiB in 64 KiB writes, as fast as the socket takes them.
      const chunk = Buffer.alloc(64 * 1024, 0x62);
      let left = 256;
      const pump = () => {
        while (left > 0) {
          left--;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.writeHead(200, { 'content-length': String(256 * chunk.length) });
      pump();
      req.on('close', () => (left = 0));
      return;
    }
    res.setHeader('content-length', '5');
    res.end(req.method === 'HEAD' ? undefined : 'hello');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

describe('HttpUpstream (RFC 9110 §7.6 forwarding)', () => {
  it('sends the original authority as Host and drops hop-by-hop request fields', async () => {
    const upstream = new HttpUpstream(base);
    const res = await upstream.fetch(
      new Request('https://app.example.com/a?b=c', { headers: { connection: 'x-hop', 'x-hop': '1', te: 'trailers', 'keep-alive': '5', 'x-end-to-end': 'kept' } }),
    );
    expect(await res.text()).toBe('hello');
    expect(lastUrl).toBe('/a?b=c');
    expect(lastHeaders.host).toBe('app.example.com');
    expect(lastHeaders['x-end-to-end']).toBe('kept');
    expect(lastHeaders['x-hop']).toBeUndefined();
    expect(lastHeaders.te).toBeUndefined();
    expect(lastHeaders['keep-alive']).toBeUndefined();
    upstream.close();
  });

  it('prefixes the path of the upstream URL and keeps the raw :path when given', async () => {
    const upstream = new HttpUpstream(`${base}/prefix/`);
    await (await upstream.fetch(new Request('https://app.example.com/x'), { head: { method: 'GET', scheme: 'https', authority: 'app.example.com', path: '/a/../b%2F', headers: new Headers() } })).text();
    expect(lastUrl).toBe('/prefix/a/../b%2F');
    upstream.close();
  });

  it('keeps every Set-Cookie field separate', async () => {
    const upstream = new HttpUpstream(base);
    const res = await upstream.fetch(new Request('https://app.example.com/cookies'));
    expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    upstream.close();
  });

  it('does not follow redirects and gives HEAD and 204 no body', async () => {
    const upstream = new HttpUpstream(base);
    const redirect = await upstream.fetch(new Request('https://app.example.com/redirect'));
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('/elsewhere');
    const head = await upstream.fetch(new Request('https://app.example.com/', { method: 'HEAD' }));
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('5');
    expect(head.body).toBeNull();
    const empty = await upstream.fetch(new Request('https://app.example.com/empty'));
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
    upstream.close();
  });

  it('answers 504 when the upstream sends no headers in time', async () => {
    const upstream = new HttpUpstream(base, { headersTimeoutMs: 50 });
    const res = await upstream.fetch(new Request('https://app.example.com/never'));
    expect(res.status).toBe(504);
    expect(res.headers.get('proxy-status')).toBe('rhttp-agent; error=connection_timeout');
    expect(await res.text()).toContain(`the upstream at ${base} did not answer within`);
    upstream.close();
  });

  it('rejects upstream URLs that are not http(s)', () => {
    expect(() => new HttpUpstream('ftp://127.0.0.1/')).toThrow(/http:\/\/ or https:\/\//);
  });
});

/** A browser-side client session wired in memory to a server session that serves every stream with `upstream.serve`. */
function servedBy(upstream: HttpUpstream, meter?: ExchangeMeter): Http2Session {
  return sessionPair(undefined, { onStream: (stream: ServerStream) => void upstream.serve(stream, meter) }).client;
}

/** A meter that keeps what it was told. */
function recordingMeter() {
  const seen = { statuses: [] as number[], requestBody: 0, responseBody: 0 };
  const meter: ExchangeMeter = { status: (code) => seen.statuses.push(code), requestBody: (n) => (seen.requestBody += n), responseBody: (n) => (seen.responseBody += n) };
  return { seen, meter };
}

describe('HttpUpstream.serve: from a ServerStream, no Fetch objects (RFC 9110 §7.6)', () => {
  it('sends the authority as Host, the raw :path under the prefix, cookie crumbs joined, X-Forwarded-* kept, te dropped', async () => {
    const upstream = new HttpUpstream(`${base}/prefix/`);
    const client = servedBy(upstream);
    const res = await client.fetch('https://app.example.com/x', {
      headers: { cookie: 'a=1', te: 'trailers', 'x-forwarded-for': '203.0.113.7', 'x-end-to-end': 'kept' },
    });
    expect(await res.text()).toBe('hello');
    expect(lastUrl).toBe('/prefix/x');
    expect(lastHeaders.host).toBe('app.example.com');
    expect(lastHeaders['x-forwarded-for']).toBe('203.0.113.7');
    expect(lastHeaders['x-end-to-end']).toBe('kept');
    expect(lastHeaders.te).toBeUndefined();
    // Exactly one Host field (node:http adds none of its own beside ours).
    expect(lastRawHeaders.filter((_, i) => i % 2 === 0 && lastRawHeaders[i].toLowerCase() === 'host')).toHaveLength(1);
    client.close();
    upstream.close();
  });

  it('joins HTTP/2 cookie crumbs into one Cookie field (RFC 9113 §8.2.3)', async () => {
    const upstream = new HttpUpstream(base);
    const client = servedBy(upstream);
    const { response } = await client.request({ method: 'GET', url: new URL('https://app.example.com/'), headers: new Headers([['cookie', 'a=1'], ['cookie', 'b=2']]) });
    await response.text();
    expect(lastHeaders.cookie).toBe('a=1; b=2');
    client.close();
    upstream.close();
  });

  it('streams a request body up and the response back, drops hop-by-hop response fields and counts both ways', async () => {
    const upstream = new HttpUpstream(base);
    const { seen, meter } = recordingMeter();
    const client = servedBy(upstream, meter);
    const body = new Uint8Array(300_000).map((_, i) => (i * 13) & 0xff);
    const res = await client.fetch('https://app.example.com/echo', { method: 'POST', body });
    expect(res.headers.get('x-public')).toBe('yes');
    expect(res.headers.get('x-private')).toBeNull();
    expect(res.headers.get('keep-alive')).toBeNull();
    expect(Buffer.from(await res.arrayBuffer()).equals(body)).toBe(true);
    expect(seen).toEqual({ statuses: [200], requestBody: body.length, responseBody: body.length });
    client.close();
    upstream.close();
  });

  it('keeps Set-Cookie fields apart, does not follow redirects, and gives HEAD and 204 no body', async () => {
    const upstream = new HttpUpstream(base);
    const client = servedBy(upstream);
    expect((await client.fetch('https://app.example.com/cookies')).headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    const redirect = await client.fetch('https://app.example.com/redirect');
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('/elsewhere');
    const head = await client.fetch('https://app.example.com/', { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe('5');
    expect(head.body).toBeNull();
    const empty = await client.fetch('https://app.example.com/empty');
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
    client.close();
    upstream.close();
  });

  it('answers 504 with Proxy-Status when no headers come in time, 502 when the upstream refuses', async () => {
    const slow = new HttpUpstream(base, { headersTimeoutMs: 50 });
    const { seen, meter } = recordingMeter();
    const client = servedBy(slow, meter);
    const res = await client.fetch('https://app.example.com/never');
    expect(res.status).toBe(504);
    expect(res.headers.get('proxy-status')).toBe('rhttp-agent; error=connection_timeout');
    expect(await res.text()).toContain(`the upstream at ${base} did not answer within`);
    expect(seen.statuses).toEqual([504]);
    client.close();
    slow.close();

    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadUrl = `http://127.0.0.1:${(closed.address() as { port: number }).port}`;
    await new Promise<void>((r) => closed.close(() => r()));
    const dead = new HttpUpstream(deadUrl);
    const client2 = servedBy(dead);
    const refused = await client2.fetch('https://app.example.com/');
    expect(refused.status).toBe(502);
    expect(refused.headers.get('proxy-status')).toBe('rhttp-agent; error=connection_refused');
    client2.close();
    dead.close();
  });

  it('a browser that does not read holds the upstream: at most two small socket reads are taken beyond its stream window (HTTP/2)', async () => {
    const upstream = new HttpUpstream(base);
    const { seen, meter } = recordingMeter();
    const window = 65_535;
    const { client } = sessionPair(undefined, { onStream: (stream: ServerStream) => void upstream.serve(stream, meter) }, { settings: { initialWindowSize: window } });
    const exchange = client.open({ method: 'GET', url: new URL('https://app.example.com/big'), headers: new Headers() });
    const response = await exchange.response;
    expect(response.status).toBe(200);
    // Nothing reads the body: let the upstream, the agent and the engine go as far as they will.
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 10));
    // The relay reads one chunk ahead of an unsettled write and then pauses; no read is larger
    // than the stream's credit, at least READ_MIN, so past the window it holds two small reads.
    expect(seen.responseBody).toBeGreaterThan(0);
    expect(seen.responseBody).toBeLessThanOrEqual(window + 2 * READ_MIN);
    exchange.cancel();
    client.close();
    upstream.close();
  });

  it('a reset stream cancels the upstream request', async () => {
    holdClosed = deferred();
    const upstream = new HttpUpstream(base);
    const client = servedBy(upstream);
    const controller = new AbortController();
    const res = await client.fetch('https://app.example.com/hold', { signal: controller.signal });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: first\n\n');
    controller.abort();
    await holdClosed.promise;
    client.close();
    upstream.close();
  });

  it('sends a bodiless GET again, once, when a reused keep-alive socket was closed; not a POST', async () => {
    // Each socket answers its first request and drops the connection on its second.
    const seenPerSocket = new WeakMap<object, number>();
    const flaky = http.createServer((req, res) => {
      const n = (seenPerSocket.get(req.socket) ?? 0) + 1;
      seenPerSocket.set(req.socket, n);
      if (n > 1) return req.socket.destroy();
      req.resume();
      req.on('end', () => res.end(`answered ${req.method}`));
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
    const upstream = new HttpUpstream(`http://127.0.0.1:${(flaky.address() as { port: number }).port}`);
    const client = servedBy(upstream);
    expect(await (await client.fetch('https://app.example.com/one')).text()).toBe('answered GET');
    expect(await (await client.fetch('https://app.example.com/two')).text()).toBe('answered GET');
    const post = await client.fetch('https://app.example.com/three', { method: 'POST', body: 'x' });
    expect(post.status).toBe(502);
    expect(post.headers.get('proxy-status')).toBe('rhttp-agent; error=connection_terminated');
    client.close();
    upstream.close();
    flaky.closeAllConnections();
    await new Promise<void>((r) => flaky.close(() => r()));
  });
});
