/**
 * What was wrong with an HTTP/1.1 message's bytes, decided at the codec boundary. The code is
 * stable; a proxy answers any of them in a response with 502 (RFC 9112 §6.3: it "MUST close the
 * connection to the server, discard the received response, and send a 502 (Bad Gateway)
 * response"); a server answers a request's with 400 unless the code says otherwise.
 */
export type Http1ErrorCode =
  /** The head (start line and fields; for a request, with the empty lines before it) exceeds its size or field-count limit. */
  | 'head_too_large'
  /** The start line, a field line or a line ending is malformed. */
  | 'invalid_head'
  /** Content-Length / Transfer-Encoding do not frame the body unambiguously. */
  | 'invalid_framing'
  /** A chunk-size line, chunk terminator or trailer section is malformed or too large. */
  | 'invalid_chunk'
  /** The connection closed before the message was complete. */
  | 'incomplete_message'
  /** A request's HTTP-version is well-formed but neither HTTP/1.0 nor HTTP/1.1 (a server answers 505). */
  | 'unsupported_version'
  /** A request's request-target is longer than MAX_REQUEST_TARGET_BYTES (a server answers 414). */
  | 'target_too_long'
  /** A request's Transfer-Encoding applies a coding other than chunked (a server answers 501, RFC 9112 §6.1). */
  | 'unsupported_transfer_coding';

/** An HTTP/1.1 message that cannot be read (RFC 9112). */
export class Http1Error extends Error {
  override readonly name = 'Http1Error';
  constructor(
    readonly code: Http1ErrorCode,
    message: string,
  ) {
    super(message);
  }
}
