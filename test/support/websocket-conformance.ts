/**
 * One conformance table for browser WebSockets through a carrier, run against every
 * intermediary that relays them: the Node intermediary (HTTP/1.1 Upgrade, https, and RFC 8441
 * extended CONNECT from h2c browsers; apps/intermediary/test/websocket.test.ts) and the edge in
 * local workerd (the broker object terminates the WebSocket and relays RFC 6455 frames;
 * apps/edge/test/edge-websocket.test.ts).
 *
 * The path is: a `ws` client → the target → RFC 8441 extended CONNECT on the reversed session →
 * a real agent → HTTP/1.1 upgrade → the `ws` upstream started here. A target says what it can
 * (`https`, `h2c`) and what differs by design (`extensions`); a case it cannot run is skipped,
 * visibly, with the reason in its name.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { WebSocketFrameDecoder, WebSocketOpcode, closeFramePayload, encodeWebSocketFrame, type WebSocketEvent } from '@rhttp/core';

/** One intermediary with an agent serving `host`, whose upstream is the `ws` server of the table. */
export interface WebSocketTarget {
  /** The host the agent serves (the upstream sees it as Host). */
  host: string;
  /** Opens a browser WebSocket to `path` on `host`; `tls` only if `https` is set. */
  open(path: string, protocols?: string[], options?: { tls?: boolean }): WebSocket;
  /** Opens a browser WebSocket to a host no agent serves. */
  openUnserved(): WebSocket;
  /** Where a hand-written HTTP/1.1 handshake goes (cleartext). */
  plain: { host: string; port: number };
  /**
   * permessage-deflate: `end-to-end` when the target relays bytes (the browser's offer reaches
   * the upstream and both sides negotiate it), `terminated` when the target reads the frames
   * (it offers no extension upstream).
   */
  extensions: 'end-to-end' | 'terminated';
  /** The target also takes `wss://` (its browser listener speaks TLS; `open(…, { tls: true })`). */
  https?: boolean;
  /** The target also takes RFC 8441 extended CONNECT from HTTP/2 browsers at this cleartext URL. */
  h2c?: string;
  stop(): Promise<void>;
}

/** What the table's cases use. */
interface Context {
  target: WebSocketTarget;
  /** Close code and reason the upstream saw, by request path. */
  upstreamCloses: Map<string, Promise<[number, string]>>;
  /** Request header fields the upstream saw, by request path. */
  upstreamHeaders: Map<string, Record<string, string | string[] | undefined>>;
}

interface Case {
  name: string;
  /** A capability of the target the case needs. */
  needs?: 'https' | 'h2c';
  run(context: Context): Promise<void>;
}

/**
 * The upstream: echo, plus behaviours chosen by path (`/greet…` speaks first and pings,
 * "close me 4002" closes, `/forbidden` refuses the upgrade with 403), permessage-deflate on so
 * extension negotiation can be seen end to end, subprotocol `chat` chosen when offered.
 */
async function startUpstream(context: Omit<Context, 'target'>): Promise<WebSocketServer> {
  const upstream = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: { threshold: 1024 },
    handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false),
    verifyClient: (info, done) => (info.req.url === '/forbidden' ? done(false, 403, 'no entry') : done(true)),
  });
  await new Promise((r) => upstream.once('listening', r));
  upstream.on('connection', (ws, req) => {
    const path = req.url ?? '';
    context.upstreamHeaders.set(path, req.headers);
    context.upstreamCloses.set(path, new Promise((resolve) => ws.on('close', (code, reason) => resolve([code, reason.toString()]))));
    if (path.startsWith('/greet')) {
      ws.send('welcome');
      ws.ping('are you there');
    }
    ws.on('message', (data: RawData, isBinary) => {
      if (!isBinary && data.toString() === 'close me 4002') ws.close(4002, 'server says bye');
      else ws.send(data, { binary: isBinary });
    });
  });
  return upstream;
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

/** The status and Proxy-Status of a handshake the target answers without upgrading. */
function refusedHandshake(ws: WebSocket): Promise<{ status: number; proxyStatus: unknown }> {
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, proxyStatus: res.headers['proxy-status'] });
    });
    ws.once('open', () => reject(new Error('opened')));
    ws.once('error', () => {});
  });
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

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Opens `:protocol websocket` on node:http2 and speaks RFC 6455 framing on the stream with our framer (client side: masked). */
async function h2WebSocket(client: ClientHttp2Session, authority: string, path: string) {
  await new Promise<void>((resolve) => (client.remoteSettings.enableConnectProtocol ? resolve() : client.once('remoteSettings', () => resolve())));
  expect(client.remoteSettings.enableConnectProtocol).toBe(true);
  const stream = client.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':path': path, ':authority': authority, 'sec-websocket-version': '13' }, { endStream: false });
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

/** Messages in the ordering case: enough that a reordering or a lost message between frames would show. */
const ORDERED_MESSAGES = 5_000;
/** Binary sizes: one octet, across the 16-bit length form (65,535), past the 64 KiB carrier message, and megabytes that span many DATA frames and windows. */
const BINARY_SIZES = [1, 70_000, 1 << 20, (2 << 20) + 17, 4 << 20];

/** The table: every case either intermediary had, once. */
export const WEBSOCKET_CASES: readonly Case[] = [
  {
    name: `${ORDERED_MESSAGES.toLocaleString('en')} small text messages come back in order; the subprotocol offer reaches the upstream and its choice the client; Host and Via as for any request`,
    async run({ target, upstreamHeaders }) {
      const ws = target.open('/echo', ['chat', 'other']);
      await opened(ws);
      expect(ws.protocol).toBe('chat');
      const pending = messages(ws, ORDERED_MESSAGES);
      for (let i = 0; i < ORDERED_MESSAGES; i++) ws.send(`message ${i}`);
      const got = await pending;
      expect(got.map((m) => m.data.toString())).toEqual(Array.from({ length: ORDERED_MESSAGES }, (_, i) => `message ${i}`));
      expect(got.every((m) => !m.binary)).toBe(true);
      // RFC 8441 §5: the key is not carried; the agent made its own, the browser's protocol offer went through.
      const seen = upstreamHeaders.get('/echo')!;
      expect(seen['sec-websocket-protocol']).toBe('chat,other');
      expect(seen.host).toBe(target.host);
      expect(seen.via).toMatch(/1\.1 rhttp/);
      if (target.extensions === 'end-to-end') {
        // Bytes relayed: the browser's permessage-deflate offer is negotiated with the upstream.
        expect(ws.extensions).toContain('permessage-deflate');
        expect(seen['sec-websocket-extensions']).toMatch(/permessage-deflate/);
      } else {
        // The target reads the frames, so it offers no permessage-deflate to the upstream.
        expect(seen['sec-websocket-extensions']).toBeUndefined();
      }
      ws.close(1000);
      await closed(ws);
    },
  },
  {
    name: `binary messages of ${BINARY_SIZES.join(', ')} octets arrive byte-identical both ways`,
    async run({ target }) {
      const ws = target.open('/big');
      await opened(ws);
      for (const size of BINARY_SIZES) {
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
    },
  },
  {
    name: 'a server-initiated message (and ping) reaches the client; the client closing with 4001 reaches the upstream as 4001',
    async run({ target, upstreamCloses }) {
      const ws = target.open('/greet');
      const first = messages(ws, 1);
      await opened(ws);
      expect((await first)[0].data.toString()).toBe('welcome');
      ws.close(4001, 'client says bye');
      expect(await closed(ws)).toEqual([4001, 'client says bye']);
      expect(await upstreamCloses.get('/greet')).toEqual([4001, 'client says bye']);
    },
  },
  {
    name: 'the upstream closing with 4002 reaches the client as 4002',
    async run({ target, upstreamCloses }) {
      const ws = target.open('/close');
      await opened(ws);
      ws.send('close me 4002');
      expect(await closed(ws)).toEqual([4002, 'server says bye']);
      expect(await upstreamCloses.get('/close')).toEqual([4002, 'server says bye']);
    },
  },
  {
    name: 'over HTTPS (ALPN http/1.1) too',
    needs: 'https',
    async run({ target }) {
      const ws = target.open('/tls', [], { tls: true });
      await opened(ws);
      const pending = messages(ws, 1);
      ws.send('over tls');
      expect((await pending)[0].data.toString()).toBe('over tls');
      ws.close(4003);
      expect((await closed(ws))[0]).toBe(4003);
    },
  },
  {
    name: 'the upstream refusing the upgrade (403) is passed back as 403',
    async run({ target }) {
      expect((await refusedHandshake(target.open('/forbidden'))).status).toBe(403);
    },
  },
  {
    name: 'no session for the host → 503 with Proxy-Status (RFC 9209) before any upgrade',
    async run({ target }) {
      const res = await refusedHandshake(target.openUnserved());
      expect(res.status).toBe(503);
      expect(res.proxyStatus).toMatch(/destination_unavailable/);
    },
  },
  {
    name: 'a handshake without Sec-WebSocket-Key is refused with 400 (RFC 6455 §4.1)',
    async run({ target }) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: target.plain.host, port: target.plain.port, path: '/echo', headers: { host: target.host, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13' }, agent: false });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(400);
    },
  },
  {
    name: 'RFC 8441 extended CONNECT from an HTTP/2 client (h2c): opens with 200, echoes text and binary, and carries close codes both ways',
    needs: 'h2c',
    async run({ target, upstreamCloses }) {
      const client = http2Connect(target.h2c!);
      client.on('error', () => {});
      try {
        const a = await h2WebSocket(client, target.host, '/h2-echo');
        expect(a.status).toBe(200);
        a.send(WebSocketOpcode.TEXT, new TextEncoder().encode('over h2'));
        expect(await a.next()).toEqual({ type: 'message', data: 'over h2' });
        const big = randomBytes(1 << 20);
        a.send(WebSocketOpcode.BINARY, big);
        const echo = await a.next();
        expect(echo.type === 'message' && sha(echo.data as Uint8Array)).toBe(sha(big));
        a.send(WebSocketOpcode.CLOSE, closeFramePayload(4001, 'h2 client bye'));
        expect(await a.next()).toEqual({ type: 'close', code: 4001, reason: 'h2 client bye' });
        expect(await upstreamCloses.get('/h2-echo')).toEqual([4001, 'h2 client bye']);

        const b = await h2WebSocket(client, target.host, '/h2-close');
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
    },
  },
];

/**
 * Runs the table against one target: starts the upstream, then `start(upstreamUrl)` (the
 * intermediary and an agent whose upstream is that URL, already serving `host`), and stops both after.
 */
export function describeWebSocketConformance(title: string, start: (upstream: string) => Promise<WebSocketTarget>, startTimeoutMs = 60_000): void {
  describe(title, () => {
    const context = { upstreamCloses: new Map(), upstreamHeaders: new Map() } as Context;
    let upstream: WebSocketServer | undefined;

    beforeAll(async () => {
      upstream = await startUpstream(context);
      context.target = await start(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
    }, startTimeoutMs);

    afterAll(async () => {
      await context.target?.stop();
      for (const client of upstream?.clients ?? []) client.terminate();
      await new Promise((r) => upstream?.close(r));
    });

    for (const testCase of WEBSOCKET_CASES) {
      it(testCase.name, async (test) => {
        // Capabilities are known once the target started, so the skip is decided here.
        if (testCase.needs && !context.target[testCase.needs]) test.skip(`the target does not take ${testCase.needs === 'https' ? 'wss://' : 'h2c extended CONNECT'}`);
        await testCase.run(context);
      });
    }
  });
}
