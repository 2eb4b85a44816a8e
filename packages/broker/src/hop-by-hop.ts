/**
 * Hop-by-hop fields: they describe one connection, not the message, so an intermediary removes
 * them before forwarding (RFC 9110 §7.6.1). HTTP/2 forbids them outright (RFC 9113 §8.2.2), and
 * the reversed session is HTTP/2, so on the request side they must go.
 */

/** Always connection-specific, whether or not `Connection` lists them (RFC 9110 §7.6.1, RFC 9113 §8.2.2). */
const ALWAYS_HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'] as const;

/**
 * Removes hop-by-hop fields from `headers` in place.
 *
 * Also removes `Proxy-Authorization`/`Proxy-Authenticate` (addressed to this proxy, RFC 9110
 * §11.7), and `TE` unless it is exactly `trailers`.
 */
export function stripHopByHop(headers: Headers): void {
  // RFC 9110 §7.6.1: "Intermediaries MUST parse a received Connection header field before a
  // message is forwarded and, for each connection-option in this field, remove any header or
  // trailer field(s) from the message with the same name as the connection-option".
  const connection = headers.get('connection');
  if (connection !== null) {
    for (const option of connection.split(',')) {
      const name = option.trim().toLowerCase();
      if (name !== '' && /^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name)) headers.delete(name);
    }
  }
  for (const name of ALWAYS_HOP_BY_HOP) headers.delete(name);
  headers.delete('proxy-authorization');
  headers.delete('proxy-authenticate');
  // RFC 9113 §8.2.2: "The only exception to this is the TE header field, which MAY be present in
  // an HTTP/2 request; when it is, it MUST NOT contain any value other than "trailers"."
  const te = headers.get('te');
  if (te !== null && te.trim().toLowerCase() !== 'trailers') headers.delete('te');
}
