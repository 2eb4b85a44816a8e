/**
 * Agent admission, sans I/O: the decision whether a reversed session may be given traffic, shared
 * by the Node intermediary (`AgentSession`, Carrier 1) and the edge (`AgentConnection`, Carrier
 * 2). It is told what happened (the identity was verified or not, an ORIGIN frame arrived, the
 * transport closed) and says what to do through `AdmissionEvents` (authorize, re-read the
 * origins, refuse with GOAWAY); it owns no socket and no session. Its only clock is the ORIGIN
 * frame timer, given as `AdmissionTimers` so tests can fire it.
 *
 *     verifying ──identity + non-empty ORIGIN frame, every entry covered──▶ authorized
 *         │ no ORIGIN frame in time, certificate refused,                      │ a later ORIGIN frame
 *         │ an entry not an origin or not covered                              │ with such an entry
 *         ▼                                                                    ▼
 *      refused ◀───────────────────────────────────────────────────────────────┘
 *     (any state) ──transport closed──▶ closed
 *
 * The identity comes from a client certificate chain verified after the TLS handshake (the
 * intermediary: `identityVerified` / `certificateFailed`), or is known at construction (the
 * edge: the signed upgrade request was checked before the WebSocket was accepted).
 *
 * @example
 * const admission = new AgentAdmission({
 *   authorize: (origins) => broker.add(session),
 *   originsChanged: () => broker.update(session),
 *   refuse: ({ errorCode, reason }) => http2.goaway(errorCode, reason),
 * });
 * verify(chain).then((id) => admission.identityVerified(id), (e) => admission.certificateFailed(e));
 * // Http2Session options: onOrigin: (all, added) => admission.receiveOrigins(all, added)
 */
import {
  CertificateError,
  ErrorCode,
  OriginError,
  originCovers,
  parseOrigin,
  serializeOrigin,
  unauthorizedOrigins,
  type CertificateIdentity,
  type Origin,
} from '@rhttp/core';

/** An agent sends ORIGIN right after its SETTINGS; one that has not within this time is broken or hostile, and holds a connection for nothing. */
export const ORIGIN_FRAME_TIMEOUT_MS = 10_000;
/** Longest SAN list quoted in a refusal: GOAWAY debug data is short (the engine keeps 256 octets). */
const MAX_SANS_QUOTED = 4;

/** Where an admission is: `verifying` until the identity and a non-empty ORIGIN frame are in and checked. */
export type AdmissionState = 'verifying' | 'authorized' | 'refused' | 'closed';

/** The kind of a refusal, a bounded set for metrics; `other` is the caller's own (`refuse()`). */
export type AdmissionRefusalKind = 'timeout' | 'certificate' | 'origin' | 'other';

/** A refusal: GOAWAY with `errorCode` and `reason` as debug data (the agent shows it to its operator). */
export interface AdmissionRefusal {
  errorCode: number;
  reason: string;
  kind: AdmissionRefusalKind;
}

/** What the admission tells its session to do. Each is called synchronously from the method that caused it. */
export interface AdmissionEvents {
  /** The claimed origins all checked out, the first time: register the session with the broker. */
  authorize(origins: readonly string[]): void;
  /**
   * A later ORIGIN frame checked out: the authorized set is now `origins` (the broker re-reads
   * it); `added` are the entries that frame added (may be empty).
   */
  originsChanged(origins: readonly string[], added: readonly string[]): void;
  /** Refused (never called twice): send GOAWAY(`errorCode`, `reason`) and never register the session. */
  refuse(refusal: AdmissionRefusal): void;
}

/** The ORIGIN frame timer, injectable so tests run it on a fake clock. */
export interface AdmissionTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface AdmissionOptions {
  /** The identity when already verified (the edge's signed upgrade request); otherwise call `identityVerified`. */
  identity?: CertificateIdentity;
  /**
   * Bound on the ORIGIN frame beyond the certificate (the edge: the origins in the upgrade URL,
   * DESIGN.md Carrier 2, ORIGIN ⊆ URL origins ⊆ certificate). Checked per entry, before the certificate.
   */
  allowedOrigins?: readonly Origin[];
  /** Quote the certificate's SANs when an origin is not covered (the intermediary does; the edge's URL check answers first). Default true. */
  quoteSans?: boolean;
  /** Default: the global timers, unref'd where the runtime has `unref` (a pending admission keeps no process alive). */
  timers?: AdmissionTimers;
  /** Default ORIGIN_FRAME_TIMEOUT_MS. */
  originTimeoutMs?: number;
}

/** The runtime's timers; `unref` where there is one (Node), so a pending admission keeps no process alive. */
export const globalAdmissionTimers: AdmissionTimers = {
  setTimeout(callback, ms) {
    const handle = setTimeout(callback, ms);
    (handle as { unref?: () => void }).unref?.();
    return handle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

/** One agent's admission: see the module comment for the states. */
export class AgentAdmission {
  #state: AdmissionState = 'verifying';
  #identity: CertificateIdentity | undefined;
  #claimed: readonly string[] = [];
  #authorized: readonly string[] = [];
  #refusal: AdmissionRefusal | undefined;
  #timer: unknown;
  readonly #events: AdmissionEvents;
  readonly #allowed: readonly Origin[] | undefined;
  readonly #quoteSans: boolean;
  readonly #timers: AdmissionTimers;

  /** Starts the ORIGIN frame timer. */
  constructor(events: AdmissionEvents, options: AdmissionOptions = {}) {
    this.#events = events;
    this.#identity = options.identity;
    this.#allowed = options.allowedOrigins;
    this.#quoteSans = options.quoteSans ?? true;
    this.#timers = options.timers ?? globalAdmissionTimers;
    const timeoutMs = options.originTimeoutMs ?? ORIGIN_FRAME_TIMEOUT_MS;
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      this.refuse(ErrorCode.PROTOCOL_ERROR, `no ORIGIN frame within ${timeoutMs / 1000} s: an agent must list the origins it serves`, 'timeout');
    }, timeoutMs);
  }

  get state(): AdmissionState {
    return this.#state;
  }
  /** The verified identity, once known (also after a refusal, for log lines). */
  get identity(): CertificateIdentity | undefined {
    return this.#identity;
  }
  /** The authorized origin set, serialized and deduplicated; empty unless `authorized`. */
  get origins(): readonly string[] {
    return this.#state === 'authorized' ? this.#authorized : [];
  }
  /** Why it was refused, once it was. */
  get refusal(): AdmissionRefusal | undefined {
    return this.#refusal;
  }

  /** The client certificate chain verified: admission proceeds if an ORIGIN frame is already in. */
  identityVerified(identity: CertificateIdentity): void {
    this.#identity = identity;
    this.#check([]);
  }

  /** The client certificate chain did not verify: refused. */
  certificateFailed(error: unknown): void {
    // INADEQUATE_SECURITY (RFC 9113 §7): "the peer is not exhibiting a behavior that meets the
    // minimum security level" — the closest code for a certificate we cannot trust.
    this.refuse(ErrorCode.INADEQUATE_SECURITY, describeCertificateError(error), 'certificate');
  }

  /**
   * An ORIGIN frame arrived (RFC 8336 §2.3): `claimed` is the peer's whole origin set so far,
   * `added` what this frame added. Every entry must be an origin, within `allowedOrigins` and
   * covered by the certificate, on the first frame and on every later one; an empty set claims
   * nothing yet and the wait goes on.
   */
  receiveOrigins(claimed: readonly string[], added: readonly string[] = []): void {
    if (claimed.length === 0) return;
    this.#claimed = claimed;
    this.#check(added);
  }

  /**
   * Refuses (GOAWAY through `events.refuse`) unless already refused or closed; an authorized
   * admission refused later (the caller's own policy) ends the same way. Returns whether it took effect.
   */
  refuse(errorCode: number, reason: string, kind: AdmissionRefusalKind = 'other'): boolean {
    if (this.#state === 'refused' || this.#state === 'closed') return false;
    this.#state = 'refused';
    this.#refusal = { errorCode, reason, kind };
    this.#stopTimer();
    this.#events.refuse(this.#refusal);
    return true;
  }

  /** The transport closed: nothing more is decided. */
  closed(): void {
    this.#stopTimer();
    this.#state = 'closed';
  }

  /** Runs once both the identity and a non-empty ORIGIN frame are in; again for later ORIGIN frames. */
  #check(added: readonly string[]): void {
    if (this.#state === 'refused' || this.#state === 'closed') return;
    const identity = this.#identity;
    if (!identity || this.#claimed.length === 0) return;
    this.#stopTimer();
    const parsed: Origin[] = [];
    for (const text of this.#claimed) {
      let origin: Origin;
      try {
        origin = parseOrigin(text);
      } catch (error) {
        const why = error instanceof OriginError ? error.message : String(error);
        this.refuse(ErrorCode.PROTOCOL_ERROR, `ORIGIN frame entry is not an origin: ${why}`, 'origin');
        return;
      }
      const allowed = this.#allowed;
      if (allowed && !allowed.some((bound) => withinOrigin(bound, origin))) {
        this.refuse(ErrorCode.INADEQUATE_SECURITY, `ORIGIN frame entry ${serializeOrigin(origin)} is not among the origins in the upgrade URL (${allowed.map(serializeOrigin).join(', ')})`, 'origin');
        return;
      }
      parsed.push(origin);
    }
    const uncovered = unauthorizedOrigins(identity, parsed);
    if (uncovered.length > 0) {
      // INADEQUATE_SECURITY: the peer claims authority its certificate does not give it.
      this.refuse(ErrorCode.INADEQUATE_SECURITY, `origin ${serializeOrigin(uncovered[0])} is not covered by the certificate${this.#quoteSans ? ` (SANs: ${quotedSans(identity)})` : ''}`, 'origin');
      return;
    }
    this.#authorized = [...new Set(parsed.map(serializeOrigin))];
    if (this.#state === 'verifying') {
      this.#state = 'authorized';
      this.#events.authorize(this.#authorized);
    } else {
      this.#events.originsChanged(this.#authorized, added);
    }
  }

  #stopTimer(): void {
    if (this.#timer === undefined) return;
    this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** The certificate's SANs for a refusal, at most MAX_SANS_QUOTED of them. */
function quotedSans(identity: CertificateIdentity): string {
  const sans = [...identity.dnsNames, ...identity.ipAddresses];
  const shown = sans.length > MAX_SANS_QUOTED ? `${sans.slice(0, MAX_SANS_QUOTED).join(', ')}, …` : sans.join(', ');
  return shown || 'none';
}

/** An ORIGIN entry is within a bound if equal, or (non-wildcard) covered by a wildcard bound. */
function withinOrigin(bound: Origin, entry: Origin): boolean {
  if (serializeOrigin(bound) === serializeOrigin(entry)) return true;
  return !entry.wildcard && originCovers(bound, entry);
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
