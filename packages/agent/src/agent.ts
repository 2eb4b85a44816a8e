/**
 * The origin agent: dials out to an intermediary over TLS 1.3 with ALPN `h2-reverse`
 * (draft-bt-httpbis-reverse-http-01) and is the HTTP/2 **server** on that connection, answering
 * the requests the intermediary sends back down it — from a local upstream URL or an in-process
 * `fetch(Request)` handler. It holds several connections to each endpoint of the intermediary
 * (the URL given, or every ServiceMode record of its SVCB record set, so that several
 * intermediary processes or hosts behind one name share the load), PINGs them, reconnects with
 * exponential backoff and jitter, and drains in-flight requests on stop.
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
import { connectSocket, DEFAULT_DOH_URL, type Endpoint, ErrorCode, errorCodeName, isAdmissionPing, parseOrigin, serializeOrigin, type Http2Session, type ServerStream, type StreamInfo } from '@rhttp/core';
import { DEFAULT_BACKOFF, backoffDelay, type BackoffPolicy } from './backoff.js';
import { alpnMismatch, describeConnectError, H2_REVERSE_ALPN, isPermanentFailure } from './connect-errors.js';
import type { AgentEvent } from './agent-events.js';
import { toFetchHandler, type FetchHandlerLike } from './handler-module.js';
import { HttpUpstream, type ExchangeMeter } from './upstream.js';
import { H2cUpstream } from './h2c-upstream.js';
import { ConnectRelay, isPlainConnect, relayTargetOf } from './connect-relay.js';
import { carryTrailers } from '@rhttp/core';
import { ViaDiscovery } from './via-discovery.js';
import type { IngressRouter } from './ingress.js';
import { openWebSocketSocket, WebSocketRefusedError, type WebSocketCarrierSocket } from './carriers/websocket.js';
import { discoverIntermediaryDetails, parseBareIntermediary, type BareIntermediary, type ResolveOptions } from './discover.js';

/** Connections held to each endpoint: one can fail or be rotated while the other carries traffic (cloudflared holds four). */
export const DEFAULT_CONNECTIONS = 2;
/** Most connections one agent may hold to one endpoint: each is a full HTTP/2 session at the intermediary. */
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
/**
 * After a rotation's replacement connects, how long the old session still takes requests unless the
 * replacement gets one first: the intermediary registers it only once it has checked our certificate
 * and ORIGIN frame, and does not tell us when (a few round trips).
 */
const ROTATION_HANDOVER_MS = 1_000;
/**
 * How long "connected" waits for the intermediary's admission PING before it is said unconfirmed:
 * rhttp's intermediaries check a certificate and an ORIGIN frame in milliseconds; one that sends
 * no admission PING (another implementation) is then assumed to have admitted us.
 */
const ADMISSION_WAIT_MS = 5_000;
/** Shortest time discovered endpoints are kept: a TTL of 0 must not turn every reconnect into a DNS lookup. */
export const MIN_DISCOVERY_TTL_S = 30;
/** Longest time discovered endpoints are kept, whatever the TTL: an operator moving the intermediary should not wait a day. */
export const MAX_DISCOVERY_TTL_S = 3600;
/**
 * An endpoint that could not be reached at any of its addresses may have left the record set:
 * the name is looked up again, but no more often than this (a dead host must not turn every
 * backoff round into a DNS query).
 */
const REDISCOVERY_AFTER_FAILURE_MS = 5_000;
/** After our own GOAWAY has drained, how long we wait for the peer to close TLS before destroying the socket. */
const SOCKET_LINGER_MS = 1_000;

/** Options of {@link Agent}. Exactly one of `upstream`, `handler` and `ingress` is required. */
export interface AgentOptions {
  /**
   * Where to dial: `tls://host:port` (carrier 1), `ws://host:port` / `wss://host[:port]` (carrier 2,
   * an edge), or a bare name `proxy.example.net[:port]` found through SVCB over DNS-over-HTTPS.
   */
  intermediary: string;
  /** DoH resolver for a bare `intermediary` name (default `DEFAULT_DOH_URL`). */
  doh?: string;
  /** Other discovery options (tests pass `rng`, `fetch`). */
  discovery?: Omit<ResolveOptions, 'doh'>;
  /**
   * Count request and response body bytes for {@link Agent.metrics} (default false: it costs one
   * TransformStream per body, so it is on only when someone scrapes the numbers).
   */
  countBodyBytes?: boolean;
  /** Origins this agent serves, sent in the ORIGIN frame (`https://app.example.com`, `https://*.app.example.com`). */
  origins: string[];
  /** Base URL of a local app to forward to: HTTP/1.1 `http://127.0.0.1:3000`, or HTTP/2 prior knowledge `h2c://127.0.0.1:50051` (gRPC). */
  upstream?: string;
  /** In-process handler instead of an upstream: a function of a Request or an object with `fetch` (a Hono app). */
  handler?: FetchHandlerLike;
  /** Or ingress rules: each request goes to the upstream of the first rule matching its host and path (closed on stop). */
  ingress?: IngressRouter;
  /** Our certificate chain (PEM, leaf first); the intermediary checks that it covers every origin. */
  cert: string;
  /** Private key of `cert` (PEM). */
  key: string;
  /** CA certificate(s) (PEM) to verify the intermediary with; the system's CAs otherwise. */
  ca?: string;
  /** How many connections to hold to each endpoint (default 2): a bare name with two SVCB records gets twice as many. */
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
  /**
   * Draft §3.2: a request whose `Via` names an intermediary host we do not know makes us try it as a
   * Reverse HTTP peer (its `_http-reverse` SVCB record; ALPN must confirm `h2-reverse`). Default false.
   */
  viaDiscovery?: boolean;
  /** Time allowed for an upstream's response headers (see HttpUpstream). */
  upstreamHeadersTimeoutMs?: number;
}

/** One connection slot as `status()` shows it. */
export interface ConnectionStatus {
  connection: number;
  /** The endpoint this connection belongs to: the URL given, or one SVCB record's `tls://target:port`. */
  endpoint: string;
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

/**
 * One intermediary endpoint as `status()` shows it: the URL given, or one ServiceMode record of
 * the SVCB record set (its target and port; the record's addresses are alternatives for it).
 */
export interface EndpointStatus {
  endpoint: string;
  /** Where its connections dial, in order: one address after the other when one cannot be reached. */
  dials: string[];
  /** Connections held to it now, of `connections`. */
  connected: number;
  connections: number;
  /** Requests it has sent us. */
  requests: number;
}

/** Counters and gauges for Prometheus (see metrics.ts). */
export interface AgentMetrics {
  /** Connection slots per state (`draining` counts sessions replaced by rotation that still finish requests). */
  connections: Record<ConnectionStatus['state'] | 'draining', number>;
  /** Dials after a slot's first one (reconnects after failures, refusals and rotations). */
  reconnects: number;
  /** Times the intermediary refused this agent (GOAWAY with an error, wrong ALPN, 401/403). */
  refusals: number;
  /** Answered requests by status class (`2xx`…`5xx`), and `error` for handler/upstream failures. */
  requests: Record<string, number>;
  /** Body bytes: `in` from the intermediary (request bodies), `out` to it (response bodies); zero unless `countBodyBytes`. */
  bytes: { in: number; out: number };
  inFlight: number;
  /** Last PING round trip of each connected slot. */
  pingRttMs: { connection: number; endpoint: string; rttMs: number }[];
  /** Per endpoint: connections held now and requests received. */
  endpoints: { endpoint: string; connected: number; requests: number }[];
}

export interface AgentStatus {
  state: 'new' | 'running' | 'stopping' | 'stopped';
  intermediary: string;
  origins: string[];
  inFlight: number;
  /** Every endpoint the agent holds connections to. */
  endpoints: EndpointStatus[];
  connections: ConnectionStatus[];
  /** A bare name: the SVCB lookup's state. */
  discovery?: { name: string; lastError?: string; nextLookup?: string };
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
 * Parse `tls://host:port`, `ws://host:port` or `wss://host[:port]`. Throws a TypeError with a plain
 * explanation otherwise; bare names go through SVCB discovery instead (`resolveIntermediary`).
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
    throw new TypeError(`--intermediary ${text} is a bare name: it is found through SVCB discovery (resolveIntermediary), not parsed as an address`);
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

/** One concrete place to dial: a fixed URL, or one address of a discovered endpoint. */
interface Dial {
  carrier: 'tls' | 'ws';
  /** TLS: the host or address to connect to. */
  host: string;
  port: number;
  /** TLS: the name to send (SNI) and check the certificate against. */
  servername?: string;
  /** WebSocket: the edge URL. */
  url?: string;
  /** As written in events: `tls://localhost:8443 (127.0.0.1)`. */
  label: string;
}

function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * One intermediary the agent holds `connections` connections to: the URL given, or one SVCB
 * ServiceMode record's target and port. Its dials are alternatives for the one intermediary (the
 * record's addresses, then its WebSocket carrier), not separate intermediaries.
 */
interface EndpointSlots {
  label: string;
  dials: Dial[];
  slots: Slot[];
  /** Requests received over its connections. */
  requests: number;
  /** It left the record set: its slots finish their requests and stop. */
  removed: boolean;
}

interface Slot {
  index: number;
  endpoint: EndpointSlots;
  /** Dials made by this slot: all but the first are reconnects. */
  dials: number;
  state: ConnectionStatus['state'];
  failures: number;
  socket?: tls.TLSSocket;
  session?: Http2Session;
  connectedAt?: number;
  lastError?: string;
  retryAt?: number;
  /** Ends the current backoff wait early (stop). */
  wake?: () => void;
  /** The session rotation replaces: it keeps taking requests until its replacement is registered. */
  replaced?: Http2Session;
}

/** How one connection attempt ended. */
interface Outcome {
  /** The intermediary refused us: wait the long refusal delay. */
  refused: boolean;
  /** The session lived long enough to count as healthy: the backoff starts over. */
  healthy: boolean;
  /** We closed it on purpose (rotation): reconnect at once. */
  rotated?: boolean;
  /** No session came about (TCP/TLS/upgrade failed, not a refusal): try the next endpoint at once. */
  unreached?: boolean;
}

/**
 * The agent. `start()` opens the connections and keeps them up until `stop()`.
 * Events go to `options.log`; nothing is printed by the library itself.
 */
export class Agent {
  /** The parsed `tls://`/`ws://`/`wss://` address; undefined for a bare name found through SVCB. */
  readonly intermediary: IntermediaryAddress | undefined;
  /** The bare name to discover, when `intermediary` is one. */
  readonly discoveryName: BareIntermediary | undefined;
  readonly origins: string[];
  private readonly options: AgentOptions;
  private readonly backoff: BackoffPolicy;
  private readonly handle: (request: Request, info: StreamInfo) => Response | Promise<Response>;
  /**
   * The stream API's hot path (an http(s) upstream): takes a request stream, or returns false to
   * leave it to `handle` (tunnels). Undefined: every request goes through `handle`.
   */
  private readonly serveStream: ((stream: ServerStream) => void | false) | undefined;
  private readonly upstream: HttpUpstream | H2cUpstream | undefined;
  /** `viaDiscovery`: peer connections to intermediaries seen in Via. */
  readonly viaDiscovery: ViaDiscovery | undefined;
  /** Endpoints by `target:port` (or the URL given), each with its connection slots. */
  private readonly endpoints = new Map<string, EndpointSlots>();
  private readonly connectionsPerEndpoint: number;
  private nextSlotIndex = 1;
  private readonly loops: Promise<void>[] = [];
  /** Sessions replaced by rotation that are still draining. */
  private readonly retired = new Set<Http2Session>();
  private state: AgentStatus['state'] = 'new';
  private stopping: Promise<void> | undefined;
  /** A bare name: the loop that looks it up again after each TTL, when it last asked, when it asks next, and what went wrong. */
  private discoveryTask: Promise<void> | undefined;
  private lastLookupAt = 0;
  private nextLookupAt = 0;
  private wakeDiscovery: (() => void) | undefined;
  private discoveryError: string | undefined;
  private readonly counters = { refusals: 0, reconnects: 0, requests: new Map<string, number>(), bytesIn: 0, bytesOut: 0 };

  constructor(options: AgentOptions) {
    this.options = options;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(options.intermediary)) {
      this.intermediary = parseIntermediary(options.intermediary);
    } else {
      this.discoveryName = parseBareIntermediary(options.intermediary);
    }
    if (!options.origins || options.origins.length === 0) throw new TypeError('an agent needs at least one origin');
    this.origins = options.origins.map((o) => serializeOrigin(parseOrigin(o)));
    if (!options.cert || !options.key) throw new TypeError('an agent needs a certificate chain (cert) and its private key (key)');
    checkTlsMaterial(options);
    const count = options.connections ?? DEFAULT_CONNECTIONS;
    this.connectionsPerEndpoint = count;
    if (!Number.isInteger(count) || count < 1 || count > MAX_CONNECTIONS) {
      throw new TypeError(`connections must be a whole number from 1 to ${MAX_CONNECTIONS}, got ${count}`);
    }
    if ([options.upstream, options.handler, options.ingress].filter((x) => x !== undefined).length !== 1) {
      throw new TypeError('an agent needs exactly one of upstream (a URL), handler (a fetch handler) and ingress (rules)');
    }
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    if (options.upstream !== undefined) {
      // h2c:// speaks HTTP/2 with prior knowledge (gRPC; trailers carried), http(s):// HTTP/1.1.
      const upstream = /^h2c:/i.test(options.upstream)
        ? new H2cUpstream(options.upstream, { headersTimeoutMs: options.upstreamHeadersTimeoutMs })
        : new HttpUpstream(options.upstream, { headersTimeoutMs: options.upstreamHeadersTimeoutMs });
      this.upstream = upstream;
      // Draft §3.1: a plain CONNECT to one of our origins is relayed to the upstream's host:port (connect-relay.ts).
      const relay = new ConnectRelay(this.origins, relayTargetOf(upstream.base));
      this.handle = (request, info) => this.answer(request, info, (r, i) => (isPlainConnect(i) ? relay.open(r, i) : upstream.fetch(r, i)));
      if (upstream instanceof HttpUpstream) {
        const meter = this.exchangeMeter();
        this.serveStream = (stream) => {
          // CONNECT (the relay, RFC 8441 WebSockets) stays on the Fetch path; every other request
          // goes from the stream to the upstream and back as DATA frames without Fetch objects.
          if (stream.head.method === 'CONNECT') return false;
          if (this.viaDiscovery) this.viaDiscovery.observe(joinedField(stream, 'via'));
          void upstream.serve(stream, meter);
        };
      }
    } else if (options.ingress !== undefined) {
      const router = options.ingress;
      this.handle = (request, info) => this.answer(request, info, (r, i) => router.fetch(r, i));
      const meter = this.exchangeMeter();
      this.serveStream = (stream) => {
        // Requests for an upstream rule take the stream path; tunnels and status rules the Fetch path.
        const head = stream.head;
        const upstream = head.method === 'CONNECT' ? undefined : router.upstreamFor(head.scheme, head.authority, head.path);
        if (!upstream) return false;
        if (this.viaDiscovery) this.viaDiscovery.observe(joinedField(stream, 'via'));
        void upstream.serve(stream, meter);
      };
    } else {
      const handler = toFetchHandler(options.handler);
      if (!handler) throw new TypeError('handler must be a function of a Request or an object with a fetch(request) method');
      this.handle = (request, info) => this.answer(request, info, handler);
    }
    if (this.intermediary) {
      // A URL given is one endpoint; a bare name gets its endpoints from each SVCB answer (reconcile).
      const { carrier, host, port, url } = this.intermediary;
      const servername = options.servername ?? (isIP(host) ? undefined : host);
      this.addEndpoint(this.target, this.target, [{ carrier, host, port, servername, url, label: this.target }]);
    }
    if (options.viaDiscovery) this.viaDiscovery = this.startViaDiscovery();
  }

  /** Draft §3.2: one extra single-connection agent per intermediary discovered in Via, sharing our handler. */
  private startViaDiscovery(): ViaDiscovery {
    const known = [this.intermediary?.host ?? this.discoveryName?.name ?? ''].filter(Boolean);
    const discovery: ViaDiscovery = new ViaDiscovery({
      known,
      start: (host) => {
        const peer = new Agent({
          ...this.options,
          intermediary: host,
          servername: undefined,
          connections: 1,
          viaDiscovery: false,
          upstream: undefined,
          ingress: undefined,
          handler: (request: Request, info?: StreamInfo) => this.handle(request, info!),
          log: (event) => {
            this.emit(event);
            // No Reverse HTTP endpoint under that name, or it did not confirm h2-reverse by ALPN (the
            // connection is then closed, draft §3.2): give up on this host.
            if (event.type === 'discovery-failed' || event.type === 'refused') void discovery.forget(host);
          },
        });
        peer.start();
        return peer;
      },
    });
    return discovery;
  }

  /** The intermediary as configured: `tls://host:port`, the edge URL, or the bare name. */
  get target(): string {
    if (!this.intermediary) return this.options.intermediary;
    if (this.intermediary.url) return this.intermediary.url;
    return `tls://${hostPort(this.intermediary.host, this.intermediary.port)}`;
  }

  /** Requests being answered right now, over all connections. */
  get inFlight(): number {
    let n = 0;
    for (const session of this.liveSessions()) n += session.openStreams;
    return n;
  }

  /** Every connection slot of every current endpoint. */
  private get slots(): Slot[] {
    return [...this.endpoints.values()].flatMap((e) => e.slots);
  }

  /** Open sessions: the slots' and those still draining (rotated, or of endpoints that left the record set). */
  private liveSessions(): Set<Http2Session> {
    const live = new Set<Http2Session>();
    for (const s of this.slots) if (s.session && !s.session.isClosed) live.add(s.session);
    for (const session of this.retired) if (!session.isClosed) live.add(session);
    return live;
  }

  /** Open the connections (each keeps itself up until `stop()`). Calling it twice does nothing. */
  start(): void {
    if (this.state !== 'new') return;
    this.state = 'running';
    if (this.discoveryName) this.discoveryTask = this.discoveryLoop();
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
      endpoints: [...this.endpoints.values()].map((e) => ({
        endpoint: e.label,
        dials: e.dials.map((d) => d.label),
        connected: e.slots.filter((s) => s.state === 'connected').length,
        connections: e.slots.length,
        requests: e.requests,
      })),
      connections: this.slots.map((s) => ({
        connection: s.index,
        endpoint: s.endpoint.label,
        state: s.state,
        connectedSince: s.state === 'connected' && s.connectedAt !== undefined ? new Date(s.connectedAt).toISOString() : undefined,
        rttMs: s.state === 'connected' ? s.session?.rttMs : undefined,
        openStreams: s.session && !s.session.isClosed ? s.session.openStreams : 0,
        failures: s.failures,
        lastError: s.lastError,
        retryAt: s.state === 'waiting' && s.retryAt !== undefined ? new Date(s.retryAt).toISOString() : undefined,
      })),
      ...(this.discoveryName
        ? {
            discovery: {
              name: this.options.intermediary,
              lastError: this.discoveryError,
              nextLookup: this.state === 'running' && this.nextLookupAt > 0 ? new Date(this.nextLookupAt).toISOString() : undefined,
            },
          }
        : {}),
    };
  }

  /** Counters and gauges for Prometheus; see {@link AgentMetrics}. */
  metrics(): AgentMetrics {
    const connections: AgentMetrics['connections'] = { idle: 0, connecting: 0, connected: 0, waiting: 0, stopped: 0, draining: this.retired.size };
    for (const s of this.slots) connections[s.state]++;
    const pingRttMs: AgentMetrics['pingRttMs'] = [];
    for (const s of this.slots) {
      const rttMs = s.state === 'connected' ? s.session?.rttMs : undefined;
      if (rttMs !== undefined) pingRttMs.push({ connection: s.index, endpoint: s.endpoint.label, rttMs });
    }
    return {
      connections,
      reconnects: this.counters.reconnects,
      refusals: this.counters.refusals,
      requests: Object.fromEntries(this.counters.requests),
      bytes: { in: this.counters.bytesIn, out: this.counters.bytesOut },
      inFlight: this.inFlight,
      pingRttMs,
      endpoints: [...this.endpoints.values()].map((e) => ({ endpoint: e.label, connected: e.slots.filter((s) => s.state === 'connected').length, requests: e.requests })),
    };
  }

  /** What `serve` reports into the metrics: the status class always, body bytes with `countBodyBytes`. */
  private exchangeMeter(): ExchangeMeter {
    const meter: ExchangeMeter = { status: (code) => this.countRequest(STATUS_CLASSES[Math.floor(code / 100)] ?? `${Math.floor(code / 100)}xx`) };
    if (this.options.countBodyBytes === true) {
      meter.requestBody = (n) => (this.counters.bytesIn += n);
      meter.responseBody = (n) => (this.counters.bytesOut += n);
    }
    return meter;
  }

  /** Runs the handler, counting the answer's status class and (optionally) body bytes. */
  private async answer(request: Request, info: StreamInfo, handler: (request: Request, info: StreamInfo) => Response | Promise<Response>): Promise<Response> {
    // CONNECT tunnels (RFC 8441 WebSockets, RFC 9113 §8.5) are not bodies to count, and Request cannot be rebuilt with that method.
    this.viaDiscovery?.observe(request.headers.get('via'));
    const count = this.options.countBodyBytes === true && info.head.method !== 'CONNECT';
    if (count && request.body) {
      const body = request.body.pipeThrough(byteCounter((n) => (this.counters.bytesIn += n)));
      request = new Request(request, { body, duplex: 'half' } as RequestInit);
    }
    let response: Response;
    try {
      response = await handler(request, info);
    } catch (error) {
      this.countRequest('error');
      throw error;
    }
    this.countRequest(`${Math.floor(response.status / 100)}xx`);
    if (count && response.body) {
      response = carryTrailers(response, new Response(response.body.pipeThrough(byteCounter((n) => (this.counters.bytesOut += n))), response));
    }
    return response;
  }

  private countRequest(statusClass: string): void {
    this.counters.requests.set(statusClass, (this.counters.requests.get(statusClass) ?? 0) + 1);
  }

  private emit(event: AgentEvent): void {
    if (event.type === 'refused') this.counters.refusals++;
    try {
      this.options.log?.(event);
    } catch {
      // A failing logger must not take the agent down.
    }
  }

  private get running(): boolean {
    return this.state === 'running';
  }

  /** The slot should keep its connection: the agent runs and its endpoint is still in the record set. */
  private active(slot: Slot): boolean {
    return this.state === 'running' && !slot.endpoint.removed;
  }

  private async shutdown(graceful: boolean, timeoutMs: number): Promise<void> {
    const wasStarted = this.state !== 'new';
    this.state = 'stopping';
    this.wakeDiscovery?.();
    for (const slot of this.slots) slot.wake?.();
    const live = [...this.liveSessions()];
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
    await this.discoveryTask;
    await Promise.all(this.loops);
    await this.viaDiscovery?.stop();
    this.upstream?.close();
    this.options.ingress?.close();
    this.state = 'stopped';
    if (wasStarted) this.emit({ type: 'stopped' });
  }

  private async runSlot(slot: Slot): Promise<void> {
    while (this.active(slot)) {
      const outcome = await this.attempt(slot);
      if (!this.active(slot)) break;
      if (outcome.healthy) slot.failures = 0;
      if (outcome.rotated) continue;
      const delay = outcome.refused ? this.backoff.refusedMs : backoffDelay(slot.failures, this.backoff, this.options.random);
      slot.failures++;
      slot.state = 'waiting';
      slot.retryAt = Date.now() + delay;
      this.emit({ type: 'reconnecting', connection: slot.index, endpoint: slot.endpoint.label, delayMs: delay });
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
    // The endpoint left the record set while a rotation's replacement was being dialed: the old
    // session hands over to nobody, so it drains now.
    if (slot.replaced && this.running) slot.replaced.goaway(ErrorCode.NO_ERROR, 'the endpoint left the SVCB record set');
    slot.replaced = undefined;
    slot.state = 'stopped';
  }

  /**
   * One round: the endpoint's dials in order, moving to the next at once when one cannot be
   * reached (its addresses are alternatives). When none could be reached, the name is looked up
   * again soon: the record set may have changed. Never rejects.
   */
  private async attempt(slot: Slot): Promise<Outcome> {
    for (const dial of slot.endpoint.dials) {
      if (!this.active(slot)) break;
      const outcome = await this.connectOnce(slot, dial);
      if (!outcome.unreached) return outcome;
    }
    this.rediscoverSoon();
    return { refused: false, healthy: false };
  }

  /** A new endpoint with its slots (started when the agent runs). */
  private addEndpoint(key: string, label: string, dials: Dial[]): EndpointSlots {
    const endpoint: EndpointSlots = { label, dials, slots: [], requests: 0, removed: false };
    for (let i = 0; i < this.connectionsPerEndpoint; i++) endpoint.slots.push({ index: this.nextSlotIndex++, endpoint, dials: 0, state: 'idle', failures: 0 });
    this.endpoints.set(key, endpoint);
    if (this.running) for (const slot of endpoint.slots) this.loops.push(this.runSlot(slot));
    return endpoint;
  }

  /**
   * Brings the endpoints in line with an SVCB answer: new records get their slots, records still
   * there keep their slots (and backoff) with their addresses updated, and the slots of records
   * that are gone send GOAWAY, finish their in-flight requests and stop.
   */
  private reconcile(found: Map<string, { label: string; dials: Dial[] }>): void {
    for (const [key, { label, dials }] of found) {
      const known = this.endpoints.get(key);
      if (known) known.dials = dials;
      else this.addEndpoint(key, label, dials);
    }
    for (const [key, endpoint] of this.endpoints) {
      if (found.has(key)) continue;
      this.endpoints.delete(key);
      endpoint.removed = true;
      let draining = 0;
      for (const slot of endpoint.slots) {
        slot.wake?.();
        if (slot.state === 'connecting') slot.socket?.destroy();
        const session = slot.session;
        if (!session || session.isClosed) continue;
        draining++;
        this.retired.add(session);
        session.goaway(ErrorCode.NO_ERROR, 'the endpoint left the SVCB record set');
        // Requests such as SSE may never end: close after the same grace period as stop().
        const timer = setTimeout(() => session.close(), DEFAULT_DRAIN_TIMEOUT_MS);
        (timer as { unref?: () => void }).unref?.();
        void session.closed.then(() => clearTimeout(timer));
      }
      this.emit({ type: 'endpoint-removed', endpoint: endpoint.label, connections: draining });
    }
  }

  /** A bare name: look it up, hold connections to what it names, and look again after the TTL (sooner after failures). */
  private async discoveryLoop(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        const ttl = await this.discover();
        failures = 0;
        this.nextLookupAt = this.lastLookupAt + ttl * 1000;
      } catch {
        // Known endpoints keep serving (an unreachable resolver should not take down an agent that
        // knows where to go); the lookup is retried with the connections' backoff.
        this.nextLookupAt = Date.now() + backoffDelay(failures++, this.backoff, this.options.random);
      }
      while (this.running && Date.now() < this.nextLookupAt) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.nextLookupAt - Date.now());
          this.wakeDiscovery = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wakeDiscovery = undefined;
      }
    }
  }

  /** Look the name up again soon (an endpoint could not be reached), at most every `REDISCOVERY_AFTER_FAILURE_MS`. */
  private rediscoverSoon(): void {
    if (!this.discoveryName) return;
    const soonest = this.lastLookupAt + REDISCOVERY_AFTER_FAILURE_MS;
    if (soonest >= this.nextLookupAt) return;
    this.nextLookupAt = soonest;
    this.wakeDiscovery?.();
  }

  /** One SVCB lookup, applied to the endpoints. Resolves with the TTL to keep the answer for. */
  private async discover(): Promise<number> {
    const name = this.options.intermediary;
    this.lastLookupAt = Date.now();
    let found;
    try {
      found = await discoverIntermediaryDetails(name, { ...this.options.discovery, doh: this.options.doh ?? DEFAULT_DOH_URL });
    } catch (error) {
      this.discoveryError = (error as Error).message;
      this.emit({ type: 'discovery-failed', name, reason: this.discoveryError, stale: this.endpoints.size > 0 });
      throw error;
    }
    this.discoveryError = undefined;
    const ttl = Math.min(MAX_DISCOVERY_TTL_S, Math.max(MIN_DISCOVERY_TTL_S, Math.min(...found.records.map((r) => r.ttl))));
    const groups = this.endpointsOf(found.endpoints);
    this.emit({ type: 'discovered', name, endpoints: [...groups.values()].map(describeDials), ttlSeconds: ttl });
    if (this.running) this.reconcile(groups);
    return ttl;
  }

  /**
   * Discovered endpoints grouped into intermediaries: one per ServiceMode target and port (a record
   * listing both carriers is one intermediary reached either way), in the answer's order.
   */
  private endpointsOf(endpoints: Endpoint[]): Map<string, { label: string; dials: Dial[] }> {
    const groups = new Map<string, { label: string; dials: Dial[] }>();
    for (const e of endpoints) {
      const key = `${e.target.toLowerCase()}:${e.port}`;
      const group = groups.get(key) ?? { label: e.url, dials: [] };
      group.dials.push(...this.dialsOf(e));
      groups.set(key, group);
    }
    return groups;
  }

  /** A discovered endpoint as dials: TLS once per address (the name stays the TLS server name), WebSocket by URL. */
  private dialsOf(e: Endpoint): Dial[] {
    if (e.carrier === 'ws') return [{ carrier: 'ws', host: e.target, port: e.port, url: e.url, label: e.url }];
    const servername = this.options.servername ?? e.target;
    const addresses = e.addresses.length > 0 ? e.addresses : [e.target];
    return addresses.map((address) => ({
      carrier: 'tls' as const,
      host: address,
      port: e.port,
      servername,
      label: address === e.target ? e.url : `${e.url} (${address})`,
    }));
  }

  /** One connection from dial to close. Never rejects. */
  private connectOnce(slot: Slot, dial: Dial): Promise<Outcome> {
    slot.dials++;
    if (slot.dials > 1) this.counters.reconnects++;
    if (dial.carrier === 'ws') return this.connectWebSocketOnce(slot, dial);
    const { host, port, servername } = dial;
    slot.state = 'connecting';
    slot.session = undefined;
    slot.connectedAt = undefined;
    this.emit({ type: 'connecting', connection: slot.index, endpoint: slot.endpoint.label, intermediary: dial.label });
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
        this.emit({ type: 'connect-failed', connection: slot.index, endpoint: slot.endpoint.label, reason });
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
        if (!this.active(slot)) {
          socket.destroy();
          return;
        }
        // draft-bt-httpbis-reverse-http-01: if ALPN does not come back as h2-reverse, the agent closes the connection.
        if (socket.alpnProtocol !== H2_REVERSE_ALPN) {
          failure = { refused: true, reason: alpnMismatch(socket.alpnProtocol) };
          socket.destroy();
          return;
        }
        this.serve(slot, dial, socket, () => socketError).then(resolve);
      });
      socket.once('close', () => {
        clearTimeout(connectTimer);
        if (slot.session) return; // serve() reports this one
        if (!failure) {
          if (!this.active(slot)) {
            resolve({ refused: false, healthy: false });
            return;
          }
          failure = socketError
            ? { refused: isPermanentFailure(socketError), reason: describeConnectError(socketError, { host, port, servername }) }
            : { refused: false, reason: 'the intermediary closed the connection during the TLS handshake' };
        }
        slot.lastError = failure.reason;
        this.emit(failure.refused ? { type: 'refused', connection: slot.index, endpoint: slot.endpoint.label, reason: failure.reason } : { type: 'connect-failed', connection: slot.index, endpoint: slot.endpoint.label, reason: failure.reason });
        resolve({ refused: failure.refused, healthy: false, unreached: !failure.refused });
      });
    });
  }

  /** One connection over the WebSocket carrier (carriers/websocket.ts), then the same serve() as TLS. Never rejects. */
  private async connectWebSocketOnce(slot: Slot, dial: Dial): Promise<Outcome> {
    slot.state = 'connecting';
    slot.session = undefined;
    slot.connectedAt = undefined;
    this.emit({ type: 'connecting', connection: slot.index, endpoint: slot.endpoint.label, intermediary: dial.label });
    let socket: WebSocketCarrierSocket;
    try {
      socket = await openWebSocketSocket({
        url: dial.url!,
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
      this.emit(refused ? { type: 'refused', connection: slot.index, endpoint: slot.endpoint.label, reason } : { type: 'connect-failed', connection: slot.index, endpoint: slot.endpoint.label, reason });
      return { refused, healthy: false, unreached: !refused };
    }
    if (!this.active(slot)) {
      socket.destroy();
      return { refused: false, healthy: false };
    }
    let socketError: Error | undefined;
    socket.on('error', (error) => {
      socketError ??= error;
    });
    slot.socket = socket as unknown as tls.TLSSocket;
    return this.serve(slot, dial, socket as unknown as tls.TLSSocket, () => socketError);
  }

  /** Run the HTTP/2 server session on an established socket until it closes. */
  private async serve(slot: Slot, dial: Dial, socket: tls.TLSSocket, socketError: () => Error | undefined): Promise<Outcome> {
    let pingTimedOut = false;
    // In TLS 1.3 the server checks our certificate after our side of the handshake is done; when it
    // refuses it, Node's client sees only the connection end. Silence until then tells us that much.
    let heardFromPeer = false;
    const onFirstData = () => {
      heardFromPeer = true;
      socket.off('data', onFirstData);
    };
    socket.on('data', onFirstData);
    let handOver: (() => void) | undefined;
    // "connected" is said once the intermediary admitted us, not when TLS is up: a refusal (GOAWAY)
    // may still come after its certificate and ORIGIN checks (reverse/admission.ts).
    let admissionWait: ReturnType<typeof setTimeout> | undefined;
    let admitted = false;
    const announce = (unconfirmed: boolean) => {
      if (admitted) return;
      admitted = true;
      clearTimeout(admissionWait);
      this.emit({ type: 'connected', connection: slot.index, endpoint: slot.endpoint.label, intermediary: dial.label, origins: [...this.origins], tlsVersion: socket.getProtocol(), ...(unconfirmed ? { unconfirmed } : {}) });
    };
    const session = connectSocket(socket, {
      role: 'server',
      // RFC 8336 / draft §2: the agent sends SETTINGS and then, immediately, ORIGIN with the origins it claims.
      origins: this.origins,
      // Every stream meets onStream first when there is one (it may leave the request to handler).
      onStream: this.serveStream
        ? (stream) => {
            announce(false);
            handOver?.();
            slot.endpoint.requests++;
            return this.serveStream!(stream);
          }
        : undefined,
      handler: (request, info) => {
        if (!this.serveStream) {
          announce(false);
          handOver?.();
          slot.endpoint.requests++;
        }
        return this.handle(request, info);
      },
      onError: (error) => this.emit({ type: 'request-error', connection: slot.index, endpoint: slot.endpoint.label, message: (error as Error)?.message ?? String(error) }),
      onPing: (opaque) => {
        if (isAdmissionPing(opaque)) announce(false);
      },
    });
    const connectedAt = Date.now();
    slot.session = session;
    slot.connectedAt = connectedAt;
    slot.state = 'connected';
    admissionWait = setTimeout(() => announce(true), ADMISSION_WAIT_MS);
    // Make before break (draft §7.2): the session this one replaces stops taking requests only once
    // this one is registered, which its first request proves (or we assume after a while).
    const replaced = slot.replaced;
    slot.replaced = undefined;
    let handover: ReturnType<typeof setTimeout> | undefined;
    if (replaced) {
      handOver = () => {
        handOver = undefined;
        clearTimeout(handover);
        replaced.goaway(ErrorCode.NO_ERROR, 'connection rotation (maximum age)');
      };
      handover = setTimeout(handOver, ROTATION_HANDOVER_MS);
    }

    const stopKeepalive = this.keepalive(session, slot, () => {
      pingTimedOut = true;
      socket.destroy();
    });
    const closed = session.closed.then(async (error) => {
      stopKeepalive();
      this.retired.delete(session);
      if (handOver) {
        // Gone before taking over: the old session keeps serving until the next replacement.
        clearTimeout(handover);
        handOver = undefined;
        slot.replaced ??= replaced;
      }
      // Our side is done; give the peer a moment to close TLS cleanly, then make sure the socket is
      // gone. Wait for it: the last response's final DATA frame may still sit in the socket's
      // buffer, and a process that exits now (after stop()) would cut it off.
      if (!socket.destroyed) {
        await new Promise<void>((resolve) => {
          const linger = setTimeout(() => {
            socket.destroy();
            resolve();
          }, SOCKET_LINGER_MS);
          socket.once('close', () => {
            clearTimeout(linger);
            resolve();
          });
        });
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
    clearTimeout(admissionWait);
    if (ended.rotated) {
      // This slot dials the replacement now; the old session gets GOAWAY once that one serves and
      // then drains on its own (in-flight requests finish).
      this.emit({ type: 'rotating', connection: slot.index, endpoint: slot.endpoint.label, ageMs: Date.now() - connectedAt });
      this.retired.add(session);
      slot.replaced = session;
      return { refused: false, healthy: true, rotated: true };
    }
    const error = ended.error;
    const healthy = Date.now() - connectedAt >= this.backoff.healthyAfterMs;
    if (!this.active(slot)) return { refused: false, healthy };

    const goaway = session.connection.goawayReceived;
    if (goaway && goaway.errorCode !== ErrorCode.NO_ERROR) {
      const codeName = errorCodeName(goaway.errorCode);
      let debug = new TextDecoder().decode(goaway.debugData).trim();
      // Our engine prefixes the code name to the debug text; the event carries the code separately.
      if (debug.startsWith(`${codeName}: `)) debug = debug.slice(codeName.length + 2);
      const reason = debug || 'no reason given';
      slot.lastError = reason;
      this.emit({ type: 'refused', connection: slot.index, endpoint: slot.endpoint.label, reason, errorCode: codeName });
      return { refused: true, healthy: false };
    }
    if (!heardFromPeer && !socketError() && !pingTimedOut) {
      const reason =
        'the intermediary closed the connection right after the TLS handshake without a word: it probably does not accept our certificate ' +
        '(check --cert/--key and that the intermediary trusts the CA that issued them)';
      slot.lastError = reason;
      this.emit({ type: 'connect-failed', connection: slot.index, endpoint: slot.endpoint.label, reason });
      return { refused: false, healthy: false };
    }
    let reason: string;
    if (pingTimedOut) reason = 'the intermediary stopped answering PINGs';
    else if (goaway) reason = `the intermediary is shutting down the connection (GOAWAY${goaway.debugData.length ? `: ${new TextDecoder().decode(goaway.debugData)}` : ''})`;
    else if (socketError()) reason = describeConnectError(socketError(), { host: dial.host, port: dial.port, servername: dial.servername });
    else if (error) reason = error.message;
    else reason = 'the intermediary closed the connection';
    slot.lastError = reason;
    this.emit({ type: 'disconnected', connection: slot.index, endpoint: slot.endpoint.label, reason });
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
        this.emit({ type: 'ping-timeout', connection: slot.index, endpoint: slot.endpoint.label, timeoutMs });
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

/** Status class names by hundreds, made once (counted per request). */
const STATUS_CLASSES = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

/** Every value of a request field joined as the Fetch API's Headers.get would (", "), or null. */
function joinedField(stream: ServerStream, name: string): string | null {
  let value: string | null = null;
  for (const [n, v] of stream.head.fields) if (n === name) value = value === null ? v : `${value}, ${v}`;
  return value;
}

/** A pass-through stream that reports the size of every chunk. */
function byteCounter(add: (n: number) => void): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(chunk, controller) {
      add(chunk.byteLength);
      controller.enqueue(chunk);
    },
  });
}

/** An endpoint as the `discovered` event names it: `tls://proxy.example.net:8443 (192.0.2.7, 192.0.2.8)`, plus ` or wss://…` alternatives. */
function describeDials(endpoint: { label: string; dials: Dial[] }): string {
  const addresses = endpoint.dials.filter((d) => d.carrier === 'tls' && d.label !== endpoint.label).map((d) => d.host);
  const others = endpoint.dials.filter((d) => d.carrier === 'ws' && d.label !== endpoint.label).map((d) => d.label);
  const tlsFirst = endpoint.dials[0]?.carrier === 'tls';
  let text = endpoint.label;
  if (tlsFirst && addresses.length > 0) text += ` (${addresses.join(', ')})`;
  for (const o of others) text += ` or ${o}`;
  return text;
}
