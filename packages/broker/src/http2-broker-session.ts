import { admissionPing, type Http2Session } from '@rhttp/core';
import type { BrokerSession, OutgoingRequest } from './session.js';

/** Methods whose requests carry no content here: the Fetch API gives them no body, and neither do we. */
const BODYLESS_METHODS = new Set(['GET', 'HEAD']);

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
  /** Tells the agent it was admitted (@rhttp/core reverse/admission.ts): call once, when the session is authorized. */
  confirmAdmission(): void {
    this.http2.ping(admissionPing()).catch(() => {});
  }
  /**
   * The broker's already rewritten request goes out as is, no Request built. A CONNECT is a
   * tunnel stream: RFC 8441 extended CONNECT with `:protocol` = `request.protocol` (e.g.
   * websocket), or a plain CONNECT (RFC 9113 §8.5, `:authority` only) without it.
   */
  async open(request: OutgoingRequest): Promise<Response> {
    const body = BODYLESS_METHODS.has(request.method) ? null : request.body;
    const { response } = await this.http2.request({ method: request.method, url: request.url, headers: request.headers, body, signal: request.signal, protocol: request.protocol || undefined });
    return response;
  }
}
