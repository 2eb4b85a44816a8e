/**
 * Browser WebSockets through the edge in local workerd: a `ws` client → the Worker → the broker
 * object, which terminates the WebSocket and relays it as RFC 6455 frames over an RFC 8441
 * extended CONNECT → a real agent (WebSocket carrier) → HTTP/1.1 upgrade → a real `ws` server.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { Agent } from '../../../packages/agent/src/agent.js';
import { createDevCa, issueCertificate } from '../../../packages/agent/src/certs.js';
import { startLocalEdge, waitForSessions, type LocalEdge } from './harness.js';

const HOST = 'ws.example.com';
let edge: LocalEdge;
let upstream: WebSocketServer;
let agent: Agent;
const upstreamCloses = new Map<string, Promise<[number, string]>>();
const upstreamHeaders = new Map<string, Record<string, string | string[] | undefined>>();

beforeAll(async () => {
  const ca = await createDevCa();
  const origin = await issueCertificate(ca, { dnsNames: [HOST] });
  upstream = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true, handleProtocols: (p) => (p.has('chat') ? 'chat' : false) });
  await new Promise((r) => upstream.once('listening', r));
  upstream.on('connection', (ws, req) => {
    const path = req.url ?? '';
    upstreamHeaders.set(path, req.headers);
    upstreamCloses.set(path, new Promise((resolve) => ws.on('close', (code, reason) => resolve([code, reason.toString()]))));
    if (path === '/greet') {
      ws.send('welcome');
      ws.ping('are you there');
    }
    ws.on('message', (data: RawData, isBinary) => {
      if (!isBinary && data.toString() === 'close me 4002') ws.close(4002, 'server says bye');
      else ws.send(data, { binary: isBinary });
    });
  });
  edge = await startLocalEdge(ca.certPem);
  agent = new Agent({
    intermediary: edge.wsUrl,
    origins: [`https://${HOST}`],
    cert: origin.chainPem,
    key: origin.keyPem,
    connections: 1,
    upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
  });
  agent.start();
  await waitForSessions(edge, HOST);
}, 120_000);

afterAll(async () => {
  await agent?.stop({ graceful: false });
  await edge?.close();
  for (const c of upstream?.clients ?? []) c.terminate();
  await new Promise((r) => upstream?.close(r));
});

function open(path: string, protocols: string[] = []): WebSocket {
  return new WebSocket(`${edge.wsUrl}${path}`, protocols, { headers: { host: HOST } });
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

function messages(ws: WebSocket, n: number): Promise<Array<{ data: Buffer; binary: boolean }>> {
  return new Promise((resolve) => {
    const got: Array<{ data: Buffer; binary: boolean }> = [];
    const on = (data: RawData, binary: boolean) => {
      got.push({ data: data as Buffer, binary });
      if (got.length === n) {
        ws.off('message', on);
        resolve(got);
      }
    };
    ws.on('message', on);
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('edge: browser WebSocket → Durable Object (RFC 6455 framing) → RFC 8441 extended CONNECT → agent → upstream', () => {
  it('echoes 2,000 text messages in order, carries the subprotocol, and negotiates no extension upstream', async () => {
    const ws = open('/echo', ['chat']);
    await opened(ws);
    expect(ws.protocol).toBe('chat');
    const count = 2_000;
    const pending = messages(ws, count);
    for (let i = 0; i < count; i++) ws.send(`message ${i}`);
    const got = await pending;
    expect(got.map((m) => m.data.toString())).toEqual(Array.from({ length: count }, (_, i) => `message ${i}`));
    expect(got.every((m) => !m.binary)).toBe(true);
    // The object reads the frames, so it offers no permessage-deflate to the upstream.
    expect(upstreamHeaders.get('/echo')!['sec-websocket-extensions']).toBeUndefined();
    ws.close(1000);
    await closed(ws);
  });

  it('binary messages from 1 octet to 4 MiB arrive byte-identical', async () => {
    const ws = open('/big');
    await opened(ws);
    for (const size of [1, 70_000, 1 << 20, 4 << 20]) {
      const payload = randomBytes(size);
      const pending = messages(ws, 1);
      ws.send(payload, { binary: true });
      const [echo] = await pending;
      expect(echo.binary).toBe(true);
      expect(sha(echo.data)).toBe(sha(payload));
    }
    ws.close(1000);
    await closed(ws);
  });

  it('server-initiated message and ping; the client closing with 4001 reaches the upstream as 4001', async () => {
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

  it('no agent for the host → 503 before any upgrade', async () => {
    const ws = new WebSocket(`${edge.wsUrl}/`, { headers: { host: 'nobody.example.org' } });
    const status = await new Promise<number>((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => reject(new Error('opened')));
      ws.once('error', () => {});
    });
    expect(status).toBe(503);
  });
});
