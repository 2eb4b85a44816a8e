import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  WILD_ORIGIN,
  curl,
  NGHTTP,
  parseCurlResponse,
  patternSha256,
  runClient,
  sha256,
  startTunnel,
  waitForRoute,
  type Tunnel,
} from './support.js';

/**
 * The TLS tunnel end to end with real clients, exactly as a user runs it: `rhttp-agent certs`,
 * `rhttp-intermediary`, `rhttp-agent --upstream`, then curl and nghttp against the
 * intermediary's --http listener (draft-bt-httpbis-reverse-http-01 over TLS `h2-reverse`).
 */
let tunnel: Tunnel;
const FIVE_MIB = 5 * 1024 * 1024;

beforeAll(async () => {
  tunnel = await startTunnel('clients');
  // A second agent for the wildcard origin: one connection serves one registrable domain.
  tunnel.addAgent({ name: 'rhttp-agent wildcard', origins: [WILD_ORIGIN] });
  await waitForRoute(tunnel.ports.http, `a.wild.localhost:${tunnel.ports.http}`);
}, 60_000);

afterAll(async () => {
  await tunnel?.close();
});

/** curl against the intermediary's browser port with the Host a browser sends. */
function curlApp(path: string, args: string[] = [], host = tunnel.appHost) {
  return curl(['-i', '-H', `Host: ${host}`, ...args, `${tunnel.base}${path}`]);
}

describe('curl through the tunnel (RFC 9112 HTTP/1.1, RFC 9113 h2c)', () => {
  const modes: Array<{ name: string; args: string[]; via: string }> = [
    { name: 'HTTP/1.1', args: ['--http1.1'], via: '1.1 rhttp' },
    // An h2c upgrade attempt (RFC 7540 §3.2, removed by RFC 9113 §3.1): the server may ignore the Upgrade and answer in HTTP/1.1.
    { name: '--http2 (h2c upgrade attempt)', args: ['--http2'], via: 'rhttp' },
    { name: '--http2-prior-knowledge', args: ['--http2-prior-knowledge'], via: '2 rhttp' },
  ];

  for (const mode of modes) {
    it(`${mode.name}: GET /hello answers 200 with Via`, async () => {
      const r = await curlApp('/hello', mode.args);
      expect(r.code, r.stderr).toBe(0);
      const res = parseCurlResponse(r.stdout);
      expect(res.status, r.text).toBe(200);
      expect(res.body.toString()).toBe('hello from upstream\n');
      // RFC 9110 §7.6.3: the response passed an intermediary, so it carries Via.
      expect(res.headers.via).toMatch(/rhttp/);
    });

    it(`${mode.name}: the origin sees Via, Forwarded and X-Forwarded-*`, async () => {
      const r = await curlApp('/headers', mode.args);
      expect(r.code, r.stderr).toBe(0);
      const res = parseCurlResponse(r.stdout);
      expect(res.status, r.text).toBe(200);
      const seen = JSON.parse(res.body.toString()) as Record<string, string>;
      expect(seen.host).toMatch(/^app\.localhost(:\d+)?$/);
      expect(seen.via).toContain(mode.via);
      expect(seen['x-forwarded-for']).toBe('127.0.0.1');
      // The browser's Host as it sent it, port included, even though the intermediary routed the
      // request to the https origin it serves (RFC 7239 §5.3, X-Forwarded-Host).
      expect(seen['x-forwarded-host']).toBe(tunnel.appHost);
      expect(seen['x-forwarded-proto']).toBe('http');
      // RFC 7239 §4: for=, proto= and host= of the browser's request.
      expect(seen.forwarded).toContain('for=127.0.0.1');
      expect(seen.forwarded).toContain(`proto=${seen['x-forwarded-proto']}`);
      expect(seen.forwarded).toMatch(new RegExp(`host="?${seen['x-forwarded-host'].replace(/\./g, '\\.')}"?(;|,|$)`));
    });
  }
});

describe('nghttp through the tunnel (RFC 9113 §3.3 h2c with prior knowledge)', () => {
  it('GET /hello and /headers', async () => {
    const hello = await runClient(NGHTTP, ['-v', '-H', `:authority: ${tunnel.appHost}`, `${tunnel.base}/hello`]);
    expect(hello.code, hello.text + hello.stderr).toBe(0);
    expect(hello.text).toMatch(/:status: 200/);
    expect(hello.text).toMatch(/\) via: 2 rhttp$/m);
    expect(hello.text).toContain('hello from upstream\n');

    const headers = await runClient(NGHTTP, ['-H', `:authority: ${tunnel.appHost}`, `${tunnel.base}/headers`]);
    expect(headers.code, headers.stderr).toBe(0);
    const seen = JSON.parse(headers.text) as Record<string, string>;
    expect(seen.via).toContain('2 rhttp');
    expect(seen['x-forwarded-host']).toBe(tunnel.appHost);
  });
});

describe('5 MiB bodies both ways, byte for byte', () => {
  it('GET /bytes?n=5MiB over HTTP/1.1 and h2c', async () => {
    for (const args of [['--http1.1'], ['--http2-prior-knowledge']]) {
      const r = await curl(['-H', `Host: ${tunnel.appHost}`, ...args, '-w', '\n%{http_code}', `${tunnel.base}/bytes?n=${FIVE_MIB}`]);
      expect(r.code, r.stderr).toBe(0);
      const body = r.stdout.subarray(0, r.stdout.lastIndexOf('\n'));
      expect(r.stdout.subarray(r.stdout.lastIndexOf('\n') + 1).toString()).toBe('200');
      expect(body.length).toBe(FIVE_MIB);
      expect(sha256(body)).toBe(patternSha256(FIVE_MIB));
    }
  });

  it('POST 5 MiB to /echo (curl --data-binary @file) over HTTP/1.1 and h2c', async () => {
    const data = randomBytes(FIVE_MIB);
    const file = join(tunnel.dir, 'five-mib.bin');
    writeFileSync(file, data);
    for (const args of [['--http1.1'], ['--http2-prior-knowledge']]) {
      const r = await curl(['-H', `Host: ${tunnel.appHost}`, ...args, '-H', 'content-type: application/octet-stream', '--data-binary', `@${file}`, '-w', '\n%{http_code}', `${tunnel.base}/echo`]);
      expect(r.code, r.stderr).toBe(0);
      const body = r.stdout.subarray(0, r.stdout.lastIndexOf('\n'));
      expect(r.stdout.subarray(r.stdout.lastIndexOf('\n') + 1).toString()).toBe('200');
      expect(body.length).toBe(FIVE_MIB);
      expect(sha256(body)).toBe(sha256(data));
    }
  });
});

describe('wildcard origins (RFC 6125 §6.4.3: the * covers exactly one label)', () => {
  it('a.wild.localhost is served by the agent claiming https://*.wild.localhost', async () => {
    const r = await curlApp('/hello', [], `a.wild.localhost:${tunnel.ports.http}`);
    expect(r.code, r.stderr).toBe(0);
    const res = parseCurlResponse(r.stdout);
    expect(res.status, r.text).toBe(200);
    expect(res.body.toString()).toBe('hello from upstream\n');
  });

  it('a.b.wild.localhost and wild.localhost itself are not covered → 503', async () => {
    for (const host of [`a.b.wild.localhost:${tunnel.ports.http}`, `wild.localhost:${tunnel.ports.http}`]) {
      const r = await curlApp('/hello', [], host);
      expect(r.code, r.stderr).toBe(0);
      const res = parseCurlResponse(r.stdout);
      expect(res.status, `${host}: ${r.text}`).toBe(503);
      expect(res.headers['proxy-status']).toContain('destination_unavailable');
    }
  });
});

describe('Server-Sent Events arrive one by one', () => {
  it('curl -N sees the first event before the origin has sent the last', async () => {
    const received: Array<{ at: number; text: string }> = [];
    const before = tunnel.upstream.sseSentAt.length;
    const r = await curl(['-N', '-H', `Host: ${tunnel.appHost}`, `${tunnel.base}/sse`], {
      onStdout: (chunk) => received.push({ at: Date.now(), text: chunk.toString() }),
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.text).toBe([1, 2, 3, 4, 5].map((i) => `id: ${i}\ndata: event ${i}\n\n`).join(''));
    const sent = tunnel.upstream.sseSentAt[before];
    expect(sent).toHaveLength(5);
    const firstEvent = received.find((c) => c.text.includes('data: event 1'));
    expect(firstEvent).toBeDefined();
    // Causality, not speed: the first event reached curl before the upstream wrote the fifth
    // (written 400 ms after the first); a buffering proxy would deliver it only at the end.
    expect(firstEvent!.text).not.toContain('data: event 5');
    expect(firstEvent!.at).toBeLessThan(sent[4]);
    expect(received.length).toBeGreaterThanOrEqual(3);
  });
});

describe('unknown host', () => {
  it('answers 503 with Proxy-Status destination_unavailable and no next-hop (RFC 9209 §2.3.3)', async () => {
    const r = await curlApp('/hello', [], `nobody.localhost:${tunnel.ports.http}`);
    expect(r.code, r.stderr).toBe(0);
    const res = parseCurlResponse(r.stdout);
    expect(res.status, r.text).toBe(503);
    expect(res.headers['proxy-status']).toMatch(/;\s*error=destination_unavailable/);
    expect(res.headers['proxy-status']).not.toContain('next-hop');

    const h2 = await curlApp('/hello', ['--http2-prior-knowledge'], `nobody.localhost:${tunnel.ports.http}`);
    const res2 = parseCurlResponse(h2.stdout);
    expect(res2.status, h2.text).toBe(503);
    expect(res2.headers['proxy-status']).toMatch(/destination_unavailable/);
    expect(res2.headers['proxy-status']).not.toContain('next-hop');
  });
});
