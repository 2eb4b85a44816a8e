/**
 * The listeners browsers reach: cleartext (HTTP/1.1 and h2c with prior knowledge on one port,
 * told apart by the first bytes), TLS (HTTP/2 and HTTP/1.1 by ALPN), and HTTP/3 on the QUIC
 * listener's `h3` connections (quic-listener.ts hands them over). HTTP/2 and HTTP/3 run on
 * @rhttp/core in the server role, on its stream API (one ServerStream per exchange, served the same
 * way on both, its defences in limits.ts and h3/limits.ts); HTTP/1.1 on core's RequestParser
 * (http1-server.ts), with node:http taking over the connections that upgrade to WebSocket or PTTH
 * or ask for CONNECT.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { connectQuic, connectSocket, fieldValue, listsToken, PTTH_PROTOCOL, type Http2Session, type Http3Session, type QuicConnection, type ServerStream } from '@rhttp/core';
import { clientAddress, serveStream, type Answer } from './browser-exchange.js';
import { serveHttp1, type Http1Connection, type Http1Serving } from './http1-server.js';
import type { ConnectProxy } from './connect-proxy.js';
import { isExtendedConnect, isWebSocketUpgrade, serveExtendedConnect, serveWebSocketUpgrade, type TunnelAnswer } from './websocket-upgrade.js';
import { isPtthConnect, isPtthUpgrade, type PtthAcceptor } from './ptth-upgrade.js';

/** RFC 9113 §3.4: the client connection preface starts with these octets; enough to tell h2c from HTTP/1.x. */
const H2_PREFACE_START = Buffer.from('PRI * HTTP/2.0');
/** A browser that has not sent its first bytes within this time holds a socket for nothing. */
export const FIRST_BYTES_TIMEOUT_MS = 30_000;
/** ALPN ids on the TLS listener, HTTP/2 preferred (RFC 9113 §3.2). */
const BROWSER_ALPN = ['h2', 'http/1.1'];
/**
 * Per-stream receive window for HTTP/2 browsers: 64 KiB lets an upload send one window per round
 * trip through our event loop (≈30–50 MB/s here); 1 MiB is the reversed session's own stream
 * window (@rhttp/core DEFAULT_LOCAL_SETTINGS).
 */
const BROWSER_STREAM_WINDOW = 1 << 20;
/** Connection receive window for HTTP/2 browsers: what one browser connection may have in flight toward us across its streams. */
const BROWSER_CONNECTION_WINDOW = 4 << 20;
/** Concurrent streams per browser HTTP/2 connection (SETTINGS_MAX_CONCURRENT_STREAMS; core refuses more). nginx and browsers use 100–128. */
const BROWSER_MAX_CONCURRENT_STREAMS = 100;

/** What a browser's HTTP/2 or HTTP/3 connection serves. */
interface StreamServing {
  scheme: 'http' | 'https';
  answer: Answer;
  connectProxy?: ConnectProxy;
  websockets?: TunnelAnswer;
  /** Agents' PTTH requests (ptth-upgrade.ts): extended CONNECT `:protocol ptth`. HTTP/2 only: the agent's certificate is the TLS socket's. */
  ptth?: PtthAcceptor;
}

/** What an HTTP/2 browser connection serves. */
interface Http2Serving extends StreamServing {
  /** Open sessions, for close() and ORIGIN announcements. */
  sessions: Set<Http2Session>;
}

/**
 * What a browser connection does with each request stream, on either engine (HTTP/2 and HTTP/3
 * hand out the same ServerStream): an ordinary exchange (browser-exchange.ts), a PTTH agent, a
 * WebSocket by extended CONNECT, a CONNECT tunnel, or 501. A stream the browser resets in the same
 * read as its HEADERS must never reach an agent: onStream runs inside the engine's `receive()`, so
 * each stream is dispatched after the current read was taken in whole, and one already reset is
 * dropped. `socket` is the HTTP/2 connection's (PTTH reads the agent's certificate off it).
 */
function browserStreams(serving: StreamServing, address: string, httpVersion: '2' | '3', socket?: Socket | TLSSocket): (stream: ServerStream) => void {
  const { scheme, answer, connectProxy, websockets, ptth } = serving;
  const dispatch = (stream: ServerStream, headersEnded: boolean) => {
    if (stream.head.method !== 'CONNECT') void serveStream(stream, headersEnded, scheme, answer, address, httpVersion);
    else if (ptth && socket && isPtthConnect(stream)) void ptth.connect(stream, scheme, socket);
    else if (websockets && isExtendedConnect(stream)) void serveExtendedConnect(stream, scheme, websockets, address, httpVersion);
    else if (connectProxy && !isExtendedConnect(stream)) void connectProxy.http2(stream, address);
    else {
      stream.respond(501, { 'content-type': 'text/plain; charset=utf-8' });
      void stream.end(new TextEncoder().encode('CONNECT is not served on this listener.\n')).catch(() => {});
    }
  };
  return (stream) => {
    const headersEnded = stream.received;
    let reset = false;
    stream.onReset = () => (reset = true);
    queueMicrotask(() => {
      if (reset) return; // reset in the same read as its HEADERS: never forwarded
      stream.onReset = undefined;
      dispatch(stream, headersEnded);
    });
  };
}

/**
 * Runs one browser HTTP/2 connection on @rhttp/core. Rapid Reset (CVE-2023-44487) and the other
 * floods are core's (limits.ts: too many resets → GOAWAY); each stream is served by
 * {@link browserStreams}.
 */
function serveHttp2(socket: Socket | TLSSocket, serving: Http2Serving, origins?: readonly string[]): Http2Session {
  const { websockets, ptth, sessions } = serving;
  const session = connectSocket(socket, {
    role: 'server',
    // RFC 8441 §3: SETTINGS_ENABLE_CONNECT_PROTOCOL lets h2 browsers open WebSockets, and agents ptth, with extended CONNECT.
    settings: { initialWindowSize: BROWSER_STREAM_WINDOW, maxConcurrentStreams: BROWSER_MAX_CONCURRENT_STREAMS, enableConnectProtocol: websockets !== undefined || ptth !== undefined },
    connectionWindow: BROWSER_CONNECTION_WINDOW,
    ...(origins && origins.length > 0 ? { origins } : {}),
    onStream: browserStreams(serving, clientAddress(socket.remoteAddress), '2', socket),
    onClose: () => sessions.delete(session),
  });
  sessions.add(session);
  return session;
}

/** Everything a listener tracks so `close()` can end it. */
export interface BrowserListener {
  readonly server: NetServer;
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

/** A TCP or TLS listener's BrowserListener: its server, its HTTP/2 sessions and HTTP/1.1 connections, and every socket it accepted. */
function browserListener(server: NetServer, sessions: Set<Http2Session>, http1: Http1Connections, sockets: Set<Socket>): BrowserListener {
  return {
    server,
    async close() {
      const closing = closeServer(server);
      for (const session of sessions) session.goaway();
      http1.close();
      await closing;
    },
    destroyAll() {
      for (const socket of sockets) socket.destroy();
    },
  };
}

/**
 * The node:http server of a listener is handed its sockets (`emit('connection')`) and never listens
 * itself, so it takes the listening state of the listener that accepts them:
 * - it reports `listening` as that listener's. Deno's node:http reads `server.listening` when a
 *   response finishes and destroys the connection of a server that is not listening (taking it for
 *   one that is closing): without this, under Deno every HTTP/1.1 connection ended after its first
 *   response, despite its `Connection: keep-alive`, and a client reusing it got "socket hang up";
 * - it hears `'listening'` when that listener starts. Node's node:http starts the checks that
 *   enforce `headersTimeout` and `requestTimeout` on that event: without it a client that never
 *   finished its request head held its connection for ever (slowloris).
 */
export function listensWith(http1: HttpServer, listener: NetServer): void {
  Object.defineProperty(http1, 'listening', { configurable: true, get: () => listener.listening });
  if (listener.listening) http1.emit('listening');
  else listener.once('listening', () => http1.emit('listening'));
}

/**
 * The node:http server that takes over the HTTP/1.1 connections whose request changes protocol
 * (http1-server.ts hands them over with the request unread): RFC 6455 WebSocket upgrades become
 * RFC 8441 extended CONNECTs on the reversed session (websocket-upgrade.ts), agents' `Upgrade: ptth`
 * (draft-kazuho-ptth-ptth-01) their reversed connection (ptth-upgrade.ts), and CONNECT a transport
 * tunnel (connect-proxy.ts). Undefined when the listener serves none of them.
 */
function createUpgradeServer(scheme: 'http' | 'https', websockets?: TunnelAnswer, ptth?: PtthAcceptor, connectProxy?: ConnectProxy): HttpServer | undefined {
  if (!websockets && !ptth && !connectProxy) return undefined;
  // Only requests node:http also takes for upgrades or CONNECT are handed over (see upgradeHandOff),
  // so 'request' never fires; should it, the connection ends rather than serving on a second path.
  const http1: HttpServer = createHttpServer({ requestTimeout: 0 }, (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
    res.end('Bad request: expected a protocol upgrade.\n');
  });
  http1.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (websockets && isWebSocketUpgrade(req)) void serveWebSocketUpgrade(req, socket, head, scheme, websockets);
    else if (ptth && isPtthUpgrade(req)) void ptth.upgrade(req, socket, head, scheme);
    else socket.destroy();
  });
  // Draft §3.1 transport proxying (connect-proxy.ts).
  if (connectProxy) http1.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => void connectProxy.http1(req, socket, head));
  return http1;
}

/**
 * Which HTTP/1.1 requests go to the upgrade server: CONNECT when the listener proxies it, and an
 * upgrade to a protocol it serves, asked for as node:http recognises one (`Upgrade` with a
 * `Connection: upgrade` option). Every other request, other upgrades included, is served by
 * http1-server.ts.
 */
function upgradeHandOff(http1: HttpServer | undefined, websockets?: TunnelAnswer, ptth?: PtthAcceptor, connectProxy?: ConnectProxy): Http1Serving['handOff'] {
  if (http1 === undefined) return undefined;
  const toNode = (socket: Socket, unread: Buffer) => {
    socket.unshift(unread);
    http1.emit('connection', socket);
    // node:http reads the socket's handle directly once it owns it; resuming lets the unshifted bytes reach its parser first.
    socket.resume();
  };
  return (head) => {
    if (head.method === 'CONNECT') return connectProxy ? toNode : undefined;
    const upgrade = fieldValue(head.fields, 'upgrade');
    if (upgrade === null || !listsToken(fieldValue(head.fields, 'connection'), 'upgrade')) return undefined;
    if ((websockets && listsToken(upgrade, 'websocket')) || (ptth && listsToken(upgrade, PTTH_PROTOCOL))) return toNode;
    return undefined;
  };
}

/** HTTP/1.1 connections of one listener, for close(). */
class Http1Connections {
  readonly #open = new Set<Http1Connection>();
  constructor(readonly serving: Http1Serving) {}

  serve(socket: Socket, initial?: Buffer): void {
    const connection = serveHttp1(socket, this.serving, initial);
    this.#open.add(connection);
    socket.once('close', () => this.#open.delete(connection));
  }

  /** Idle connections end now, busy ones after their current response. */
  close(): void {
    for (const connection of this.#open) connection.close();
  }
}

/**
 * `--http`: one TCP port for HTTP/1.1 and h2c. The first bytes decide: the HTTP/2 preface goes
 * to an @rhttp/core session, anything else to the HTTP/1.1 server (http1-server.ts).
 */
export function createCleartextListener(answer: Answer, connectProxy?: ConnectProxy, websockets?: TunnelAnswer, ptth?: PtthAcceptor): BrowserListener {
  const sockets = new Set<Socket>();
  const sessions = new Set<Http2Session>();
  const upgrades = createUpgradeServer('http', websockets, ptth, connectProxy);
  const http1 = new Http1Connections({ scheme: 'http', answer, handOff: upgradeHandOff(upgrades, websockets, ptth, connectProxy) });
  const serving: Http2Serving = { scheme: 'http', answer, connectProxy, websockets, ptth, sessions };
  // noDelay: node:http would set TCP_NODELAY on sockets it accepts itself, but it is handed these;
  // with Nagle on, a response head, its body and the last chunk (separate small writes) wait for
  // the browser's delayed ACK: ≈40 ms per keep-alive request.
  const server = createNetServer({ noDelay: true }, (socket) => {
    track(sockets, socket);
    let buffered: Buffer = Buffer.alloc(0);
    const firstBytesTimedOut = () => socket.destroy();
    socket.setTimeout(FIRST_BYTES_TIMEOUT_MS, firstBytesTimedOut);
    const onData = (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const n = Math.min(buffered.length, H2_PREFACE_START.length);
      const isH2 = buffered.subarray(0, n).equals(H2_PREFACE_START.subarray(0, n));
      if (isH2 && n < H2_PREFACE_START.length) return; // not enough bytes to decide yet
      socket.off('data', onData);
      socket.pause();
      // With its listener: the HTTP/1.1 server sets a keep-alive timeout of its own on this socket,
      // which would otherwise fire this one too and destroy a busy connection (a quiet SSE stream).
      socket.setTimeout(0, firstBytesTimedOut);
      // Either takes the bytes read so far first, then the socket's.
      if (isH2) {
        const session = serveHttp2(socket, serving);
        session.receive(buffered);
        socket.resume();
      } else http1.serve(socket, buffered);
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  });
  if (upgrades) listensWith(upgrades, server);
  return browserListener(server, sessions, http1, sockets);
}

/**
 * `--https`: TLS with ALPN h2 and http/1.1. Each new HTTP/2 session gets an ORIGIN frame
 * (RFC 8336) listing the origins currently served, so browsers that honour it coalesce
 * connections; sessions already open get the origins added later (`announce`). With `ptth`,
 * agents' PTTH requests are taken on the same port, and the TLS handshake requests (never
 * requires) a client certificate, which then authenticates the agent.
 */
export function createTlsListener(
  answer: Answer,
  tls: { cert: string; key: string },
  servedOrigins: () => string[],
  websockets?: TunnelAnswer,
  ptth?: PtthAcceptor,
): BrowserListener & { announce(origins: readonly string[]): void } {
  const sockets = new Set<Socket>();
  const sessions = new Set<Http2Session>();
  const upgrades = createUpgradeServer('https', websockets, ptth);
  const http1 = new Http1Connections({ scheme: 'https', answer, handOff: upgradeHandOff(upgrades, websockets, ptth) });
  const serving: Http2Serving = { scheme: 'https', answer, websockets, ptth, sessions };
  // noDelay as on the cleartext listener: responses are several small writes. A client certificate
  // is requested for ptth agents but checked by us (ptth-upgrade.ts), never by the TLS stack:
  // browsers without one connect as before, and origin certificates are serverAuth certificates.
  const server = createTlsServer({
    cert: tls.cert,
    key: tls.key,
    ALPNProtocols: BROWSER_ALPN,
    noDelay: true,
    ...(ptth ? { requestCert: true, rejectUnauthorized: false } : {}),
  });
  if (upgrades) listensWith(upgrades, server);
  server.on('connection', (socket: Socket) => track(sockets, socket));
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') serveHttp2(socket, serving, exactOrigins(servedOrigins()));
    else http1.serve(socket); // ALPN http/1.1, or none
  });
  return {
    ...browserListener(server, sessions, http1, sockets),
    announce(origins) {
      const exact = exactOrigins(origins);
      if (exact.length === 0) return;
      for (const session of sessions) if (!session.isClosed && !session.draining) session.connection.sendOrigin(exact);
    },
  };
}

/** HTTP/3 browser connections of the QUIC listener (`h3`), tracked so the intermediary can drain and end them. */
export interface Http3Browsers {
  /** Runs HTTP/3 in the server role on a browser's QUIC connection; `remoteAddress` is `host:port` as the QUIC listener formats it. */
  serve(quic: QuicConnection, remoteAddress: string): Http3Session;
  /** Sends each session still open the origins served since it opened (RFC 9412 ORIGIN). */
  announce(origins: readonly string[]): void;
  /** GOAWAY on every open session (RFC 9114 §5.2): requests in flight finish, each session closes once it has none. */
  goaway(): void;
  /** Resolves once every session has closed. */
  drained(): Promise<void>;
  /** Ends every session still open now. */
  closeAll(): void;
  /** Sessions open now. */
  readonly sessions: number;
}

/**
 * HTTP/3 for browsers (`--quic`, ALPN h3): each connection an @rhttp/core Http3Session in the
 * server role, each request served by {@link browserStreams} exactly as on the `--https`
 * listener's HTTP/2 (scheme https, the same answer, client budget, WebSockets by RFC 9220
 * extended CONNECT) with the same per-connection bounds: {@link BROWSER_MAX_CONCURRENT_STREAMS}
 * requests at once (more are refused with H3_REQUEST_REJECTED, which the browser retries) and
 * {@link BROWSER_STREAM_WINDOW} received octets buffered per request (then QUIC flow control holds
 * the browser). PTTH is not taken here: its agents authenticate by a TLS client certificate.
 */
export function createHttp3Browsers(answer: Answer, servedOrigins: () => string[], websockets?: TunnelAnswer): Http3Browsers {
  const sessions = new Set<Http3Session>();
  const serving: StreamServing = { scheme: 'https', answer, websockets };
  let emptied: (() => void) | undefined;
  return {
    serve(quic, remoteAddress) {
      const origins = exactOrigins(servedOrigins());
      const session = connectQuic(quic, {
        role: 'server',
        limits: { maxConcurrentStreams: BROWSER_MAX_CONCURRENT_STREAMS, streamBufferBytes: BROWSER_STREAM_WINDOW },
        // RFC 9220 §3: SETTINGS_ENABLE_CONNECT_PROTOCOL lets h3 browsers open WebSockets with extended CONNECT.
        enableConnectProtocol: websockets !== undefined,
        // The --quic listener is Deno's QUIC, which cannot reset one stream; browsers do not take our
        // in-band resets, so a response the agent could not finish closes the connection instead of
        // reaching the browser as complete.
        quicResetsStreams: false,
        ...(origins.length > 0 ? { origins } : {}),
        onStream: browserStreams(serving, quicClientAddress(remoteAddress), '3'),
        onClose: () => {
          sessions.delete(session);
          if (sessions.size === 0) emptied?.();
        },
      });
      if (!session.isClosed) sessions.add(session);
      return session;
    },
    announce(origins) {
      const exact = exactOrigins(origins);
      if (exact.length === 0) return;
      for (const session of sessions) if (!session.isClosed && !session.draining) session.connection.sendOrigin(exact);
    },
    goaway() {
      for (const session of sessions) session.goaway();
    },
    drained() {
      if (sessions.size === 0) return Promise.resolve();
      return new Promise((resolve) => (emptied = resolve));
    },
    closeAll() {
      for (const session of [...sessions]) session.close();
    },
    get sessions() {
      return sessions.size;
    },
  };
}

/** The browser's IP address from the QUIC listener's `host:port` / `[v6]:port` (the client budget counts addresses, not ports). */
export function quicClientAddress(remoteAddress: string): string {
  const bracketed = /^\[(.*)\]:\d+$/.exec(remoteAddress);
  if (bracketed) return clientAddress(bracketed[1]);
  const port = /:\d+$/.exec(remoteAddress);
  return clientAddress(port && remoteAddress.indexOf(':') === port.index ? remoteAddress.slice(0, port.index) : remoteAddress);
}

/**
 * The origins an ORIGIN frame may carry: exact `https://` origins (RFC 8336 has no wildcards, and
 * browsers coalesce only onto TLS connections). ORIGIN is an optimisation, never required.
 */
function exactOrigins(origins: readonly string[]): string[] {
  return origins.filter((o) => o.startsWith('https://') && !o.includes('*'));
}
