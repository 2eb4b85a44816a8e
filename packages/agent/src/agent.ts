/**
 * The origin agent: dials out to an intermediary over TLS 1.3 with ALPN `h2-reverse`
 * (draft-bt-httpbis-reverse-http-01) and is the HTTP/2 **server** on that connection, answering
 * the requests the intermediary sends back down it — from a local upstream URL or an in-process
 * `fetch(Request)` handler. It holds several connections for failover, PINGs them, reconnects
 * with exponential backoff and jitter, and drains in-flight requests on stop.
 *
 * @example
 * const agent = new Agent({
 *   intermediary: 'tls://127.0.0.1:8443',
 *   origins: ['https://app.example.com'],
 *   upstream: 'http://127.0.0.1:3000',
 *   cert: readFileSync('origin.pem', 'utf8'), key: readFileSync('origin.key', 'utf8'),
 *   ca: readFileSync('ca.pem', 'utf8'),
 *   log: (event) => console.error(describeAgentEvent(event)),
 * });
 * agent.start();
 * process.on('SIGTERM', () => agent.stop({ graceful: true }));
 */
import * as tls from 'node:tls';
import { isIP } from 'node:net';
import { connectSocket, ErrorCode, errorCodeName, parseOrigin, serializeOrigin, type Http2Session, type StreamInfo } from '@rhttp/core';
import { DEFAULT_BACKOFF, backoffDelay, type BackoffPolicy } from './backoff.js';
import { alpnMismatch, describeConnectError, H2_REVERSE_ALPN, isAlpnFailure } from './connect-errors.js';
import type { AgentEvent } from './agent-events.js';
import { toFetchHandler, type FetchHandlerLike } from './handler-module.js';
import { HttpUpstream } from './upstream.js';
import { openWebSocketSocket, WebSocketRefusedError, type WebSocketCarrierSocket } from './carriers/websocket.js';

/** Connections held at once: one can fail or be rotated while the other carries traffic (cloudflared holds four). */
export const DEFAULT_CONNECTIONS = 2;
/** Most connections one agent may hold: each is a full HTTP/2 session at the intermediary. */
export const MAX_CONNECTIONS = 16;
/** PING period: well under the idle timeouts of NATs and load balancers (often 60 s or more). */
export const DEFAULT_PING_INTERVAL_MS = 30_000;
/** A PING unanswered this long means the path is dead even if TCP has not noticed. */
export const DEFAULT_PING_TIMEOUT_MS = 10_000;
/** TCP + TLS handshake budget; a hung handshake is then retried like any failure. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
/** How long `stop({ graceful: true })` waits for in-flight requests (SSE may never end), then closes; under Kubernetes' 30 s grace period. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 25_000;
/** Rotation times are spread over the last tenth of the maximum age, so the connections of one agent do not all rotate at once. */
const ROTATION_JITTER = 0.1;
/** After our own GOAWAY has drained, how long we wait for the peer to close TLS before destroying the socket. */
const SOCKET_LINGER_MS = 1_000;

/** Options of {@link Agent}. Exactly one of `upstream` and `handler` is required. */
export interface AgentOptions {
  /** Where to dial: `tls://host:port` (carrier 1) or `ws://host:port` / `wss://host[:port]` (carrier 2, an edge). */
  intermediary: string;
  /** Origins this agent serves, sent in the ORIGIN frame (`https://app.example.com`, `https://*.app.example.com`). */
  origins: string[];
  /** Base URL of a local HTTP/1.1 app to forward to, e.g. `http://127.0.0.1:3000`. */
  upstream?: string;
  /** In-process handler instead of an upstream: a function of a Request or an object with `fetch` (a Hono app). */
  handler?: FetchHandlerLike;
  /** Our certificate chain (PEM, leaf first); the intermediary checks that it covers every origin. */
  cert: string;
  /** Private key of `cert` (PEM). */
  key: string;
  /** CA certificate(s) (PEM) to verify the intermediary with; the system's CAs otherwise. */
  ca?: string;
  /** How many connections to hold (default 2). */
  connections?: number;
  /** TLS server name to send and check the intermediary's certificate against (default: the host, unless it is an IP address). */
  servername?: string;
  /** Receives every event; see `describeAgentEvent` for plain sentences. */
  log?: (event: AgentEvent) => void;
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Reconnect policy; tests shorten it. */
  backoff?: Partial<BackoffPolicy>;
  /** Random source for backoff jitter, in [0, 1). */
  random?: () => number;
  /**
   * Replace each connection after about this long (GOAWAY, drain, reconnect): the draft asks
   * origins to change addresses regularly, and it spreads agents over intermediary instances.
   */
  maxConnectionAgeMs?: number;
  /** Time allowed for an upstream's response headers (see HttpUpstream). */
  upstreamHeadersTimeoutMs?: number;
}

/** One connection slot as `status()` shows it. */
export interface ConnectionStatus {
  connection: number;
  state: 'idle' | 'connecting' | 'connected' | 'waiting' | 'stopped';
  /** ISO time the current session was established. */
  connectedSince?: string;
  rttMs?: number;
  openStreams: number;
  /** Failures since the last healthy connection (drives the backoff). */
  failures: number;
  lastError?: string;
  /** ISO time of the next attempt while `waiting`. */
  retryAt?: string;
}

export interface AgentStatus {
  state: 'new' | 'running' | 'stopping' | 'stopped';
  intermediary: string;
  origins: string[];
  inFlight: number;
  connections: ConnectionStatus[];
}

/** A parsed `--intermediary` value. */
export interface IntermediaryAddress {
  carrier: 'tls' | 'ws';
  host: string;
  port: number;
  /** WebSocket carrier: the edge's `ws://` or `wss://` URL as given (without a trailing "/"). */
  url?: string;
}

/** Default port of `tls://` intermediaries without one. */
const DEFAULT_TLS_PORT = 443;

/**
 * Parse `tls://host:port`. Throws a TypeError with a plain explanation otherwise (the WebSocket
 * carrier and bare names with SVCB discovery come later).
 */
export function parseIntermediary(text: string): IntermediaryAddress {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme === 'ws' || scheme === 'wss') {
    // Carrier 2 (DESIGN.md): the PTTH-shaped WebSocket to an edge (carriers/websocket.ts).
    let ws: URL;
    try {
      ws = new URL(text);
    } catch {
      throw new TypeError(`--intermediary must be ${scheme}://host[:port], got ${text}`);
    }
    if (!ws.hostname || (ws.pathname !== '' && ws.pathname !== '/') || ws.search || ws.hash || ws.username) {
      throw new TypeError(`--intermediary must be ${scheme}://host[:port], got ${text}`);
    }
    const port = ws.port ? Number(ws.port) : scheme === 'wss' ? 443 : 80;
    return { carrier: 'ws', host: ws.hostname.replace(/^\[|\]$/g, ''), port, url: `${scheme}://${ws.host}` };
  }
  if (scheme === undefined) {
    throw new TypeError(`--intermediary must be tls://host:port for now: bare names with SVCB discovery (${text}) are not supported yet`);
  }
  if (scheme !== 'tls') throw new TypeError(`--intermediary must be tls://host:port, got ${text}`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`--intermediary must be tls://host:port, got ${text}`);
  }
  if (!url.hostname || (url.pathname !== '' && url.pathname !== '/') || url.search || url.hash || url.username) {
    throw new TypeError(`--intermediary must be tls://host:port, got ${text}`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return { carrier: 'tls', host, port: url.port ? Number(url.port) : DEFAULT_TLS_PORT };
}

/** Fail at construction, not on every reconnect, when the PEM material cannot work. */
function checkTlsMaterial(options: Pick<AgentOptions, 'cert' | 'key' | 'ca'>): void {
  try {
    tls.createSecureContext({ cert: options.cert, key: options.key });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH' || /key values mismatch/i.test(e.message)) {
      throw new TypeError('the private key (key) does not belong to the certificate (cert)', { cause: error });
    }
    throw new TypeError(`the certificate (cert) or private key (key) is not usable PEM: ${e.message}`, { cause: error });
  }
  if (options.ca !== undefined) {
    try {
      tls.createSecureContext({ ca: options.ca });
    } catch (error) {
      throw new TypeError(`the CA certificate(s) (ca) are not usable PEM: ${(error as Error).message}`, { cause: error });
    }
  }
}

interface Slot {
  index: number;
  state: ConnectionStatus['state'];
  failures: number;
  socket?: tls.TLSSocket;
  session?: Http2Session;
  connectedAt?: number;
  lastError?: string;
  retryAt?: number;
  /** Ends the current backoff wait early (stop). */
  wake?: () => void;
}

/** How one connection attempt ended. */
interface Outcome {
  /** The intermediary refused us: wait the long refusal delay. */
  refused: boolean;
  /** The session lived long enough to count as healthy: the backoff starts over. */
  healthy: boolean;
  /** We closed it on purpose (rotation): reconnect at once. */
  rotated?: boolean;
}

/**
 * The agent. `start()` opens the connections and keeps them up until `stop()`.
 * Events go to `options.log`; nothing is printed by the library itself.
 */
export class Agent {
  readonly intermediary: IntermediaryAddress;
  readonly origins: string[];
  private readonly options: AgentOptions;
  private readonly backoff: BackoffPolicy;
  private readonly handle: (request: Request, info: StreamInfo) => Response | Promise<Response>;
  private readonly upstream: HttpUpstream | undefined;
  private readonly slots: Slot[] = [];
  private readonly loops: Promise<void>[] = [];
  /** Sessions replaced by rotation that are still draining. */
  private readonly retired = new Set<Http2Session>();
  private state: AgentStatus['state'] = 'new';
  private stopping: Promise<void> | undefined;

  constructor(options: AgentOptions) {
    this.options = options;
    this.intermediary = parseIntermediary(options.intermediary);
    if (!options.origins || options.origins.length === 0) throw new TypeError('an agent needs at least one origin');
    this.origins = options.origins.map((o) => serializeOrigin(parseOrigin(o)));
    if (!options.cert || !options.key) throw new TypeError('an agent needs a certificate chain (cert) and its private key (key)');
    checkTlsMaterial(options);
    const count = options.connections ?? DEFAULT_CONNECTIONS;
    if (!Number.isInteger(count) || count < 1 || count > MAX_CONNECTIONS) {
      throw new TypeError(`connections must be a whole number from 1 to ${MAX_CONNECTIONS}, got ${count}`);
    }
    if ((options.upstream === undefined) === (options.handler === undefined)) {
      throw new TypeError('an agent needs exactly one of upstream (a URL) and handler (a fetch handler)');
    }
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    if (options.upstream !== undefined) {
      const upstream = new HttpUpstream(options.upstream, { headersTimeoutMs: options.upstreamHeadersTimeoutMs });
      this.upstream = upstream;
      this.handle = (request, info) => upstream.fetch(request, info);
    } else {
      const handler = toFetchHandler(options.handler);
      if (!handler) throw new TypeError('handler must be a function of a Request or an object with a fetch(request) method');
      this.handle = handler;
    }
    for (let i = 0; i < count; i++) this.slots.push({ index: i + 1, state: 'idle', failures: 0 });
  }

  /** The intermediary as written in events: `tls://host:port`. */
  get target(): string {
    if (this.intermediary.url) return this.intermediary.url;
    const h = this.intermediary.host;
    return `tls://${h.includes(':') ? `[${h}]` : h}:${this.intermediary.port}`;
  }

  /** Requests being answered right now, over all connections. */
  get inFlight(): number {
    let n = 0;
    for (const s of this.slots) if (s.session && !s.session.isClosed) n += s.session.openStreams;
    for (const session of this.retired) n += session.openStreams;
    return n;
  }

  /** Open the connections (each keeps itself up until `stop()`). Calling it twice does nothing. */
  start(): void {
    if (this.state !== 'new') return;
    this.state = 'running';
    for (const slot of this.slots) this.loops.push(this.runSlot(slot));
  }

  /**
   * Stop. Graceful (the default): GOAWAY on every connection so the intermediary sends no new
   * requests, wait for in-flight requests to finish (at most `timeoutMs`), then close. Otherwise
   * close at once. Resolves when every connection is closed; calling it again returns the same promise.
   */
  stop(options: { graceful?: boolean; timeoutMs?: number } = {}): Promise<void> {
    this.stopping ??= this.shutdown(options.graceful ?? true, options.timeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
    return this.stopping;
  }

  /** A snapshot for status pages and health checks. */
  status(): AgentStatus {
    return {
      state: this.state,
      intermediary: this.target,
      origins: [...this.origins],
      inFlight: this.inFlight,
      connections: this.slots.map((s) => ({
        connection: s.index,
        state: s.state,
        connectedSince: s.state === 'connected' && s.connectedAt !== undefined ? new Date(s.connectedAt).toISOString() : undefined,
        rttMs: s.state === 'connected' ? s.session?.rttMs : undefined,
        openStreams: s.session && !s.session.isClosed ? s.session.openStreams : 0,
        failures: s.failures,
        lastError: s.lastError,
        retryAt: s.state === 'waiting' && s.retryAt !== undefined ? new Date(s.retryAt).toISOString() : undefined,
      })),
    };
  }

  private emit(event: AgentEvent): void {
    try {
      this.options.log?.(event);
    } catch {
      // A failing logger must not take the agent down.
    }
  }

  private get running(): boolean {
    return this.state === 'running';
  }

  private async shutdown(graceful: boolean, timeoutMs: number): Promise<void> {
    const wasStarted = this.state !== 'new';
    this.state = 'stopping';
    for (const slot of this.slots) slot.wake?.();
    const live = [...this.slots.filter((s) => s.session && !s.session.isClosed).map((s) => s.session!), ...this.retired];
    if (graceful && wasStarted) this.emit({ type: 'draining', inFlight: this.inFlight, connections: live.length });
    if (graceful && live.length > 0) {
      for (const session of live) session.goaway(ErrorCode.NO_ERROR, 'the agent is shutting down');
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([Promise.all(live.map((s) => s.closed)), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    for (const session of live) session.close();
    for (const slot of this.slots) {
      slot.session?.close();
      if (slot.state === 'connecting') slot.socket?.destroy();
    }
    await Promise.all(this.loops);
    this.upstream?.close();
    this.state = 'stopped';
    if (wasStarted) this.emit({ type: 'stopped' });
  }

  private async runSlot(slot: Slot): Promise<void> {
    while (this.running) {
      const outcome = await this.connectOnce(slot);
      if (!this.running) break;
      if (outcome.healthy) slot.failures = 0;
      if (outcome.rotated) continue;
      const delay = outcome.refused ? this.backoff.refusedMs : backoffDelay(slot.failures, this.backoff, this.options.random);
      slot.failures++;
      slot.state = 'waiting';
      slot.retryAt = Date.now() + delay;
      this.emit({ type: 'reconnecting', connection: slot.index, delayMs: delay });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        slot.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      slot.wake = undefined;
      slot.retryAt = undefined;
    }
    slot.state = 'stopped';
  }

  /** One connection from dial to close. Never rejects. */
  private connectOnce(slot: Slot): Promise<Outcome> {
    if (this.intermediary.carrier === 'ws') return this.connectWebSocketOnce(slot);
    const { host, port } = this.intermediary;
    const servername = this.options.servername ?? (isIP(host) ? undefined : host);
    slot.state = 'connecting';
    slot.session = undefined;
    slot.connectedAt = undefined;
    this.emit({ type: 'connecting', connection: slot.index, intermediary: this.target });
    return new Promise<Outcome>((resolve) => {
      let socketError: Error | undefined;
      let failure: { refused: boolean; reason: string } | undefined;
      let socket: tls.TLSSocket;
      try {
        socket = tls.connect({
          host,
          port,
          ALPNProtocols: [H2_REVERSE_ALPN],
          cert: this.options.cert,
          key: this.options.key,
          ca: this.options.ca,
          servername,
          // Carrier 1 of the design: TLS 1.3 only.
          minVersion: 'TLSv1.3',
        });
        // HTTP/2 frames are already batched per flush; Nagle would only add delayed-ACK stalls.
        socket.setNoDelay(true);
      } catch (error) {
        // Bad PEM in cert/key/ca fails here, synchronously.
        const reason = `the TLS setup failed: ${(error as Error).message}`;
        slot.lastError = reason;
        this.emit({ type: 'connect-failed', connection: slot.index, reason });
        resolve({ refused: false, healthy: false });
        return;
      }
      slot.socket = socket;
      const connectTimeoutMs = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
      const connectTimer = setTimeout(() => {
        socket.destroy(Object.assign(new Error(`no TLS handshake with the intermediary within ${connectTimeoutMs / 1000} s`), { code: 'ETIMEDOUT' }));
      }, connectTimeoutMs);
      socket.on('error', (error) => {
        socketError ??= error;
      });
      socket.once('secureConnect', () => {
        clearTimeout(connectTimer);
        if (!this.running) {
          socket.destroy();
          return;
        }
        // draft-bt-httpbis-reverse-http-01: if ALPN does not come back as h2-reverse, the agent closes the connection.
        if (socket.alpnProtocol !== H2_REVERSE_ALPN) {
          failure = { refused: true, reason: alpnMismatch(socket.alpnProtocol) };
          socket.destroy();
          return;
        }
        this.serve(slot, socket, () => socketError).then(resolve);
      });
      socket.once('close', () => {
        clearTimeout(connectTimer);
        if (slot.session) return; // serve() reports this one
        if (!failure) {
          if (!this.running) {
            resolve({ refused: false, healthy: false });
            return;
          }
          failure = socketError
            ? { refused: isAlpnFailure(socketError), reason: describeConnectError(socketError, { host, port, servername }) }
            : { refused: false, reason: 'the intermediary closed the connection during the TLS handshake' };
        }
        slot.lastError = failure.reason;
        this.emit(failure.refused ? { type: 'refused', connection: slot.index, reason: failure.reason } : { type: 'connect-failed', connection: slot.index, reason: failure.reason });
        resolve({ refused: failure.refused, healthy: false });
      });
    });
  }

  /** One connection over the WebSocket carrier (carriers/websocket.ts), then the same serve() as TLS. Never rejects. */
  private async connectWebSocketOnce(slot: Slot): Promise<Outcome> {
    slot.state = 'connecting';
    slot.session = undefined;
    slot.connectedAt = undefined;
    this.emit({ type: 'connecting', connection: slot.index, intermediary: this.target });
    let socket: WebSocketCarrierSocket;
    try {
      socket = await openWebSocketSocket({
        url: this.intermediary.url!,
        origins: this.origins,
        certChainPem: this.options.cert,
        keyPem: this.options.key,
        ca: this.options.ca,
        connectTimeoutMs: this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      });
    } catch (error) {
      // 401/403 carry the edge's sentence; back off like any refusal instead of retrying in a tight loop.
      const refused = error instanceof WebSocketRefusedError && error.refused;
      const reason = (error as Error).message;
      slot.lastError = reason;
      this.emit(refused ? { type: 'refused', connection: slot.index, reason } : { type: 'connect-failed', connection: slot.index, reason });
      return { refused, healthy: false };
    }
    if (!this.running) {
      socket.destroy();
      return { refused: false, healthy: false };
    }
    let socketError: Error | undefined;
    socket.on('error', (error) => {
      socketError ??= error;
    });
    slot.socket = socket as unknown as tls.TLSSocket;
    return this.serve(slot, socket as unknown as tls.TLSSocket, () => socketError);
  }

  /** Run the HTTP/2 server session on an established socket until it closes. */
  private async serve(slot: Slot, socket: tls.TLSSocket, socketError: () => Error | undefined): Promise<Outcome> {
    let pingTimedOut = false;
    // In TLS 1.3 the server checks our certificate after our side of the handshake is done; when it
    // refuses it, Node's client sees only the connection end. Silence until then tells us that much.
    let heardFromPeer = false;
    const onFirstData = () => {
      heardFromPeer = true;
      socket.off('data', onFirstData);
    };
    socket.on('data', onFirstData);
    const session = connectSocket(socket, {
      role: 'server',
      // RFC 8336 / draft §2: the agent sends SETTINGS and then, immediately, ORIGIN with the origins it claims.
      origins: this.origins,
      handler: (request, info) => this.handle(request, info),
      onError: (error) => this.emit({ type: 'request-error', connection: slot.index, message: (error as Error)?.message ?? String(error) }),
    });
    const connectedAt = Date.now();
    slot.session = session;
    slot.connectedAt = connectedAt;
    slot.state = 'connected';
    this.emit({ type: 'connected', connection: slot.index, intermediary: this.target, origins: [...this.origins], tlsVersion: socket.getProtocol() });

    const stopKeepalive = this.keepalive(session, slot, () => {
      pingTimedOut = true;
      socket.destroy();
    });
    const closed = session.closed.then((error) => {
      stopKeepalive();
      this.retired.delete(session);
      // Our side is done; give the peer a moment to close TLS cleanly, then make sure the socket is gone.
      if (!socket.destroyed) {
        const linger = setTimeout(() => socket.destroy(), SOCKET_LINGER_MS);
        socket.once('close', () => clearTimeout(linger));
      }
      return { rotated: false as const, error };
    });
    let rotation: ReturnType<typeof setTimeout> | undefined;
    const maxAge = this.options.maxConnectionAgeMs;
    const rotated = new Promise<{ rotated: true }>((resolve) => {
      if (maxAge === undefined || maxAge <= 0) return;
      rotation = setTimeout(() => resolve({ rotated: true }), maxAge * (1 - ROTATION_JITTER * (this.options.random ?? Math.random)()));
    });
    const ended = await Promise.race([closed, rotated]);
    clearTimeout(rotation);
    if (ended.rotated) {
      // The old session drains on its own (in-flight requests finish); this slot dials its replacement now.
      this.emit({ type: 'rotating', connection: slot.index, ageMs: Date.now() - connectedAt });
      this.retired.add(session);
      session.goaway(ErrorCode.NO_ERROR, 'connection rotation (maximum age)');
      return { refused: false, healthy: true, rotated: true };
    }
    const error = ended.error;
    const healthy = Date.now() - connectedAt >= this.backoff.healthyAfterMs;
    if (!this.running) return { refused: false, healthy };

    const goaway = session.connection.goawayReceived;
    if (goaway && goaway.errorCode !== ErrorCode.NO_ERROR) {
      const codeName = errorCodeName(goaway.errorCode);
      let debug = new TextDecoder().decode(goaway.debugData).trim();
      // Our engine prefixes the code name to the debug text; the event carries the code separately.
      if (debug.startsWith(`${codeName}: `)) debug = debug.slice(codeName.length + 2);
      const reason = debug || 'no reason given';
      slot.lastError = reason;
      this.emit({ type: 'refused', connection: slot.index, reason, errorCode: codeName });
      return { refused: true, healthy: false };
    }
    if (!heardFromPeer && !socketError() && !pingTimedOut) {
      const reason =
        'the intermediary closed the connection right after the TLS handshake without a word: it probably does not accept our certificate ' +
        '(check --cert/--key and that the intermediary trusts the CA that issued them)';
      slot.lastError = reason;
      this.emit({ type: 'connect-failed', connection: slot.index, reason });
      return { refused: false, healthy: false };
    }
    let reason: string;
    if (pingTimedOut) reason = 'the intermediary stopped answering PINGs';
    else if (goaway) reason = `the intermediary is shutting down the connection (GOAWAY${goaway.debugData.length ? `: ${new TextDecoder().decode(goaway.debugData)}` : ''})`;
    else if (socketError()) reason = describeConnectError(socketError(), { host: this.intermediary.host, port: this.intermediary.port, servername: this.options.servername });
    else if (error) reason = error.message;
    else reason = 'the intermediary closed the connection';
    slot.lastError = reason;
    this.emit({ type: 'disconnected', connection: slot.index, reason });
    return { refused: false, healthy };
  }

  /** PING every interval; an unanswered PING calls `dead`. Returns the function that stops it. */
  private keepalive(session: Http2Session, slot: Slot, dead: () => void): () => void {
    const interval = this.options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
    const timeoutMs = this.options.pingTimeoutMs ?? DEFAULT_PING_TIMEOUT_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const schedule = () => {
      if (stopped) return;
      timer = setTimeout(tick, interval);
    };
    const tick = () => {
      if (stopped || session.isClosed) return;
      let answered = false;
      const deadline = setTimeout(() => {
        if (answered || stopped || session.isClosed) return;
        this.emit({ type: 'ping-timeout', connection: slot.index, timeoutMs });
        dead();
      }, timeoutMs);
      session.ping().then(
        () => {
          answered = true;
          clearTimeout(deadline);
          schedule();
        },
        () => {
          answered = true;
          clearTimeout(deadline);
        },
      );
    };
    schedule();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }
}
