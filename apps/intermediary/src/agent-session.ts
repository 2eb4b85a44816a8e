/**
 * One agent connection on the `h2-reverse` listener (DESIGN.md, Carrier 1): the TLS socket, the
 * reversed HTTP/2 session in which we are the CLIENT, and the checks that decide whether the
 * broker may send it traffic. Adapts the engine's `Http2Session` to the broker's `BrokerSession`.
 *
 * The session is created as soon as TLS is up (our preface goes out at once) and, in parallel,
 * the client certificate chain is verified. Only when the chain verified AND an ORIGIN frame
 * arrived whose every entry the certificate covers is the session authorized; anything else
 * ends it with GOAWAY whose debug data says in plain words what was wrong.
 */
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import {
  CertificateError,
  ErrorCode,
  MAX_CERTIFICATE_PATH_LENGTH,
  OriginError,
  connectSocket,
  errorCodeName,
  parseOrigin,
  serializeOrigin,
  unauthorizedOrigins,
  verifyCertificateChain,
  type CertificateIdentity,
  type Http2Error,
  type Http2Session,
  type Origin,
} from '@rhttp/core';
import { Http2BrokerSession, KEEPALIVE_TIMEOUT_MS } from '@rhttp/broker';
import type { LogFunction } from './log-format.js';
import type { RefusalReason } from './metrics.js';

/** An agent sends ORIGIN right after its SETTINGS; one that has not within this time is broken or hostile, and holds a socket for nothing. */
export const ORIGIN_FRAME_TIMEOUT_MS = 10_000;
/** Longest SAN list quoted in a refusal: GOAWAY debug data is short (the engine keeps 256 octets). */
const MAX_SANS_QUOTED = 4;

/** Where an agent session is in its life. */
export type AgentSessionState = 'verifying' | 'authorized' | 'refused' | 'closed';

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

/** A reversed HTTP/2 session from one agent, seen by the broker as a `BrokerSession`. */
export class AgentSession extends Http2BrokerSession {
  readonly id: string;
  readonly remoteAddress: string;
  readonly connectedAt = Date.now();
  readonly http2: Http2Session;
  state: AgentSessionState = 'verifying';
  /** Verified leaf identity, once the chain checked out. */
  identity: CertificateIdentity | undefined;
  /** Why the session was refused, as sent in GOAWAY's debug data. */
  refusal: string | undefined;
  /** The kind of refusal, for metrics (a bounded label set). */
  refusalKind: RefusalReason | undefined;
  private authorizedOrigins: string[] = [];
  private readonly events: AgentSessionEvents;
  private originTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(socket: TLSSocket, chain: Uint8Array[], trust: string, events: AgentSessionEvents) {
    super();
    this.events = events;
    this.remoteAddress = `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`;
    this.id = `agent-${nextSessionNumber++}`;
    // We are the HTTP/2 client on the reversed connection: the preface goes out at once.
    this.http2 = connectSocket(socket, {
      role: 'client',
      onOrigin: (all, added) => this.onOrigin(all, added),
      onGoaway: (frame) => {
        const debug = new TextDecoder().decode(frame.debugData);
        this.events.log(`${this.name()} sent GOAWAY (${errorCodeName(frame.errorCode)})${debug ? `: ${debug}` : ''}; it takes no new requests`, {
          ...this.fields('info', 'agent.goaway'),
          errorCode: errorCodeName(frame.errorCode),
          debug,
        });
      },
      onClose: (error) => this.onClose(error),
      // Streams closing, SETTINGS, GOAWAY and the close reach the broker's queued requests.
      onSlotFree: () => this.onSlotFree?.(),
    });
    this.originTimer = setTimeout(() => {
      this.refuse(ErrorCode.PROTOCOL_ERROR, `no ORIGIN frame within ${ORIGIN_FRAME_TIMEOUT_MS / 1000} s: an agent must list the origins it serves`, 'timeout');
    }, ORIGIN_FRAME_TIMEOUT_MS);
    this.originTimer.unref?.();
    verifyCertificateChain(chain, { trustAnchors: [trust] }).then(
      (identity) => {
        this.identity = identity;
        this.check();
      },
      (error: unknown) => {
        // INADEQUATE_SECURITY (RFC 9113 §7): "the peer is not exhibiting a behavior that meets the
        // minimum security level" — the closest code for a certificate we cannot trust.
        this.refuse(ErrorCode.INADEQUATE_SECURITY, describeCertificateError(error), 'certificate');
      },
    );
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
    return this.state === 'authorized' ? this.authorizedOrigins : [];
  }
  /** Graceful: GOAWAY(NO_ERROR), in-flight streams finish, then the transport closes. */
  close(reason = 'the intermediary is closing this session'): void {
    this.http2.goaway(ErrorCode.NO_ERROR, reason);
  }

  // ------------------------------------------------------------------ checks

  private onOrigin(all: readonly string[], added: readonly string[]): void {
    if (all.length === 0) return; // an empty ORIGIN frame claims nothing yet; keep waiting
    if (this.state === 'authorized') this.events.log(`${this.name()} claims more origins: ${added.join(', ')}`, { ...this.fields('info', 'agent.origins_claimed'), origins: [...added] });
    this.check(added);
  }

  /** Runs once both the identity and a non-empty ORIGIN frame are in; again for later ORIGIN frames. */
  private check(added: readonly string[] = []): void {
    if (this.state === 'refused' || this.state === 'closed') return;
    const claimed = this.http2.peerOrigins;
    if (!this.identity || claimed.length === 0) return;
    clearTimeout(this.originTimer);
    const parsed: Origin[] = [];
    for (const text of claimed) {
      try {
        parsed.push(parseOrigin(text));
      } catch (error) {
        const why = error instanceof OriginError ? error.message : String(error);
        this.refuse(ErrorCode.PROTOCOL_ERROR, `ORIGIN frame entry is not an origin: ${why}`, 'origin');
        return;
      }
    }
    const uncovered = unauthorizedOrigins(this.identity, parsed);
    if (uncovered.length > 0) {
      const sans = [...this.identity.dnsNames, ...this.identity.ipAddresses];
      const shown = sans.length > MAX_SANS_QUOTED ? `${sans.slice(0, MAX_SANS_QUOTED).join(', ')}, …` : sans.join(', ');
      // INADEQUATE_SECURITY: the peer claims authority its certificate does not give it.
      this.refuse(ErrorCode.INADEQUATE_SECURITY, `origin ${serializeOrigin(uncovered[0])} is not covered by the certificate (SANs: ${shown || 'none'})`, 'origin');
      return;
    }
    this.authorizedOrigins = [...new Set(parsed.map(serializeOrigin))];
    if (this.state === 'verifying') {
      this.state = 'authorized';
      this.events.log(`${this.name()} authorized for ${this.authorizedOrigins.join(', ')}`, { ...this.fields('info', 'agent.authorized'), origins: [...this.authorizedOrigins] });
      this.admitted(() => this.events.log(`${this.name()} did not answer PING within ${KEEPALIVE_TIMEOUT_MS / 1000} s; closing it`, this.fields('warn', 'agent.ping_timeout')));
      this.events.onAuthorized(this);
    } else if (added.length > 0) {
      this.events.log(`${this.name()} now serves ${this.authorizedOrigins.join(', ')}`, { ...this.fields('info', 'agent.origins_changed'), origins: [...this.authorizedOrigins] });
      this.events.onOriginsChanged(this, added);
    }
  }

  /**
   * Ends the session with GOAWAY carrying `reason` (the agent shows it to its operator) and never
   * registers it. An authorized session refused later (a forged ORIGIN frame) closes the same way.
   * Public so the intermediary can refuse what the broker will not register (origins spanning
   * several registrable domains).
   */
  refuse(errorCode: number, reason: string, kind: RefusalReason = 'other'): void {
    if (this.state === 'refused' || this.state === 'closed') return;
    this.state = 'refused';
    this.refusal = reason;
    this.refusalKind = kind;
    clearTimeout(this.originTimer);
    this.events.log(`refused ${this.name()}: ${reason}`, { ...this.fields('warn', 'agent.refused'), reason: kind, detail: reason });
    this.http2.goaway(errorCode, reason);
  }

  private onClose(error: Http2Error | undefined): void {
    clearTimeout(this.originTimer);
    const wasRefused = this.state === 'refused';
    this.state = 'closed';
    if (!wasRefused) this.events.log(`${this.name()} closed${error ? `: ${error.message}` : ''}`, { ...this.fields(error ? 'warn' : 'info', 'agent.closed'), error: error?.message ?? null });
    this.events.onClosed(this, error);
  }
}

/** A plain sentence for GOAWAY and the log: what is wrong with the certificate. */
export function describeCertificateError(error: unknown): string {
  if (error instanceof CertificateError) {
    switch (error.reason) {
      case 'untrusted':
        return `certificate not trusted: ${error.message}`;
      case 'expired':
        return `certificate expired: ${error.message}`;
      case 'not-yet-valid':
        return `certificate not yet valid: ${error.message}`;
      default:
        return `certificate refused (${error.reason}): ${error.message}`;
    }
  }
  return `certificate could not be checked: ${error instanceof Error ? error.message : String(error)}`;
}
