/**
 * Browser WebSockets with sharded brokers: with BROKER_SHARDS=2 and one agent connection, half of
 * the browsers' upgrades meet the empty shard first, which passes the upgrade on to the shard
 * with the session; every browser WebSocket must still open and echo.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { Agent } from '../../../packages/agent/src/agent.js';
import { browser, startEdgeWithAgent, type LocalEdge } from './harness.js';

const HOST = 'ws.example.com';
const BROWSERS = 6;

let edge: LocalEdge;
let agent: Agent;
let upstream: Server;

beforeAll(async () => {
  upstream = createServer((_req, res) => res.end('plain'));
  const wss = new WebSocketServer({ server: upstream });
  wss.on('connection', (socket) => socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  ({ edge, agent } = await startEdgeWithAgent(HOST, `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, { bindings: { BROKER_SHARDS: '2' }, wait: false }));
  for (;;) {
    const status = JSON.parse(await (await browser(edge, HOST, '/.rhttp/status')).text()) as { sessions: unknown[] };
    if (status.sessions.length === 1) break;
    await new Promise((r) => setTimeout(r, 20));
  }
}, 120_000);

afterAll(async () => {
  await agent?.stop({ graceful: false });
  await edge?.close();
  upstream?.close();
});

it(`${BROWSERS} browser WebSockets open and echo although one of the two shards has no session`, async () => {
  const echoes = await Promise.all(
    [...Array(BROWSERS)].map(
      (_, i) =>
        new Promise<string>((resolve, reject) => {
          const socket = new WebSocket(`${edge.wsUrl}/echo`, { headers: { host: HOST } });
          socket.on('open', () => socket.send(`hello ${i}`));
          socket.on('message', (data) => {
            resolve(data.toString());
            socket.close(1000);
          });
          socket.on('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
          socket.on('error', reject);
        }),
    ),
  );
  expect(echoes).toEqual([...Array(BROWSERS)].map((_, i) => `hello ${i}`));
});
