/**
 * Tunnels through the broker: a browser's WebSocket becomes an extended CONNECT (RFC 8441,
 * `:protocol websocket`) on a reversed session, routed like any request to that origin
 * (DESIGN.md, Broker semantics). The request travels as a POST-like web `Request` (the Fetch API
 * refuses the CONNECT method): its URL gives `:scheme`/`:authority`/`:path`, its body is the bytes
 * from the browser, and a 2xx response's body is the bytes to the browser. The broker opens it on
 * a session that takes tunnels (`BrokerSession.tunnels`) as `open({ method: 'CONNECT', protocol })`,
 * `protocol` left out for a plain CONNECT (RFC 9113 §8.5).
 */

import type { HeaderField } from '@rhttp/core';

/** `:protocol` value for WebSockets (RFC 8441 §4, registered in the HTTP Upgrade Token Registry). */
export const WEBSOCKET_PROTOCOL = 'websocket';

/**
 * Fields of an HTTP/1.1 WebSocket handshake that do not exist in the RFC 8441 form: the key and
 * accept are replaced by `:protocol` (§5: "Implementations using this extended CONNECT to
 * bootstrap WebSockets do not do the processing of the Sec-WebSocket-Key and
 * Sec-WebSocket-Accept header fields"). Origin, Sec-WebSocket-Version, -Protocol and
 * -Extensions are carried as in RFC 6455.
 */
const HANDSHAKE_ONLY_FIELDS: ReadonlySet<string> = new Set(['sec-websocket-key', 'sec-websocket-accept']);

/** Removes what the RFC 8441 form of a `protocol` tunnel does not carry from a field list (lower-case names), in place. */
export function stripTunnelHandshakeFields(fields: HeaderField[], protocol: string): void {
  if (protocol !== WEBSOCKET_PROTOCOL) return;
  let kept = 0;
  for (let i = 0; i < fields.length; i++) if (!HANDSHAKE_ONLY_FIELDS.has(fields[i][0])) fields[kept++] = fields[i];
  fields.length = kept;
}

/**
 * The POST-like Request that stands for an extended CONNECT: `url` is the tunnel's target
 * (`https://host/path?query`), `body` the bytes from the browser (`null` for none yet).
 */
export function tunnelRequest(url: string | URL, headers: Headers, body: ReadableStream<Uint8Array> | null, signal?: AbortSignal): Request {
  return new Request(url, { method: 'POST', headers, body, signal, duplex: 'half', redirect: 'manual' } as RequestInit);
}
