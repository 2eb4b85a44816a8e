/**
 * The heads of HTTP/1.1 messages (RFC 9112 §3, §4, §5), serialized: start line, field lines, the
 * empty line. A string of octets (every character ≤ 0xFF, written as latin1), checked so that no
 * field can split the message: a name that is not a token, or a CR, LF or NUL in a value, the
 * target or the reason phrase, is refused rather than sent (RFC 9110 §5.5: such values "are
 * invalid and dangerous").
 *
 * @example
 * const head = requestHead('GET', '/index.html', ['host', 'app.example', 'accept', '*\/*']);
 * socket.write(head, 'latin1');
 */
import { isFieldValueOctet, isToken } from './token.js';

/** A message head that would not be one message on the wire. */
export class InvalidRequestHeadError extends TypeError {
  override readonly name = 'InvalidRequestHeadError';
}

/** `name: value CRLF`, or an {@link InvalidRequestHeadError} when the name is not a token or the value has an octet no field value may carry. */
export function fieldLine(name: string, value: string): string {
  if (!isToken(name)) throw new InvalidRequestHeadError(`invalid field name ${JSON.stringify(name)}`);
  for (let k = 0; k < value.length; k++) {
    if (!isFieldValueOctet(value.charCodeAt(k))) throw new InvalidRequestHeadError(`invalid character in the value of ${name}`);
  }
  return `${name}: ${value}\r\n`;
}

/**
 * `method SP request-target SP HTTP/1.1 CRLF`, then each `name: value CRLF` of `fields` (flat:
 * `[name, value, name, value, …]`, names sent as given), then CRLF. Throws an
 * {@link InvalidRequestHeadError} for an invalid method, target, name or value.
 */
export function requestHead(method: string, target: string, fields: readonly string[]): string {
  if (!isToken(method)) throw new InvalidRequestHeadError(`invalid method ${JSON.stringify(method)}`);
  // RFC 9112 §3.2: the request-target has no whitespace or controls (a SP would end it early);
  // octets above 0x7E pass, as node:http lets them (a raw :path forwarded as received).
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 0x20 || c > 0xff) throw new InvalidRequestHeadError(`invalid request target ${JSON.stringify(target.slice(0, 64))}`);
  }
  if (target.length === 0) throw new InvalidRequestHeadError('empty request target');
  let head = `${method} ${target} HTTP/1.1\r\n`;
  for (let i = 0; i + 1 < fields.length; i += 2) head += fieldLine(fields[i], fields[i + 1]);
  return `${head}\r\n`;
}

/**
 * `HTTP/1.1 SP status-code SP reason-phrase CRLF` (RFC 9112 §4), then each field of `fields`
 * whose name is not in `skip`, then each of `extra` (flat, for the framing fields the writer
 * chose), then CRLF. Throws an {@link InvalidRequestHeadError} for a status outside 100–999 or an
 * invalid reason, name or value.
 */
export function responseHead(status: number, reason: string, fields: readonly (readonly [string, string])[], skip?: ReadonlySet<string>, extra?: readonly string[]): string {
  if (!Number.isInteger(status) || status < 100 || status > 999) throw new InvalidRequestHeadError(`invalid status ${status}`);
  for (let k = 0; k < reason.length; k++) {
    // RFC 9112 §4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ).
    if (!isFieldValueOctet(reason.charCodeAt(k))) throw new InvalidRequestHeadError('invalid character in the reason phrase');
  }
  let head = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i];
    if (skip === undefined || !skip.has(field[0])) head += fieldLine(field[0], field[1]);
  }
  if (extra !== undefined) for (let i = 0; i + 1 < extra.length; i += 2) head += fieldLine(extra[i], extra[i + 1]);
  return `${head}\r\n`;
}

/** The `Date` field value for a response that lacks one (RFC 9110 §6.6.1, IMF-fixdate), formatted once a second. */
let dateSecond = -1;
let dateValue = '';
export function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(now).toUTCString();
  }
  return dateValue;
}
