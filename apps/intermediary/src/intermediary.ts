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
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { ErrorCode, registrableDomain, type Http2Error } from '@rhttp/core';
import { BrokerRegistry, originMatch, parseOrigin, requestOrigin, type BrokerStatus } from '@rhttp/broker';
import { AgentSession, peerCertificateChain, type AgentSessionState } from './agent-session.js';
import type { Answer } from './browser-exchange.js';
import { createCleartextListener, createTlsListener, type BrowserListener } from './browser-listeners.js';

/** ALPN protocol id of the reversed carrier (draft-bt-httpbis-reverse-http-01). */
export const H2_REVERSE_ALPN = 'h2-reverse';
/** Path on every browser listener that the intermediary answers itself. */
export const STATUS_PATH = '/.rhttp/status';
/** An agent that has not finished the TLS handshake by then is not going to. */
export const AGENT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** How long `stop()` lets in-flight requests finish before closing every connection. */
export const STOP_GRACE_MS = 5_000;
/** Refusals remembered for the status page: enough to see a pattern, bounded against a flood of bad agents. */
const RECENT_REFUSALS_LIMIT = 20;
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
  /** PEM certificate chain of the intermediary, for the agent listener and the https listener. */
  cert: string;
  /** PEM private key for `cert`. */
  key: string;
  /** PEM trust anchors (one or several CA certificates) for agents' origin certificates. */
  trust: string;
  /** Where plain-words log lines go. Default: nowhere. */
  log?: (message: string) => void;
  /** Time for an origin's response headers before the browser gets 504. Default: the broker's (100 s). */
  responseTimeoutMs?: number;
}

/** The addresses actually bound. */
export interface IntermediaryAddresses {
  agents: ListenAddress;
  http?: ListenAddress;
  https?: ListenAddress;
}

/** One agent connection as the status page shows it. JSON-able. */
export interface AgentSessionStatus {
  id: string;
  remoteAddress: string;
  state: AgentSessionState;
  /** Certificate subject, once the chain verified. */
  subject: string | null;
  origins: string[];
  openStreams: number;
  maxConcurrentStreams: number | null;
  draining: boolean;
  rttMs: number | null;
  ageMs: number;
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
    agentsRefused: number;
    browserRequests: number;
  };
  recentRefusals: { at: string; remoteAddress: string; reason: string }[];
}

/** The Node intermediary: agent listener, browser listeners, and the broker between them. */
export class Intermediary {
  readonly registry: BrokerRegistry;
  private readonly options: IntermediaryOptions;
  private readonly log: (message: string) => void;
  private readonly agents = new Set<AgentSession>();
  /** Agents the broker knows (authorized and registered). */
  private readonly registered = new Set<AgentSession>();
  private readonly agentSockets = new Set<Socket>();
  private agentServer: TlsServer | undefined;
  private httpListener: BrowserListener | undefined;
  private httpsListener: (BrowserListener & { announce(origins: readonly string[]): void }) | undefined;
  private addresses: IntermediaryAddresses | undefined;
  private startedAt: Date | undefined;
  private stopping: Promise<void> | undefined;
  private readonly counters = { agentConnections: 0, agentsAuthorized: 0, agentsRefused: 0, browserRequests: 0 };
  private readonly recentRefusals: IntermediaryStatus['recentRefusals'] = [];

  constructor(options: IntermediaryOptions) {
    this.options = options;
    this.log = options.log ?? (() => {});
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
      ALPNProtocols: [H2_REVERSE_ALPN],
      // We ask for a certificate but validate it ourselves (DESIGN.md, Carrier 1 step 4): the TLS
      // stack's client-certificate checks would refuse ordinary serverAuth web certificates.
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
      handshakeTimeout: AGENT_HANDSHAKE_TIMEOUT_MS,
    });
    agentServer.on('secureConnection', (socket: TLSSocket) => this.onAgentConnection(socket));
    agentServer.on('tlsClientError', (error: Error, socket: TLSSocket) => {
      this.log(`agent TLS handshake from ${socket.remoteAddress ?? 'unknown'} failed: ${error.message}`);
    });
    this.agentServer = agentServer;
    const answer: Answer = (request, info) => this.answer(request, info);
    const addresses: IntermediaryAddresses = { agents: await listen(agentServer, this.options.agents) };
    if (this.options.http) {
      this.httpListener = createCleartextListener(answer);
      addresses.http = await listen(this.httpListener.server, this.options.http);
    }
    if (this.options.https) {
      this.httpsListener = createTlsListener(answer, { cert, key }, () => this.servedOrigins());
      addresses.https = await listen(this.httpsListener.server, this.options.https);
    }
    this.addresses = addresses;
    this.startedAt = new Date();
    this.log(`listening for agents on tls://${formatAddress(addresses.agents)} (ALPN ${H2_REVERSE_ALPN}, client certificate required)`);
    if (addresses.http) this.log(`listening for browsers on http://${formatAddress(addresses.http)} (HTTP/1.1 and h2c)`);
    if (addresses.https) this.log(`listening for browsers on https://${formatAddress(addresses.https)} (HTTP/2 and HTTP/1.1)`);
    return addresses;
  }

  /**
   * Graceful stop: no new connections; agents get GOAWAY(NO_ERROR) and browsers' HTTP/2 sessions
   * GOAWAY; in-flight requests get up to {@link STOP_GRACE_MS}, then every connection closes.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.log('stopping: no new connections; in-flight requests may finish');
    const closing: Promise<void>[] = [];
    if (this.agentServer) closing.push(new Promise((resolve) => this.agentServer!.close(() => resolve())));
    if (this.httpListener) closing.push(this.httpListener.close());
    if (this.httpsListener) closing.push(this.httpsListener.close());
    for (const agent of this.agents) agent.close('the intermediary is shutting down');
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all(closing), new Promise((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS)))]);
    clearTimeout(timer);
    this.httpListener?.destroyAll();
    this.httpsListener?.destroyAll();
    for (const socket of this.agentSockets) socket.destroy();
    await Promise.all(closing);
    this.log('stopped');
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
        state: a.state,
        subject: a.identity?.subject ?? null,
        origins: [...a.origins],
        openStreams: a.openStreams,
        maxConcurrentStreams: Number.isFinite(a.maxConcurrentStreams) ? a.maxConcurrentStreams : null,
        draining: a.draining,
        rttMs: a.rttMs ?? null,
        ageMs: now - a.connectedAt,
      })),
      brokers: this.registry.status().brokers,
      counters: { ...this.counters },
      recentRefusals: this.recentRefusals.map((r) => ({ ...r })),
    };
  }

  /** Origins served now: the union over authorized sessions that are not draining. */
  servedOrigins(): string[] {
    const origins = new Set<string>();
    for (const a of this.agents) if (a.state === 'authorized' && !a.draining) for (const o of a.origins) origins.add(o);
    return [...origins].sort();
  }

  // ------------------------------------------------------------------ agents

  private onAgentConnection(socket: TLSSocket): void {
    this.counters.agentConnections++;
    const from = `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`;
    // DESIGN.md, Carrier 1 step 1: the reversed connection exists only under ALPN h2-reverse.
    if (socket.alpnProtocol !== H2_REVERSE_ALPN) {
      this.counters.agentsRefused++;
      this.remember(from, `ALPN was ${socket.alpnProtocol ? `"${socket.alpnProtocol}"` : 'not negotiated'}, not "${H2_REVERSE_ALPN}"`);
      this.log(`refused connection from ${from}: ALPN ${socket.alpnProtocol ? `"${socket.alpnProtocol}"` : 'missing'}; agents must offer "${H2_REVERSE_ALPN}"`);
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
    this.log(`agent connected from ${from}; checking its certificate and waiting for its ORIGIN frame`);
    const agent = new AgentSession(socket, chain, this.options.trust, {
      onAuthorized: (session) => this.onAuthorized(session),
      onOriginsChanged: (session) => this.onAuthorized(session),
      onClosed: (session, error) => this.onAgentClosed(session, error),
      log: this.log,
    });
    this.agents.add(agent);
    if (chain.length === 0) {
      // INADEQUATE_SECURITY: the carrier requires a client certificate (DESIGN.md, Carrier 1 step 1).
      agent.refuse(ErrorCode.INADEQUATE_SECURITY, 'no client certificate: an agent must present a certificate whose SANs cover its origins');
    }
  }

  /** Registers (or re-registers after a later ORIGIN frame) with the broker of its domain. */
  private onAuthorized(agent: AgentSession): void {
    const first = !this.registered.has(agent);
    try {
      this.registry.register(agent);
    } catch (error) {
      // PROTOCOL_ERROR: the connection breaks the profile's one-domain-per-connection rule.
      agent.refuse(ErrorCode.PROTOCOL_ERROR, error instanceof Error ? error.message : String(error));
      return;
    }
    if (first) this.counters.agentsAuthorized++;
    this.registered.add(agent);
    this.httpsListener?.announce(agent.origins);
  }

  private onAgentClosed(agent: AgentSession, _error: Http2Error | undefined): void {
    this.agents.delete(agent);
    this.registered.delete(agent);
    this.registry.unregister(agent);
    if (agent.refusal !== undefined) {
      this.counters.agentsRefused++;
      this.remember(agent.remoteAddress, agent.refusal);
    }
  }

  private remember(remoteAddress: string, reason: string): void {
    this.recentRefusals.push({ at: new Date().toISOString(), remoteAddress, reason });
    if (this.recentRefusals.length > RECENT_REFUSALS_LIMIT) this.recentRefusals.shift();
  }

  // ------------------------------------------------------------------ browsers

  private async answer(request: Request, info: Parameters<Answer>[1]): Promise<Response> {
    this.counters.browserRequests++;
    if (new URL(request.url).pathname === STATUS_PATH) return this.statusResponse(request);
    return this.registry.dispatch(this.routeCleartext(request, info.scheme), info);
  }

  /**
   * On the cleartext listener, `http://host:port` is matched against the origin set as is and,
   * when no agent serves that origin, as `https://host`: the listener then stands in front of the
   * https origins, as in development or behind a TLS-terminating load balancer. The origin sees
   * the https URL it serves; X-Forwarded-Proto still tells it the browser used http.
   */
  private routeCleartext(request: Request, scheme: 'http' | 'https'): Request {
    if (scheme !== 'http') return request;
    const url = new URL(request.url);
    const served = this.servedOrigins().map((o) => parseOrigin(o)).filter((o) => o !== undefined);
    const covers = (u: URL) => {
      const target = requestOrigin(u);
      return target !== undefined && served.some((o) => originMatch(o, target) !== undefined);
    };
    if (covers(url)) return request;
    const secure = new URL(url);
    secure.protocol = 'https:';
    secure.port = '';
    if (!covers(secure)) return request;
    return new Request(secure, { method: request.method, headers: request.headers, body: request.body, signal: request.signal, duplex: 'half' } as RequestInit);
  }

  private statusResponse(request: Request): Response {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return new Response('Only GET and HEAD are allowed here.\n', { status: 405, headers: { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' } });
    }
    return new Response(`${JSON.stringify(this.status(), null, 2)}\n`, {
      headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    });
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
