/**
 * What the broker writes into forwarded messages: `Via` (RFC 9110 §7.6.3), `Forwarded`
 * (RFC 7239), and the de-facto `X-Forwarded-For`/`-Proto`/`-Host`.
 */
import { headersToFields, stripHopByHopFields, type HeaderField } from '@rhttp/core';

/** Default Via pseudonym: RFC 9110 §7.6.3 lets an intermediary use one instead of its host name. */
export const DEFAULT_VIA_NAME = 'rhttp';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** `received-by` for Via: the given pseudonym if it is a token, else the default. */
function viaName(name: string | undefined): string {
  return name !== undefined && TOKEN.test(name) ? name : DEFAULT_VIA_NAME;
}

/** Fields the broker writes itself on a request: the browser's values of the list-valued ones are kept and extended, the rest replaced. */
const WRITTEN = new Set(['host', 'via', 'forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);

/** `existing` (the field's lines joined, RFC 9110 §5.3) with one more member, or just the member. */
function listWith(existing: string | undefined, member: string): string {
  return existing === undefined || existing.trim() === '' ? member : `${existing}, ${member}`;
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
 * The fields sent toward the origin, from the browser's (a Headers object, or a list with
 * lower-case names as an HTTP/2 listener received them): hop-by-hop fields and `Host` removed
 * (the authority travels in `:authority`, RFC 9113 §8.3.1), then `Via`, `Forwarded` and
 * `X-Forwarded-For` appended to what the browser sent, and `X-Forwarded-Proto`/`-Host` set.
 */
export function forwardRequestFields(incoming: Headers | readonly HeaderField[], f: RequestForwarding): HeaderField[] {
  const fields = incoming instanceof Headers ? headersToFields(incoming) : incoming.slice();
  stripHopByHopFields(fields);
  let via: string | undefined;
  let forwarded: string | undefined;
  let forwardedFor: string | undefined;
  let kept = 0;
  for (let i = 0; i < fields.length; i++) {
    const [name, value] = fields[i];
    if (!WRITTEN.has(name)) {
      fields[kept++] = fields[i];
      continue;
    }
    if (name === 'via') via = listWith(via, value);
    else if (name === 'forwarded') forwarded = listWith(forwarded, value);
    else if (name === 'x-forwarded-for') forwardedFor = listWith(forwardedFor, value);
  }
  fields.length = kept;
  // RFC 9110 §7.6.3: "A proxy MUST send an appropriate Via header field, as described below, in
  // each message that it forwards."
  fields.push(
    ['via', listWith(via, `${f.httpVersion} ${viaName(f.viaName)}`)],
    ['forwarded', listWith(forwarded, `for=${forwardedNode(f.clientAddress)};proto=${f.scheme};host=${forwardedValue(f.host)}`)],
    ['x-forwarded-for', listWith(forwardedFor, f.clientAddress.trim() === '' ? 'unknown' : f.clientAddress.trim())],
    ['x-forwarded-proto', f.scheme],
    ['x-forwarded-host', f.host],
  );
  return fields;
}

/** The response's fields toward the browser, in place: hop-by-hop fields removed, `Via: 2 <name>` added as one more field line (RFC 9110 §5.3: the same list; the origin answered over HTTP/2). */
export function rewriteResponseFields(fields: HeaderField[], name?: string): void {
  stripHopByHopFields(fields);
  fields.push(['via', `2 ${viaName(name)}`]);
}
