/**
 * The head of an HTTP/1.1 request (RFC 9112 §3, §5), serialized: request line, field lines, the
 * empty line. A string of octets (every character ≤ 0xFF, written as latin1), checked so that no
 * field can split the message: a name that is not a token, or a CR, LF or NUL in a value or the
 * target, is refused rather than sent (RFC 9110 §5.5: such values "are invalid and dangerous").
 *
 * @example
 * const head = requestHead('GET', '/index.html', ['host', 'app.example', 'accept', '*\/*']);
 * socket.write(head, 'latin1');
 */
import { isFieldValueOctet, isToken } from './token.js';

/** A request head that would not be one message on the wire. */
export class InvalidRequestHeadError extends TypeError {
  override readonly name = 'InvalidRequestHeadError';
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
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i];
    const value = fields[i + 1];
    if (!isToken(name)) throw new InvalidRequestHeadError(`invalid field name ${JSON.stringify(name)}`);
    for (let k = 0; k < value.length; k++) {
      if (!isFieldValueOctet(value.charCodeAt(k))) throw new InvalidRequestHeadError(`invalid character in the value of ${name}`);
    }
    head += `${name}: ${value}\r\n`;
  }
  return `${head}\r\n`;
}
