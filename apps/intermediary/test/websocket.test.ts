/**
 * Browser WebSockets end to end: a `ws` client → the intermediary (HTTP/1.1 upgrade, or RFC 8441
 * extended CONNECT over h2c) → extended CONNECT on the reversed session → a real agent → HTTP/1.1
 * upgrade → a real `ws` server. Frames are end to end; close codes and subprotocols survive.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { WebSocketFrameDecoder, WebSocketOpcode, closeFramePayload, encodeWebSocketFrame, type WebSocketEvent } from '@rhttp/core';
import { Agent } from '../../../packages/agent/src/agent.js';
import { Intermediary, type IntermediaryAddresses } from '../src/intermediary.js';
import { makePki, until, type Pki, intermediaryOptions } from './harness.js';

const ORIGIN = 'https://app.example.com';
let pki: Pki;
let intermediary: Intermediary;
let addresses: IntermediaryAddresses;
let upstream: WebSocketServer;
let agent: Agent;
/** Close codes and reasons the upstream saw, by request path. */
const upstreamCloses = new Map<string, Promise<[number, string]>>();
const upstreamHeaders = new Map<string, Record<string, string | string[] | undefined>>();

beforeAll(async () => {
  pki = await makePki();
  // The upstream: echo, plus behaviours chosen by path; permessage-deflate on to check extension negotiation end to end.
  upstream = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: { threshold: 1024 },
    handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false),
    verifyClient: (info, done) => (info.req.url === '/forbidden' ? done(false, 403, 'no entry') : done(true)),
  });
  await new Promise((r) => upstream.once('listening', r));
  upstream.on('connection', (ws, req) => {
    const path = req.url ?? '';
    upstreamHeaders.set(path, req.headers);
    upstreamCloses.set(path, new Promise((resolve) => ws.on('close', (code, reason) => resolve([code, reason.toString()]))));
    if (path.startsWith('/greet')) ws.send('welcome');
    ws.on('message', (data: RawData, isBinary) => {
      if (!isBinary && data.toString() === 'close me 4002') ws.close(4002, 'server says bye');
      else ws.send(data, { binary: isBinary });
    });
  });
  intermediary = new Intermediary(intermediaryOptions(pki));
  addresses = await intermediary.start();
  agent = new Agent({
    intermediary: `tls://127.0.0.1:${addresses.agents.port}`,
    origins: [ORIGIN],
    cert: pki.origin.chainPem,
    key: pki.origin.keyPem,
    ca: pki.ca.certPem,
    connections: 1,
    upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
  });
  agent.start();
  await until(() => intermediary.servedOrigins().includes(ORIGIN), 'the agent to be served');
}, 30_000);

afterAll(async () => {
  await agent?.stop({ graceful: false });
  await intermediary?.stop();
  for (const client of upstream?.clients ?? []) client.terminate();
  await new Promise((r) => upstream?.close(r));
});

/** A `ws` client with Host app.example.com: on the cleartext listener (routed to the https origin) or the TLS one. */
function open(path: string, options: { protocols?: string[]; tls?: boolean } = {}): WebSocket {
  const port = options.tls ? addresses.https!.port : addresses.http!.port;
  const url = `${options.tls ? 'wss' : 'ws'}://127.0.0.1:${port}${path}`;
  return new WebSocket(url, options.protocols ?? [], {
    headers: { host: options.tls ? 'app.example.com' : `app.example.com:${port}` },
    ...(options.tls ? { ca: pki.ca.certPem, servername: 'localhost' } : {}),
  });
}

function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
  });
}

function closed(ws: WebSocket): Promise<[number, string]> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve([code, reason.toString()])));
}

/** Resolves with the next `n` messages. */
function messages(ws: WebSocket, n: number): Promise<Array<{ data: Buffer; binary: boolean }>> {
  return new Promise((resolve) => {
    const got: Array<{ data: Buffer; binary: boolean }> = [];
    const on = (data: RawData, binary: boolean) => {
      got.push({ data: Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]), binary });
      if (got.length === n) {
        ws.off('message', on);
        resolve(got);
      }
    };
    ws.on('message', on);
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('RFC 6455 upgrade at the intermediary → RFC 8441 extended CONNECT → agent → upstream', () => {
  it('5,000 small text messages come back in order; subprotocol and permessage-deflate negotiated end to end', async () => {
    const ws = open('/echo', { protocols: ['chat', 'other'] });
    await opened(ws);
    expect(ws.protocol).toBe('chat');
    expect(ws.extensions).toContain('permessage-deflate');
    const count = 5_000;
    const pending = messages(ws, count);
    for (let i = 0; i < count; i++) ws.send(`message ${i}`);
    const got = await pending;
    expect(got.map((m) => m.data.toString())).toEqual(Array.from({ length: count }, (_, i) => `message ${i}`));
    expect(got.every((m) => !m.binary)).toBe(true);
    // RFC 8441 §5: the key is not carried; the agent made its own, the browser's protocol offer went through.
    const seen = upstreamHeaders.get('/echo')!;
    expect(seen['sec-websocket-protocol']).toBe('chat,other');
    expect(seen.host).toBe('app.example.com');
    expect(seen.via).toMatch(/1\.1 rhttp/);
    ws.close(1000);
    await closed(ws);
  });

  it('1–4 MiB binary messages arrive byte-identical both ways', async () => {
    const ws = open('/big');
    await opened(ws);
    for (const size of [1 << 20, (2 << 20) + 17, 4 << 20]) {
      const payload = randomBytes(size);
      const pending = messages(ws, 1);
      ws.send(payload, { binary: true });
      const [echo] = await pending;
      expect(echo.binary).toBe(true);
      expect(echo.data.length).toBe(size);
      expect(sha(echo.data)).toBe(sha(payload));
    }
    ws.close(1000);
    await closed(ws);
  });

  it('server-initiated messages reach the client; the client closing with 4001 reaches the upstream as 4001', async () => {
    const ws = open('/greet');
    const first = messages(ws, 1);
    await opened(ws);
    expect((await first)[0].data.toString()).toBe('welcome');
    ws.close(4001, 'client says bye');
    expect(await closed(ws)).toEqual([4001, 'client says bye']);
    expect(await upstreamCloses.get('/greet')).toEqual([4001, 'client says bye']);
  });

  it('the upstream closing with 4002 reaches the client as 4002', async () => {
    const ws = open('/close');
    await opened(ws);
    ws.send('close me 4002');
    expect(await closed(ws)).toEqual([4002, 'server says bye']);
    expect(await upstreamCloses.get('/close')).toEqual([4002, 'server says bye']);
  });

  it('over HTTPS (ALPN http/1.1) too', async () => {
    const ws = open('/tls', { tls: true });
    await opened(ws);
    const pending = messages(ws, 1);
    ws.send('over tls');
    expect((await pending)[0].data.toString()).toBe('over tls');
    ws.close(4003);
    expect((await closed(ws))[0]).toBe(4003);
  });

  it('the upstream refusing the upgrade (403) is passed back as 403', async () => {
    const ws = open('/forbidden');
    const status = await new Promise<number>((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => reject(new Error('opened')));
      ws.once('error', () => {});
    });
    expect(status).toBe(403);
  });

  it('no session for the host → 503 with Proxy-Status before any upgrade', async () => {
    const port = addresses.http!.port;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { host: `nobody.example.net:${port}` } });
    const res = await new Promise<{ status: number; proxyStatus: unknown }>((resolve, reject) => {
      ws.once('unexpected-response', (_req, r) => resolve({ status: r.statusCode ?? 0, proxyStatus: r.headers['proxy-status'] }));
      ws.once('open', () => reject(new Error('opened')));
      ws.once('error', () => {});
    });
    expect(res.status).toBe(503);
    expect(res.proxyStatus).toMatch(/destination_unavailable/);
  });

  it('a handshake without Sec-WebSocket-Key is refused with 400 (RFC 6455 §4.1)', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: addresses.http!.port, path: '/echo', headers: { host: 'app.example.com', connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13' }, agent: false });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(400);
  });
});

describe('RFC 8441 extended CONNECT from an HTTP/2 client (h2c)', () => {
  /** Opens `:protocol websocket` on node:http2 and speaks RFC 6455 framing on the stream with our framer (client side: masked). */
  async function h2WebSocket(client: ClientHttp2Session, path: string) {
    await new Promise<void>((resolve) => (client.remoteSettings.enableConnectProtocol ? resolve() : client.once('remoteSettings', () => resolve())));
    expect(client.remoteSettings.enableConnectProtocol).toBe(true);
    const stream = client.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':path': path, ':authority': 'app.example.com', 'sec-websocket-version': '13' }, { endStream: false });
    const decoder = new WebSocketFrameDecoder({ role: 'client' });
    const events: WebSocketEvent[] = [];
    const waiters: Array<() => void> = [];
    stream.on('data', (chunk: Buffer) => {
      events.push(...decoder.push(chunk));
      for (const w of waiters.splice(0)) w();
    });
    const status = await new Promise<number>((resolve, reject) => {
      stream.once('response', (headers) => resolve(Number(headers[':status'])));
      stream.once('error', reject);
    });
    const next = async (): Promise<WebSocketEvent> => {
      while (events.length === 0) await new Promise<void>((r) => waiters.push(r));
      return events.shift()!;
    };
    const send = (opcode: number, payload: Uint8Array) => stream.write(encodeWebSocketFrame({ opcode, payload }, { mask: true }));
    return { stream, status, next, send };
  }

  it('opens with 200, echoes text and binary, and carries close codes both ways', async () => {
    const client = http2Connect(`http://127.0.0.1:${addresses.http!.port}`);
    client.on('error', () => {});
    try {
      const a = await h2WebSocket(client, '/h2-echo');
      expect(a.status).toBe(200);
      a.send(WebSocketOpcode.TEXT, new TextEncoder().encode('over h2'));
      expect(await a.next()).toEqual({ type: 'message', data: 'over h2' });
      const big = randomBytes(1 << 20);
      a.send(WebSocketOpcode.BINARY, big);
      const echo = await a.next();
      expect(echo.type === 'message' && sha(Buffer.from(echo.data as Uint8Array))).toBe(sha(big));
      a.send(WebSocketOpcode.CLOSE, closeFramePayload(4001, 'h2 client bye'));
      expect(await a.next()).toEqual({ type: 'close', code: 4001, reason: 'h2 client bye' });
      expect(await upstreamCloses.get('/h2-echo')).toEqual([4001, 'h2 client bye']);

      const b = await h2WebSocket(client, '/h2-close');
      b.send(WebSocketOpcode.TEXT, new TextEncoder().encode('close me 4002'));
      expect(await b.next()).toEqual({ type: 'close', code: 4002, reason: 'server says bye' });
      b.send(WebSocketOpcode.CLOSE, closeFramePayload(4002, 'server says bye'));
      expect(await upstreamCloses.get('/h2-close')).toEqual([4002, 'server says bye']);
      // The upstream closes TCP after the handshake: the stream ends cleanly (END_STREAM), no reset.
      await new Promise<void>((resolve) => (b.stream.readableEnded ? resolve() : b.stream.once('end', () => resolve())));
      b.stream.end();
    } finally {
      client.close();
    }
  });
});
