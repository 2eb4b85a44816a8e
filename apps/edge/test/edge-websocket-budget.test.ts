/**
 * A browser WebSocket that sends faster than its origin reads (issue 15, item 3): workerd gives
 * the object no backpressure on the browser's messages, so the object bounds what it holds for
 * the agent (TO_AGENT_BUDGET_BYTES) and closes the browser with 1013 (Try Again Later) beyond it,
 * instead of growing without limit. The upstream completes the RFC 6455 handshake and then never
 * reads its socket.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Agent } from '../../../packages/agent/src/agent.js';
import { TO_AGENT_BUDGET_BYTES } from '../src/websocket-relay.js';
import { startEdgeWithAgent, type LocalEdge } from './harness.js';

const HOST = 'ws-budget.example.com';
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

let upstream: Server;
const upstreamSockets: Socket[] = [];
let edge: LocalEdge;
let agent: Agent;

beforeAll(async () => {
  // Answers the handshake, then stops reading: whatever the relay sends stays in the pipes.
  upstream = createServer((socket) => {
    upstreamSockets.push(socket);
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      const key = /sec-websocket-key:\s*(\S+)/i.exec(head.slice(0, end))?.[1] ?? '';
      const accept = createHash('sha1').update(key + GUID).digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`);
    };
    socket.on('data', onData);
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  ({ edge, agent } = await startEdgeWithAgent(HOST, `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`));
}, 120_000);

afterAll(async () => {
  await agent?.stop({ graceful: false });
  await edge?.close();
  for (const s of upstreamSockets) s.destroy();
  await new Promise((r) => upstream?.close(r));
});

describe('edge: a browser WebSocket whose origin does not read', () => {
  it('is closed with 1013 once more than the budget waits for the origin, and the edge keeps serving', async () => {
    const ws = new WebSocket(`${edge.wsUrl}/flood`, { headers: { host: HOST } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const closed = new Promise<[number, string]>((resolve) => ws.once('close', (code, reason) => resolve([code, reason.toString()])));
    const message = Buffer.alloc(64 * 1024, 0x61);
    // Up to four times the budget, plus what the windows and socket buffers on the way can absorb;
    // sent with the ws client's own backpressure so the test process stays bounded too.
    const limit = 4 * TO_AGENT_BUDGET_BYTES + 32 * 1024 * 1024;
    let sent = 0;
    let open = true;
    void closed.then(() => (open = false));
    while (open && sent < limit) {
      await new Promise<void>((resolve) => ws.send(message, () => resolve()));
      sent += message.length;
    }
    // The runtime may take the browser's messages in faster than the object sees them, so the
    // close can come after the last send. Our own close goes behind every message: an object
    // that held them all would answer it with 1000; the bounded one closed with 1013 before.
    if (open) ws.close(1000, 'done sending');
    const [code, reason] = await closed;
    expect(code).toBe(1013);
    expect(reason).toMatch(/the origin is not reading/);
    // Another browser is still served by the same object and agent.
    const status = await fetch(`${edge.url}/.rhttp/status`, { headers: { host: HOST } });
    expect(status.status).toBe(200);
  }, 120_000);
});
