/**
 * The intermediary's side of rhttp's in-band authentication on `h3-reverse` (core's
 * reverse/quic-authentication.ts; docs/carriers.md), sans I/O: for QUIC stacks with no TLS client
 * certificates (Deno), it stands where the TLS handshake's certificate stands on carrier 1 and
 * feeds the same `AgentAdmission` (admission.ts) the same verified `CertificateIdentity`:
 *
 *     waiting ──RHTTP_AUTHENTICATE──▶ verifying ──signature over our challenge, chain to the
 *        │                              │          trust anchors (verifyCertificateChain)──▶ verified
 *        │ no frame in time,            │ bad signature, untrusted/expired chain,            (admission.identityVerified;
 *        │ a second one, a CHALLENGE    │ a malformed payload                                 it still waits for ORIGIN)
 *        ▼                              ▼
 *     refused (admission.refuse: the connection closes with the reason; no request was ever sent)
 *
 * Requests wait for the admission's `authorize`, which needs the identity; so no request goes to
 * an agent before its RHTTP_AUTHENTICATE verified. Refusals use the admission's kinds:
 * `certificate` for anything wrong with the proof, `timeout` when none came.
 *
 * @example
 * const admission = new AgentAdmission(events);
 * const auth = new QuicAgentAuthentication(admission, { trustAnchors: trustPem });
 * const { type, payload } = auth.challengeFrame();
 * h3.sendExtensionFrame(type, payload);                             // right after our SETTINGS
 * // the engine's hook for control-stream frames it does not know:
 * onExtensionFrame: (type, payload) => auth.receiveControlFrame(type, payload),
 * onOrigin: (all, added) => admission.receiveOrigins(all, added),
 * // on close: auth.closed(); admission.closed();
 */
import {
  CertificateError,
  ErrorCode,
  RHTTP_AUTHENTICATE_FRAME,
  RHTTP_CHALLENGE_FRAME,
  SignatureError,
  newQuicChallenge,
  verifyCertificateChain,
  verifyQuicAuthenticate,
} from '@rhttp/core';
import { globalAdmissionTimers, ORIGIN_FRAME_TIMEOUT_MS, type AdmissionTimers, type AgentAdmission } from './admission.js';

/**
 * An agent answers RHTTP_CHALLENGE within one round trip and one signature; one that has not in
 * this time is not an rhttp h3-reverse agent. Shorter than ORIGIN_FRAME_TIMEOUT_MS, so that a
 * silent agent hears this reason rather than "no ORIGIN frame".
 */
export const AUTHENTICATE_FRAME_TIMEOUT_MS = ORIGIN_FRAME_TIMEOUT_MS / 2;

/** Where an in-band authentication is. */
export type QuicAuthenticationState = 'waiting' | 'verifying' | 'verified' | 'refused' | 'closed';

export interface QuicAgentAuthenticationOptions {
  /** The trust anchors for origin certificates (PEM), the same as the TLS agent listener's `--trust`. */
  trustAnchors: string;
  /** Default: the global timers, unref'd where the runtime has `unref`. */
  timers?: AdmissionTimers;
  /** Default AUTHENTICATE_FRAME_TIMEOUT_MS. */
  timeoutMs?: number;
  /** The time certificates are checked at; default now. */
  now?: () => Date;
  /** The challenge to send; default a fresh `newQuicChallenge()` (tests fix it). */
  challenge?: Uint8Array;
}

/** One h3-reverse connection's in-band authentication: see the module comment. */
export class QuicAgentAuthentication {
  /** The RHTTP_CHALLENGE payload to send on our control stream right after SETTINGS: fresh for this connection. */
  readonly challenge: Uint8Array;
  #state: QuicAuthenticationState = 'waiting';
  #timer: unknown;
  #verification: Promise<void> = Promise.resolve();
  readonly #admission: AgentAdmission;
  readonly #trustAnchors: string;
  readonly #timers: AdmissionTimers;
  readonly #now: () => Date;

  /** Starts the RHTTP_AUTHENTICATE timer. */
  constructor(admission: AgentAdmission, options: QuicAgentAuthenticationOptions) {
    this.#admission = admission;
    this.#trustAnchors = options.trustAnchors;
    this.#timers = options.timers ?? globalAdmissionTimers;
    this.#now = options.now ?? (() => new Date());
    this.challenge = options.challenge ?? newQuicChallenge();
    const timeoutMs = options.timeoutMs ?? AUTHENTICATE_FRAME_TIMEOUT_MS;
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      if (this.#state !== 'waiting' && this.#state !== 'verifying') return;
      this.#refuse(
        ErrorCode.PROTOCOL_ERROR,
        `no RHTTP_AUTHENTICATE frame within ${timeoutMs / 1000} s: an h3-reverse agent on QUIC must prove its origin certificate in-band (rhttp's profile, docs/carriers.md)`,
        'timeout',
      );
    }, timeoutMs);
  }

  get state(): QuicAuthenticationState {
    return this.#state;
  }

  /** Settles once the RHTTP_AUTHENTICATE received so far has been checked (its outcome is in `state` and the admission). Never rejects. */
  get settled(): Promise<void> {
    return this.#verification;
  }

  /** The frame to send on our control stream right after SETTINGS. */
  challengeFrame(): { type: number; payload: Uint8Array } {
    return { type: RHTTP_CHALLENGE_FRAME, payload: this.challenge };
  }

  /**
   * A control-stream frame of a type the HTTP/3 engine does not know. Returns true when it is one
   * of this profile's (consumed), false for any other type (RFC 9114 §9: ignore it). Resolves the
   * verification in the background; its outcome goes to the admission.
   */
  receiveControlFrame(type: number, payload: Uint8Array): boolean {
    if (type === RHTTP_CHALLENGE_FRAME) {
      // The challenge goes intermediary → agent only.
      this.#refuse(ErrorCode.PROTOCOL_ERROR, 'the agent sent RHTTP_CHALLENGE: only the intermediary challenges', 'certificate');
      return true;
    }
    if (type !== RHTTP_AUTHENTICATE_FRAME) return false;
    if (this.#state !== 'waiting') {
      // One proof per connection: a second one could only try to change who the agent is.
      this.#refuse(ErrorCode.PROTOCOL_ERROR, 'the agent sent RHTTP_AUTHENTICATE twice', 'certificate');
      return true;
    }
    this.#state = 'verifying';
    this.#verification = this.#verify(payload);
    return true;
  }

  /** The connection closed: nothing more is decided. */
  closed(): void {
    this.#stopTimer();
    if (this.#state !== 'refused') this.#state = 'closed';
  }

  async #verify(payload: Uint8Array): Promise<void> {
    let chain: Uint8Array[];
    try {
      chain = (await verifyQuicAuthenticate(payload, this.challenge)).chain;
    } catch (error) {
      const why = error instanceof SignatureError || error instanceof CertificateError ? `${error.reason}): ${error.message}` : `error): ${String(error)}`;
      // INADEQUATE_SECURITY, as for a certificate we cannot trust (admission.ts): the proof is not one.
      this.#refuse(ErrorCode.INADEQUATE_SECURITY, `in-band authentication refused (${why}`, 'certificate');
      return;
    }
    // The same check and the same wording as a TLS client certificate (carrier 1).
    let identity;
    try {
      identity = await verifyCertificateChain(chain, { trustAnchors: [this.#trustAnchors], now: this.#now() });
    } catch (error) {
      if (this.#state !== 'verifying') return;
      this.#state = 'refused';
      this.#stopTimer();
      this.#admission.certificateFailed(error);
      return;
    }
    if (this.#state !== 'verifying') return;
    this.#state = 'verified';
    this.#stopTimer();
    this.#admission.identityVerified(identity);
  }

  #refuse(errorCode: number, reason: string, kind: 'certificate' | 'timeout'): void {
    if (this.#state === 'refused' || this.#state === 'closed') return;
    this.#state = 'refused';
    this.#stopTimer();
    this.#admission.refuse(errorCode, reason, kind);
  }

  #stopTimer(): void {
    if (this.#timer === undefined) return;
    this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
