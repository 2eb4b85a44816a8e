/**
 * HTTP/3 for browsers (issue 13 item 4): a QUIC connection the QUIC listener accepted with ALPN h3
 * runs @rhttp/core's HTTP/3 in the server role, each request served as on the https listener's
 * HTTP/2 (the same answer, client budget, counters; Via says 3), and is drained with GOAWAY at
 * stop. On Node there is no QUIC: the connection here is core's in-memory QUIC pair, handed to
 * `onQuicBrowser` as the listener would (the listener itself runs under Deno in test/e2e). Also
 * the Alt-Svc rule (alt-svc.ts): h3 on the QUIC port for https origins only.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { connectQuic, encodeWebSocketFrame, H3ErrorCode, WebSocketFrameDecoder, type Http3Session, type WebSocketEvent } from '@rhttp/core';
import type { Agent } from '../../../packages/agent/src/agent.js';
import { quicPair } from '../../../packages/core/test/support/quic-pair.js';
import { ALT_SVC_MAX_AGE_S, altSvcValue, setAltSvc } from '../src/alt-svc.js';
import { quicClientAddress } from '../src/browser-listeners.js';
import { HELP } from '../src/cli-args.js';
import { Intermediary } from '../src/intermediary.js';
import { connectAgent, intermediaryOptions, makePki, startAgent, until, type Pki, type TestAgent } from './harness.js';

const ORIGIN = 'https://app.example.com';

let pki: Pki;
beforeAll(async () => {
  pki = await makePki();
});

let intermediary: Intermediary | undefined;
let agent: TestAgent | undefined;
afterEach(async () => {
  agent?.socket.destroy();
  await intermediary?.stop();
  intermediary = agent = undefined;
});

/** An intermediary with one agent for ORIGIN whose handler answers `/hold` only when `release` is called. */
async function setUp(extra: Parameters<typeof intermediaryOptions>[1] = {}) {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let holding = 0;
  const seen: { path: string; via: string | null; proto: string | null; forwarded: string | null }[] = [];
  intermediary = new Intermediary(intermediaryOptions(pki, { http: undefined, ...extra }));
  const addresses = await intermediary.start();
  agent = await connectAgent({
    port: addresses.agents.port,
    caPem: pki.ca.certPem,
    cert: pki.origin,
    origins: [ORIGIN],
    handler: async (request) => {
      const url = new URL(request.url);
      seen.push({ path: url.pathname, via: request.headers.get('via'), proto: request.headers.get('x-forwarded-proto'), forwarded: request.headers.get('x-forwarded-for') });
      if (url.pathname === '/hold') {
        holding++;
        await held;
        return new Response('released');
      }
      if (url.pathname === '/bytes') return new Response(new Uint8Array(Number(url.searchParams.get('n'))).map((_, i) => i % 251));
      return new Response(`${request.method} ${url.protocol} [${await request.text()}]`, { headers: { 'alt-svc': 'h3=":9999"' } });
    },
  });
  await until(() => intermediary!.servedOrigins().includes(ORIGIN), 'the origin to be served');
  return { seen, release, holding: () => holding };
}

/** A browser's HTTP/3 session through the intermediary's `onQuicBrowser`, from `from`. */
async function browser(from = '192.0.2.7:50123'): Promise<{ session: Http3Session; goaways: number[] }> {
  const pair = quicPair({ streamWindow: 256 * 1024 });
  intermediary!.onQuicBrowser(pair.server, from);
  const goaways: number[] = [];
  const session = connectQuic(pair.client, { role: 'client', onGoaway: (id) => goaways.push(id) });
  await session.ready;
  return { session, goaways };
}

describe('HTTP/3 browsers (onQuicBrowser)', () => {
  it('serves GET and POST with the https scheme through the agent; Via says HTTP/3; the client address is the QUIC peer; counted like any browser request', async () => {
    const { seen } = await setUp();
    const { session } = await browser('192.0.2.7:50123');
    const get = await session.fetch(`${ORIGIN}/hello`);
    expect(get.status).toBe(200);
    expect(await get.text()).toBe('GET https: []');
    const post = await session.fetch(`${ORIGIN}/echo`, { method: 'POST', body: 'x'.repeat(300_000) });
    expect(await post.text()).toBe(`POST https: [${'x'.repeat(300_000)}]`);
    const bytes = new Uint8Array(await (await session.fetch(`${ORIGIN}/bytes?n=3000000`)).arrayBuffer());
    expect(bytes.length).toBe(3_000_000);
    expect(bytes.every((b, i) => b === i % 251)).toBe(true);
    expect(seen[0]).toEqual({ path: '/hello', via: expect.stringMatching(/^3 /), proto: 'https', forwarded: '192.0.2.7' });
    const status = intermediary!.status();
    expect(status.counters.browserRequests).toBe(3);
    expect(status.counters.responses['2xx']).toBe(3);
    expect(status.counters.bodyBytes.request).toBe(300_000);
    expect(status.counters.bodyBytes.response).toBeGreaterThanOrEqual(3_000_000);
    // RFC 9412: the served origin the certificate covers, in an ORIGIN frame after SETTINGS.
    await until(() => session.peerOrigins.length > 0, 'the ORIGIN frame');
    expect(session.peerOrigins).toEqual([ORIGIN]);
    session.close();
  });

  it('the status page is the same, and its loopback-only rule reads the QUIC peer address', async () => {
    await setUp();
    const local = await browser('127.0.0.1:4000');
    const page = await local.session.fetch(`${ORIGIN}/.rhttp/status?format=json`);
    expect(page.status).toBe(200);
    expect((await page.json()).origins).toEqual([ORIGIN]);
    const remote = await browser('192.0.2.7:4000');
    const denied = await remote.session.fetch(`${ORIGIN}/.rhttp/status?format=json`);
    expect(denied.status).toBe(403);
    await denied.text();
    local.session.close();
    remote.session.close();
  });

  it("without --quic nothing is advertised: the origin's own Alt-Svc passes as on the other listeners", async () => {
    await setUp();
    const { session } = await browser();
    const response = await session.fetch(`${ORIGIN}/hello`);
    expect(response.headers.get('alt-svc')).toBe('h3=":9999"');
    await response.text();
    session.close();
  });

  it('shares the per-client budget with the TCP listeners: a second request from the same address over its cap gets 503; another address is served', async () => {
    const { release, holding } = await setUp({ maxExchangesPerClient: 1 });
    const a = await browser('198.51.100.1:1000');
    const held = a.session.fetch(`${ORIGIN}/hold`);
    await until(() => holding() === 1, 'the first request to reach the agent');
    // Another connection, same address (another port): over the budget.
    const b = await browser('198.51.100.1:2000');
    const refused = await b.session.fetch(`${ORIGIN}/hello`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('proxy-status')).toMatch(/error=/);
    await refused.text();
    const c = await browser('[2001:db8::1]:3000');
    expect(await (await c.session.fetch(`${ORIGIN}/hello`)).text()).toBe('GET https: []');
    release();
    expect(await (await held).text()).toBe('released');
    expect(intermediary!.status().counters.clientBudgetRefusals).toBe(1);
    for (const s of [a, b, c]) s.session.close();
  });

  it('bounds one connection as the h2 listener does: 100 requests at once, the next refused with H3_REQUEST_REJECTED (retryable) and never forwarded', async () => {
    const { release, holding, seen } = await setUp();
    const pair = quicPair();
    intermediary!.onQuicBrowser(pair.server, '192.0.2.10:1');
    // A client that would open more than the listener allows.
    const session = connectQuic(pair.client, { role: 'client', limits: { maxConcurrentStreams: 101 } });
    await session.ready;
    const held = Array.from({ length: 100 }, () => session.fetch(`${ORIGIN}/hold`));
    await until(() => holding() === 100, '100 requests to reach the agent');
    const refused = await session.fetch(`${ORIGIN}/over`).then(
      () => undefined,
      (error: { errorCode?: number; retryable?: boolean }) => error,
    );
    expect(refused).toMatchObject({ errorCode: H3ErrorCode.H3_REQUEST_REJECTED, retryable: true });
    expect(seen.some((q) => q.path === '/over')).toBe(false);
    release();
    const texts = await Promise.all(held.map(async (r) => (await r).text()));
    expect(texts.every((t) => t === 'released')).toBe(true);
    session.close();
  });

  it('stop() sends GOAWAY to HTTP/3 browsers; the request in flight completes, then the session closes', async () => {
    const { release, holding } = await setUp();
    const { session, goaways } = await browser();
    const held = session.fetch(`${ORIGIN}/hold`);
    await until(() => holding() === 1, 'the request to reach the agent');
    const stopping = intermediary!.stop();
    await until(() => goaways.length === 1, 'GOAWAY on the browser session');
    expect(session.draining).toBe(true);
    release();
    expect(await (await held).text()).toBe('released');
    expect(await session.closed).toBeUndefined();
    await stopping;
  });

  it('a browser arriving during stop is closed at once', async () => {
    await setUp();
    const stopping = intermediary!.stop();
    const pair = quicPair();
    intermediary!.onQuicBrowser(pair.server, '192.0.2.9:1');
    expect(await pair.client.closed).toMatchObject({ reason: 'the intermediary is shutting down' });
    await stopping;
  });
});

describe('WebSocket over HTTP/3 (RFC 9220 extended CONNECT)', () => {
  let upstream: Server | undefined;
  let realAgent: Agent | undefined;
  afterEach(async () => {
    await realAgent?.stop({ graceful: false });
    upstream?.closeAllConnections();
    upstream?.close();
    realAgent = upstream = undefined;
  });

  it('a browser opens :protocol websocket on its HTTP/3 session: 200, then messages echo through the agent and a ws upstream', async () => {
    upstream = createServer();
    const wss = new WebSocketServer({ server: upstream });
    wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
    await new Promise<void>((resolve) => upstream!.listen(0, '127.0.0.1', resolve));
    intermediary = new Intermediary(intermediaryOptions(pki, { http: undefined }));
    const addresses = await intermediary.start();
    realAgent = startAgent(pki, addresses.agents.port, ORIGIN, `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
    await until(() => intermediary!.servedOrigins().includes(ORIGIN), 'the agent to be served');
    const { session } = await browser();
    expect(session.connection.peerSettings?.enableConnectProtocol).toBe(true);
    let send!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (send = c) });
    const { response } = await session.request({ method: 'CONNECT', protocol: 'websocket', url: new URL(`${ORIGIN}/chat`), headers: new Headers({ 'sec-websocket-version': '13' }), body });
    expect(response.status).toBe(200);
    const decoder = new WebSocketFrameDecoder({ role: 'client' });
    const reader = response.body!.getReader();
    const events: WebSocketEvent[] = [];
    const next = async () => {
      while (events.length === 0) {
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended');
        events.push(...decoder.push(value));
      }
      return events.shift()!;
    };
    const big = new Uint8Array(200_000).map((_, i) => i % 253);
    send.enqueue(encodeWebSocketFrame({ opcode: 0x1, payload: new TextEncoder().encode('over h3') }, { mask: true }));
    send.enqueue(encodeWebSocketFrame({ opcode: 0x2, payload: big }, { mask: true }));
    expect(await next()).toEqual({ type: 'message', data: 'over h3' });
    expect(await next()).toEqual({ type: 'message', data: big });
    send.close();
    session.close();
  });
});

describe('Alt-Svc (alt-svc.ts)', () => {
  it('--help says what --quic advertises', () => {
    expect(HELP).toContain('alt-svc: h3=":PORT"; ma=86400 (never on --http');
  });

  it('advertises h3 on the QUIC port for https origins only, and only with a QUIC listener', () => {
    expect(altSvcValue(8443, { scheme: 'https' })).toBe(`h3=":8443"; ma=${ALT_SVC_MAX_AGE_S}`);
    expect(ALT_SVC_MAX_AGE_S).toBe(86_400);
    expect(altSvcValue(8443, { scheme: 'http' })).toBeUndefined();
    expect(altSvcValue(undefined, { scheme: 'https' })).toBeUndefined();
  });

  it("replaces the origin's Alt-Svc fields and keeps the others", () => {
    const fields: [string, string][] = [['alt-svc', 'h3=":443"'], ['content-type', 'text/plain'], ['alt-svc', 'clear']];
    setAltSvc(fields, 'h3=":8443"; ma=86400');
    expect(fields).toEqual([['content-type', 'text/plain'], ['alt-svc', 'h3=":8443"; ma=86400']]);
  });

  it('the client address of a QUIC peer is its host, IPv4-mapped shown as IPv4', () => {
    expect(quicClientAddress('192.0.2.7:50123')).toBe('192.0.2.7');
    expect(quicClientAddress('[2001:db8::1]:443')).toBe('2001:db8::1');
    expect(quicClientAddress('[::ffff:192.0.2.8]:5')).toBe('192.0.2.8');
  });
});
