import { admissionPing, ErrorCode, type Http2Session } from '@rhttp/core';
import type { BrokerSession, Exchange, OutgoingRequest } from './session.js';

/** Methods whose requests carry no content here: the Fetch API gives them no body, and neither do we. */
const BODYLESS_METHODS = new Set(['GET', 'HEAD']);

/** PING period on an admitted session: RTT for status pages, and peers that vanished without closing TCP (NAT timeouts, sleeping laptops) are noticed. */
export const KEEPALIVE_INTERVAL_MS = 30_000;
/** A PING unanswered this long means the agent is gone: the session closes so the broker stops using it. */
export const KEEPALIVE_TIMEOUT_MS = 15_000;

/**
 * The BrokerSession side of an agent's reversed HTTP/2 session (@rhttp/core `Http2Session` in
 * the client role), shared by the Node intermediary's `AgentSession` and the edge's
 * `AgentConnection`: they add how the agent was admitted (its authorized origins) and how the
 * session is closed. They create `http2` with `onSlotFree: () => this.onSlotFree?.()` so the
 * broker hears of closed streams, SETTINGS, GOAWAY and the close.
 */
export abstract class Http2BrokerSession implements BrokerSession {
  abstract readonly id: string;
  abstract readonly http2: Http2Session;
  /** The authorized origin set (empty until the agent is admitted). */
  abstract get origins(): readonly string[];
  abstract close(reason?: string): void;
  /** Extended CONNECT and plain CONNECT both go out as streams of this session. */
  readonly tunnels = true;
  onSlotFree: (() => void) | undefined = undefined;

  get openStreams(): number {
    return this.http2.openStreams;
  }
  get maxConcurrentStreams(): number {
    return this.http2.maxConcurrentStreams;
  }
  get draining(): boolean {
    return this.http2.draining;
  }
  get closed(): boolean {
    return this.http2.isClosed;
  }
  get rttMs(): number | undefined {
    return this.http2.rttMs;
  }
  /**
   * The session is authorized: tells the agent so (the admission PING, @rhttp/core
   * reverse/admission.ts), then PINGs it every KEEPALIVE_INTERVAL_MS until the session closes. A
   * PING unanswered for KEEPALIVE_TIMEOUT_MS calls `onPingTimeout` (for the log) and closes the
   * session with GOAWAY(CANCEL). Call once.
   */
  protected admitted(onPingTimeout: () => void): void {
    let inFlight = false;
    const ping = (opaque?: Uint8Array) => {
      if (inFlight || this.http2.isClosed) return;
      inFlight = true;
      const timeout = setTimeout(() => {
        onPingTimeout();
        this.http2.goaway(ErrorCode.CANCEL, `no PING answer within ${KEEPALIVE_TIMEOUT_MS / 1000} s`);
      }, KEEPALIVE_TIMEOUT_MS);
      (timeout as { unref?: () => void }).unref?.();
      this.http2
        .ping(opaque)
        .catch(() => undefined)
        .finally(() => {
          clearTimeout(timeout);
          inFlight = false;
        });
    };
    ping(admissionPing());
    const interval = setInterval(ping, KEEPALIVE_INTERVAL_MS);
    (interval as { unref?: () => void }).unref?.();
    void this.http2.closed.then(() => clearInterval(interval));
  }
  /**
   * The broker's already rewritten request goes out as is on the engine's low-level client API:
   * no Request, Response or AbortSignal is built. A CONNECT is a tunnel stream: RFC 8441
   * extended CONNECT with `:protocol` = `request.protocol` (e.g. websocket), or a plain CONNECT
   * (RFC 9113 §8.5, `:authority` only) without it.
   */
  open(request: OutgoingRequest): Exchange {
    const body = BODYLESS_METHODS.has(request.method) ? null : request.body;
    return this.http2.open({ method: request.method, url: request.url, headers: request.fields, body, protocol: request.protocol || undefined });
  }
}
