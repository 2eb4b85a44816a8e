/**
 * The `Proxy-Status` response field (RFC 9209): a Structured Field List (RFC 8941 §3.1) whose
 * members name the intermediary and carry `error` and `details` parameters.
 */

/** RFC 9209 §2.3 proxy error types (descriptions paraphrased) the broker emits (an open set: others are valid strings too). */
export const ProxyErrorType = {
  /** no way to reach the destination right now (no session serves the origin). */
  DESTINATION_UNAVAILABLE: 'destination_unavailable',
  /** the intermediary's connection limit toward the next hop is reached (every session is at its stream limit). */
  CONNECTION_LIMIT_REACHED: 'connection_limit_reached',
  /** the connection to the next hop closed before any part of the response arrived. */
  CONNECTION_TERMINATED: 'connection_terminated',
  /** the next hop broke HTTP (here: reset the stream) and no more specific type applies. */
  HTTP_PROTOCOL_ERROR: 'http_protocol_error',
  /** the next hop did not send a complete response header section in time. */
  HTTP_RESPONSE_TIMEOUT: 'http_response_timeout',
  /** the request was refused by policy (used when a session itself is refused). */
  HTTP_REQUEST_DENIED: 'http_request_denied',
  /** the request was malformed for forwarding. */
  HTTP_REQUEST_ERROR: 'http_request_error',
  /** the intermediary failed for reasons of its own. */
  PROXY_INTERNAL_ERROR: 'proxy_internal_error',
} as const;

/** Default member name: a pseudonym, never a hostname or address. */
export const DEFAULT_PROXY_NAME = 'rhttp';

const TOKEN = /^[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*$/;

/** RFC 8941 §4.1.6 sf-string: printable ASCII only; `"` and `\` escaped. Other characters become `?`. */
function serializeSfString(text: string): string {
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return `"${printable.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * One Proxy-Status member, e.g. `rhttp; error=destination_unavailable; details="no agent"`.
 * RFC 9209 §2.1.2 defines `next-hop`; we never emit it: it would reveal the origin's address.
 */
export function serializeProxyStatus(error: string, details?: string, proxyName: string = DEFAULT_PROXY_NAME): string {
  const name = TOKEN.test(proxyName) ? proxyName : DEFAULT_PROXY_NAME;
  const type = /^[a-z*][a-z0-9_\-.*]*$/.test(error) ? error : ProxyErrorType.PROXY_INTERNAL_ERROR;
  let member = `${name}; error=${type}`;
  if (details !== undefined && details !== '') member += `; details=${serializeSfString(details)}`;
  return member;
}
