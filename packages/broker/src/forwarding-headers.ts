/**
 * What the broker writes into forwarded messages: `Via` (RFC 9110 §7.6.3), `Forwarded`
 * (RFC 7239), and the de-facto `X-Forwarded-For`/`-Proto`/`-Host`.
 */
import { stripHopByHop, stripHopByHopFields, type HeaderField } from '@rhttp/core';

/** Default Via pseudonym: RFC 9110 §7.6.3 lets an intermediary use one instead of its host name. */
export const DEFAULT_VIA_NAME = 'rhttp';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** `received-by` for Via: the given pseudonym if it is a token, else the default. */
function viaName(name: string | undefined): string {
  return name !== undefined && TOKEN.test(name) ? name : DEFAULT_VIA_NAME;
}

/** Appends one member to a list-valued field (`a, b`), keeping what was there. */
function appendListMember(headers: Headers, name: string, member: string): void {
  const existing = headers.get(name);
  headers.set(name, existing === null || existing.trim() === '' ? member : `${existing}, ${member}`);
}

/** Appends `Via: <protocol-version> <name>` (RFC 9110 §7.6.3; the "HTTP/" prefix is omitted for HTTP). */
export function appendVia(headers: Headers, httpVersion: string, name?: string): void {
  // RFC 9110 §7.6.3: "A proxy MUST send an appropriate Via header field, as described below, in
  // each message that it forwards."
  appendListMember(headers, 'via', `${httpVersion} ${viaName(name)}`);
}

/** RFC 7239 §4: a value is a token or a quoted-string. */
function forwardedValue(value: string): string {
  if (TOKEN.test(value)) return value;
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * RFC 7239 §6 node name for a client address: IPv4 as is, IPv6 in brackets (and therefore
 * quoted: `for="[2001:db8::1]"`), `unknown` when there is none.
 */
export function forwardedNode(address: string): string {
  let node = address.trim();
  if (node === '') return 'unknown';
  if (node.includes(':') && !node.startsWith('[')) node = `[${node}]`;
  return forwardedValue(node);
}

/** Request fields as they go to the origin. */
export interface RequestForwarding {
  clientAddress: string;
  /** Scheme the browser used. */
  scheme: 'http' | 'https';
  /** Host (and non-default port) the browser asked for, as in `:authority`/Host. */
  host: string;
  /** Browser-side HTTP version for Via. */
  httpVersion: string;
  viaName?: string;
}

/**
 * Builds the headers sent toward the origin: a copy of the browser's with hop-by-hop fields and
 * `Host` removed (the authority travels in the URL, i.e. `:authority`), then `Via`, `Forwarded`,
 * `X-Forwarded-For` appended and `X-Forwarded-Proto`/`X-Forwarded-Host` set.
 */
export function forwardRequestHeaders(incoming: Headers, f: RequestForwarding): Headers {
  const headers = new Headers(incoming);
  stripHopByHop(headers);
  // RFC 9113 §8.3.1: the authority goes in `:authority`; a Host that differs would be ambiguous.
  headers.delete('host');
  appendVia(headers, f.httpVersion, f.viaName);
  appendListMember(headers, 'forwarded',
    `for=${forwardedNode(f.clientAddress)};proto=${f.scheme};host=${forwardedValue(f.host)}`);
  appendListMember(headers, 'x-forwarded-for', f.clientAddress.trim() === '' ? 'unknown' : f.clientAddress.trim());
  headers.set('x-forwarded-proto', f.scheme);
  headers.set('x-forwarded-host', f.host);
  return headers;
}

/** Builds the headers sent to the browser: hop-by-hop fields removed, `Via: 2 <name>` appended (the origin answered over HTTP/2). */
export function forwardResponseHeaders(incoming: Headers, name?: string): Headers {
  const headers = new Headers(incoming);
  rewriteResponseHeaders(headers, name);
  return headers;
}

/** {@link forwardResponseHeaders} on a field list, in place: hop-by-hop fields removed, `Via: 2 <name>` added as one more field line (RFC 9110 §5.3: the same list). */
export function rewriteResponseFields(fields: HeaderField[], name?: string): void {
  stripHopByHopFields(fields);
  fields.push(['via', `2 ${viaName(name)}`]);
}

/** {@link forwardResponseHeaders} in place, without a copy (throws on immutable headers). */
export function rewriteResponseHeaders(headers: Headers, name?: string): void {
  stripHopByHop(headers);
  appendVia(headers, '2', name);
}
