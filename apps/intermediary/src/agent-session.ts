/**
 * One agent connection on the `h2-reverse` listener (DESIGN.md, Carrier 1): the TLS socket, the
 * reversed HTTP/2 session in which we are the CLIENT, and the checks that decide whether the
 * broker may send it traffic. Adapts the engine's `Http2Session` to the broker's `BrokerSession`.
 *
 * The session is created as soon as TLS is up (our preface goes out at once) and, in parallel,
 * the client certificate chain is verified. Only when the chain verified AND an ORIGIN frame
 * arrived whose every entry the certificate covers is the session authorized; anything else
 * ends it with GOAWAY whose debug data says in plain words what was wrong. That decision is the
 * broker's `AgentAdmission` (shared with the edge); this file binds it to the socket and the log.
 */
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import {
  ErrorCode,
  H3ErrorCode,
  MAX_CERTIFICATE_PATH_LENGTH,
  RHTTP_ADMITTED_FRAME,
  connectQuic,
  connectSocket,
  errorCodeName,
  verifyCertificateChain,
  type CertificateIdentity,
  type Http2Error,
  type GoawayFrame,
  type Http2Session,
  type Http2SessionOptions,
  type Http3Session,
  type NodeStyleSocket,
  type Origin,
  type QuicConnection,
} from '@rhttp/core';
import {
  AgentAdmission,
  KEEPALIVE_TIMEOUT_MS,
  QuicAgentAuthentication,
  ReversedBrokerSession,
  admitOverHttp2,
  type AdmissionEvents,
  type AdmissionRefusal,
  type AdmissionRefusalKind,
  type AdmissionState,
} from '@rhttp/broker';
import type { LogFunction } from './log-format.js';
import type { RefusalReason } from './metrics.js';

export { ORIGIN_FRAME_TIMEOUT_MS, describeCertificateError } from '@rhttp/broker';

/** Where an agent session is in its life. */
export type AgentSessionState = AdmissionState;

/** What the intermediary wants to hear about one agent session. */
export interface AgentSessionEvents {
  /** Certificate and ORIGIN frame checked out: register with the broker. */
  onAuthorized(session: AgentSession): void;
  /** A later ORIGIN frame added origins, all covered: the broker re-reads `origins`. */
  onOriginsChanged(session: AgentSession, added: readonly string[]): void;
  /** The session ended (refused, closed by either side, or the transport failed). */
  onClosed(session: AgentSession, error: Http2Error | undefined): void;
  log: LogFunction;
}

/**
 * Collects the peer's certificate chain as DER, leaf first, from a TLS socket: follows
 * `issuerCertificate` until it repeats (a self-signed root points at itself). Empty when the
 * peer sent no certificate.
 */
export function peerCertificateChain(socket: TLSSocket): Uint8Array[] {
  const chain: Uint8Array[] = [];
  const seen = new Set<string>();
  let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  // Bounded like the verifier: a hostile chain should cost no more than a valid one.
  while (cert && cert.raw && chain.length <= MAX_CERTIFICATE_PATH_LENGTH) {
    const key = cert.fingerprint256;
    if (seen.has(key)) break;
    seen.add(key);
    chain.push(new Uint8Array(cert.raw));
    cert = cert.issuerCertificate;
  }
  return chain;
}

let nextSessionNumber = 1;

/** The bytes an agent session runs on: a TLS socket (`h2-reverse`), an upgraded ptth socket, or a ptth CONNECT stream (ptth-upgrade.ts). */
export type AgentSocket = NodeStyleSocket & { remoteAddress?: string; remotePort?: number };

/** The carrier of an agent session, as the status page names it. */
export type AgentCarrier = 'tls' | 'ptth' | 'quic';

/** An `h3-reverse` agent's QUIC connection (quic-listener.ts), and where it came from. */
export interface AgentQuic {
  quic: QuicConnection;
  remoteAddress: string;
}

/** An agent authenticated before its session started (a ptth request, ptth-upgrade.ts): no chain to verify. */
export interface AuthenticatedAgent {
  identity: CertificateIdentity;
  /** The origins its request listed: ORIGIN frame entries must be among them. */
  allowedOrigins: readonly Origin[];
}

/**
 * AgentAdmission's events for one session, as prototype methods: a held session keeps this one
 * small object instead of three closures and the object holding them.
 */
class AdmissionHooks implements AdmissionEvents {
  constructor(private readonly session: AgentSession) {}
  authorize(origins: readonly string[]): void {
    this.session.admissionAuthorized(origins);
  }
  originsChanged(origins: readonly string[], added: readonly string[]): void {
    this.session.admissionOriginsChanged(origins, added);
  }
  refuse(refusal: AdmissionRefusal): void {
    this.session.admissionRefused(refusal);
  }
}

/**
 * The options of one AgentSession's `Http2Session`. The callbacks are own properties (so a copy of
 * the options keeps them) pointing at functions shared by every session, which reach their
 * session through `this` (Http2Session calls them as methods of its options): a held session
 * keeps this one object instead of four closures.
 */
class SessionHooks implements Http2SessionOptions {
  readonly role = 'client';
  readonly onOrigin = sessionOrigin;
  readonly onGoaway = sessionGoaway;
  readonly onClose = sessionClose;
  // Streams closing, SETTINGS, GOAWAY and the close reach the broker's queued requests.
  readonly onSlotFree = sessionSlotFree;
  constructor(readonly agent: AgentSession) {}
}

function sessionOrigin(this: SessionHooks, all: readonly string[], added: readonly string[]): void {
  this.agent.receivedOrigins(all, added);
}
function sessionGoaway(this: SessionHooks, frame: GoawayFrame): void {
  this.agent.receivedGoaway(frame);
}
function sessionClose(this: SessionHooks, error: Http2Error | undefined): void {
  this.agent.sessionClosed(error);
}
function sessionSlotFree(this: SessionHooks): void {
  this.agent.onSlotFree?.();
}

/** The HTTP/3 session's callbacks (h3-reverse): the same ones, plus rhttp's control-stream frames. */
class QuicSessionHooks {
  readonly role = 'client';
  readonly quicRole = 'server';
  readonly onOrigin = sessionOrigin;
  readonly onClose = sessionClose;
  readonly onSlotFree = sessionSlotFree;
  constructor(
    readonly agent: AgentSession,
    private readonly authentication: QuicAgentAuthentication,
  ) {}
  onGoaway(id: number): void {
    this.agent.receivedGoaway({ kind: 'goaway', errorCode: ErrorCode.NO_ERROR, lastStreamId: id, debugData: new Uint8Array(0) });
  }
  onExtensionFrame(type: number, payload: Uint8Array): void {
    this.authentication.receiveControlFrame(type, payload);
  }
}

/**
 * A reversed session from one agent, seen by the broker as a `BrokerSession`: HTTP/2 on a byte
 * stream (TLS `h2-reverse`/`rh2`, ptth), or HTTP/3 on QUIC (`h3-reverse`), where the agent proves
 * its certificate in-band (QuicAgentAuthentication) instead of with a TLS client certificate.
 */
export class AgentSession extends ReversedBrokerSession {
  readonly id: string;
  readonly remoteAddress: string;
  readonly connectedAt = Date.now();
  /** What carries the session: TLS `h2-reverse`/`rh2`, an upgraded ptth request, or QUIC `h3-reverse`. */
  readonly carrier: AgentCarrier;
  /** The HTTP/2 engine, or undefined on QUIC. */
  readonly http2: Http2Session | undefined;
  /** The HTTP/3 engine (h3-reverse), or undefined on a byte stream. */
  readonly http3: Http3Session | undefined;
  private readonly events: AgentSessionEvents;
  private readonly admission: AgentAdmission;

  /**
   * On a byte stream: `authenticated` when the identity is known already (ptth), otherwise `chain`
   * is verified to `trust`. On QUIC: the agent's in-band proof is verified to `trust`.
   */
  constructor(carrier: AgentSocket | AgentQuic, chain: Uint8Array[], trust: string, events: AgentSessionEvents, authenticated?: AuthenticatedAgent) {
    super();
    this.events = events;
    this.id = `agent-${nextSessionNumber++}`;
    this.admission = new AgentAdmission(new AdmissionHooks(this), authenticated ? { identity: authenticated.identity, allowedOrigins: authenticated.allowedOrigins } : {});
    this.carrier = 'quic' in carrier ? 'quic' : authenticated ? 'ptth' : 'tls';
    if ('quic' in carrier) {
      this.remoteAddress = carrier.remoteAddress;
      this.http2 = undefined;
      const authentication = new QuicAgentAuthentication(this.admission, { trustAnchors: trust });
      // We are the HTTP/3 client on QUIC streams the intermediary (the QUIC server) opens; the challenge follows our SETTINGS.
      this.http3 = connectQuic(carrier.quic, new QuicSessionHooks(this, authentication));
      const challenge = authentication.challengeFrame();
      this.http3.sendExtensionFrame(challenge.type, challenge.payload);
      void this.http3.closed.then(() => authentication.closed());
      return;
    }
    const socket = carrier;
    this.remoteAddress = `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`;
    this.http3 = undefined;
    // We are the HTTP/2 client on the reversed connection: the preface goes out at once.
    this.http2 = connectSocket(socket, new SessionHooks(this));
    if (authenticated) return;
    verifyCertificateChain(chain, { trustAnchors: [trust] }).then(
      (identity) => this.admission.identityVerified(identity),
      (error: unknown) => this.admission.certificateFailed(error),
    );
  }

  get engine(): Http2Session | Http3Session {
    return (this.http2 ?? this.http3)!;
  }
  /** Which reversed HTTP: `h2` or `h3`. */
  get httpVersion(): 'h2' | 'h3' {
    return this.http2 ? 'h2' : 'h3';
  }
  /** Received DATA octets not yet taken by the browser side, over all streams. */
  get bufferedBytes(): number {
    return this.http2 ? this.http2.connection.bufferedBytes : this.http3!.bufferedBytes;
  }
  /** Streams reset because the session's receive budget was full (HTTP/2; HTTP/3 streams wait under QUIC flow control instead). */
  get budgetResets(): number {
    return this.http2 ? this.http2.connection.budgetResets : 0;
  }

  get state(): AgentSessionState {
    return this.admission.state;
  }
  /** Verified leaf identity, once the chain checked out. */
  get identity(): CertificateIdentity | undefined {
    return this.admission.identity;
  }
  /** Why the session was refused, as sent in GOAWAY's debug data. */
  get refusal(): string | undefined {
    return this.admission.refusal?.reason;
  }
  /** The kind of refusal, for metrics (a bounded label set). */
  get refusalKind(): RefusalReason | undefined {
    return this.admission.refusal?.kind;
  }

  /** Name for log lines: id, address and, once known, the certificate subject. */
  name(): string {
    return `agent session ${this.id} from ${this.remoteAddress}${this.identity ? ` (${this.identity.subject})` : ''}`;
  }

  /** The fields every structured log line about this session carries. */
  private fields(level: 'debug' | 'info' | 'warn' | 'error', event: string) {
    return { level, event, session: this.id, remoteAddress: this.remoteAddress, subject: this.identity?.subject ?? null };
  }

  // ------------------------------------------------------------------ BrokerSession

  get origins(): readonly string[] {
    return this.admission.origins;
  }
  /** Graceful: GOAWAY(NO_ERROR), in-flight streams finish, then the transport closes. */
  close(reason = 'the intermediary is closing this session'): void {
    this.engine.goaway(ErrorCode.NO_ERROR, reason);
  }

  /**
   * Ends the session with GOAWAY carrying `reason` (the agent shows it to its operator) and never
   * registers it. An authorized session refused later (a forged ORIGIN frame) closes the same way.
   * Public so the intermediary can refuse what the broker will not register (origins spanning
   * several registrable domains).
   */
  refuse(errorCode: number, reason: string, kind: AdmissionRefusalKind = 'other'): void {
    this.admission.refuse(errorCode, reason, kind);
  }

  // ------------------------------------------------------------------ admission (AdmissionHooks)

  /** @internal The certificate and ORIGIN frame checked out. */
  admissionAuthorized(origins: readonly string[]): void {
    this.events.log(`${this.name()} authorized for ${origins.join(', ')}`, { ...this.fields('info', 'agent.authorized'), origins: [...origins] });
    // HTTP/2: the admission PING, then keepalive PINGs. HTTP/3: RHTTP_ADMITTED (QUIC keeps the path alive).
    if (this.http2) admitOverHttp2(this.http2, () => this.events.log(`${this.name()} did not answer PING within ${KEEPALIVE_TIMEOUT_MS / 1000} s; closing it`, this.fields('warn', 'agent.ping_timeout')));
    else this.http3!.sendExtensionFrame(RHTTP_ADMITTED_FRAME, new Uint8Array(0));
    this.events.onAuthorized(this);
  }

  /** @internal A later ORIGIN frame checked out. */
  admissionOriginsChanged(origins: readonly string[], added: readonly string[]): void {
    if (added.length === 0) return;
    this.events.log(`${this.name()} now serves ${origins.join(', ')}`, { ...this.fields('info', 'agent.origins_changed'), origins: [...origins] });
    this.events.onOriginsChanged(this, added);
  }

  /** @internal The admission refused the session: GOAWAY says why. */
  admissionRefused({ errorCode, reason, kind }: AdmissionRefusal): void {
    this.events.log(`refused ${this.name()}: ${reason}`, { ...this.fields('warn', 'agent.refused'), reason: kind, detail: reason });
    // HTTP/3 has no code for a refused agent: the connection closes with a general protocol error and the reason, which the agent prints.
    if (this.http2) this.http2.goaway(errorCode, reason);
    else this.http3!.close(H3ErrorCode.H3_GENERAL_PROTOCOL_ERROR, reason);
  }

  // ------------------------------------------------------------------ Http2Session (SessionHooks)

  /** @internal An ORIGIN frame arrived. */
  receivedOrigins(all: readonly string[], added: readonly string[]): void {
    if (all.length > 0 && this.state === 'authorized') this.events.log(`${this.name()} claims more origins: ${added.join(', ')}`, { ...this.fields('info', 'agent.origins_claimed'), origins: [...added] });
    this.admission.receiveOrigins(all, added);
  }

  /** @internal The agent sent GOAWAY (HTTP/3's carries only an id: NO_ERROR, no debug data). */
  receivedGoaway(frame: GoawayFrame): void {
    const debug = new TextDecoder().decode(frame.debugData);
    this.events.log(`${this.name()} sent GOAWAY (${errorCodeName(frame.errorCode)})${debug ? `: ${debug}` : ''}; it takes no new requests`, {
      ...this.fields('info', 'agent.goaway'),
      errorCode: errorCodeName(frame.errorCode),
      debug,
    });
  }

  /** @internal The session ended. */
  sessionClosed(error: Http2Error | undefined): void {
    const wasRefused = this.state === 'refused';
    this.admission.closed();
    if (!wasRefused) this.events.log(`${this.name()} closed${error ? `: ${error.message}` : ''}`, { ...this.fields(error ? 'warn' : 'info', 'agent.closed'), error: error?.message ?? null });
    this.events.onClosed(this, error);
  }
}
