/**
 * The HTTP/2 role of one end of a connection, and every rule that depends on it, in one place.
 * Never infer the role from who opened the transport: in Reverse HTTP the agent dials out but is
 * the HTTP/2 server.
 */
export type Role = 'client' | 'server';

/** RFC 9113 §5.1.1: client-initiated streams are odd, server-initiated even. */
export function firstLocalStreamId(role: Role): number {
  return role === 'client' ? 1 : 2;
}

/** Was `streamId` opened by the peer of an endpoint with `role`? */
export function isPeerInitiated(role: Role, streamId: number): boolean {
  return role === 'client' ? streamId % 2 === 0 : streamId % 2 === 1;
}

/** RFC 9113 §3.4: only the client sends the connection preface octets. */
export function sendsPreface(role: Role): boolean {
  return role === 'client';
}

/** RFC 8336 §2.2: ORIGIN is sent by servers and processed by clients; a server ignores it. */
export function processesOrigin(role: Role): boolean {
  return role === 'client';
}

/** Requests pseudo-headers are received by servers, response pseudo-headers by clients (§8.3). */
export const REQUEST_PSEUDO_HEADERS = new Set([':method', ':scheme', ':authority', ':path', ':protocol']);
export const RESPONSE_PSEUDO_HEADERS = new Set([':status']);

/** The 24 octets a client sends first (RFC 9113 §3.4). */
export const CONNECTION_PREFACE = new TextEncoder().encode('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
