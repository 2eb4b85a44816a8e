/**
 * The HTTP/3 role of one end of a connection, and every rule that depends on it, in one place.
 * The HTTP role is not the QUIC role: in `h3-reverse` (draft-bt-httpbis-reverse-http-01) the
 * QUIC client is the HTTP/3 server, and requests arrive on QUIC server-initiated streams. Rules
 * here speak of the HTTP roles only.
 */
import { H3ErrorCode } from './error-codes.js';
import type { Role } from '../proto/role.js';

export type H3Role = Role;

/**
 * RFC 9114 §6.1: requests go on bidirectional streams the HTTP client opens. A client MUST treat
 * receipt of a bidirectional stream from the server as a connection error of type
 * H3_STREAM_CREATION_ERROR (no extension here negotiates otherwise).
 */
export function acceptsRequestStreams(role: H3Role): boolean {
  return role === 'server';
}

/** RFC 9412 §2: the server sends ORIGIN on its control stream; the client processes it. */
export function sendsOrigin(role: H3Role): boolean {
  return role === 'server';
}
export function processesOrigin(role: H3Role): boolean {
  return role === 'client';
}

/** RFC 9114 §7.2.7: only clients send MAX_PUSH_ID; a client receiving one MUST treat it as H3_FRAME_UNEXPECTED. */
export function acceptsMaxPushId(role: H3Role): boolean {
  return role === 'server';
}

/**
 * A push stream (type 0x01) received. RFC 9114 §6.2.2: only servers can push; a server receiving
 * a client-initiated push stream MUST treat it as H3_STREAM_CREATION_ERROR. A client never sends
 * MAX_PUSH_ID here, so any push id exceeds the maximum (§4.6): H3_ID_ERROR.
 */
export function pushStreamError(role: H3Role): number {
  return role === 'server' ? H3ErrorCode.H3_STREAM_CREATION_ERROR : H3ErrorCode.H3_ID_ERROR;
}

/**
 * PUSH_PROMISE received on a request stream. §7.2.5: a server receiving one MUST treat it as
 * H3_FRAME_UNEXPECTED; a client that allowed no push ids sees a push id above its maximum (§4.6): H3_ID_ERROR.
 */
export function pushPromiseError(role: H3Role): number {
  return role === 'server' ? H3ErrorCode.H3_FRAME_UNEXPECTED : H3ErrorCode.H3_ID_ERROR;
}

/**
 * §5.2: the server's GOAWAY carries a client-initiated bidirectional stream id, the client's a
 * push id. This engine never allows push, so a client's GOAWAY says 0 (no push id is accepted).
 */
export function goawayIdIsStreamId(role: H3Role): boolean {
  return role === 'server';
}

/** Stream ids of one endpoint's bidirectional streams go up by 4 (RFC 9000 §2.1). */
export const STREAM_ID_STEP = 4;
