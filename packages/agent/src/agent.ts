/**
 * The origin agent: dials out to an intermediary over TLS 1.3 with ALPN `h2-reverse`
 * (draft-bt-httpbis-reverse-http-01) and is the HTTP/2 **server** on that connection, answering
 * the requests the intermediary sends back down it — from a local upstream URL or an in-process
 * `fetch(Request)` handler. It holds several connections to each endpoint of the intermediary
 * (the URL given, or every ServiceMode record of its SVCB record set, so that several
 * intermediary processes or hosts behind one name share the load), PINGs them, reconnects with
 * exponential backoff and jitter, and drains in-flight requests on stop.
 *
 * This file assembles the agent: what answers requests (upstream, handler, ingress), the counters,
 * and which carrier dials (carriers/tls.ts, carriers/websocket.ts). Holding the connections —
 * slots, backoff, discovery TTL, rotation, keepalive — is supervisor.ts, which sees a carrier only
 * through the `Carrier` interface (carrier.ts).
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
import { isIP } from 'node:net';
import { carryTrailers, DEFAULT_DOH_URL, parseOrigin, serializeOrigin, unbracketHost, type ReversedH2Alpn, type ServerStream, type StreamInfo } from '@rhttp/core';
import { DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import type { AgentEvent } from './agent-events.js';
import { toFetchHandler, type FetchHandlerLike } from './handler-module.js';
import { HttpUpstream, type ExchangeMeter } from './upstream.js';
import { H2cUpstream } from './h2c-upstream.js';
import { ConnectRelay, isPlainConnect, relayTargetOf } from './connect-relay.js';
import { ViaDiscovery } from './via-discovery.js';
import type { IngressRouter } from './ingress.js';
import type { AnyCarrier, Dial } from './carrier.js';
import { checkTlsMaterial, dialTls } from './carriers/tls.js';
import { dialWebSocket } from './carriers/websocket.js';
import { dialPtth } from './carriers/ptth.js';
import { dialableCarriers, dialQuic, quicUnavailable } from './carriers/quic.js';
import { discoverIntermediaryDetails, parseBareIntermediary, type BareIntermediary, type ResolveOptions } from './discover.js';
import { DEFAULT_DRAIN_TIMEOUT_MS, Supervisor, type ConnectionStatus, type EndpointStatus } from './supervisor.js';

export {
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_PING_TIMEOUT_MS,
  DEFAULT_DRAIN_TIMEOUT_MS,
  MIN_DISCOVERY_TTL_S,
  MAX_DISCOVERY_TTL_S,
  type ConnectionStatus,
  type EndpointStatus,
} from './supervisor.js';

/** Connections held to each endpoint: one can fail or be rotated while the other carries traffic (cloudflared holds four). */
export const DEFAULT_CONNECTIONS = 2;
/** Most connections one agent may hold to one endpoint: each is a full HTTP/2 session at the intermediary. */
export const MAX_CONNECTIONS = 16;
/** TCP + TLS handshake budget; a hung handshake is then retried like any failure. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;

/** Options of {@link Agent}. Exactly one of `upstream`, `handler` and `ingress` is required. */
export interface AgentOptions {
  /**
   * Where to dial: `tls://host:port` (carrier 1), `ws://host:port` / `wss://host[:port]` (carrier 2,
   * an edge), `quic://host:port` (`h3-reverse`, Deno with `--unstable-net` only), or a bare name `proxy.example.net[:port]` found through SVCB over DNS-over-HTTPS.
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
  /** `https://` intermediaries (carriers/ptth.ts): HTTP/1.1 `Upgrade: ptth` (default) or extended CONNECT over HTTP/2 where offered. */
  ptth?: 'upgrade' | 'connect';
  /** `tls://` intermediaries (carriers/tls.ts): the ALPN to offer, `h2-reverse` (default) or draft-thomson-ptth-potato's `rh2`. */
  alpn?: ReversedH2Alpn;
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
  carrier: 'tls' | 'ws' | 'ptth' | 'quic';
  host: string;
  port: number;
  /** WebSocket carrier: the edge's `ws://` or `wss://` URL; ptth: the `https://` URL (as given, without a trailing "/"). */
  url?: string;
}

/** Default port of `tls://` and `quic://` intermediaries without one. */
const DEFAULT_TLS_PORT = 443;

/**
 * Parse `tls://host:port`, `quic://host:port`, `https://host[:port]`, `ws://host:port` or `wss://host[:port]`. Throws a
 * TypeError with a plain explanation otherwise; bare names go through SVCB discovery instead
 * (`resolveIntermediary`).
 */
export function parseIntermediary(text: string): IntermediaryAddress {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme === 'https') {
    // draft-kazuho-ptth-ptth-01: HTTPS to the intermediary's browser port, upgraded to ptth (carriers/ptth.ts).
    const https = authorityUrl(text, 'https://host[:port]', ' (the PTTH path is added by the agent)');
    return { carrier: 'ptth', host: unbracketHost(https.hostname), port: https.port ? Number(https.port) : 443, url: `https://${https.host}` };
  }
  if (scheme === 'ws' || scheme === 'wss') {
    // Carrier 2 (DESIGN.md): the PTTH-shaped WebSocket to an edge (carriers/websocket.ts).
    const ws = authorityUrl(text, `${scheme}://host[:port]`);
    const port = ws.port ? Number(ws.port) : scheme === 'wss' ? 443 : 80;
    return { carrier: 'ws', host: unbracketHost(ws.hostname), port, url: `${scheme}://${ws.host}` };
  }
  if (scheme === undefined) {
    throw new TypeError(`--intermediary ${text} is a bare name: it is found through SVCB discovery (resolveIntermediary), not parsed as an address`);
  }
  // quic://: QUIC with ALPN h3-reverse (carriers/quic.ts), addressed as tls:// is.
  if (scheme !== 'tls' && scheme !== 'quic') throw new TypeError(`--intermediary must be tls://host:port, quic://host:port, https://host[:port], ws://host:port or wss://host[:port], got ${text}`);
  const url = authorityUrl(text, `${scheme}://host:port`);
  const host = unbracketHost(url.hostname);
  return { carrier: scheme, host, port: url.port ? Number(url.port) : DEFAULT_TLS_PORT };
}

/**
 * `text` as a URL of a scheme, a host and maybe a port (a lone "/" path allowed). Throws a TypeError
 * saying `--intermediary must be FORM`, with `detail` when the URL parsed but carries more.
 */
function authorityUrl(text: string, form: string, detail = ''): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`--intermediary must be ${form}, got ${text}`);
  }
  if (!url.hostname || (url.pathname !== '' && url.pathname !== '/') || url.search || url.hash || url.username) {
    throw new TypeError(`--intermediary must be ${form}${detail}, got ${text}`);
  }
  return url;
}


function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
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
  private readonly handle: (request: Request, info: StreamInfo) => Response | Promise<Response>;
  /**
   * The stream API's hot path (an http(s) upstream): takes a request stream, or returns false to
   * leave it to `handle` (tunnels). Undefined: every request goes through `handle`.
   */
  private readonly serveStream: ((stream: ServerStream) => void | false) | undefined;
  private readonly upstream: HttpUpstream | H2cUpstream | undefined;
  /** `viaDiscovery`: peer connections to intermediaries seen in Via. */
  readonly viaDiscovery: ViaDiscovery | undefined;
  /** The connections: slots per endpoint, backoff, discovery TTL, rotation, keepalive (supervisor.ts). */
  private readonly supervisor: Supervisor;
  private state: AgentStatus['state'] = 'new';
  private stopping: Promise<void> | undefined;
  private readonly counters = { refusals: 0, requests: new Map<string, number>(), bytesIn: 0, bytesOut: 0 };

  constructor(options: AgentOptions) {
    this.options = options;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(options.intermediary)) {
      this.intermediary = parseIntermediary(options.intermediary);
      // quic:// runs only where there is QUIC (Deno with --unstable-net): say so now, not on every dial.
      const unavailable = this.intermediary.carrier === 'quic' ? quicUnavailable() : undefined;
      if (unavailable) throw new TypeError(unavailable);
    } else {
      this.discoveryName = parseBareIntermediary(options.intermediary);
    }
    if (!options.origins || options.origins.length === 0) throw new TypeError('an agent needs at least one origin');
    this.origins = options.origins.map((o) => serializeOrigin(parseOrigin(o)));
    checkTlsMaterial(options);
    const count = options.connections ?? DEFAULT_CONNECTIONS;
    if (!Number.isInteger(count) || count < 1 || count > MAX_CONNECTIONS) {
      throw new TypeError(`connections must be a whole number from 1 to ${MAX_CONNECTIONS}, got ${count}`);
    }
    if ([options.upstream, options.handler, options.ingress].filter((x) => x !== undefined).length !== 1) {
      throw new TypeError('an agent needs exactly one of upstream (a URL), handler (a fetch handler) and ingress (rules)');
    }
    const backoff: BackoffPolicy = { ...DEFAULT_BACKOFF, ...options.backoff };
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
    let fixed: Dial | undefined;
    if (this.intermediary) {
      // A URL given is one endpoint; a bare name gets its endpoints from each SVCB answer.
      const { carrier, host, port, url } = this.intermediary;
      const servername = options.servername ?? (isIP(host) ? undefined : host);
      fixed = { carrier, host, port, servername, url, label: this.target };
    }
    const name = options.intermediary;
    this.supervisor = new Supervisor({
      origins: this.origins,
      connectionsPerEndpoint: count,
      dial: (dial, signal) => this.dialCarrier(dial, signal),
      fixed,
      discovery: this.discoveryName
        ? {
            name,
            servername: options.servername,
            // h3-reverse first where QUIC can be dialed (Deno with --unstable-net), h2-reverse first elsewhere.
            lookup: () => discoverIntermediaryDetails(name, { carriers: dialableCarriers(), ...options.discovery, doh: options.doh ?? DEFAULT_DOH_URL }),
          }
        : undefined,
      handle: this.handle,
      serveStream: this.serveStream,
      emit: (event) => this.emit(event),
      backoff,
      random: options.random,
      pingIntervalMs: options.pingIntervalMs,
      pingTimeoutMs: options.pingTimeoutMs,
      maxConnectionAgeMs: options.maxConnectionAgeMs,
    });
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

  /** The intermediary as configured: `tls://host:port` or `quic://host:port`, the edge URL, or the bare name. */
  get target(): string {
    if (!this.intermediary) return this.options.intermediary;
    if (this.intermediary.url) return this.intermediary.url;
    return `${this.intermediary.carrier}://${hostPort(this.intermediary.host, this.intermediary.port)}`;
  }

  /** Requests being answered right now, over all connections. */
  get inFlight(): number {
    return this.supervisor.inFlight;
  }

  /** Open the connections (each keeps itself up until `stop()`). Calling it twice does nothing. */
  start(): void {
    if (this.state !== 'new') return;
    this.state = 'running';
    this.supervisor.start();
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
      endpoints: this.supervisor.endpointStatus(),
      connections: this.supervisor.connectionStatus(),
      ...(this.discoveryName ? { discovery: { name: this.options.intermediary, ...this.supervisor.discoveryStatus() } } : {}),
    };
  }

  /** Counters and gauges for Prometheus; see {@link AgentMetrics}. */
  metrics(): AgentMetrics {
    const { connections, pingRttMs, endpoints } = this.supervisor.connectionMetrics();
    return {
      connections,
      reconnects: this.supervisor.reconnects,
      refusals: this.counters.refusals,
      requests: Object.fromEntries(this.counters.requests),
      bytes: { in: this.counters.bytesIn, out: this.counters.bytesOut },
      inFlight: this.inFlight,
      pingRttMs,
      endpoints,
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

  private async shutdown(graceful: boolean, timeoutMs: number): Promise<void> {
    const wasStarted = this.state !== 'new';
    this.state = 'stopping';
    await this.supervisor.stop(graceful, timeoutMs);
    await this.viaDiscovery?.stop();
    this.upstream?.close();
    this.options.ingress?.close();
    this.state = 'stopped';
    if (wasStarted) this.emit({ type: 'stopped' });
  }

  /** Carrier 1 (TLS, carriers/tls.ts), carrier 2 (WebSocket, carriers/websocket.ts), ptth (carriers/ptth.ts) or QUIC (carriers/quic.ts) to one dial. */
  private dialCarrier(dial: Dial, signal: AbortSignal): Promise<AnyCarrier> {
    const connectTimeoutMs = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const peer = { host: dial.host, port: dial.port, servername: dial.servername };
    if (dial.carrier === 'ptth') {
      return dialPtth(peer, { url: dial.url!, origins: this.origins, cert: this.options.cert, key: this.options.key, ca: this.options.ca, connectTimeoutMs, mode: this.options.ptth }, signal);
    }
    if (dial.carrier === 'quic') {
      return dialQuic(peer, { certChainPem: this.options.cert, keyPem: this.options.key, ca: this.options.ca, connectTimeoutMs }, signal);
    }
    if (dial.carrier === 'ws') {
      return dialWebSocket(peer, { url: dial.url!, origins: this.origins, certChainPem: this.options.cert, keyPem: this.options.key, ca: this.options.ca, connectTimeoutMs }, signal);
    }
    return dialTls(peer, { cert: this.options.cert, key: this.options.key, ca: this.options.ca, connectTimeoutMs, alpn: this.options.alpn }, signal);
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
