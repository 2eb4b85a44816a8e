import type { HeaderField, ResponseMessage } from '@rhttp/core';
import type { ParsedOrigin } from './origin-match.js';

/**
 * The minimal view of one reversed HTTP/2 connection that the broker schedules over. The
 * intermediary adapts its engine's session to this shape; the broker never sees frames.
 *
 * Modelled on undici's client-h2 dispatcher: the broker only asks "may I open a stream here?"
 * (origins, openStreams, maxConcurrentStreams, draining, isClosed), "open this exchange" (`open`),
 * and hears "look again" (`onSlotFree`) instead of polling.
 *
 * @example
 * const session: BrokerSession = {
 *   id: 'agent-1', origins: ['https://app.example.com'], openStreams: 0,
 *   maxConcurrentStreams: 100, draining: false, isClosed: false, tunnels: true,
 *   open: (request) => h2session.open(request),   // @rhttp/core's ClientExchange is an Exchange
 *   close: (reason) => h2session.goaway(reason),
 * };
 * // and, wherever the engine reports a closed stream, SETTINGS, GOAWAY or the close:
 * session.onSlotFree?.();
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
  readonly isClosed: boolean;
  /** Smoothed RTT in ms from PING, if known (for status pages). */
  readonly rttMs?: number;
  /** True when `open` takes CONNECT (plain and RFC 8441 extended): the broker routes tunnels only to such sessions. */
  readonly tunnels: boolean;
  /**
   * Opens one exchange as a new stream, now. `request` is final (fields rewritten for the origin;
   * `body` is the browser's stream as is). Method `CONNECT` with `protocol` is an extended
   * CONNECT (RFC 8441, `:protocol`), without it a plain CONNECT (RFC 9113 §8.5); then `body` is
   * the bytes toward the origin and a 2xx response's body the bytes back. Throws, or the
   * exchange's `response` rejects, with an error whose `retryable === true` when the origin
   * certainly did not process it (REFUSED_STREAM, GOAWAY, or a stream id above GOAWAY's
   * last-stream-id); other rejections mean the session died or reset the stream.
   */
  open(request: OutgoingRequest): Exchange;
  /**
   * Set by the broker while the session is registered with it (cleared when it leaves). The
   * session calls it whenever a new stream may have become possible or impossible: a stream
   * closed, the peer's SETTINGS arrived (MAX_CONCURRENT_STREAMS may have grown), GOAWAY, or the
   * session closed. Requests waiting for a stream look again then; the broker never polls.
   */
  onSlotFree?: (() => void) | undefined;
  close(reason?: string): void;
}

/**
 * A browser request as the broker reads it. The listener parses the URL and its origin once, into
 * a `URL` and a ParsedOrigin that every later hop reads; a web `Request` (the edge's, a
 * handler's) has this shape too, with `url` as a string that the broker parses, and no `origin`.
 */
export interface ForwardRequest {
  readonly method: string;
  readonly url: URL | string;
  /**
   * The origin of `url`, parsed by whoever built the request (must equal `requestOrigin(url)`);
   * the registry and the broker route by it (`originOf`) instead of deriving it again. Absent: they parse `url`.
   */
  readonly origin?: ParsedOrigin | undefined;
  /** The browser's fields: a Headers object, or a list with lower-case names (what an HTTP/2 listener received, read as is). */
  readonly headers: Headers | readonly HeaderField[];
  /** The browser's body, passed on untouched (null for none). */
  readonly body: ReadableStream<Uint8Array> | null;
  /** A web Request's flag; a listener's own request object has an unread body and leaves it out. */
  readonly bodyUsed?: boolean;
}

/**
 * One exchange in flight on a session (@rhttp/core's ClientExchange has this shape): the
 * response as a message (status, fields, a body read chunk by chunk with flow-control credit
 * returned as it is read, trailers), with no web Response, stream or AbortSignal on the way.
 */
export interface Exchange {
  /** Settles at the response's HEADERS; rejects when the stream is reset or the session dies first. */
  readonly response: Promise<ResponseMessage>;
  /** The browser left or the response timed out: the stream is reset, and `response` rejects with `reason` if it has not settled. */
  cancel(reason?: unknown): void;
}

/** A request as the broker hands it to {@link BrokerSession.open}. */
export interface OutgoingRequest {
  method: string;
  url: URL;
  /** The fields toward the origin (lower-case names), hop-by-hop fields removed and forwarding fields added. */
  fields: HeaderField[];
  /** The browser's body stream, passed on untouched (null for none). */
  body: ReadableStream<Uint8Array> | null;
  /** With method CONNECT: the extended CONNECT protocol (RFC 8441 `:protocol`, e.g. `websocket`). Absent for a plain CONNECT and for every other method. */
  protocol?: string;
}

/**
 * The part of an AbortSignal the broker reads: whether the browser left, why, and a listener for
 * when it does. A web AbortSignal fits; a listener may pass something cheaper (in Node 20 every
 * AbortSignal is made transferable, which costs more than the rest of a small exchange).
 */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * An AbortSignalLike that costs a flag and a listener list: for a listener that makes one per
 * exchange. `abort` runs the listeners once, in order.
 */
export class Abort implements AbortSignalLike {
  aborted = false;
  reason: unknown = undefined;
  #listeners: Array<() => void> | undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners) for (const listener of listeners) listener();
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    (this.#listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const listeners = this.#listeners;
    const at = listeners ? listeners.indexOf(listener) : -1;
    if (at >= 0) listeners!.splice(at, 1);
  }
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
  /** Aborts when the browser goes away; the stream toward the origin is then cancelled. An AbortSignal fits. */
  signal?: AbortSignalLike;
  /**
   * The authority the browser asked for, when it differs from the request URL's (the intermediary
   * routed `http://host:port` to the `https://host` origin): what X-Forwarded-Host and Forwarded report.
   */
  host?: string;
}
