/**
 * Hop-by-hop fields: they describe one connection, not the message, so an intermediary removes
 * them before forwarding (RFC 9110 §7.6.1). HTTP/2 forbids them outright (RFC 9113 §8.2.2), and
 * the reversed session is HTTP/2, so on the request side they must go. One rule, for the two
 * shapes a message's fields take here: a Headers object and a field list.
 */
import type { HeaderField } from '@rhttp/core';

/**
 * Always removed, whether or not `Connection` lists them (RFC 9110 §7.6.1, RFC 9113 §8.2.2), and
 * `Proxy-Authorization`/`Proxy-Authenticate`, which are addressed to this proxy (RFC 9110 §11.7).
 */
const ALWAYS_HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/**
 * RFC 9110 §7.6.1: "Intermediaries MUST parse a received Connection header field before a
 * message is forwarded and, for each connection-option in this field, remove any header or
 * trailer field(s) from the message with the same name as the connection-option".
 */
function addConnectionOptions(value: string, into: Set<string>): void {
  for (const option of value.split(',')) {
    const name = option.trim().toLowerCase();
    if (name !== '' && TOKEN.test(name)) into.add(name);
  }
}

/** The rule: a field goes when it is always hop-by-hop, listed in Connection, or a TE other than "trailers". */
function isHopByHop(name: string, value: string, listed: ReadonlySet<string>): boolean {
  // RFC 9113 §8.2.2: "The only exception to this is the TE header field, which MAY be present in
  // an HTTP/2 request; when it is, it MUST NOT contain any value other than "trailers"."
  return ALWAYS_HOP_BY_HOP.has(name) || listed.has(name) || (name === 'te' && value.trim().toLowerCase() !== 'trailers');
}

const NONE: ReadonlySet<string> = new Set();

/** Removes hop-by-hop fields from `headers` in place. */
export function stripHopByHop(headers: Headers): void {
  const connection = headers.get('connection');
  const listed = new Set<string>();
  if (connection !== null) addConnectionOptions(connection, listed);
  const drop: string[] = [];
  headers.forEach((value, name) => {
    if (isHopByHop(name, value, listed)) drop.push(name);
  });
  for (const name of drop) headers.delete(name);
}

/** Removes hop-by-hop fields from a field list (lower-case names) in place. */
export function stripHopByHopFields(fields: HeaderField[]): void {
  let listed: Set<string> | undefined;
  for (let i = 0; i < fields.length; i++) if (fields[i][0] === 'connection') addConnectionOptions(fields[i][1], (listed ??= new Set()));
  let kept = 0;
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i];
    if (!isHopByHop(field[0], field[1], listed ?? NONE)) fields[kept++] = field;
  }
  fields.length = kept;
}
