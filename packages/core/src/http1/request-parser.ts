/**
 * The HTTP/1.1 request parser (server role), sans-I/O (RFC 9112): fed the bytes read from a
 * connection in any split, it reports one request's head, its body's bytes and its end, then stops
 * taking bytes, so that what follows (a pipelined request, or the bytes of a CONNECT or Upgrade
 * tunnel) stays with the caller. No timers, no sockets: the caller owns those.
 *
 * The head's scan, the field lines and the body machinery are shared with the response parser
 * (message-parser.ts): CRLF only, obs-fold refused, Content-Length and Transfer-Encoding never
 * guessed at. What is a request's own, each at its check: the request line (§3), empty lines before
 * it (§2.2), Host (§3.2), the request's body length (§6.3) and the codings a server reads (§6.1).
 *
 * @example
 * const parser = new RequestParser({
 *   onHead: (head) => startExchange(head.method, head.target, head.fields),
 *   onData: (bytes) => body.push(bytes.slice()),
 *   onEnd: () => endBody(),
 * });
 * socket.on('data', (bytes) => {
 *   let at = 0;
 *   while (at < bytes.length) {
 *     at = parser.push(bytes, at); // all of them, unless a request ended before their end
 *     if (!parser.done) break;
 *     if (tunnelling) return tunnel.write(bytes.subarray(at)); // after CONNECT or an accepted Upgrade
 *     parser.reset(); // a pipelined request may follow
 *   }
 * });
 * socket.on('end', () => parser.finish());
 */
import type { HeaderField } from '../frame/types.js';
import { Http1Error } from './errors.js';
import { contentLengthValue, MAX_HEAD_BYTES, MAX_HEAD_FIELDS, MessageParser, persists, transferCodings } from './message-parser.js';
import { TCHAR } from './token.js';

/** Octets of a request head (request line and field lines): see {@link MAX_HEAD_BYTES}. */
export const MAX_REQUEST_HEAD_BYTES = MAX_HEAD_BYTES;
/** Field lines in one request head (see {@link MAX_HEAD_FIELDS}). */
export const MAX_REQUEST_FIELDS = MAX_HEAD_FIELDS;
/**
 * Octets of a request-target: RFC 9112 §3 recommends "all senders and recipients support, at a
 * minimum, request-line lengths of 8000 octets"; browsers stay well within 8 KiB, and a longer one
 * is answered 414 (URI Too Long) rather than kept.
 */
export const MAX_REQUEST_TARGET_BYTES = 8 * 1024;

/** A request head as received. */
export interface Http1RequestHead {
  /** The method, a token, case kept (methods are case-sensitive, RFC 9110 §9.1). */
  method: string;
  /** The request-target as received, octets as latin1 characters. */
  target: string;
  /** The minor version: 1 for HTTP/1.1, 0 for HTTP/1.0. */
  minorVersion: number;
  /** The field lines in order, names lower-cased, values with their surrounding whitespace removed. */
  fields: HeaderField[];
  /** The one Host value (undefined only for an HTTP/1.0 request without Host). */
  host: string | undefined;
  /** Whether the connection persists after this request (RFC 9112 §9.3). */
  keepAlive: boolean;
  /** How the body is delimited: 'none' (no Content-Length or Transfer-Encoding, or Content-Length: 0), a Content-Length, or chunked. */
  body: 'none' | 'length' | 'chunked';
  /** The body's length for 'length'; 0 otherwise. */
  contentLength: number;
}

/** What {@link RequestParser} reports. */
export interface RequestParserHandler {
  /** The request head. */
  onHead(head: Http1RequestHead): void;
  /** Body bytes, decoded from their transfer coding; a view of the pushed bytes, valid during the call. */
  onData(bytes: Uint8Array): void;
  /** The request message is complete (right after onHead for a bodiless one). */
  onEnd(): void;
}

const CR = 0x0d;
const LF = 0x0a;

/** Reads requests, one at a time, from an HTTP/1.1 connection. */
export class RequestParser extends MessageParser {
  /** A CR before the request line whose LF has not come yet. */
  #emptyLineCr = false;
  /** Octets of the empty lines skipped before this request line. */
  #emptyLineBytes = 0;
  /** The head being parsed: its fields, and its Host field lines. */
  #fields: HeaderField[] = [];
  #host: string | undefined;
  #hosts = 0;

  constructor(readonly handler: RequestParserHandler) {
    super('request', true, handler);
  }

  /** Some octets of a head (other than ignored empty lines before it) were taken, and the head is not complete. */
  get inHead(): boolean {
    return this.headBytesTaken > 0 && this.readingHead;
  }

  /**
   * Parses from `bytes[start..]`; returns the index after the last byte taken. Stops right after a
   * message ends (onEnd), leaving what follows untaken. Throws an {@link Http1Error} when the bytes
   * are not a valid request.
   */
  push(bytes: Uint8Array, start = 0): number {
    if (this.done) return start;
    let i = start;
    if (this.readingHead && this.headBytesTaken === 0) i = this.#skipEmptyLines(bytes, i);
    return this.read(bytes, i);
  }

  /** Ready for the next request on the same connection (after onEnd). */
  reset(): void {
    this.resetMessage();
    this.#emptyLineCr = false;
    this.#emptyLineBytes = 0;
  }

  /**
   * The connection closed: throws `incomplete_message` when a request was begun and not complete
   * (RFC 9112 §8); nothing when idle between requests.
   */
  finish(): void {
    if (this.done || (this.readingHead && this.headBytesTaken === 0)) return;
    throw new Http1Error('incomplete_message', this.readingHead ? 'the connection closed before the request head was complete' : 'the connection closed before the end of the request body');
  }

  /**
   * RFC 9112 §2.2: "a server that is expecting to receive and parse a request-line SHOULD ignore at
   * least one empty line (CRLF) received prior to the request-line"; bounded by the head's size.
   */
  #skipEmptyLines(bytes: Uint8Array, start: number): number {
    let i = start;
    const n = bytes.length;
    while (i < n) {
      const c = bytes[i];
      if (this.#emptyLineCr) {
        // RFC 9112 §2.2: "A recipient of such a bare CR MUST consider that element to be invalid".
        if (c !== LF) throw new Http1Error('invalid_head', 'bare CR before the request line');
        this.#emptyLineCr = false;
      } else if (c === CR) this.#emptyLineCr = true;
      else break;
      i++;
      if (++this.#emptyLineBytes > MAX_REQUEST_HEAD_BYTES) throw new Http1Error('head_too_large', `more than ${MAX_REQUEST_HEAD_BYTES} octets of empty lines before the request line`);
    }
    return i;
  }

  protected override headTooLarge(startLineEnded: boolean): Http1Error {
    // A request line that alone passes the head's bound has a target far beyond MAX_REQUEST_TARGET_BYTES.
    if (!startLineEnded) return new Http1Error('target_too_long', `request line longer than ${MAX_REQUEST_HEAD_BYTES} octets`);
    return super.headTooLarge(startLineEnded);
  }

  protected override addField(name: string, value: string): void {
    this.#fields.push([name, value]);
    if (name === 'host') {
      this.#host = value;
      this.#hosts++;
    }
  }

  /** Parses a head (without its final CRLF CRLF): request line and field lines, RFC 9112 §3 and §5. */
  protected override parseHead(text: string, lineEnd: number): void {
    // RFC 9112 §3: request-line = method SP request-target SP HTTP-version; method = token.
    let sp = 0;
    while (sp < lineEnd && TCHAR[text.charCodeAt(sp)] === 1) sp++;
    if (sp === 0 || sp === lineEnd || text.charCodeAt(sp) !== 0x20) throw invalidRequestLine(text, lineEnd);
    const targetStart = sp + 1;
    let targetEnd = targetStart;
    for (; targetEnd < lineEnd; targetEnd++) {
      const c = text.charCodeAt(targetEnd);
      // RFC 9112 §3.2: the request-target has no whitespace or controls (the head's scan refused
      // the other controls and DEL); octets above 0x7E pass (as requestHead sends them), the
      // target's own grammar is the application's to check.
      if (c <= 0x20) break;
    }
    if (targetEnd - targetStart > MAX_REQUEST_TARGET_BYTES) throw new Http1Error('target_too_long', `request-target longer than ${MAX_REQUEST_TARGET_BYTES} octets`);
    // RFC 9112 §3: a single SP between the parts; "Recipients of an invalid request-line SHOULD
    // respond with either a 400 (Bad Request) error or a 301 (Moved Permanently) redirect".
    if (targetEnd === targetStart || targetEnd === lineEnd || text.charCodeAt(targetEnd) !== 0x20) throw invalidRequestLine(text, lineEnd);
    const minorVersion = httpVersion(text, targetEnd + 1, lineEnd);
    this.#fields = [];
    this.#host = undefined;
    this.#hosts = 0;
    this.parseFieldLines(text);
    const method = text.slice(0, sp);
    const host = this.#host as string | undefined; // set by addField, during parseFieldLines
    // RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1
    // request message that lacks a Host header field and to any request message that contains more
    // than one Host header field line or a Host header field with an invalid field value."
    if (this.#hosts > 1) throw new Http1Error('invalid_head', 'more than one Host field line');
    if (this.#hosts === 0 && minorVersion === 1) throw new Http1Error('invalid_head', 'an HTTP/1.1 request without Host');
    if (host !== undefined && !isHostValue(host)) throw new Http1Error('invalid_head', `invalid Host ${JSON.stringify(host.slice(0, 64))}`);
    let body: Http1RequestHead['body'] = 'none';
    let contentLength = 0;
    // RFC 9110 §9.3.6: "A CONNECT request message does not have content"; framing fields on one
    // are a framing we will not guess at (the bytes after the head belong to the tunnel).
    const connect = method === 'CONNECT';
    if (this.transferEncoding !== undefined) {
      if (connect) throw new Http1Error('invalid_framing', 'Transfer-Encoding in a CONNECT request');
      const codings = transferCodings(this.transferEncoding, minorVersion, this.contentLength !== undefined, 'request');
      // RFC 9112 §6.3 rule 4: "If a Transfer-Encoding header field is present in a request and the
      // chunked transfer coding is not the final encoding, the message body length cannot be
      // determined reliably; the server MUST respond with the 400 (Bad Request) status code and
      // then close the connection."
      if (codings === 'no-chunked') throw new Http1Error('invalid_framing', 'the final transfer coding of the request is not chunked');
      // RFC 9112 §6.1: "A server that receives a request message with a transfer coding it does
      // not understand SHOULD respond with 501 (Not Implemented)"; chunked is the only one read here.
      if (codings === 'codings-then-chunked') throw new Http1Error('unsupported_transfer_coding', `transfer coding ${JSON.stringify(this.transferEncoding)} is not supported`);
      body = 'chunked';
    } else if (this.contentLength !== undefined) {
      if (connect) throw new Http1Error('invalid_framing', 'Content-Length in a CONNECT request');
      // RFC 9112 §6.3 rule 6: "If a valid Content-Length header field is present without
      // Transfer-Encoding, its decimal value defines the expected message body length in octets."
      contentLength = contentLengthValue(this.contentLength);
      if (contentLength > 0) body = 'length';
    }
    // Rule 7: "If this is a request message and none of the above are true, then the message body length is zero".
    const head: Http1RequestHead = { method, target: text.slice(targetStart, targetEnd), minorVersion, fields: this.#fields, host, keepAlive: persists(minorVersion, this.connection), body, contentLength };
    this.handler.onHead(head);
    this.startBody(body, contentLength);
  }
}

/**
 * The minor version of `text[start..end]`, RFC 9112 §2.3: HTTP-version = HTTP-name "/" DIGIT "."
 * DIGIT, HTTP-name case-sensitive. A higher minor version of HTTP/1 is read as HTTP/1.1 (RFC 9110
 * §6.2: a recipient "SHOULD process the message as if it were in the highest minor version within
 * that major version to which the recipient is conformant"); any other major version is
 * `unsupported_version` (505).
 */
function httpVersion(text: string, start: number, end: number): number {
  if (end - start === 8 && text.startsWith('HTTP/', start) && text.charCodeAt(start + 6) === 0x2e /* . */) {
    const major = text.charCodeAt(start + 5) - 0x30;
    const minor = text.charCodeAt(start + 7) - 0x30;
    if (major >= 0 && major <= 9 && minor >= 0 && minor <= 9) {
      if (major === 1) return minor === 0 ? 0 : 1;
      throw new Http1Error('unsupported_version', `HTTP/${major}.${minor} is not supported`);
    }
  }
  throw invalidRequestLine(text, end);
}

function invalidRequestLine(text: string, lineEnd: number): Http1Error {
  return new Http1Error('invalid_head', `invalid request line ${JSON.stringify(text.slice(0, Math.min(lineEnd, 64)))}`);
}

/** `HOST_OCTET[c]`: 1 for reg-name octets (unreserved, "%", sub-delims, RFC 3986 §3.2.2), 2 for those only inside an IP-literal's brackets (":"). */
const HOST_OCTET: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (const c of "-._~%!$&'()*+,;=") table[c.charCodeAt(0)] = 1;
  for (let c = 0x30; c <= 0x39; c++) table[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) table[c] = 1;
  table[0x3a] = 2;
  return table;
})();

/**
 * RFC 9110 §7.2: Host = uri-host [ ":" port ], uri-host = IP-literal / IPv4address / reg-name,
 * port = *DIGIT. An empty value is valid ("a client MUST send a Host header field with an empty
 * field-value" when the target URI has no authority).
 */
function isHostValue(value: string): boolean {
  const n = value.length;
  let k = 0;
  if (value.charCodeAt(0) === 0x5b /* [ */) {
    for (k = 1; k < n && value.charCodeAt(k) !== 0x5d /* ] */; k++) {
      if (!HOST_OCTET[value.charCodeAt(k)]) return false;
    }
    if (k === n) return false;
    k++;
  } else {
    for (; k < n; k++) {
      const c = value.charCodeAt(k);
      if (HOST_OCTET[c] !== 1) break;
    }
  }
  if (k === n) return true;
  if (value.charCodeAt(k) !== 0x3a /* : */) return false;
  for (k++; k < n; k++) {
    const d = value.charCodeAt(k) - 0x30;
    if (d < 0 || d > 9) return false;
  }
  return true;
}
