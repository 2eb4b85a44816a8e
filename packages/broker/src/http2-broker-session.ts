import type { Http2Session } from '@rhttp/core';
import type { BrokerSession, OutgoingRequest } from './session.js';
import type { TunnelInit } from './tunnel.js';

/**
 * The BrokerSession side of an agent's reversed HTTP/2 session (@rhttp/core `Http2Session` in
 * the client role), shared by the Node intermediary's `AgentSession` and the edge's
 * `AgentConnection`: they add how the agent was admitted (its authorized origins) and how the
 * session is closed.
 */
export abstract class Http2BrokerSession implements BrokerSession {
  abstract readonly id: string;
  abstract readonly http2: Http2Session;
  /** The authorized origin set (empty until the agent is admitted). */
  abstract get origins(): readonly string[];
  abstract close(reason?: string): void;

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
  fetch(request: Request, init?: { signal?: AbortSignal }): Promise<Response> {
    return init?.signal ? this.http2.fetch(request, { signal: init.signal }) : this.http2.fetch(request);
  }
  /** The broker's fast path: its already rewritten request goes out as is, no Request built. */
  async send(request: OutgoingRequest): Promise<Response> {
    const bodyless = request.method === 'GET' || request.method === 'HEAD';
    const { response } = await this.http2.request({ method: request.method, url: request.url, headers: request.headers, body: bodyless ? null : request.body, signal: request.signal });
    return response;
  }
  /**
   * A tunnel stream: RFC 8441 extended CONNECT with `:protocol` = `init.protocol` (e.g.
   * websocket), or a plain CONNECT (RFC 9113 §8.5, `:authority` only) when it is empty.
   * `request.body` is the bytes toward the agent; a 2xx response's body the bytes back.
   */
  async connect(request: Request, init: TunnelInit): Promise<Response> {
    const { response } = await this.http2.request({ method: 'CONNECT', url: new URL(request.url), headers: request.headers, body: request.body, signal: init.signal, protocol: init.protocol || undefined });
    return response;
  }
}
