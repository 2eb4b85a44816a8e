/**
 * The HTTP/1.1 response parser, sans-I/O (RFC 9112): fed the bytes read from a connection in any
 * split, it reports the final response head, the body's bytes and the end of the message, and says
 * whether the connection may carry another request. No timers, no sockets: the caller owns those.
 *
 * Decisions, each at its check:
 * - Line ends are CRLF only. RFC 9112 §2.2 lets a recipient accept a bare LF ("MAY recognize a
 *   single LF as a line terminator"); a proxy that reads framing differently from the next hop
 *   invites response splitting, so a bare LF (and a bare CR, §2.2 "MUST consider that element to
 *   be invalid") makes the response invalid: the proxy answers 502.
 * - obs-fold is refused (§5.2 lets a proxy "discard the message and replace it with a 502").
 * - Interim 1xx responses (100 Continue, 103 Early Hints) are read and skipped (RFC 9110 §15.2: a
 *   client "MUST be able to parse one or more 1xx responses received prior to a final response");
 *   101 ends the exchange as a final head without a body.
 * - Body length follows RFC 9112 §6.3 in order, and never guesses: Content-Length with
 *   Transfer-Encoding, an invalid or conflicting Content-Length, chunked not last are errors.
 *
 * @example
 * const parser = new ResponseParser('GET', {
 *   onHead: (head) => console.log(head.status, head.rawFields),
 *   onData: (bytes) => body.push(bytes),
 *   onEnd: () => console.log('complete, reusable:', parser.keepAlive),
 * });
 * socket.on('data', (bytes) => parser.push(bytes));
 * socket.on('end', () => parser.finish());
 */
import { Http1Error } from './errors.js';
import { contentLengthValue, MAX_HEAD_BYTES, MAX_HEAD_FIELDS, MessageParser, persists, transferCodings } from './message-parser.js';

/**
 * Octets of a response head (status line and field lines), as the engine's maxHeaderListSize for
 * HTTP/2 (64 KiB): an upstream cannot make the agent buffer more before a body starts.
 */
export const MAX_RESPONSE_HEAD_BYTES = MAX_HEAD_BYTES;
/** Field lines in one response head (see {@link MAX_HEAD_FIELDS}). */
export const MAX_RESPONSE_FIELDS = MAX_HEAD_FIELDS;

/** A final response head as received. */
export interface Http1ResponseHead {
  status: number;
  /** The reason phrase (a client "SHOULD ignore" it, RFC 9112 §4; kept for statusText). */
  reason: string;
  /** The minor version: 1 for HTTP/1.1, 0 for HTTP/1.0. */
  minorVersion: number;
  /** The field lines in order, names as received (not lower-cased): `[name, value, name, value, …]`, octets as latin1 characters. */
  rawFields: string[];
}

/** What {@link ResponseParser} reports. */
export interface ResponseParserHandler {
  /** The final response head (never a 1xx other than 101). */
  onHead(head: Http1ResponseHead): void;
  /** Body bytes, decoded from their transfer coding; a view of the pushed bytes, valid during the call. */
  onData(bytes: Uint8Array): void;
  /** The message is complete. */
  onEnd(): void;
}

/** Reads one response (and the 1xx responses before it) from an HTTP/1.1 connection. */
export class ResponseParser extends MessageParser {
  #keepAlive = false;
  #started = false;
  /** The field lines of the head being parsed. */
  #rawFields: string[] = [];

  constructor(
    /** The request's method: a response to HEAD has no body (RFC 9112 §6.3). */
    readonly method: string,
    readonly handler: ResponseParserHandler,
  ) {
    super('response', false, handler);
  }

  /** Some byte of the response arrived (a reused connection closed before this did not answer at all). */
  get started(): boolean {
    return this.#started;
  }

  /** Once done: whether the connection may carry another request (persistence, RFC 9112 §9.3). */
  get keepAlive(): boolean {
    return this.done && this.#keepAlive;
  }

  /** Bytes read from the connection. Throws an {@link Http1Error} when they are not a valid response. */
  push(bytes: Uint8Array): void {
    if (bytes.length > 0) this.#started = true;
    // RFC 9112 §9.3.2: a client does not pipeline here, so bytes after the response are not
    // a next response; the connection cannot be trusted for another request.
    if (this.read(bytes, 0) < bytes.length) this.#keepAlive = false;
  }

  /**
   * The connection closed (no more bytes). Ends a body read until close (RFC 9112 §6.3 rule 8);
   * throws `incomplete_message` when the message was not complete (§8: "A message that uses a
   * valid Content-Length is incomplete if the size of the message body received ... is less").
   */
  finish(): void {
    if (this.done) return;
    if (this.readingUntilClose) {
      this.endMessage();
      return;
    }
    throw new Http1Error('incomplete_message', this.readingHead ? 'the connection closed before the response head was complete' : 'the connection closed before the end of the response body');
  }

  protected override addField(name: string, value: string): void {
    this.#rawFields.push(name, value);
  }

  /** Parses a head (without its final CRLF CRLF): status line and field lines, RFC 9112 §4 and §5. */
  protected override parseHead(text: string, lineEnd: number): void {
    const statusLine = text.slice(0, lineEnd);
    // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]; HTTP-version = "HTTP/" DIGIT "." DIGIT.
    const m = /^HTTP\/1\.([0-9]) ([1-9][0-9][0-9])(?: (.*))?$/.exec(statusLine);
    if (m === null) throw new Http1Error('invalid_head', `invalid status line ${JSON.stringify(statusLine.slice(0, 64))}`);
    // The head's scan already refused every octet a reason phrase may not have (message-parser.ts).
    const reason = m[3] ?? '';
    const rawFields: string[] = [];
    this.#rawFields = rawFields;
    this.parseFieldLines(text);
    this.#onHead({ status: Number(m[2]), reason, minorVersion: m[1].charCodeAt(0) - 0x30, rawFields });
  }

  #onHead(head: Http1ResponseHead): void {
    const status = head.status;
    if (status < 200 && status !== 101) return; // interim: the next head follows (RFC 9110 §15.2)
    const contentLength = this.contentLength === undefined ? -1 : contentLengthValue(this.contentLength);
    const transferEncoding = this.transferEncoding;
    this.#keepAlive = persists(head.minorVersion, this.connection);
    // RFC 9112 §6.3 rule 1: "Any response to a HEAD request and any response with a 1xx
    // (Informational), 204 (No Content), or 304 (Not Modified) status code is always terminated by
    // the first empty line after the header fields, regardless of the header fields present".
    // (A 205's content is framed as usual; that it carries none is a rule of semantics, hasNoContent.)
    if (this.method === 'HEAD' || status === 204 || status === 304 || status === 101) {
      if (status === 101) this.#keepAlive = false; // the connection now speaks another protocol
      this.handler.onHead(head);
      this.startBody('none', 0);
      return;
    }
    if (transferEncoding !== undefined) {
      const codings = transferCodings(transferEncoding, head.minorVersion, contentLength !== -1, 'response');
      this.handler.onHead(head);
      if (!this.readingHead) return;
      if (codings !== 'no-chunked') this.startBody('chunked', 0);
      else {
        // Rule 4: "the message body length is determined by reading the connection until it is closed".
        this.#keepAlive = false;
        this.startBody('until-close', 0);
      }
      return;
    }
    this.handler.onHead(head);
    if (!this.readingHead) return;
    if (contentLength >= 0) this.startBody('length', contentLength);
    else {
      // Rule 8: "the message body length is determined by the number of octets received prior to the server closing the connection".
      this.#keepAlive = false;
      this.startBody('until-close', 0);
    }
  }
}
