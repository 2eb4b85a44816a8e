/**
 * Test harness: the edge bundled by wrangler and run in local workerd (Miniflare, `cf: false`),
 * agents made of the real WebSocket carrier + our HTTP/2 engine in the server role, and a
 * "browser" that speaks HTTP/1.1 with any Host header (node:http).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connectWebStreams, type Handler, type Http2Session } from '@rhttp/core';
// @ts-expect-error -- plain ESM script without types
import { buildEdge, startEdge } from '../scripts/local-edge.mjs';
import { openWebSocketCarrier, type WebSocketCarrier, type WebSocketCarrierOptions } from '../../../packages/agent/src/carriers/websocket.js';
import { Agent } from '../../../packages/agent/src/agent.js';
import { createDevCa, issueCertificate } from '../../../packages/node/src/certs.js';

export interface LocalEdge {
  url: string;
  wsUrl: string;
  close(): Promise<void>;
  /** Stops workerd and starts it again on the same port: every object restarts and every agent WebSocket drops. */
  restart(): Promise<void>;
}

let bundled: Promise<string> | undefined;

/** Starts the edge with `TRUST_ANCHORS` = `trustAnchors` and any other `bindings` (bundles once per test file). */
export async function startLocalEdge(trustAnchors: string, bindings: Record<string, string> = {}): Promise<LocalEdge> {
  bundled ??= buildEdge();
  const scriptPath = await bundled;
  const all = { ...bindings, TRUST_ANCHORS: trustAnchors };
  let edge = await startEdge({ scriptPath, bindings: all });
  const port = Number(new URL(edge.url).port);
  return {
    url: edge.url,
    wsUrl: edge.url.replace(/^http/, 'ws'),
    close: () => edge.close(),
    restart: async () => {
      await edge.close();
      edge = await startEdge({ scriptPath, port, bindings: all });
    },
  };
}

export interface BrowserResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: IncomingMessage;
  text(): Promise<string>;
  bytes(): Promise<Buffer>;
}

/** One HTTP/1.1 request to the edge with Host `host`. `body` may be a Buffer or an async iterable. */
export function browser(
  edge: LocalEdge,
  host: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer | AsyncIterable<Buffer> } = {},
): Promise<BrowserResponse> {
  const url = new URL(path, edge.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method: init.method ?? 'GET', headers: { host, ...init.headers } },
      (res) => {
        const bytes = async () => {
          const chunks: Buffer[] = [];
          for await (const chunk of res) chunks.push(chunk as Buffer);
          return Buffer.concat(chunks);
        };
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, bytes, text: async () => (await bytes()).toString('utf8') });
      },
    );
    req.on('error', reject);
    const body = init.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else
      void (async () => {
        for await (const chunk of body) if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        req.end();
      })().catch(reject);
  });
}

export interface InProcessAgent {
  carrier: WebSocketCarrier;
  session: Http2Session;
}

/** Opens the carrier and runs our engine over it in the SERVER role with `handler`. */
export async function connectAgent(
  edge: LocalEdge,
  options: Omit<WebSocketCarrierOptions, 'url'>,
  handler: Handler,
  announce: string[] = options.origins,
): Promise<InProcessAgent> {
  const carrier = await openWebSocketCarrier({ url: edge.wsUrl, ...options });
  const session = connectWebStreams(carrier, { role: 'server', origins: announce, handler });
  return { carrier, session };
}

/** Waits until the broker object for `host` lists at least `count` sessions. */
export async function waitForSessions(edge: LocalEdge, host: string, count = 1): Promise<void> {
  for (;;) {
    const status = JSON.parse(await (await browser(edge, host, '/.rhttp/status')).text()) as { sessions: unknown[] };
    if (status.sessions.length >= count) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The usual start of an edge test: a dev CA, the edge trusting it (with `bindings`), and a real
 * Agent on the WebSocket carrier serving `https://host` from `upstream`; waits until the edge
 * holds its session unless `wait` is false.
 */
export async function startEdgeWithAgent(host: string, upstream: string, options: { bindings?: Record<string, string>; connections?: number; wait?: boolean } = {}): Promise<{ edge: LocalEdge; agent: Agent }> {
  const ca = await createDevCa();
  const origin = await issueCertificate(ca, { dnsNames: [host] });
  const edge = await startLocalEdge(ca.certPem, options.bindings);
  const agent = new Agent({ intermediary: edge.wsUrl, origins: [`https://${host}`], cert: origin.chainPem, key: origin.keyPem, connections: options.connections ?? 1, upstream });
  agent.start();
  if (options.wait !== false) await waitForSessions(edge, host);
  return { edge, agent };
}
