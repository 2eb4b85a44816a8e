/**
 * The listeners browsers reach: cleartext (HTTP/1.1 and h2c with prior knowledge on one port,
 * told apart by the first bytes) and TLS (HTTP/2 and HTTP/1.1 by ALPN). node:http and
 * node:http2 are fine on this side; the reversed connection uses only our engine.
 */
import { serveIgnoringUpgrade } from './ignored-upgrade.js';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import {
  createSecureServer,
  createServer as createHttp2Server,
  type Http2SecureServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from 'node:http2';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { serveExchange, type Answer } from './browser-exchange.js';
import type { ConnectProxy } from './connect-proxy.js';
import { isExtendedConnect, isWebSocketUpgrade, serveExtendedConnect, serveWebSocketUpgrade, type TunnelAnswer } from './websocket-upgrade.js';

/** RFC 9113 §3.4: the client connection preface starts with these octets; enough to tell h2c from HTTP/1.x. */
const H2_PREFACE_START = Buffer.from('PRI * HTTP/2.0');
/** A browser that has not sent its first bytes within this time holds a socket for nothing. */
export const FIRST_BYTES_TIMEOUT_MS = 30_000;
/** Keep-alive idle time for HTTP/1.1 browser connections (node's default of 5 s is short for browsers behind a proxy). */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** Time to receive a request's header section; the whole request has no time limit (uploads may be long). */
const HEADERS_TIMEOUT_MS = 60_000;
/**
 * Per-stream receive window for HTTP/2 browsers: node's default (64 KiB) lets an upload send one
 * window per round trip through our event loop (≈30–50 MB/s here); 1 MiB is the reversed
 * session's own stream window (@rhttp/core DEFAULT_LOCAL_SETTINGS).
 */
const BROWSER_STREAM_WINDOW = 1 << 20;
/** Connection receive window for HTTP/2 browsers: what one browser connection may have in flight toward us across its streams. */
const BROWSER_CONNECTION_WINDOW = 4 << 20;

/** Concurrent streams per browser HTTP/2 connection (SETTINGS_MAX_CONCURRENT_STREAMS; node:http2 refuses more with REFUSED_STREAM). nginx and browsers use 100–128. */
const BROWSER_MAX_CONCURRENT_STREAMS = 100;
/**
 * Rapid Reset (CVE-2023-44487): RST_STREAMs a browser connection may send in a burst, then per
 * second, before node:http2 (nghttp2) ends it with GOAWAY. Browsers cancel a few streams on
 * navigation; node's defaults (1,000 / 33) let an attacker churn thousands of streams first.
 */
const BROWSER_RESET_BURST = 200;
const BROWSER_RESET_RATE = 33;

/** node:http2 server options for browsers; extended CONNECT (RFC 8441 §3) only when WebSockets are served. */
function browserHttp2Options(websockets: boolean) {
  return {
    settings: { initialWindowSize: BROWSER_STREAM_WINDOW, maxConcurrentStreams: BROWSER_MAX_CONCURRENT_STREAMS, ...(websockets ? { enableConnectProtocol: true } : {}) },
    streamResetBurst: BROWSER_RESET_BURST,
    streamResetRate: BROWSER_RESET_RATE,
  };
}

/** Widens a browser session's connection window (SETTINGS cannot: it starts at 64 KiB and grows by WINDOW_UPDATE only). */
function widenConnectionWindow(session: ServerHttp2Session): void {
  try {
    session.setLocalWindowSize(BROWSER_CONNECTION_WINDOW);
  } catch {
    // The session is already closing: nothing to widen.
  }
}

/** Everything a listener tracks so `close()` can end it. */
export interface BrowserListener {
  readonly server: NetServer | Http2SecureServer;
  /** Stops accepting; open HTTP/2 sessions get GOAWAY, idle HTTP/1.1 connections close. */
  close(): Promise<void>;
  /** Ends every remaining connection now. */
  destroyAll(): void;
}

function track(sockets: Set<Socket>, socket: Socket): void {
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
}

function closeServer(server: NetServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * `--http`: one TCP port for HTTP/1.1 and h2c. The first bytes decide: the HTTP/2 preface goes
 * to a node:http2 server, anything else to a node:http server.
 */
export function createCleartextListener(answer: Answer, connectProxy?: ConnectProxy, websockets?: TunnelAnswer): BrowserListener {
  const sockets = new Set<Socket>();
  const sessions = new Set<ServerHttp2Session>();
  const onRequest = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => {
    void serveExchange(req, res, 'http', answer);
  };
  const http1: HttpServer = createHttpServer({ requestTimeout: 0, headersTimeout: HEADERS_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, onRequest);
  // RFC 6455 upgrades become RFC 8441 extended CONNECTs on the reversed session (websocket-upgrade.ts).
  if (websockets) http1.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => isWebSocketUpgrade(req) && void serveWebSocketUpgrade(req, socket, head, 'http', websockets));
  refuseUpgrades(http1, websockets !== undefined);
  if (connectProxy) {
    // Draft §3.1 transport proxying (connect-proxy.ts); without a listener node would just close the connection.
    http1.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => void connectProxy.http1(req, socket, head));
  }
  // RFC 8441 §3: SETTINGS_ENABLE_CONNECT_PROTOCOL lets h2 browsers open WebSockets with extended CONNECT.
  const h2c: Http2Server = createHttp2Server(browserHttp2Options(websockets !== undefined), onRequest);
  if (connectProxy || websockets) {
    h2c.on('connect', (req: Http2ServerRequest, res: Http2ServerResponse) => {
      if (websockets && isExtendedConnect(req)) void serveExtendedConnect(req, 'http', websockets);
      else if (connectProxy && !isExtendedConnect(req)) void connectProxy.http2(req, res);
      else res.writeHead(501).end();
    });
  }
  h2c.on('session', (session) => {
    widenConnectionWindow(session);
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  // noDelay: node:http would set TCP_NODELAY on sockets it accepts itself, but it is handed these;
  // with Nagle on, a response head, its body and the last chunk (separate small writes) wait for
  // the browser's delayed ACK: ≈40 ms per keep-alive request.
  const server = createNetServer({ noDelay: true }, (socket) => {
    track(sockets, socket);
    let buffered: Buffer = Buffer.alloc(0);
    socket.setTimeout(FIRST_BYTES_TIMEOUT_MS, () => socket.destroy());
    const onData = (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const n = Math.min(buffered.length, H2_PREFACE_START.length);
      const isH2 = buffered.subarray(0, n).equals(H2_PREFACE_START.subarray(0, n));
      if (isH2 && n < H2_PREFACE_START.length) return; // not enough bytes to decide yet
      socket.off('data', onData);
      socket.pause();
      socket.setTimeout(0);
      socket.unshift(buffered);
      if (isH2) {
        // node:http2 feeds the bytes already buffered in the socket to its session itself.
        h2c.emit('connection', socket);
      } else {
        http1.emit('connection', socket);
        // node:http reads the socket's handle directly once it owns it; resuming lets the bytes
        // we unshifted flow to its parser first (without this, HTTP/1.1 requests hang).
        socket.resume();
      }
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  });
  return {
    server,
    async close() {
      const closing = closeServer(server);
      for (const session of sessions) session.close();
      http1.closeIdleConnections();
      await closing;
    },
    destroyAll() {
      for (const socket of sockets) socket.destroy();
    },
  };
}

/**
 * `--https`: TLS with ALPN h2 and http/1.1. Each new HTTP/2 session gets an ORIGIN frame
 * (RFC 8336) listing the origins currently served, so browsers that honour it coalesce
 * connections; sessions already open get the origins added later (`announce`).
 */
export function createTlsListener(
  answer: Answer,
  tls: { cert: string; key: string },
  servedOrigins: () => string[],
  websockets?: TunnelAnswer,
): BrowserListener & { announce(origins: readonly string[]): void } {
  const sockets = new Set<Socket>();
  const sessions = new Set<ServerHttp2Session>();
  // noDelay as on the cleartext listener: responses are several small writes.
  const server = createSecureServer({ cert: tls.cert, key: tls.key, allowHTTP1: true, noDelay: true, ...browserHttp2Options(websockets !== undefined) }, (req, res) => {
    void serveExchange(req, res, 'https', answer);
  });
  if (websockets) {
    // WebSockets: HTTP/1.1 upgrades (ALPN http/1.1) and RFC 8441 extended CONNECT (ALPN h2).
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      if (!isWebSocketUpgrade(req) && serveIgnoringUpgrade(server as unknown as HttpServer, req, socket, head)) return;
      void serveWebSocketUpgrade(req, socket, head, 'https', websockets);
    });
    server.on('connect', (req: Http2ServerRequest, res: Http2ServerResponse) => {
      if (req.httpVersionMajor === 2 && isExtendedConnect(req)) void serveExtendedConnect(req, 'https', websockets);
      else if (req.httpVersionMajor === 2) res.writeHead(501).end();
      else (res as unknown as Socket).destroy(); // HTTP/1.1 CONNECT on the allowHTTP1 path: not served here, as before
    });
  }
  server.on('connection', (socket: Socket) => track(sockets, socket));
  server.on('session', (session: ServerHttp2Session) => {
    widenConnectionWindow(session);
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    sendOrigins(session, servedOrigins());
  });
  return {
    server,
    announce(origins) {
      for (const session of sessions) sendOrigins(session, origins);
    },
    async close() {
      const closing = closeServer(server);
      for (const session of sessions) session.close();
      await closing;
    },
    destroyAll() {
      for (const socket of sockets) socket.destroy();
    },
  };
}

/**
 * Sends an ORIGIN frame with the exact `https://` origins (node:http2 refuses wildcard strings,
 * and RFC 8336 has no wildcards). Errors (a closing session, an origin node does not accept) are
 * ignored: ORIGIN is an optimisation, never required.
 */
function sendOrigins(session: ServerHttp2Session, origins: readonly string[]): void {
  const exact = origins.filter((o) => o.startsWith('https://') && !o.includes('*'));
  if (exact.length === 0 || session.destroyed || session.closed) return;
  try {
    session.origin(...exact);
  } catch {
    // Not fatal: the browser simply does not coalesce.
  }
}

/**
 * Upgrades other than WebSocket: one without a body (curl --http2 sends `Upgrade: h2c`) is served as
 * the plain HTTP/1.1 request it also is (ignored-upgrade.ts); the rest get 501.
 */
function refuseUpgrades(server: HttpServer, websocketsServed = false): void {
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (websocketsServed && isWebSocketUpgrade(req)) return; // websocket-upgrade.ts answers those
    if (serveIgnoringUpgrade(server, req, socket, head)) return;
    const text = `Upgrades to ${JSON.stringify(req.headers.upgrade ?? '')} are not forwarded by rhttp; WebSocket is.\n`;
    socket.end(`HTTP/1.1 501 Not Implemented\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  });
}
