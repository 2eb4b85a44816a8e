import { createServer, type Http2Server, type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { responseTrailers } from '@rhttp/core';
import { H2cUpstream } from '../src/h2c-upstream.js';

let server: Http2Server | undefined;
let upstream: H2cUpstream | undefined;

afterEach(async () => {
  upstream?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A node:http2 cleartext server (prior knowledge) recording the request headers it got. */
async function listen(handler: Parameters<typeof createServer>[1]): Promise<number> {
  server = createServer({}, handler);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('H2cUpstream (RFC 9113 §3.3 prior knowledge, §8.1 trailers)', () => {
  it('forwards method, raw path, authority and te: trailers; drops connection-specific fields; streams the body; returns trailers', async () => {
    let seen: IncomingHttpHeaders = {};
    let received = '';
    const port = await listen((req, res) => {
      seen = req.headers;
      req.setEncoding('utf8');
      req.on('data', (c: string) => (received += c));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/grpc' });
        res.addTrailers({ 'grpc-status': '0', 'grpc-message': 'fine' });
        res.end('answer');
      });
    });
    upstream = new H2cUpstream(`h2c://127.0.0.1:${port}`);
    const request = new Request('https://app.example.com/svc/Method?x=1', {
      method: 'POST',
      headers: { te: 'trailers', 'content-type': 'application/grpc', 'proxy-authorization': 'secret', 'x-app': 'yes' },
      body: 'question',
    });
    const response = await upstream.fetch(request);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('answer');
    const trailers = await responseTrailers(response);
    expect(trailers.get('grpc-status')).toBe('0');
    expect(trailers.get('grpc-message')).toBe('fine');
    expect(received).toBe('question');
    expect(seen[':method']).toBe('POST');
    expect(seen[':path']).toBe('/svc/Method?x=1');
    expect(seen[':authority']).toBe('app.example.com');
    expect(seen[':scheme']).toBe('http');
    // RFC 9113 §8.2.2: te is allowed with "trailers" (gRPC servers ask for it); proxy fields are not forwarded.
    expect(seen.te).toBe('trailers');
    expect(seen['proxy-authorization']).toBeUndefined();
    expect(seen['x-app']).toBe('yes');
  });

  it('answers 502 with Proxy-Status when nothing listens, and reconnects once the upstream is back', async () => {
    const port = await listen((_req, res) => res.end('up'));
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
    upstream = new H2cUpstream(`h2c://127.0.0.1:${port}`);
    const down = await upstream.fetch(new Request('https://app.example.com/'));
    expect(down.status).toBe(502);
    expect(down.headers.get('proxy-status')).toBe('rhttp-agent; error=connection_refused');
    server = createServer({}, (_req, res) => res.end('up again'));
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    const up = await upstream.fetch(new Request('https://app.example.com/'));
    expect(up.status).toBe(200);
    expect(await up.text()).toBe('up again');
  });

  it('uses one pooled session for many requests', async () => {
    const sessions = new Set<unknown>();
    const port = await listen((req, res) => {
      sessions.add(req.stream.session);
      res.end('ok');
    });
    upstream = new H2cUpstream(`h2c://127.0.0.1:${port}`);
    const answers = await Promise.all(Array.from({ length: 10 }, () => upstream!.fetch(new Request('https://app.example.com/')).then((r) => r.text())));
    expect(answers).toEqual(Array(10).fill('ok'));
    expect(sessions.size).toBe(1);
  });

  it('refuses a URL that is not h2c://host:port', () => {
    expect(() => new H2cUpstream('http://127.0.0.1:1')).toThrow(/h2c:\/\//);
    expect(() => new H2cUpstream('h2c://127.0.0.1')).toThrow(/host and a port/);
  });
});
