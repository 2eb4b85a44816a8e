/**
 * The agent's end of a browser WebSocket (RFC 8441 over the reversed session): an extended
 * CONNECT with `:protocol websocket` becomes an HTTP/1.1 Upgrade request to the upstream
 * (RFC 6455 §4.1), and once the upstream answers 101 the stream is answered 200 and raw bytes are
 * relayed both ways. WebSocket frames are end to end between the browser (or the edge) and the
 * upstream; the agent never parses them. Backpressure: the upstream socket is paused while the
 * HTTP/2 side is behind, and the stream's flow-control credit is returned only as bytes are
 * written to the socket.
 *
 * @example
 * // inside a handler, for a request whose info.head.protocol === 'websocket':
 * return openWebSocketUpstream(new URL('http://127.0.0.1:3000'), '/chat', 'app.example.com', request);
 */
import { connectionOptions, isHopByHop, NULL_BODY_STATUSES, unbracketHost } from '@rhttp/core';
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Duplex } from 'node:stream';
import { pumpToSocket, readableFromSocket, type SocketReadableOptions } from '@rhttp/node/socket-streams';

/** RFC 6455 §1.3: the GUID appended to the key to compute Sec-WebSocket-Accept. */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** The only version RFC 6455 defines (§4.1); sent when the browser's request did not say. */
const WEBSOCKET_VERSION = '13';
/** Chunks read from the upstream socket ahead of the HTTP/2 stream before the socket is paused. */
const UPSTREAM_BUFFERED_CHUNKS = 16;
/** Closed without a clean end (reset, destroyed): the stream is reset rather than ended. */
const UPSTREAM_READABLE: SocketReadableOptions = { highWaterMark: UPSTREAM_BUFFERED_CHUNKS, abruptClose: () => new Error('the upstream connection closed abruptly') };
/** Time for the upstream's 101 (the connection itself may then last for ever). */
export const DEFAULT_WEBSOCKET_HANDSHAKE_TIMEOUT_MS = 30_000;
/**
 * Fields of the RFC 6455 handshake itself, and framing of the handshake message; never copied
 * across (besides the hop-by-hop ones, @rhttp/core's rule toward an HTTP/1.1 hop).
 */
const HANDSHAKE_FIELDS = new Set(['host', 'content-length', 'trailer', 'sec-websocket-key', 'sec-websocket-accept', 'sec-websocket-version']);

/** True when a field is not copied between the extended CONNECT and the upstream's HTTP/1.1 handshake. */
function notForwarded(name: string, value: string, listed: ReadonlySet<string>): boolean {
  return HANDSHAKE_FIELDS.has(name) || isHopByHop(name, value, listed, 'http/1.1');
}

/** `Sec-WebSocket-Accept` for a key (RFC 6455 §4.2.2 step 5.4). */
export function websocketAccept(key: string): string {
  return createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
}

/** Options of {@link openWebSocketUpstream}. */
export interface WebSocketUpstreamOptions {
  /** Time allowed for the upstream's 101; then 504. */
  handshakeTimeoutMs?: number;
}

/**
 * Opens the upstream WebSocket for one extended CONNECT. Resolves with 200 (the tunnel: its body
 * is the upstream's bytes, `request.body` goes to the upstream) once the upstream switched
 * protocols, with the upstream's own status when it refused (a 403, a 404…), or 502/504 when it
 * could not be reached. Never rejects. `request.signal` aborting (the stream was reset) closes
 * the upstream connection.
 */
export function openWebSocketUpstream(base: URL, path: string, authority: string, request: Request, options: WebSocketUpstreamOptions = {}): Promise<Response> {
  const key = randomBytes(16).toString('base64');
  const headers: http.OutgoingHttpHeaders = {};
  const listed = connectionOptions(request.headers);
  for (const [name, value] of request.headers) {
    if (notForwarded(name, value, listed)) continue;
    headers[name] = value;
  }
  headers.host = authority;
  headers.connection = 'Upgrade';
  headers.upgrade = 'websocket';
  headers['sec-websocket-key'] = key;
  headers['sec-websocket-version'] = request.headers.get('sec-websocket-version') ?? WEBSOCKET_VERSION;
  const secure = base.protocol === 'https:';
  const timeoutMs = options.handshakeTimeoutMs ?? DEFAULT_WEBSOCKET_HANDSHAKE_TIMEOUT_MS;
  const label = base.origin;
  return new Promise<Response>((resolve) => {
    const signal = request.signal;
    if (signal.aborted) {
      resolve(failure(499, 'request_cancelled', 'the tunnel was cancelled before the upstream answered'));
      return;
    }
    let settled = false;
    const settle = (response: Response) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(response);
    };
    const req = (secure ? https : http).request({
      hostname: unbracketHost(base.hostname),
      port: base.port || undefined,
      method: 'GET',
      path,
      headers,
      // An upgraded socket leaves the pool for good; a keep-alive agent would gain nothing.
      agent: false,
      servername: base.hostname,
    });
    const timer = setTimeout(() => {
      req.destroy();
      settle(failure(504, 'connection_timeout', `the upstream at ${label} did not answer the WebSocket upgrade within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    const onAbort = () => req.destroy();
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', (error: NodeJS.ErrnoException) => {
      signal.removeEventListener('abort', onAbort);
      const refused = error.code === 'ECONNREFUSED';
      settle(failure(502, refused ? 'connection_refused' : 'proxy_internal_error', `the upstream at ${label} ${refused ? 'refused the connection (is the app running?)' : `could not be reached: ${error.message}`}`));
    });
    req.on('response', (res) => {
      // RFC 6455 §4.1: any status other than 101 means the handshake did not complete; pass it on.
      signal.removeEventListener('abort', onAbort);
      const status = res.statusCode ?? 502;
      if (status < 200 || status > 599) {
        res.destroy();
        settle(failure(502, 'http_protocol_error', `the upstream answered the WebSocket upgrade with status ${status}`));
        return;
      }
      const nullBody = NULL_BODY_STATUSES.has(status);
      if (nullBody) res.resume();
      settle(new Response(nullBody ? null : readableFromSocket(res, UPSTREAM_READABLE), { status, statusText: res.statusMessage, headers: responseHeaders(res.rawHeaders) }));
    });
    req.on('upgrade', (res, socket: Duplex, head: Buffer) => {
      signal.removeEventListener('abort', onAbort);
      // RFC 6455 §4.1: the client MUST fail the connection if the accept value is not the expected one.
      if (res.headers['sec-websocket-accept'] !== websocketAccept(key)) {
        socket.destroy();
        settle(failure(502, 'http_protocol_error', `the upstream at ${label} answered the WebSocket upgrade with a wrong Sec-WebSocket-Accept`));
        return;
      }
      (socket as { setNoDelay?(v: boolean): void }).setNoDelay?.(true);
      if (signal.aborted) {
        socket.destroy();
        return;
      }
      signal.addEventListener('abort', () => socket.destroy(), { once: true });
      if (request.body) void pumpToSocket(request.body, socket);
      else socket.end();
      // RFC 8441 §5: the extended CONNECT succeeds with a 2xx (200), not 101.
      settle(new Response(readableFromSocket(socket, { ...UPSTREAM_READABLE, head }), { status: 200, headers: responseHeaders(res.rawHeaders) }));
    });
    req.end();
  });
}

/** The upstream's response fields that go back: Sec-WebSocket-Protocol/-Extensions, cookies, and so on. */
function responseHeaders(raw: string[]): Headers {
  const headers = new Headers();
  const fields: Array<[string, string]> = [];
  for (let i = 0; i < raw.length; i += 2) fields.push([raw[i].toLowerCase(), raw[i + 1]]);
  const listed = connectionOptions(fields);
  for (let i = 0; i < raw.length; i += 2) {
    const name = fields[i / 2][0];
    if (notForwarded(name, raw[i + 1], listed)) continue;
    try {
      headers.append(name, raw[i + 1]);
    } catch {
      // A value the Fetch API refuses is dropped, not fatal.
    }
  }
  return headers;
}


/** A plain-text error answer with Proxy-Status (RFC 9209) naming this agent. */
function failure(status: number, proxyError: string, message: string): Response {
  return new Response(`${status} ${http.STATUS_CODES[status] ?? ''}: ${message}\n`, {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'proxy-status': `rhttp-agent; error=${proxyError}` },
  });
}
