import type { TunnelInit } from './tunnel.js';

/**
 * The minimal view of one reversed HTTP/2 connection that the broker schedules over. The
 * intermediary adapts its engine's session to this shape; the broker never sees frames.
 *
 * Modelled on undici's client-h2 dispatcher: the broker only asks "may I open a stream here?"
 * (origins, openStreams, maxConcurrentStreams, draining, closed) and "send this request".
 *
 * @example
 * const session: BrokerSession = {
 *   id: 'agent-1', origins: ['https://app.example.com'], openStreams: 0,
 *   maxConcurrentStreams: 100, draining: false, closed: false,
 *   fetch: (request, init) => h2session.request(request, init),
 *   close: (reason) => h2session.goaway(reason),
 * };
 */
export interface BrokerSession {
  readonly id: string;
  /** Authorized origin-set entries, ASCII-serialized ("https://app.example.com", "https://*.example.com"). May change (ORIGIN frames sent later): the broker re-reads it. */
  readonly origins: readonly string[];
  readonly openStreams: number;
  /** Peer's SETTINGS_MAX_CONCURRENT_STREAMS (Infinity when unlimited). */
  readonly maxConcurrentStreams: number;
  /** GOAWAY sent or received: takes no new streams. */
  readonly draining: boolean;
  readonly closed: boolean;
  /** Smoothed RTT in ms from PING, if known (for status pages). */
  readonly rttMs?: number;
  /** Sends the request as a new stream. Rejects with an error whose `retryable === true` when the origin certainly did not process it (REFUSED_STREAM, or stream id above GOAWAY's last-stream-id); other rejections mean the session died or reset the stream. */
  fetch(request: Request, init?: { signal?: AbortSignal }): Promise<Response>;
  /**
   * Optional fast path of `fetch`: sends a request the broker already rewrote for the origin
   * (`headers` are final, `body` is the browser's stream as is), so that no Request needs to be
   * constructed for it. Rejects like `fetch`. When absent, the broker builds a Request and calls
   * `fetch`.
   */
  send?(request: OutgoingRequest): Promise<Response>;
  /**
   * Opens an extended CONNECT stream (RFC 8441) with `:protocol` = `init.protocol` toward
   * `request.url`; `request.body` is the bytes toward the origin, a 2xx response's body the bytes
   * back. Rejects like `fetch`. Optional: a session without it takes no tunnels (see tunnel.ts).
   */
  connect?(request: Request, init: TunnelInit): Promise<Response>;
  close(reason?: string): void;
}

/** A request as the broker hands it to {@link BrokerSession.send}. */
export interface OutgoingRequest {
  method: string;
  url: URL;
  /** The fields toward the origin, hop-by-hop fields removed and forwarding fields added. */
  headers: Headers;
  /** The browser's body stream, passed on untouched (null for none). */
  body: ReadableStream<Uint8Array> | null;
  /** Aborts when the browser goes away or the response timeout fires: the stream is then cancelled. */
  signal: AbortSignal;
}

/** What the intermediary knows about the browser-side exchange that `dispatch` cannot see in the Request. */
export interface DispatchInfo {
  /** The browser's IP address (IPv4 dotted or IPv6 without brackets). Empty when unknown. */
  clientAddress: string;
  /** Scheme of the listener the browser reached. */
  scheme: 'http' | 'https';
  /** Pseudonym used in Via (RFC 9110 §7.6.3); default `rhttp`. */
  viaName?: string;
  /** HTTP version of the browser's connection, for Via's received-protocol; default `'1.1'`. */
  httpVersion?: '1.0' | '1.1' | '2' | '3';
  /** Aborts when the browser goes away; the stream toward the origin is then cancelled. */
  signal?: AbortSignal;
  /**
   * The authority the browser asked for, when it differs from the request URL's (the intermediary
   * routed `http://host:port` to the `https://host` origin): what X-Forwarded-Host and Forwarded report.
   */
  host?: string;
}
