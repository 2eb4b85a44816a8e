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
import { concatBytes } from '../bytes.js';
import { decodeLatin1 } from '../hpack/latin1.js';
import { connectionOptions } from '../http/hop-by-hop.js';
import { ChunkedDecoder } from './chunked.js';
import { Http1Error } from './errors.js';
import { isFieldValueOctet, TCHAR } from './token.js';

/**
 * Octets of a response head (status line and field lines), as the engine's maxHeaderListSize for
 * HTTP/2 (64 KiB): an upstream cannot make the agent buffer more before a body starts.
 */
export const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;
/**
 * Field lines in one response head: each becomes two strings, and 64 KiB of minimal lines ("a:"
 * CRLF) would be 16,384 of them; no application sends more than a few hundred.
 */
export const MAX_RESPONSE_FIELDS = 1000;
/** Decimal digits of a Content-Length: 15 keep it within a JavaScript number's exact integers. */
const MAX_CONTENT_LENGTH_DIGITS = 15;

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

const CR = 0x0d;
const LF = 0x0a;

const enum State {
  Head,
  Length,
  Chunked,
  UntilClose,
  Done,
}

/** Reads one response (and the 1xx responses before it) from an HTTP/1.1 connection. */
export class ResponseParser {
  #state = State.Head;
  /** Line-end scanner of the head: 0 in a line, 1 after CR, 2 after CRLF, 3 after CRLF CR. */
  #lineEnd = 0;
  #headBytes = 0;
  #headPieces: Uint8Array[] = [];
  /** The OR of the head's octets so far: below 0x80, the head is ASCII and decodes natively. */
  #headHigh = 0;
  #remaining = 0;
  #chunked: ChunkedDecoder | undefined;
  #keepAlive = false;
  #started = false;
  readonly #onData = (bytes: Uint8Array) => this.handler.onData(bytes);

  constructor(
    /** The request's method: a response to HEAD has no body (RFC 9112 §6.3). */
    readonly method: string,
    readonly handler: ResponseParserHandler,
  ) {}

  /** Some byte of the response arrived (a reused connection closed before this did not answer at all). */
  get started(): boolean {
    return this.#started;
  }

  /** The message is complete. */
  get done(): boolean {
    return this.#state === State.Done;
  }

  /** Once done: whether the connection may carry another request (persistence, RFC 9112 §9.3). */
  get keepAlive(): boolean {
    return this.#state === State.Done && this.#keepAlive;
  }

  /** Bytes read from the connection. Throws an {@link Http1Error} when they are not a valid response. */
  push(bytes: Uint8Array): void {
    if (bytes.length > 0) this.#started = true;
    let i = 0;
    const n = bytes.length;
    while (i < n) {
      switch (this.#state) {
        case State.Head:
          i = this.#readHead(bytes, i);
          break;
        case State.Length: {
          const take = Math.min(this.#remaining, n - i);
          this.#remaining -= take;
          this.handler.onData(bytes.subarray(i, i + take));
          i += take;
          if (this.#remaining === 0) this.#end();
          break;
        }
        case State.Chunked: {
          const decoder = this.#chunked!;
          i = decoder.decode(bytes, i, this.#onData);
          if (decoder.done) this.#end();
          break;
        }
        case State.UntilClose:
          this.handler.onData(i === 0 ? bytes : bytes.subarray(i));
          i = n;
          break;
        case State.Done:
          // RFC 9112 §9.3.2: a client does not pipeline here, so bytes after the response are not
          // a next response; the connection cannot be trusted for another request.
          this.#keepAlive = false;
          return;
      }
    }
  }

  /**
   * The connection closed (no more bytes). Ends a body read until close (RFC 9112 §6.3 rule 8);
   * throws `incomplete_message` when the message was not complete (§8: "A message that uses a
   * valid Content-Length is incomplete if the size of the message body received ... is less").
   */
  finish(): void {
    if (this.#state === State.Done) return;
    if (this.#state === State.UntilClose) {
      this.#end();
      return;
    }
    throw new Http1Error('incomplete_message', this.#state === State.Head ? 'the connection closed before the response head was complete' : 'the connection closed before the end of the response body');
  }

  #end(): void {
    this.#state = State.Done;
    this.handler.onEnd();
  }

  /** Scans for the empty line ending the head; parses it once found. Returns the index after what was taken. */
  #readHead(bytes: Uint8Array, start: number): number {
    let s = this.#lineEnd;
    let high = this.#headHigh;
    const n = bytes.length;
    const limit = Math.min(n, start + MAX_RESPONSE_HEAD_BYTES - this.#headBytes);
    let j = start;
    let found = false;
    for (; j < limit; j++) {
      const c = bytes[j];
      high |= c;
      if (c === CR) {
        // RFC 9112 §2.2: "A recipient of such a bare CR MUST consider that element to be invalid".
        if (s === 1 || s === 3) throw new Http1Error('invalid_head', 'bare CR in the response head');
        s = s === 2 ? 3 : 1;
      } else if (c === LF) {
        if (s === 1) s = 2;
        else if (s === 3) {
          j++;
          found = true;
          break;
        } else throw new Http1Error('invalid_head', 'bare LF in the response head (only CRLF ends a line here)');
      } else {
        if (s === 1 || s === 3) throw new Http1Error('invalid_head', 'bare CR in the response head');
        s = 0;
      }
    }
    if (!found) {
      // The scan stopped at `limit` without the empty line: at the bound, whether this read had more or not.
      if (this.#headBytes + (limit - start) >= MAX_RESPONSE_HEAD_BYTES) throw new Http1Error('head_too_large', `response head larger than ${MAX_RESPONSE_HEAD_BYTES} octets`);
      this.#lineEnd = s;
      this.#headHigh = high;
      this.#headBytes += n - start;
      this.#headPieces.push(bytes.subarray(start));
      return n;
    }
    let head: Uint8Array;
    if (this.#headPieces.length === 0) {
      head = bytes.subarray(start, j);
    } else {
      this.#headPieces.push(bytes.subarray(start, j));
      head = concatBytes(this.#headPieces, this.#headBytes + (j - start));
      this.#headPieces = [];
    }
    this.#lineEnd = 0;
    this.#headBytes = 0;
    this.#headHigh = 0;
    this.#onHead(parseHead(high < 0x80 ? ASCII.decode(head.subarray(0, head.length - 4)) : decodeLatin1(head, 0, head.length - 4)));
    return j;
  }

  #onHead(head: Http1ResponseHead): void {
    const status = head.status;
    if (status < 200 && status !== 101) return; // interim: the next head follows (RFC 9110 §15.2)
    let contentLength = -1;
    let transferEncoding: string | undefined;
    let connection: string | undefined;
    const raw = head.rawFields;
    for (let k = 0; k < raw.length; k += 2) {
      const name = raw[k];
      if (name.length === 14 && name.toLowerCase() === 'content-length') contentLength = mergedContentLength(contentLength, raw[k + 1]);
      else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') transferEncoding = transferEncoding === undefined ? raw[k + 1] : `${transferEncoding}, ${raw[k + 1]}`;
      else if (name.length === 10 && name.toLowerCase() === 'connection') connection = connection === undefined ? raw[k + 1] : `${connection}, ${raw[k + 1]}`;
    }
    // RFC 9112 §9.3: HTTP/1.1 persists unless "close" is listed; HTTP/1.0 only with "keep-alive".
    const options = connection === undefined ? undefined : connectionOptions([['connection', connection]]);
    this.#keepAlive = head.minorVersion >= 1 ? !options?.has('close') : options?.has('keep-alive') === true;
    // RFC 9112 §6.3 rule 1: "Any response to a HEAD request and any response with a 1xx
    // (Informational), 204 (No Content), or 304 (Not Modified) status code is always terminated by
    // the first empty line after the header fields, regardless of the header fields present".
    // (A 205's content is framed as usual; that it carries none is a rule of semantics, hasNoContent.)
    if (this.method === 'HEAD' || status === 204 || status === 304 || status === 101) {
      if (status === 101) this.#keepAlive = false; // the connection now speaks another protocol
      this.handler.onHead(head);
      if (this.#state === State.Head) this.#end();
      return;
    }
    if (transferEncoding !== undefined) {
      // RFC 9112 §6.1: "A server or client that receives an HTTP/1.0 message containing a
      // Transfer-Encoding header field MUST treat the message as if the framing is faulty".
      if (head.minorVersion === 0) throw new Http1Error('invalid_framing', 'Transfer-Encoding in an HTTP/1.0 response');
      // RFC 9112 §6.3 rule 3: both "ought to be handled as an error" (request smuggling, response splitting).
      if (contentLength !== -1) throw new Http1Error('invalid_framing', 'both Content-Length and Transfer-Encoding in the response');
      const codings = transferEncoding.split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '');
      const chunkedAt = codings.indexOf('chunked');
      // RFC 9112 §7: "A sender MUST NOT apply the chunked transfer coding more than once".
      if (chunkedAt !== -1 && chunkedAt !== codings.length - 1) throw new Http1Error('invalid_framing', 'chunked is not the final transfer coding');
      this.handler.onHead(head);
      if (this.#state !== State.Head) return;
      if (chunkedAt !== -1) {
        this.#chunked = new ChunkedDecoder();
        this.#state = State.Chunked;
      } else {
        // Rule 4: "the message body length is determined by reading the connection until it is closed".
        this.#keepAlive = false;
        this.#state = State.UntilClose;
      }
      return;
    }
    this.handler.onHead(head);
    if (this.#state !== State.Head) return;
    if (contentLength === 0) this.#end();
    else if (contentLength > 0) {
      this.#remaining = contentLength;
      this.#state = State.Length;
    } else {
      // Rule 8: "the message body length is determined by the number of octets received prior to the server closing the connection".
      this.#keepAlive = false;
      this.#state = State.UntilClose;
    }
  }
}

/**
 * One Content-Length field value merged with what was seen before (-1: none). RFC 9110 §8.6: a
 * list of identical values may stand for one; anything else (a different value, a non-digit, a
 * sign) is invalid, and RFC 9112 §6.3 rule 5: "the message framing is invalid and the recipient
 * MUST treat it as an unrecoverable error".
 */
function mergedContentLength(seen: number, value: string): number {
  // The common case, one plain number, without splitting.
  const n = value.length;
  if (n > 0 && n <= MAX_CONTENT_LENGTH_DIGITS) {
    let length = 0;
    let k = 0;
    for (; k < n; k++) {
      const d = value.charCodeAt(k) - 0x30;
      if (d < 0 || d > 9) break;
      length = length * 10 + d;
    }
    if (k === n) {
      if (seen !== -1 && seen !== length) throw new Http1Error('invalid_framing', `conflicting Content-Length values (${seen} and ${length})`);
      return length;
    }
  }
  let merged = seen;
  for (const part of value.split(',')) {
    const digits = part.trim();
    if (digits.length === 0 || digits.length > MAX_CONTENT_LENGTH_DIGITS || !/^[0-9]+$/.test(digits)) throw new Http1Error('invalid_framing', `invalid Content-Length ${JSON.stringify(value)}`);
    const length = Number(digits);
    if (merged !== -1 && merged !== length) throw new Http1Error('invalid_framing', `conflicting Content-Length values (${merged} and ${length})`);
    merged = length;
  }
  return merged;
}

/** Parses a head (without its final CRLF CRLF): status line and field lines, RFC 9112 §4 and §5. */
function parseHead(text: string): Http1ResponseHead {
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd === -1) lineEnd = text.length;
  const statusLine = text.slice(0, lineEnd);
  // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]; HTTP-version = "HTTP/" DIGIT "." DIGIT.
  const m = /^HTTP\/1\.([0-9]) ([1-9][0-9][0-9])(?: (.*))?$/.exec(statusLine);
  if (m === null) throw new Http1Error('invalid_head', `invalid status line ${JSON.stringify(statusLine.slice(0, 64))}`);
  const reason = m[3] ?? '';
  for (let k = 0; k < reason.length; k++) {
    if (!isFieldValueOctet(reason.charCodeAt(k))) throw new Http1Error('invalid_head', 'invalid octet in the reason phrase');
  }
  const rawFields: string[] = [];
  let at = lineEnd + 2;
  while (at < text.length) {
    let end = text.indexOf('\r\n', at);
    if (end === -1) end = text.length;
    if (rawFields.length >= MAX_RESPONSE_FIELDS * 2) throw new Http1Error('head_too_large', `more than ${MAX_RESPONSE_FIELDS} fields in the response head`);
    parseFieldLine(text, at, end, rawFields);
    at = end + 2;
  }
  return { status: Number(m[2]), reason, minorVersion: m[1].charCodeAt(0) - 0x30, rawFields };
}

/** One field line, RFC 9112 §5: field-line = field-name ":" OWS field-value OWS. */
function parseFieldLine(text: string, start: number, end: number, out: string[]): void {
  const first = text.charCodeAt(start);
  // RFC 9112 §5.2: obs-fold (a line starting with SP or HTAB) is refused, see the file comment.
  if (first === 0x20 || first === 0x09) throw new Http1Error('invalid_head', 'obs-fold (a field line continued on the next line) in the response head');
  let colon = start;
  while (colon < end && TCHAR[text.charCodeAt(colon)] === 1) colon++;
  // RFC 9112 §5.1: "No whitespace is allowed between the field name and colon"; the name is a token.
  if (colon === start || colon === end || text.charCodeAt(colon) !== 0x3a /* : */) throw new Http1Error('invalid_head', `invalid field line ${JSON.stringify(text.slice(start, Math.min(end, start + 64)))}`);
  let v = colon + 1;
  let w = end;
  while (v < w && isOws(text.charCodeAt(v))) v++;
  while (w > v && isOws(text.charCodeAt(w - 1))) w--;
  for (let k = v; k < w; k++) {
    // RFC 9110 §5.5: field-value = *field-content (VCHAR, obs-text, SP, HTAB); NUL, CR, LF and other controls are refused.
    if (!isFieldValueOctet(text.charCodeAt(k))) throw new Http1Error('invalid_head', `invalid octet in the value of ${text.slice(start, colon)}`);
  }
  out.push(text.slice(start, colon), text.slice(v, w));
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Decodes an ASCII-only head (UTF-8 and ASCII agree there), far faster than char by char. */
const ASCII = new TextDecoder();
