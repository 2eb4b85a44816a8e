import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as http from 'node:http';
import { gzipSync } from 'node:zlib';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LIMITS, ErrorCode } from '@rhttp/core';
import { Agent, type AgentOptions } from '../src/agent.js';
import { loadHandlerModule } from '../src/handler-module.js';
import { deferred, EventLog, makeCertificates, startIntermediary, type TestCertificates, type TestIntermediary } from './intermediary-peer.js';

const ORIGIN = 'https://app.example.com';
const WILDCARD = 'https://*.app.example.com';

let certs: TestCertificates;
let upstream: http.Server;
let upstreamUrl: string;
/** Lets the streaming route send its second chunk. */
let releaseSecondChunk = deferred();
const gzipped = gzipSync(Buffer.from('hello, compressed world\n'.repeat(50)));

beforeAll(async () => {
  certs = await makeCertificates(['app.example.com', '*.app.example.com']);
  upstream = http.createServer(async (req, res) => {
    if (req.url === '/echo-request') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }));
      return;
    }
    if (req.url === '/echo-body' && req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      res.setHeader('x-received', String(Buffer.concat(chunks).length));
      res.end(Buffer.concat(chunks));
      return;
    }
    if (req.url === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('data: first\n\n');
      await releaseSecondChunk.promise;
      res.end('data: second\n\n');
      return;
    }
    if (req.url === '/gzip') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': String(gzipped.length) });
      res.end(gzipped);
      return;
    }
    if (req.url === '/hop-by-hop') {
      res.writeHead(200, { connection: 'x-private, keep-alive', 'x-private': 'secret', 'keep-alive': 'timeout=5', 'x-public': 'yes' });
      res.end('ok');
      return;
    }
    res.writeHead(404).end('not found');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
});

afterAll(async () => {
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
});

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An intermediary plus an agent pointed at it; both are torn down after the test. */
async function setup(agentOptions: Partial<AgentOptions> = {}, intermediaryOptions: Parameters<typeof startIntermediary>[1] = {}) {
  const intermediary = await startIntermediary(certs, intermediaryOptions);
  cleanups.push(() => intermediary.close());
  const events = new EventLog();
  const agent = new Agent({
    intermediary: `tls://127.0.0.1:${intermediary.port}`,
    origins: [ORIGIN, WILDCARD],
    cert: certs.origin.chainPem,
    key: certs.origin.keyPem,
    ca: certs.ca.certPem,
    connections: 1,
    log: events.log,
    backoff: { baseMs: 5, capMs: 20, refusedMs: 60_000, healthyAfterMs: 60_000 },
    ...(agentOptions.handler ? {} : { upstream: upstreamUrl }),
    ...agentOptions,
  });
  cleanups.push(() => agent.stop({ graceful: false }));
  agent.start();
  return { intermediary, agent, events };
}

async function connected(intermediary: TestIntermediary) {
  const peer = await intermediary.next();
  await peer.origins;
  return peer;
}

describe('draft-bt-httpbis-reverse-http-01: agent dials out with h2-reverse', () => {
  it('negotiates ALPN h2-reverse over TLS 1.3, presents its certificate and announces its origins (RFC 8336 ORIGIN)', async () => {
    const { intermediary, agent, events } = await setup();
    const peer = await intermediary.next();
    expect(peer.socket.alpnProtocol).toBe('h2-reverse');
    expect(peer.socket.getProtocol()).toBe('TLSv1.3');
    expect(peer.peerCertificate.subjectaltname).toContain('DNS:app.example.com');
    expect(await peer.origins).toEqual([ORIGIN, WILDCARD]);
    expect(peer.session.peerOrigins).toEqual([ORIGIN, WILDCARD]);
    const event = await events.waitFor('connected');
    expect(event.origins).toEqual([ORIGIN, WILDCARD]);
    expect(agent.status().connections[0].state).toBe('connected');
  });

  it('holds the requested number of connections', async () => {
    const { intermediary } = await setup({ connections: 3 });
    const peers = await Promise.all([connected(intermediary), connected(intermediary), connected(intermediary)]);
    expect(new Set(peers.map((p) => p.socket.remotePort)).size).toBe(3);
  });
});

describe('upstream forwarding (RFC 9110 §7.6 intermediaries)', () => {
  it('forwards a GET with the original authority as Host and keeps X-Forwarded-*', async () => {
    const { intermediary } = await setup();
    const peer = await connected(intermediary);
    const res = await peer.session.fetch(`${ORIGIN}/echo-request`, { headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' } });
    expect(res.status).toBe(200);
    const seen = (await res.json()) as { method: string; url: string; headers: Record<string, string> };
    expect(seen.method).toBe('GET');
    expect(seen.url).toBe('/echo-request');
    expect(seen.headers.host).toBe('app.example.com');
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.7');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
  });

  it('streams a POST body to the upstream and its echo back', async () => {
    const { intermediary } = await setup();
    const peer = await connected(intermediary);
    const body = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
    const res = await peer.session.fetch(`${ORIGIN}/echo-body`, { method: 'POST', body });
    expect(res.headers.get('x-received')).toBe(String(body.length));
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(body);
  });

  it('delivers a streaming (SSE) response chunk by chunk, before the upstream has finished', async () => {
    releaseSecondChunk = deferred();
    const { intermediary } = await setup();
    const peer = await connected(intermediary);
    const res = await peer.session.fetch(`${ORIGIN}/events`);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    const first = await reader.read();
    // The upstream is still holding the second event: the first arrived on its own.
    expect(new TextDecoder().decode(first.value)).toBe('data: first\n\n');
    releaseSecondChunk.resolve();
    let rest = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toBe('data: second\n\n');
  });

  it('passes a gzip-encoded body through byte for byte (no decompression)', async () => {
    const { intermediary } = await setup();
    const peer = await connected(intermediary);
    const res = await peer.session.fetch(`${ORIGIN}/gzip`, { headers: { 'accept-encoding': 'gzip' } });
    expect(res.headers.get('content-encoding')).toBe('gzip');
    // Our engine, like node:http, does not decode content codings.
    expect(Buffer.from(await res.arrayBuffer()).equals(gzipped)).toBe(true);
  });

  it('strips hop-by-hop fields, including those named in Connection (RFC 9110 §7.6.1)', async () => {
    const { intermediary } = await setup();
    const peer = await connected(intermediary);
    const res = await peer.session.fetch(`${ORIGIN}/hop-by-hop`);
    expect(await res.text()).toBe('ok');
    expect(res.headers.get('x-public')).toBe('yes');
    expect(res.headers.get('x-private')).toBeNull();
    expect(res.headers.get('keep-alive')).toBeNull();
    expect(res.headers.get('connection')).toBeNull();
  });

  it('answers 502 with a plain explanation when the upstream refuses the connection', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadUrl = `http://127.0.0.1:${(closed.address() as { port: number }).port}`;
    await new Promise<void>((r) => closed.close(() => r()));
    const { intermediary } = await setup({ upstream: deadUrl });
    const peer = await connected(intermediary);
    const res = await peer.session.fetch(`${ORIGIN}/`);
    expect(res.status).toBe(502);
    expect(res.headers.get('proxy-status')).toContain('connection_refused');
    expect(await res.text()).toContain(`the upstream at ${deadUrl} refused the connection`);
  });
});

describe('--handler modules', () => {
  it('serves requests from a module whose default export has fetch(request)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rhttp-agent-handler-'));
    const file = join(dir, 'app.mjs');
    writeFileSync(file, `export default { async fetch(request) { const u = new URL(request.url); return new Response('hello from ' + u.host + u.pathname, { headers: { 'x-handler': 'module' } }); } };\n`);
    const handler = await loadHandlerModule('./app.mjs', dir);
    const { intermediary } = await setup({ handler });
    const peer = await connected(intermediary);
    const res = await peer.session.fetch(`${ORIGIN}/hi`);
    expect(res.headers.get('x-handler')).toBe('module');
    expect(await res.text()).toBe('hello from app.example.com/hi');
  });

  it('accepts a default-exported function and explains a module without a handler', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rhttp-agent-handler-'));
    writeFileSync(join(dir, 'fn.mjs'), `export default (request) => new Response(request.method);\n`);
    writeFileSync(join(dir, 'none.mjs'), `export const x = 1;\n`);
    const fn = await loadHandlerModule(join(dir, 'fn.mjs'), '/');
    expect(await (await fn(new Request('https://a.example/', { method: 'PUT' }))).text()).toBe('PUT');
    await expect(loadHandlerModule('./none.mjs', dir)).rejects.toThrow(/exports no fetch handler/);
    await expect(loadHandlerModule('./missing.mjs', dir)).rejects.toThrow(/cannot load the handler module \.\/missing\.mjs: no such file/);
  });
});

describe('reconnecting', () => {
  it('reconnects after the intermediary closes the connection', async () => {
    const { intermediary, events } = await setup();
    const first = await connected(intermediary);
    expect((await first.session.fetch(`${ORIGIN}/echo-request`)).status).toBe(200);
    first.socket.destroy();
    expect((await events.waitFor('disconnected')).reason).toMatch(/closed|reset/);
    await events.waitFor('reconnecting');
    const second = await connected(intermediary);
    expect(second.session.peerOrigins).toEqual([ORIGIN, WILDCARD]);
    const res = await second.session.fetch(`${ORIGIN}/echo-request`);
    expect(res.status).toBe(200);
  });

  it('says "connected" only once the intermediary admitted it: never before a refusal, unconfirmed when no admission PING comes', async () => {
    // An intermediary that refuses after its checks: "refused", and no "connected" before it.
    const refusing = await setup({}, { admit: false });
    const peer = await refusing.intermediary.next();
    await peer.origins;
    peer.session.goaway(ErrorCode.INADEQUATE_SECURITY, 'origin https://app.example.com is not covered by the certificate');
    await refusing.events.waitFor('refused');
    expect(refusing.events.count('connected')).toBe(0);
    // An intermediary that admits: "connected" without the unconfirmed mark, before any request.
    const admitting = await setup();
    const event = await admitting.events.waitFor('connected');
    expect(event.unconfirmed).toBeUndefined();
  });

  it('RFC 9113 §6.8: a GOAWAY with an error and debug data is reported as a refusal and backed off long', async () => {
    const { intermediary, events, agent } = await setup();
    const peer = await connected(intermediary);
    peer.session.goaway(ErrorCode.PROTOCOL_ERROR, 'origin https://app.example.com is not covered by the certificate');
    const refused = await events.waitFor('refused');
    expect(refused.reason).toBe('origin https://app.example.com is not covered by the certificate');
    expect(refused.errorCode).toBe('PROTOCOL_ERROR');
    const next = await events.waitFor('reconnecting');
    expect(next.delayMs).toBe(60_000);
    expect(agent.status().connections[0]).toMatchObject({ state: 'waiting', lastError: refused.reason });
  });

  it('closes a connection whose PINGs go unanswered (RFC 9113 §6.7) and reconnects', async () => {
    const { intermediary, events } = await setup({ pingIntervalMs: 20, pingTimeoutMs: 50 });
    const first = await connected(intermediary);
    // The intermediary stops reading: no PING ACK will come.
    first.socket.pause();
    const timeout = await events.waitFor('ping-timeout');
    expect(timeout.connection).toBe(1);
    const second = await connected(intermediary);
    expect(second.session.peerOrigins).toEqual([ORIGIN, WILDCARD]);
  });
});

describe('connection rotation (draft: origins change addresses regularly)', () => {
  it('replaces a connection after its maximum age, letting its in-flight request finish', async () => {
    const entered = deferred();
    const release = deferred();
    const { intermediary, events } = await setup({
      maxConnectionAgeMs: 100,
      handler: async (request: Request) => {
        if (new URL(request.url).pathname === '/slow') {
          entered.resolve();
          await release.promise;
        }
        return new Response('done');
      },
    });
    const first = await connected(intermediary);
    const pending = first.session.fetch(`${ORIGIN}/slow`);
    await entered.promise;
    expect((await first.goaway).errorCode).toBe(ErrorCode.NO_ERROR);
    expect((await events.waitFor('rotating')).connection).toBe(1);
    // The replacement comes up while the old connection still drains.
    const second = await connected(intermediary);
    release.resolve();
    expect(await (await pending).text()).toBe('done');
    expect(await (await second.session.fetch(`${ORIGIN}/fast`)).text()).toBe('done');
    expect(events.count('reconnecting')).toBe(0);
  });
});

describe('refusing bad peers', () => {
  it('closes the connection when the intermediary selects no ALPN (draft §2: ALPN must be h2-reverse)', async () => {
    const { events, intermediary } = await setup({}, { alpn: null });
    const refused = await events.waitFor('refused');
    expect(refused.reason).toMatch(/the intermediary did not agree to h2-reverse \(ALPN: none\)/);
    expect(intermediary.accepted).toBeLessThanOrEqual(1);
  });

  it('reports an intermediary that offers only h2 as an ALPN refusal', async () => {
    const { events } = await setup({}, { alpn: ['h2'] });
    const refused = await events.waitFor('refused');
    expect(refused.reason).toMatch(/did not agree to h2-reverse/);
  });

  it('explains an intermediary certificate that --ca does not trust, and backs off for minutes (it fails the same way until --ca changes)', async () => {
    const { events } = await setup({ ca: certs.otherCa.certPem });
    const refused = await events.waitFor('refused');
    expect(refused.reason).toMatch(/we do not trust the intermediary's certificate .*--ca/);
    expect((await events.waitFor('reconnecting')).delayMs).toBe(60_000);
    expect(events.count('connect-failed')).toBe(0);
  });

  it('explains an intermediary that rejects our certificate in the TLS handshake', async () => {
    const { events } = await setup({}, { rejectClientsNotSignedBy: certs.otherCa.certPem });
    // An alert is a refusal (backed off long); a bare close right after the handshake cannot be told from a network failure.
    const failed = await Promise.race([events.waitFor('refused'), events.waitFor('connect-failed')]);
    // TLS 1.3: the rejection comes after our handshake finished, as an alert or a bare close.
    expect(failed.reason).toMatch(/(rejected our certificate during the TLS handshake|it probably does not accept our certificate).*check --cert\/--key/);
  });

  it('explains a connection refused at TCP level', async () => {
    const { events } = await setup({ intermediary: 'tls://127.0.0.1:1' });
    const failed = await events.waitFor('connect-failed');
    expect(failed.reason).toMatch(/nothing accepts connections at 127\.0\.0\.1:1/);
  });
});

describe('graceful stop (RFC 9113 §6.8 GOAWAY)', () => {
  it('sends GOAWAY, lets an in-flight slow response finish, then closes', async () => {
    const entered = deferred();
    const release = deferred();
    const { intermediary, agent, events } = await setup({
      handler: {
        async fetch() {
          entered.resolve();
          await release.promise;
          return new Response('finished after the drain began');
        },
      },
    });
    const peer = await connected(intermediary);
    const pending = peer.session.fetch(`${ORIGIN}/slow`);
    await entered.promise;
    let stopped = false;
    const stopping = agent.stop({ graceful: true }).then(() => (stopped = true));
    const goaway = await peer.goaway;
    expect(goaway.errorCode).toBe(ErrorCode.NO_ERROR);
    expect((await events.waitFor('draining')).inFlight).toBe(1);
    expect(stopped).toBe(false);
    release.resolve();
    const res = await pending;
    expect(await res.text()).toBe('finished after the drain began');
    await stopping;
    expect(stopped).toBe(true);
    expect(agent.status().state).toBe('stopped');
    expect(events.events.at(-1)).toEqual({ type: 'stopped' });
  });
});

describe('the intermediary cancelling streams (browsers leaving, its budgets)', () => {
  it('CVE-2023-44487: resets from the intermediary past the per-client Rapid Reset bound do not cost the reversed connection', async () => {
    const { intermediary } = await setup({
      handler: {
        fetch(request) {
          if (new URL(request.url).pathname === '/ok') return new Response('still serving');
          // Held until the intermediary cancels it, as a slow app would be.
          return new Promise<Response>((_, reject) => request.signal.addEventListener('abort', () => reject(new Error('cancelled'))));
        },
      },
    });
    const peer = await connected(intermediary);
    const resets = 3 * DEFAULT_LIMITS.maxResetsPerWindow;
    for (let i = 0; i < resets; i++) {
      const exchange = peer.session.open({ method: 'GET', url: new URL(`${ORIGIN}/cancelled-${i}`) });
      exchange.cancel();
    }
    // Well within one reset window (1 s), three times the bound one browser gets; then the connection still serves.
    const goaway = await Promise.race([peer.goaway, peer.session.ping().then(() => undefined)]);
    expect(goaway).toBeUndefined();
    expect(peer.session.isClosed).toBe(false);
    expect(await (await peer.session.fetch(`${ORIGIN}/ok`)).text()).toBe('still serving');
  });
});
