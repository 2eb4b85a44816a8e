/**
 * Hop-by-hop fields: they describe one connection, not the message, so a proxy removes them
 * before forwarding (RFC 9110 §7.6.1), and HTTP/2 forbids them outright (RFC 9113 §8.2.2). The
 * one rule every hop applies (the broker toward the agent, the agent toward its upstream, the
 * intermediary toward browsers), for the two shapes fields take: a Headers object and a list.
 */
import type { HeaderField } from '../frame/types.js';
import { LOWER_CASE_TOKEN } from './fields.js';

/**
 * Always removed, whether or not `Connection` lists them (RFC 9110 §7.6.1, RFC 9113 §8.2.2), and
 * `Proxy-Authorization`/`Proxy-Authenticate`, which are addressed to this proxy (RFC 9110 §11.7).
 */
export const HOP_BY_HOP_FIELDS: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);

/**
 * The protocol of the next hop: `TE: trailers` may go on over HTTP/2 (RFC 9113 §8.2.2, gRPC needs
 * it) but TE is a connection's capability in HTTP/1.1 (RFC 9110 §10.1.4) and stays behind.
 */
export type NextHop = 'h2' | 'http/1.1';

const NONE: ReadonlySet<string> = new Set();

/**
 * The names a message's `Connection` fields list (lower case): RFC 9110 §7.6.1, "Intermediaries
 * MUST parse a received Connection header field before a message is forwarded and, for each
 * connection-option in this field, remove any header or trailer field(s) from the message with
 * the same name as the connection-option".
 */
export function connectionOptions(fields: Iterable<readonly [string, string]>): ReadonlySet<string> {
  let listed: Set<string> | undefined;
  for (const [name, value] of fields) {
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue;
    for (const option of value.split(',')) {
      const n = option.trim().toLowerCase();
      if (n !== '' && LOWER_CASE_TOKEN.test(n)) (listed ??= new Set()).add(n);
    }
  }
  return listed ?? NONE;
}

/** The rule: `name` (lower case) is not forwarded to `next`, given the Connection options `listed`. */
export function isHopByHop(name: string, value: string, listed: ReadonlySet<string>, next: NextHop = 'h2'): boolean {
  if (HOP_BY_HOP_FIELDS.has(name) || listed.has(name)) return true;
  // RFC 9113 §8.2.2: "The only exception to this is the TE header field, which MAY be present in
  // an HTTP/2 request; when it is, it MUST NOT contain any value other than "trailers"."
  return name === 'te' && (next === 'http/1.1' || value.trim().toLowerCase() !== 'trailers');
}

/** Removes hop-by-hop fields from `headers` in place. */
export function stripHopByHop(headers: Headers, next: NextHop = 'h2'): void {
  const connection = headers.get('connection');
  const listed = connection === null ? NONE : connectionOptions([['connection', connection]]);
  const drop: string[] = [];
  headers.forEach((value, name) => {
    if (isHopByHop(name, value, listed, next)) drop.push(name);
  });
  for (const name of drop) headers.delete(name);
}

/** Removes hop-by-hop fields from a field list (lower-case names) in place. */
export function stripHopByHopFields(fields: HeaderField[], next: NextHop = 'h2'): void {
  const listed = connectionOptions(fields);
  let kept = 0;
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i];
    if (!isHopByHop(field[0], field[1], listed, next)) fields[kept++] = field;
  }
  fields.length = kept;
}
