/**
 * Errors the broker turns into responses for the browser. Each class has a stable `code`, the
 * HTTP status, the RFC 9209 error type, and knows its `Response` (`toResponse()`), in the spirit
 * of hono's HTTPException: throw anywhere in the dispatch path, answer once at the top.
 */
import { bytesBody, type HeaderField, type ResponseMessage } from '@rhttp/core';
import { DEFAULT_PROXY_NAME, ProxyErrorType, serializeProxyStatus } from './proxy-status.js';

/** Seconds a browser is told to wait when no session serves its origin (agents reconnect within seconds). */
export const NO_SESSION_RETRY_AFTER_SECONDS = 5;
/** Seconds to wait when every session is at its stream limit: capacity frees as soon as streams end. */
export const BUSY_RETRY_AFTER_SECONDS = 1;

export interface BrokerErrorOptions {
  cause?: unknown;
  /** Adds `Retry-After` (RFC 9110 §10.2.3) to the response. */
  retryAfterSeconds?: number;
  /** Short technical detail for `Proxy-Status`'s `details` parameter; never an address. */
  details?: string;
  /** Which session the error happened on, for the status page. */
  sessionId?: string;
}

/** Base class: an error the broker answers with its own response. */
export class BrokerError extends Error {
  /** Stable, machine-readable identifier, e.g. `ERR_BROKER_NO_SESSION`. */
  readonly code: string;
  readonly status: number;
  /** RFC 9209 error type for `Proxy-Status`. */
  readonly proxyError: string;
  readonly retryAfterSeconds?: number;
  readonly details?: string;
  readonly sessionId?: string;
  constructor(code: string, status: number, proxyError: string, message: string, options: BrokerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.proxyError = proxyError;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.details = options.details;
    this.sessionId = options.sessionId;
  }

  /**
   * The response for the browser: the status, `Proxy-Status`, `Retry-After` when set,
   * `Cache-Control: no-store`, and the message as a short text/plain body.
   */
  toResponse(proxyName: string = DEFAULT_PROXY_NAME): Response {
    return new Response(`${this.message}\n`, { status: this.status, headers: this.#fields(proxyName) });
  }

  /** The same response as a message, for listeners that write messages (no web Response made). */
  toMessage(proxyName: string = DEFAULT_PROXY_NAME): ResponseMessage {
    return { status: this.status, fields: this.#fields(proxyName), body: bytesBody(new TextEncoder().encode(`${this.message}\n`)), trailers: undefined };
  }

  #fields(proxyName: string): HeaderField[] {
    const fields: HeaderField[] = [
      ['content-type', 'text/plain; charset=utf-8'],
      ['cache-control', 'no-store'],
      ['proxy-status', serializeProxyStatus(this.proxyError, this.details, proxyName)],
    ];
    if (this.retryAfterSeconds !== undefined) fields.push(['retry-after', String(this.retryAfterSeconds)]);
    return fields;
  }
}

/** No live session serves the request's origin → 503 `destination_unavailable` + Retry-After. */
export class NoSessionError extends BrokerError {
  constructor(origin: string, options: BrokerErrorOptions = {}) {
    super('ERR_BROKER_NO_SESSION', 503, ProxyErrorType.DESTINATION_UNAVAILABLE,
      `The origin server for ${origin} is not connected right now. Try again in a few seconds.`,
      { retryAfterSeconds: NO_SESSION_RETRY_AFTER_SECONDS, details: 'no session for origin', ...options });
  }
}

/** Every session for the origin is at its stream limit and the wait queue is full or timed out → 503. */
export class SessionsBusyError extends BrokerError {
  constructor(origin: string, options: BrokerErrorOptions = {}) {
    super('ERR_BROKER_BUSY', 503, ProxyErrorType.CONNECTION_LIMIT_REACHED,
      `The origin server for ${origin} is handling as many requests as it allows. Try again shortly.`,
      { retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS, details: 'all sessions at max concurrent streams', ...options });
  }
}

/**
 * The origin refused the stream without processing it (REFUSED_STREAM, or above GOAWAY's
 * last-stream-id) and the broker could not retry (body already sent, or the retry was refused
 * too) → 503 with Retry-After: the request was certainly not processed, so it is safe to repeat.
 */
export class RequestRefusedError extends BrokerError {
  constructor(origin: string, options: BrokerErrorOptions = {}) {
    super('ERR_BROKER_REFUSED', 503, ProxyErrorType.DESTINATION_UNAVAILABLE,
      `The origin server for ${origin} refused the request without processing it. It is safe to try again.`,
      { retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS, details: 'stream refused by origin', ...options });
  }
}

/** The session carrying the request died before response headers arrived → 502 `connection_terminated`. */
export class SessionLostError extends BrokerError {
  constructor(origin: string, options: BrokerErrorOptions = {}) {
    super('ERR_BROKER_SESSION_LOST', 502, ProxyErrorType.CONNECTION_TERMINATED,
      `The connection to the origin server for ${origin} closed before it answered.`,
      { details: 'session closed before response', ...options });
  }
}

/** The origin reset the stream before response headers → 502 `http_protocol_error`. */
export class OriginResetError extends BrokerError {
  constructor(origin: string, options: BrokerErrorOptions = {}) {
    super('ERR_BROKER_STREAM_RESET', 502, ProxyErrorType.HTTP_PROTOCOL_ERROR,
      `The origin server for ${origin} abandoned the request before answering.`,
      { details: 'stream reset before response', ...options });
  }
}

/** No response headers within `responseTimeoutMs` → 504 `http_response_timeout`. */
export class ResponseTimeoutError extends BrokerError {
  constructor(origin: string, timeoutMs: number, options: BrokerErrorOptions = {}) {
    super('ERR_BROKER_RESPONSE_TIMEOUT', 504, ProxyErrorType.HTTP_RESPONSE_TIMEOUT,
      `The origin server for ${origin} did not answer within ${Math.round(timeoutMs / 1000)} seconds.`,
      { details: `no response headers within ${timeoutMs} ms`, ...options });
  }
}

/**
 * The browser's address already has as many requests in flight as one client may (a budget of
 * the listener, see the intermediary's client-budget.ts) → 503 `http_request_denied` + Retry-After.
 */
export class ClientBudgetError extends BrokerError {
  constructor(limit: number, options: BrokerErrorOptions = {}) {
    super('ERR_BROKER_CLIENT_BUDGET', 503, ProxyErrorType.HTTP_REQUEST_DENIED,
      `Too many requests in flight from your address (at most ${limit} at once). Try again when some have finished.`,
      { retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS, details: 'too many concurrent requests from this client', ...options });
  }
}

/** A session was refused at registration (e.g. origins spanning several registrable domains) → 403. */
export class SessionRefusedError extends BrokerError {
  constructor(message: string, options: BrokerErrorOptions = {}) {
    super('ERR_BROKER_SESSION_REFUSED', 403, ProxyErrorType.HTTP_REQUEST_DENIED, message, options);
  }
}

/** The request cannot be forwarded as it is (no usable authority, body already consumed) → 400. */
export class BadRequestError extends BrokerError {
  constructor(message: string, options: BrokerErrorOptions = {}) {
    super('ERR_BROKER_BAD_REQUEST', 400, ProxyErrorType.HTTP_REQUEST_ERROR, message, options);
  }
}
