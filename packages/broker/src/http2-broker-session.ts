import { admissionPing, ErrorCode, type ClientExchange, type HeaderField, type Http2Session } from '@rhttp/core';
import type { BrokerSession, Exchange, OutgoingRequest } from './session.js';

/** Methods whose requests carry no content here: the Fetch API gives them no body, and neither do we. */
const BODYLESS_METHODS = new Set(['GET', 'HEAD']);

/** PING period on an admitted session: RTT for status pages, and peers that vanished without closing TCP (NAT timeouts, sleeping laptops) are noticed. */
export const KEEPALIVE_INTERVAL_MS = 30_000;
/** A PING unanswered this long means the agent is gone: the session closes so the broker stops using it. */
export const KEEPALIVE_TIMEOUT_MS = 15_000;

/**
 * What the broker reads off a reversed session's engine: @rhttp/core's `Http2Session` and
 * `Http3Session` (h3-reverse) both have this shape, in the client role.
 */
export interface ReversedEngine {
  readonly openStreams: number;
  readonly maxConcurrentStreams: number;
  readonly draining: boolean;
  readonly isClosed: boolean;
  readonly rttMs?: number | undefined;
  open(init: { method: string; url: URL; headers?: readonly HeaderField[]; body?: ReadableStream<Uint8Array> | null; protocol?: string }): ClientExchange;
}

/**
 * The BrokerSession side of an agent's reversed session, whatever the HTTP version: the broker
 * reads the engine's stream counts and opens exchanges on it. Subclasses say how the agent was
 * admitted (its authorized origins) and how the session closes.
 */
export abstract class ReversedBrokerSession implements BrokerSession {
  abstract readonly id: string;
  /** The engine in the client role (Http2Session or Http3Session). */
  abstract get engine(): ReversedEngine;
  /** The authorized origin set (empty until the agent is admitted). */
  abstract get origins(): readonly string[];
  abstract close(reason?: string): void;
  /** Extended CONNECT and plain CONNECT both go out as streams of this session. */
  readonly tunnels = true;
  onSlotFree: (() => void) | undefined = undefined;

  get openStreams(): number {
    return this.engine.openStreams;
  }
  get maxConcurrentStreams(): number {
    return this.engine.maxConcurrentStreams;
  }
  get draining(): boolean {
    return this.engine.draining;
  }
  get isClosed(): boolean {
    return this.engine.isClosed;
  }
  get rttMs(): number | undefined {
    return this.engine.rttMs;
  }
  /**
   * The broker's already rewritten request goes out as is on the engine's low-level client API:
   * no Request, Response or AbortSignal is built. A CONNECT is a tunnel stream: extended CONNECT
   * (RFC 8441 / RFC 9220) with `:protocol` = `request.protocol` (e.g. websocket), or a plain
   * CONNECT (`:authority` only) without it.
   */
  open(request: OutgoingRequest): Exchange {
    const body = BODYLESS_METHODS.has(request.method) ? null : request.body;
    return this.engine.open({ method: request.method, url: request.url, headers: request.fields, body, protocol: request.protocol || undefined });
  }
}

/**
 * The BrokerSession side of an agent's reversed HTTP/2 session (@rhttp/core `Http2Session` in
 * the client role), shared by the Node intermediary's `AgentSession` and the edge's
 * `AgentConnection`: they add how the agent was admitted (its authorized origins) and how the
 * session is closed. They create `http2` with `onSlotFree: () => this.onSlotFree?.()` so the
 * broker hears of closed streams, SETTINGS, GOAWAY and the close.
 */
export abstract class Http2BrokerSession extends ReversedBrokerSession {
  abstract readonly http2: Http2Session;
  get engine(): Http2Session {
    return this.http2;
  }
  /** The session is authorized: {@link admitOverHttp2} on this session. Call once. */
  protected admitted(onPingTimeout: () => void): void {
    admitOverHttp2(this.http2, onPingTimeout);
  }
}

/**
 * An HTTP/2 reversed session is authorized: tells the agent so (the admission PING, @rhttp/core
 * reverse/admission.ts), then PINGs it every KEEPALIVE_INTERVAL_MS until the session closes. A
 * PING unanswered for KEEPALIVE_TIMEOUT_MS calls `onPingTimeout` (for the log) and closes the
 * session with GOAWAY(CANCEL). (HTTP/3 has no PING: QUIC keeps the path alive and notices it die.)
 */
export function admitOverHttp2(http2: Http2Session, onPingTimeout: () => void): void {
  http2.keepAlive({
    intervalMs: KEEPALIVE_INTERVAL_MS,
    timeoutMs: KEEPALIVE_TIMEOUT_MS,
    firstOpaque: admissionPing(),
    onTimeout: () => {
      onPingTimeout();
      http2.goaway(ErrorCode.CANCEL, `no PING answer within ${KEEPALIVE_TIMEOUT_MS / 1000} s`);
    },
  });
}
