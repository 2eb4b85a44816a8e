import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as http from 'node:http';
import { HttpUpstream } from '../src/upstream.js';

let server: http.Server;
let base: string;
let lastHeaders: http.IncomingHttpHeaders = {};
let lastUrl = '';

beforeAll(async () => {
  server = http.createServer((req, res) => {
    lastHeaders = req.headers;
    lastUrl = req.url ?? '';
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
    if (req.url === '/redirect') {
      res.writeHead(302, { location: '/elsewhere' }).end();
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
