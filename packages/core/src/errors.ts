/**
 * Errors in layers (RFC 9113 §5.4): what was wrong with the bytes is classified once, at the
 * codec boundary, as a stream error or a connection error. Misuse of the API is a plain
 * `Http2UsageError`. Every class carries a stable `code` string; protocol errors also carry the
 * numeric HTTP/2 error code sent on the wire.
 */
import { h3ErrorCodeName } from './h3/error-codes.js';

/** HTTP/2 error codes (RFC 9113 §7). An open set: unknown codes are kept and printed. */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

const errorCodeNames = new Map<number, string>(Object.entries(ErrorCode).map(([k, v]) => [v, k]));

/**
 * `errorCodeName(0x1)` → `"PROTOCOL_ERROR"`; unknown codes print as `UNKNOWN(0x…)`. HTTP/3's
 * codes (0x100 and up, h3/error-codes.ts) share no value with HTTP/2's, so the errors below name
 * them too when the HTTP/3 engine raises them.
 */
export function errorCodeName(code: number): string {
  return errorCodeNames.get(code) ?? h3ErrorCodeName(code);
}

/**
 * Base class of every error @rhttp/core raises, by domain below it: `Http2Error` (the engine),
 * `CertificateError` and `OriginError` (origin/), `SignatureError` (signature/). Callers switch
 * on `code` (stable, machine-readable) and the domain's own fields (`errorCode`, `reason`),
 * never on the message's text.
 */
export class RhttpError extends Error {
  /** Stable, machine-readable identifier, e.g. `ERR_HTTP2_CONNECTION`, `ERR_RHTTP_CERTIFICATE`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Base class of every error rhttp's HTTP/2 engine raises. */
export class Http2Error extends RhttpError {}

/** The peer broke a rule that affects the whole connection: send GOAWAY with `errorCode`. */
export class ConnectionError extends Http2Error {
  readonly errorCode: number;
  /** The message without the error-code prefix: what goes in GOAWAY's debug data. */
  readonly reason: string;
  constructor(errorCode: number, message: string, options?: { cause?: unknown }) {
    super('ERR_HTTP2_CONNECTION', `${errorCodeName(errorCode)}: ${message}`, options);
    this.errorCode = errorCode;
    this.reason = message;
  }
}

/** The peer broke a rule that affects one stream only: send RST_STREAM with `errorCode`. */
export class StreamError extends Http2Error {
  readonly errorCode: number;
  readonly streamId: number;
  /** The message without the stream and error-code prefix: what a StreamResetError made from it says. */
  readonly reason: string;
  constructor(streamId: number, errorCode: number, message: string, options?: { cause?: unknown }) {
    super('ERR_HTTP2_STREAM', `stream ${streamId}: ${errorCodeName(errorCode)}: ${message}`, options);
    this.errorCode = errorCode;
    this.streamId = streamId;
    this.reason = message;
  }
}

/** HPACK decoding failed; always a connection error of type COMPRESSION_ERROR (RFC 9113 §4.3). */
export class CompressionError extends ConnectionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.COMPRESSION_ERROR, message, options);
  }
}

/** The caller used the API wrongly (e.g. wrote to a closed stream). Nothing is sent to the peer. */
export class Http2UsageError extends Http2Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_HTTP2_USAGE', message, options);
  }
}

/**
 * A stream ended before its exchange completed: the peer reset it, we reset it (malformed
 * message, cancelled request), or its connection went away. `retryable` is true only when the
 * peer certainly did not process the request: REFUSED_STREAM (RFC 9113 §8.7) or a stream above
 * the last-stream-id of a GOAWAY (§6.8).
 */
export class StreamResetError extends Http2Error {
  readonly errorCode: number;
  readonly streamId: number;
  readonly retryable: boolean;
  /** Who ended it: the peer (RST_STREAM/GOAWAY received) or this endpoint. */
  readonly by: 'peer' | 'local' | 'connection';
  constructor(streamId: number, errorCode: number, by: 'peer' | 'local' | 'connection', message: string, retryable = false, options?: { cause?: unknown }) {
    super('ERR_HTTP2_STREAM_RESET', `stream ${streamId}: ${message} (${errorCodeName(errorCode)})`, options);
    this.errorCode = errorCode;
    this.streamId = streamId;
    this.by = by;
    this.retryable = retryable;
  }
}

/** The connection is closed (or closing) and cannot carry the request. */
export class SessionClosedError extends Http2Error {
  readonly errorCode: number;
  readonly retryable: boolean;
  constructor(message: string, errorCode: number = ErrorCode.NO_ERROR, retryable = false, options?: { cause?: unknown }) {
    super('ERR_HTTP2_SESSION_CLOSED', message, options);
    this.errorCode = errorCode;
    this.retryable = retryable;
  }
}

/**
 * The StreamResetError for a stream this endpoint resets because of `error`: a StreamError says
 * its `reason` (without its own "stream N: CODE:" prefix, which the reset error adds again), any
 * other error its message.
 */
export function localReset(streamId: number, errorCode: number, error: unknown): StreamResetError {
  const reason = error instanceof StreamError ? error.reason : error instanceof Error ? error.message : String(error);
  return new StreamResetError(streamId, errorCode, 'local', reason, false, { cause: error });
}
