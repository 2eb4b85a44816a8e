/**
 * The self-hosted Node intermediary (DESIGN.md, "The Node intermediary"): agents dial in over
 * TLS with ALPN `h2-reverse` and a client certificate; browsers reach it over HTTP/1.1 + h2c
 * (`http`) and HTTPS with HTTP/2 + HTTP/1.1 (`https`); the broker sends each browser request
 * down a verified agent session.
 *
 * @example
 * const intermediary = new Intermediary({
 *   agents: { host: '127.0.0.1', port: 8443 },
 *   http: { host: '127.0.0.1', port: 8080 },
 *   cert: intermediaryPem, key: intermediaryKey, trust: originCaPem,
 *   log: (line) => console.log(line),
 * });
 * const addresses = await intermediary.start();  // { agents: { host, port }, http: { host, port } }
 * // …
 * await intermediary.stop();
 */
import { X509Certificate } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import { isIP, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { ErrorCode, fromResponse, H2_REVERSE_ALPN, H3ErrorCode, isReversedH2Alpn, registrableDomain, REVERSED_H2_ALPNS, RH2_ALPN, unbracketHost, type Http2Error, type QuicConnection, type ResponseMessage } from '@rhttp/core';
import { BrokerRegistry, ClientBudgetError, requestOrigin, secureOrigin, type BrokerStatus } from '@rhttp/broker';
import { AgentSession, peerCertificateChain, type AgentCarrier, type AgentSessionEvents, type AgentSessionState } from './agent-session.js';
import type { Answer, ListenerRequest, RoutedUrl } from './browser-exchange.js';
import { createCleartextListener, createHttp3Browsers, createTlsListener, type BrowserListener, type Http3Browsers } from './browser-listeners.js';
import { altSvcValue } from './alt-svc.js';
import { ClientBudget } from './client-budget.js';
import { ConnectProxy, PLAIN_CONNECT } from './connect-proxy.js';
import { PtthAcceptor, type PtthAgent } from './ptth-upgrade.js';
import type { TunnelAnswer } from './websocket-upgrade.js';
import type { LogFunction } from './log-format.js';
import { CODE_CLASSES, REFUSAL_REASONS, codeClass, createMetricsServer, renderMetrics, type CodeClass, type RefusalReason } from './metrics.js';
import { checkStatusAccess, statusPageResponse } from './status-page.js';
import { listenQuic, QUIC_ALPNS, type QuicListener } from './quic-listener.js';

/** ALPN protocol id of the reversed carrier (draft-bt-httpbis-reverse-http-01). */
/** ALPN of the enrollment endpoint on the agent listener (one-token onboarding, enrollment.ts). */
export const ENROLLMENT_ALPN = 'http/1.1';
/** Path on every browser listener that the intermediary answers itself. */
export const STATUS_PATH = '/.rhttp/status';
/** An agent that has not finished the TLS handshake by then is not going to. */
export const AGENT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** How long `stop()` lets in-flight requests finish before closing every connection. */
export const STOP_GRACE_MS = 5_000;
/** Refusals remembered for the status page: enough to see a pattern, bounded against a flood of bad agents. */
const RECENT_REFUSALS_LIMIT = 20;
/** Agent errors and gateway answers remembered for the status page, bounded for the same reason. */
const RECENT_ERRORS_LIMIT = 20;
/** Answers listed under recent errors: the ones that say the path to the origin failed (RFC 9110 §15.6.3-5). */
const GATEWAY_ERROR_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);
/** Longest request path kept in a recent error: enough to recognize it, bounded against huge URLs. */
const RECENT_ERROR_PATH_CHARS = 200;
/** TCP keep-alive on agent sockets: NAT boxes drop idle flows after minutes; PING covers the HTTP/2 side. */
const AGENT_TCP_KEEPALIVE_MS = 30_000;

/** A listening address. Port 0 asks the OS for a free port; `start()` reports the real one. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** Options of {@link Intermediary}. */
export interface IntermediaryOptions {
  /** TLS `h2-reverse` listener for agents (client certificate required). */
  agents: ListenAddress;
  /** Cleartext listener for browsers: HTTP/1.1 and h2c (prior knowledge) on one port. */
  http?: ListenAddress;
  /** TLS listener for browsers: HTTP/2 and HTTP/1.1 by ALPN. */
  https?: ListenAddress;
  /**
   * QUIC listener (Deno with `--unstable-net` only, quic-listener.ts): agents by ALPN `h3-reverse`,
   * browsers by `h3`, with `cert`/`key`. A UDP port: it may share its number with a TCP listener.
   */
  quic?: ListenAddress;
  /** PEM certificate chain of the intermediary, for the agent listener and the https listener. */
  cert: string;
  /** PEM private key for `cert`. */
  key: string;
  /** PEM trust anchors (one or several CA certificates) for agents' origin certificates. */
  trust: string;
  /** Where log lines go: a plain-words sentence and, for structured logs, its record. Default: nowhere. */
  log?: LogFunction;
  /** Time for an origin's response headers before the browser gets 504. Default: the broker's (100 s). */
  responseTimeoutMs?: number;
  /** Separate listener for Prometheus metrics (`GET /metrics`); none when absent. */
  metrics?: ListenAddress;
  /** Requests one client address may have in flight at once; more get 503. Default 512 (client-budget.ts). */
  maxExchangesPerClient?: number;
  /**
   * When set, `/.rhttp/status` requires `Authorization: Bearer <statusToken>`; when absent it is
   * served only to loopback clients (it shows agents' IP addresses).
   */
  statusToken?: string;
  /**
   * One-token onboarding (enrollment.ts): when set, the agent listener also offers ALPN
   * `http/1.1` and hands those connections here; the `h2-reverse` path is unchanged.
   */
  enrollment?: { serve(socket: TLSSocket): void };
}

/** The addresses actually bound. */
export interface IntermediaryAddresses {
  agents: ListenAddress;
  http?: ListenAddress;
  https?: ListenAddress;
  quic?: ListenAddress;
  metrics?: ListenAddress;
}

/** One agent connection as the status page shows it. JSON-able. */
export interface AgentSessionStatus {
  id: string;
  remoteAddress: string;
  /** What carries it: TLS (`h2-reverse`/`rh2`), an upgraded ptth request, or QUIC (`h3-reverse`). */
  carrier: AgentCarrier;
  /** The reversed HTTP it runs: HTTP/2 on TLS and ptth, HTTP/3 on QUIC. */
  httpVersion: 'h2' | 'h3';
  state: AgentSessionState;
  /** Certificate subject, once the chain verified. */
  subject: string | null;
  origins: string[];
  openStreams: number;
  maxConcurrentStreams: number | null;
  draining: boolean;
  rttMs: number | null;
  ageMs: number;
  /** Response bytes received from the agent and not yet taken by browsers (bounded per session, see @rhttp/core limits.maxBufferedBytes). */
  bufferedBytes: number;
  /** Streams reset because their browser stopped reading while the session's buffer was full. */
  budgetResets: number;
}

/** JSON snapshot for `/.rhttp/status`. */
export interface IntermediaryStatus {
  startedAt: string | null;
  listeners: IntermediaryAddresses | null;
  /** Origins currently served (union over authorized, non-draining sessions). */
  origins: string[];
  sessions: AgentSessionStatus[];
  brokers: BrokerStatus[];
  counters: {
    agentConnections: number;
    agentsAuthorized: number;
    /** Agent connections refused or failed before authorization (the sum of `refusals`). */
    agentsRefused: number;
    browserRequests: number;
    refusals: Record<RefusalReason, number>;
    /** Browser requests answered, by status class. */
    responses: Record<CodeClass, number>;
    /** Body bytes relayed, counted as they stream: browser to origin (`request`) and back (`response`). */
    bodyBytes: { request: number; response: number };
    /** Browser requests refused because their address had too many in flight. */
    clientBudgetRefusals: number;
  };
  /** Browser exchanges in flight now, and the addresses they come from. */
  browserExchanges: { active: number; clients: number };
  recentRefusals: { at: string; remoteAddress: string; kind: RefusalReason; reason: string }[];
  /**
   * Authorized agent sessions that ended with an error (`session` set), and browser requests
   * answered 502, 503 or 504 (`status` set; the message has the method, URL and Proxy-Status).
   */
  recentErrors: { at: string; session: string | null; status?: number; message: string }[];
}

/** The Node intermediary: agent listener, browser listeners, and the broker between them. */
export class Intermediary {
  readonly registry: BrokerRegistry;
  private readonly options: IntermediaryOptions;
  private readonly log: LogFunction;
  /** What every agent session (TLS, ptth, QUIC) reports to: a later ORIGIN frame registers again as the first did. */
  private readonly agentEvents: AgentSessionEvents;
  private readonly agents = new Set<AgentSession>();
  /** Agents the broker knows (authorized and registered). */
  private readonly registered = new Set<AgentSession>();
  /** Agent connections to end at stop: TLS sockets, upgraded ptth sockets, ptth CONNECT streams. */
  private readonly agentSockets = new Set<{ destroy(): void }>();
  private agentServer: TlsServer | undefined;
  private httpListener: BrowserListener | undefined;
  private httpsListener: (BrowserListener & { announce(origins: readonly string[]): void }) | undefined;
  private metricsServer: HttpServer | undefined;
  private quicListener: QuicListener | undefined;
  /** HTTP/3 browser sessions on the QUIC listener (ALPN h3). */
  private h3Browsers: Http3Browsers | undefined;
  /** Origins already sent to browsers in ORIGIN frames (RFC 8336 frames only add; nothing is withdrawn). */
  private readonly announced = new Set<string>();
  /** The https certificate's leaf, to tell which origins browsers would accept it for. */
  private httpsLeaf: X509Certificate | undefined;
  private addresses: IntermediaryAddresses | undefined;
  private startedAt: Date | undefined;
  private stopping: Promise<void> | undefined;
  private readonly counters: IntermediaryStatus['counters'] = {
    agentConnections: 0,
    agentsAuthorized: 0,
    agentsRefused: 0,
    browserRequests: 0,
    refusals: Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<RefusalReason, number>,
    responses: Object.fromEntries(CODE_CLASSES.map((c) => [c, 0])) as Record<CodeClass, number>,
    bodyBytes: { request: 0, response: 0 },
    clientBudgetRefusals: 0,
  };
  private readonly clientBudget: ClientBudget;
  private readonly recentRefusals: IntermediaryStatus['recentRefusals'] = [];
  private readonly recentErrors: IntermediaryStatus['recentErrors'] = [];

  constructor(options: IntermediaryOptions) {
    this.options = options;
    this.log = options.log ?? (() => {});
    this.agentEvents = {
      onAuthorized: (session) => this.onAuthorized(session),
      onOriginsChanged: (session) => this.onAuthorized(session),
      onClosed: (session, error) => this.onAgentClosed(session, error),
      log: this.log,
    };
    this.clientBudget = new ClientBudget(options.maxExchangesPerClient);
    this.registry = new BrokerRegistry({
      keyFor: registrableDomain,
      broker: options.responseTimeoutMs === undefined ? {} : { responseTimeoutMs: options.responseTimeoutMs },
    });
  }

  /** Binds every listener; resolves with the real addresses (ports given as 0 included). */
  async start(): Promise<IntermediaryAddresses> {
    if (this.addresses) return this.addresses;
    const { cert, key } = this.options;
    const agentServer = createTlsServer({
      cert,
      key,
      // Reversed HTTP/2 under either draft's name (h2-reverse first: an agent offering both gets it).
      ALPNProtocols: this.options.enrollment ? [...REVERSED_H2_ALPNS, ENROLLMENT_ALPN] : [...REVERSED_H2_ALPNS],
      // We ask for a certificate but validate it ourselves (DESIGN.md, Carrier 1 step 4): the TLS
      // stack's client-certificate checks would refuse ordinary serverAuth web certificates.
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
      handshakeTimeout: AGENT_HANDSHAKE_TIMEOUT_MS,
    });
    agentServer.on('secureConnection', (socket: TLSSocket) => this.onAgentConnection(socket));
    agentServer.on('tlsClientError', (error: Error, socket: TLSSocket) => {
      const from = `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`;
      const code = (error as NodeJS.ErrnoException).code;
      // An agent offering ALPN protocols without h2-reverse fails here (no_application_protocol alert).
      const kind: RefusalReason = code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'timeout' : code === 'ERR_SSL_NO_APPLICATION_PROTOCOL' ? 'alpn' : 'other';
      this.refused(from, kind, `TLS handshake failed: ${error.message}`);
      this.log(`agent TLS handshake from ${from} failed: ${error.message}`, { level: 'warn', event: 'agent.tls_failed', remoteAddress: from, reason: kind, error: error.message });
    });
    this.agentServer = agentServer;
    const answer: Answer = Object.assign((request: ListenerRequest, info: Parameters<Answer>[1]) => this.answer(request, info), {
      route: (url: URL, scheme: 'http' | 'https') => this.routeCleartext(url, scheme),
      requestBytes: (n: number) => (this.counters.bodyBytes.request += n),
      responseBytes: (n: number) => (this.counters.bodyBytes.response += n),
      admit: (clientAddress: string) => this.clientBudget.acquire(clientAddress) ?? new ClientBudgetError(this.clientBudget.maxPerClient).toMessage(),
      // With --quic, https responses advertise HTTP/3 on its port (alt-svc.ts).
      alternatives: (info: Parameters<Answer>[1]) => altSvcValue(this.addresses?.quic?.port ?? this.quicListener?.address.port, info),
    });
    // Browser WebSockets → RFC 8441 extended CONNECT on the reversed session (websocket-upgrade.ts).
    const websockets: TunnelAnswer = (request, protocol, info) => this.registry.tunnel(this.routeRequest(request, info.scheme), protocol, info);
    // Agents' PTTH requests on the browser listeners (draft-kazuho-ptth-ptth-01, ptth-upgrade.ts).
    const ptth = new PtthAcceptor({
      trust: this.options.trust,
      accept: (agent) => this.onPtthAgent(agent),
      refused: (from, kind, reason) => {
        this.counters.agentConnections++;
        this.refused(from, kind, reason);
      },
      accepting: () => !this.stopping,
      log: this.log,
    });
    const addresses: IntermediaryAddresses = { agents: await listen(agentServer, this.options.agents) };
    if (this.options.http) {
      // CONNECT host:port to a served origin goes down that agent's session (draft §3.1); others get 403.
      const connectProxy = new ConnectProxy({
        servedOrigins: () => this.servedOrigins(),
        tunnel: (request, info) => this.registry.tunnel(request, PLAIN_CONNECT, info),
      });
      this.httpListener = createCleartextListener(answer, connectProxy, websockets, ptth);
      addresses.http = await listen(this.httpListener.server, this.options.http);
    }
    // The certificate https and h3 browsers see: origins it covers go in ORIGIN frames.
    if (this.options.https || this.options.quic) this.httpsLeaf = new X509Certificate(cert);
    if (this.options.https) {
      this.httpsListener = createTlsListener(answer, { cert, key }, () => this.originsForBrowsers(), websockets, ptth);
      addresses.https = await listen(this.httpsListener.server, this.options.https);
    }
    // Served on the QUIC listener's h3 connections; made without one too, for QUIC accepted elsewhere (onQuicBrowser).
    this.h3Browsers = createHttp3Browsers(answer, () => this.originsForBrowsers(), websockets);
    if (this.options.quic) {
      this.quicListener = listenQuic({
        address: this.options.quic,
        cert,
        key,
        log: this.log,
        onAgent: (quic, from) => this.onQuicAgent(quic, from),
        onBrowser: (quic, from) => this.onQuicBrowser(quic, from),
      });
      addresses.quic = this.quicListener.address;
    }
    if (this.options.metrics) {
      this.metricsServer = createMetricsServer(() => this.metrics());
      addresses.metrics = await listen(this.metricsServer, this.options.metrics);
    }
    this.addresses = addresses;
    this.startedAt = new Date();
    const started = (what: string, url: string, detail: string) =>
      this.log(`listening for ${what} on ${url} (${detail})`, { level: 'info', event: 'listener.started', listener: what, url });
    started('agents', `tls://${formatAddress(addresses.agents)}`, `ALPN ${REVERSED_H2_ALPNS.join(' or ')}, client certificate required`);
    if (addresses.http) started('browsers', `http://${formatAddress(addresses.http)}`, 'HTTP/1.1 and h2c; agents by ptth behind a TLS-terminating proxy');
    if (addresses.https) started('browsers', `https://${formatAddress(addresses.https)}`, 'HTTP/2 and HTTP/1.1; agents by ptth');
    if (addresses.quic) started('agents and browsers', `quic://${formatAddress(addresses.quic)}`, `QUIC, ALPN ${QUIC_ALPNS.join(' or ')}; HTTP/3 for browsers (advertised with Alt-Svc on https)`);
    if (addresses.metrics) started('metrics', `http://${formatAddress(addresses.metrics)}/metrics`, 'Prometheus text format');
    return addresses;
  }

  /**
   * Graceful stop: no new connections; agents get GOAWAY(NO_ERROR) and browsers' HTTP/2 and HTTP/3
   * sessions GOAWAY; in-flight requests get up to {@link STOP_GRACE_MS}, then every connection closes.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.log('stopping: no new connections; in-flight requests may finish', { level: 'info', event: 'intermediary.stopping' });
    const closing: Promise<void>[] = [];
    if (this.agentServer) closing.push(new Promise((resolve) => this.agentServer!.close(() => resolve())));
    if (this.metricsServer) {
      const server = this.metricsServer;
      closing.push(new Promise((resolve) => server.close(() => resolve())));
      server.closeAllConnections();
    }
    if (this.httpListener) closing.push(this.httpListener.close());
    if (this.httpsListener) closing.push(this.httpsListener.close());
    this.quicListener?.stop();
    if (this.h3Browsers) {
      this.h3Browsers.goaway();
      closing.push(this.h3Browsers.drained());
    }
    for (const agent of this.agents) agent.close('the intermediary is shutting down');
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all(closing), new Promise((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS)))]);
    clearTimeout(timer);
    this.httpListener?.destroyAll();
    this.httpsListener?.destroyAll();
    this.h3Browsers?.closeAll();
    this.quicListener?.close();
    for (const socket of this.agentSockets) socket.destroy();
    await Promise.all(closing);
    this.log('stopped', { level: 'info', event: 'intermediary.stopped' });
  }

  /** JSON-able snapshot: origins, agent sessions, brokers, counters, recent refusals. */
  status(): IntermediaryStatus {
    const now = Date.now();
    return {
      startedAt: this.startedAt?.toISOString() ?? null,
      listeners: this.addresses ?? null,
      origins: this.servedOrigins(),
      sessions: [...this.agents].map((a) => ({
        id: a.id,
        remoteAddress: a.remoteAddress,
        carrier: a.carrier,
        httpVersion: a.httpVersion,
        state: a.state,
        subject: a.identity?.subject ?? null,
        origins: [...a.origins],
        openStreams: a.openStreams,
        maxConcurrentStreams: Number.isFinite(a.maxConcurrentStreams) ? a.maxConcurrentStreams : null,
        draining: a.draining,
        rttMs: a.rttMs ?? null,
        ageMs: now - a.connectedAt,
        bufferedBytes: a.bufferedBytes,
        budgetResets: a.budgetResets,
      })),
      brokers: this.registry.status().brokers,
      counters: {
        ...this.counters,
        refusals: { ...this.counters.refusals },
        responses: { ...this.counters.responses },
        bodyBytes: { ...this.counters.bodyBytes },
        clientBudgetRefusals: this.clientBudget.refused,
      },
      browserExchanges: { active: this.clientBudget.active, clients: this.clientBudget.clients },
      recentRefusals: this.recentRefusals.map((r) => ({ ...r })),
      recentErrors: this.recentErrors.map((e) => ({ ...e })),
    };
  }

  /** Prometheus text exposition of the current state (what the `metrics` listener serves). */
  metrics(): string {
    return renderMetrics(this.status());
  }

  /** Origins served now: the union over authorized sessions that are not draining. */
  servedOrigins(): string[] {
    const origins = new Set<string>();
    for (const a of this.agents) if (a.state === 'authorized' && !a.draining) for (const o of a.origins) origins.add(o);
    return [...origins].sort();
  }

  // ------------------------------------------------------------------ agents

  private onAgentConnection(socket: TLSSocket): void {
    // Enrollment is not an agent connection: it is one HTTP/1.1 request for a certificate.
    if (socket.alpnProtocol === ENROLLMENT_ALPN && this.options.enrollment && !this.stopping) {
      this.options.enrollment.serve(socket);
      return;
    }
    this.counters.agentConnections++;
    const from = `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`;
    // DESIGN.md, Carrier 1 step 1: the reversed connection exists only under ALPN h2-reverse.
    if (!isReversedH2Alpn(socket.alpnProtocol)) {
      this.refused(from, 'alpn', `ALPN was ${socket.alpnProtocol ? `"${socket.alpnProtocol}"` : 'not negotiated'}, not "${H2_REVERSE_ALPN}" or "${RH2_ALPN}"`);
      this.log(`refused connection from ${from}: ALPN ${socket.alpnProtocol ? `"${socket.alpnProtocol}"` : 'missing'}; agents must offer "${H2_REVERSE_ALPN}" (or "${RH2_ALPN}")`, {
        level: 'warn',
        event: 'agent.refused',
        remoteAddress: from,
        reason: 'alpn',
        alpn: socket.alpnProtocol || null,
      });
      socket.destroy();
      return;
    }
    if (this.stopping) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, AGENT_TCP_KEEPALIVE_MS);
    this.agentSockets.add(socket);
    socket.once('close', () => this.agentSockets.delete(socket));
    socket.on('error', () => {}); // the session sees the error through its transport; keep it from being unhandled
    const chain = peerCertificateChain(socket);
    this.log(`agent connected from ${from}; checking its certificate and waiting for its ORIGIN frame`, { level: 'info', event: 'agent.connected', remoteAddress: from });
    const agent = new AgentSession(socket, chain, this.options.trust, this.agentEvents);
    this.agents.add(agent);
    if (chain.length === 0) {
      // INADEQUATE_SECURITY: the carrier requires a client certificate (DESIGN.md, Carrier 1 step 1).
      agent.refuse(ErrorCode.INADEQUATE_SECURITY, 'no client certificate: an agent must present a certificate whose SANs cover its origins', 'certificate');
    }
  }

  /**
   * An agent on the QUIC port (ALPN h3-reverse): the reversed HTTP/3 session, in which we are the
   * HTTP/3 client. Deno's QUIC has no client certificates, so the agent proves its certificate
   * in-band (RHTTP_CHALLENGE / RHTTP_AUTHENTICATE, docs/carriers.md) before the same admission as
   * a TLS agent's: certificate to the trust anchors, then the ORIGIN frame covered by it.
   */
  private onQuicAgent(quic: QuicConnection, remoteAddress: string): void {
    this.counters.agentConnections++;
    if (this.stopping) {
      quic.close({ closeCode: H3ErrorCode.H3_NO_ERROR, reason: 'the intermediary is shutting down' });
      return;
    }
    this.log(`agent connected over QUIC from ${remoteAddress}; waiting for its in-band certificate proof and ORIGIN frame`, { level: 'info', event: 'agent.connected', remoteAddress, carrier: 'quic' });
    const agent = new AgentSession({ quic, remoteAddress }, [], this.options.trust, this.agentEvents);
    this.agents.add(agent);
  }

  /**
   * A browser on the QUIC port (ALPN h3): HTTP/3 in the server role, each request served as on the
   * https listener's HTTP/2 (browser-listeners.ts, createHttp3Browsers). Public so that a QUIC
   * connection accepted elsewhere (tests: an in-memory pair) can be handed in.
   */
  onQuicBrowser(quic: QuicConnection, remoteAddress: string): void {
    if (this.stopping || !this.h3Browsers) {
      quic.close({ closeCode: H3ErrorCode.H3_NO_ERROR, reason: this.stopping ? 'the intermediary is shutting down' : 'the intermediary is not started' });
      return;
    }
    this.log(`browser connected over QUIC from ${remoteAddress} (HTTP/3)`, { level: 'debug', event: 'browser.quic_connected', remoteAddress });
    this.h3Browsers.serve(quic, remoteAddress);
  }

  /**
   * An agent whose PTTH request was accepted (ptth-upgrade.ts): its identity is known, and its
   * ORIGIN frame must stay within the origins its path listed; then admission as on `h2-reverse`.
   */
  private onPtthAgent(agent: PtthAgent): void {
    this.counters.agentConnections++;
    const { socket } = agent;
    if (this.stopping) {
      socket.destroy();
      return;
    }
    this.agentSockets.add(socket);
    socket.once('close', () => this.agentSockets.delete(socket));
    socket.on('error', () => {}); // the session sees the error through its transport
    const session = new AgentSession(socket, [], this.options.trust, this.agentEvents, { identity: agent.identity, allowedOrigins: agent.origins });
    this.agents.add(session);
  }

  /** Registers (or re-registers after a later ORIGIN frame) with the broker of its domain. */
  private onAuthorized(agent: AgentSession): void {
    const first = !this.registered.has(agent);
    try {
      this.registry.register(agent);
    } catch (error) {
      // PROTOCOL_ERROR: the connection breaks the profile's one-domain-per-connection rule.
      agent.refuse(ErrorCode.PROTOCOL_ERROR, error instanceof Error ? error.message : String(error), 'origin');
      return;
    }
    if (first) this.counters.agentsAuthorized++;
    this.registered.add(agent);
    this.announceOrigins();
  }

  private onAgentClosed(agent: AgentSession, error: Http2Error | undefined): void {
    const wasRegistered = this.registered.has(agent);
    this.agents.delete(agent);
    this.registered.delete(agent);
    this.registry.unregister(agent);
    if (agent.refusal !== undefined) {
      this.refused(agent.remoteAddress, agent.refusalKind ?? 'other', agent.refusal);
    } else if (error !== undefined && wasRegistered) {
      this.recentError({ session: agent.id, message: error.message });
    }
    this.announceOrigins();
  }

  private recentError(entry: Omit<IntermediaryStatus['recentErrors'][number], 'at'>): void {
    this.recentErrors.push({ at: new Date().toISOString(), ...entry });
    if (this.recentErrors.length > RECENT_ERRORS_LIMIT) this.recentErrors.shift();
  }

    private refused(remoteAddress: string, kind: RefusalReason, reason: string): void {
    this.counters.agentsRefused++;
    this.counters.refusals[kind]++;
    this.recentRefusals.push({ at: new Date().toISOString(), remoteAddress, kind, reason });
    if (this.recentRefusals.length > RECENT_REFUSALS_LIMIT) this.recentRefusals.shift();
  }

  // ------------------------------------------------------------------ ORIGIN to browsers

  /**
   * Served origins that can go in an ORIGIN frame to browsers on the https listener: exact
   * `https://` origins (RFC 8336 has no wildcards) that the https certificate covers (RFC 8336
   * §2.4: a client uses an origin from the frame only if the certificate is valid for it, so an
   * uncovered one would only make the frame longer).
   */
  originsForBrowsers(): string[] {
    return this.servedOrigins().filter((o) => o.startsWith('https://') && !o.includes('*') && this.httpsCovers(o));
  }

  private httpsCovers(origin: string): boolean {
    if (!this.httpsLeaf) return false;
    const host = unbracketHost(new URL(origin).hostname);
    return isIP(host) ? this.httpsLeaf.checkIP(host) !== undefined : this.httpsLeaf.checkHost(host) !== undefined;
  }

  /**
   * Sends the origins not yet announced to every open browser HTTP/2 session on the https
   * listener (new sessions get the whole list when they open). An origin that goes away cannot be
   * withdrawn (RFC 8336 §2.3: each frame adds to the Origin Set); a browser that still sends its
   * requests here gets 503 until an agent serves it again.
   */
  private announceOrigins(): void {
    if (!this.httpsListener && !this.quicListener) return;
    const served = this.servedOrigins();
    // Forget origins that went away, so sessions opened since hear of them when they come back.
    for (const origin of this.announced) if (!served.includes(origin)) this.announced.delete(origin);
    const fresh: string[] = [];
    for (const origin of served) {
      if (this.announced.has(origin)) continue;
      this.announced.add(origin);
      if (!origin.startsWith('https://') || origin.includes('*')) continue;
      if (!this.httpsCovers(origin)) {
        this.log(`origin ${origin} is served but the https certificate does not cover it: browsers reaching it on the https listener will see a certificate error`, {
          level: 'warn',
          event: 'origin.not_covered',
          origin,
        });
        continue;
      }
      fresh.push(origin);
    }
    if (fresh.length > 0) {
      this.httpsListener?.announce(fresh);
      this.h3Browsers?.announce(fresh);
      this.log(`announcing ${fresh.join(', ')} to browsers on the https and QUIC listeners (ORIGIN frame)`, { level: 'debug', event: 'origin.announced', origins: fresh });
    }
  }

  // ------------------------------------------------------------------ browsers

  private async answer(request: ListenerRequest, info: Parameters<Answer>[1]): Promise<ResponseMessage> {
    this.counters.browserRequests++;
    const response = request.url.pathname === STATUS_PATH ? fromResponse(this.statusResponse(request, info.clientAddress)) : await this.registry.exchange(request, info);
    const cls = codeClass(response.status);
    if (cls) this.counters.responses[cls]++;
    if (GATEWAY_ERROR_STATUSES.has(response.status)) {
      const url = request.url;
      const path = url.pathname.length > RECENT_ERROR_PATH_CHARS ? `${url.pathname.slice(0, RECENT_ERROR_PATH_CHARS)}…` : url.pathname;
      const proxyStatus = response.fields.find(([name]) => name === 'proxy-status')?.[1] ?? null;
      this.recentError({
        session: null,
        status: response.status,
        message: `${response.status} for ${request.method} ${url.origin}${path}: ${proxyStatus !== null ? `Proxy-Status: ${proxyStatus}` : 'answered so by the origin'}`,
      });
    }
    return response;
  }

  /**
   * On the cleartext listener, `http://host:port` is matched against the origin set as is and,
   * when no agent serves that origin, as `https://host`: the listener then stands in front of the
   * https origins, as in development or behind a TLS-terminating load balancer. The origin sees
   * the https URL it serves; X-Forwarded-Proto still tells it the browser used http. Decided
   * before the browser's Request is built (browser-exchange.ts), so it is built once. The origin
   * routing parses is returned with the URL (on every listener), for the broker to route by.
   */
  private routeCleartext(url: URL, scheme: 'http' | 'https'): RoutedUrl {
    const target = requestOrigin(url);
    if (scheme !== 'http' || target === undefined || this.registry.serves(target)) return { url, origin: target };
    const secure = secureOrigin(target);
    if (!this.registry.serves(secure)) return { url, origin: target };
    // `hostname` keeps an IPv6 address's brackets; the port goes (https's default). `secure` is
    // this URL's origin: the same host, lower-case and without a trailing dot, on https:443.
    return { url: new URL(`https://${url.hostname}${url.pathname}${url.search}`), origin: secure };
  }

  /** {@link routeCleartext} for a Request that is already built (WebSocket upgrades): a copy only when the URL changes. */
  private routeRequest(request: Request, scheme: 'http' | 'https'): Request {
    if (scheme !== 'http') return request;
    const url = new URL(request.url);
    const routed = this.routeCleartext(url, scheme).url;
    if (routed === url) return request;
    return new Request(routed, { method: request.method, headers: request.headers, body: request.body, signal: request.signal, duplex: 'half' } as RequestInit);
  }

  private statusResponse(request: ListenerRequest, clientAddress: string): Response {
    const denied = checkStatusAccess(request, clientAddress, { token: this.options.statusToken });
    if (denied) return denied;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return new Response('Only GET and HEAD are allowed here.\n', { status: 405, headers: { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' } });
    }
    return statusPageResponse(request, this.status());
  }
}

function listen(server: NetServer, address: ListenAddress): Promise<ListenAddress> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(address.port, address.host, () => {
      server.off('error', onError);
      const bound = server.address() as AddressInfo;
      resolve({ host: address.host, port: bound.port });
    });
  });
}

/** `host:port`, IPv6 in brackets. */
export function formatAddress(address: ListenAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
