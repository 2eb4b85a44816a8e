/**
 * TCP and TLS failures in plain words, with what to do about them. Codes are OpenSSL's (via
 * Node's `ERR_SSL_*` and verification codes) and libuv's (`ECONNREFUSED`, …).
 */

import { H2_REVERSE_ALPN } from '@rhttp/core';

/** The ALPN the agent requires (draft-bt-httpbis-reverse-http-01), from @rhttp/core. */
export { H2_REVERSE_ALPN };

/** The sentence for an intermediary that did not select the reversed-HTTP/2 ALPN offered (`h2-reverse` unless told). */
export function alpnMismatch(selected: string | false | null | undefined, offered: string = H2_REVERSE_ALPN): string {
  return `the intermediary did not agree to ${offered} (ALPN: ${selected || 'none'}); is this the intermediary's agent port?`;
}

const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

/** Alerts the intermediary sends when it does not accept our client certificate. */
const CERTIFICATE_REJECTED_ALERTS = ['UNKNOWN_CA', 'BAD_CERTIFICATE', 'CERTIFICATE_REQUIRED', 'CERTIFICATE_UNKNOWN', 'UNSUPPORTED_CERTIFICATE', 'CERTIFICATE_EXPIRED', 'CERTIFICATE_REVOKED', 'ACCESS_DENIED', 'DECRYPT_ERROR'];

/** True when the failure is the ALPN negotiation (the peer is not an h2-reverse intermediary). */
export function isAlpnFailure(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL';
}

/** Certificate checks that fail the same way on every attempt until someone changes a file or a flag. */
const CERTIFICATE_PERMANENT = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID']);

/**
 * True when retrying soon cannot help: the wrong ALPN, an intermediary certificate we do not trust
 * (wrong --ca) or that does not fit, or our certificate rejected in the handshake. Such failures
 * are refusals, backed off for minutes (one line per attempt), not retried several times a second.
 */
export function isPermanentFailure(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException)?.code ?? '';
  if (isAlpnFailure(error) || UNTRUSTED.has(code) || CERTIFICATE_PERMANENT.has(code)) return true;
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(.+)$/.exec(code);
  return alert !== null && CERTIFICATE_REJECTED_ALERTS.includes(alert[1]);
}

/** One sentence saying why connecting to `target` (host:port) failed. */
export function describeConnectError(error: unknown, target: { host: string; port: number; servername?: string }, alpn?: string): string {
  const e = error as NodeJS.ErrnoException & { reason?: string };
  const code = e?.code ?? '';
  const where = `${target.host}:${target.port}`;
  if (UNTRUSTED.has(code)) {
    return `we do not trust the intermediary's certificate (${code}); pass the CA that issued it with --ca`;
  }
  switch (code) {
    case 'ECONNREFUSED':
      return `nothing accepts connections at ${where} (connection refused); is the intermediary running?`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the name ${target.host} does not resolve (${code})`;
    case 'ETIMEDOUT':
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      return `${where} cannot be reached (${code})`;
    case 'ECONNRESET':
      return `the intermediary reset the connection`;
    case 'CERT_HAS_EXPIRED':
      return `the intermediary's certificate has expired`;
    case 'CERT_NOT_YET_VALID':
      return `the intermediary's certificate is not valid yet (check this machine's clock)`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `the intermediary's certificate is not issued for ${target.servername ?? target.host} (${e.reason ?? e.message}); use --servername NAME to check it against another name`;
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
      return `${where} did not answer with TLS; is it a plain-HTTP port?`;
    case 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION':
    case 'ERR_SSL_UNSUPPORTED_PROTOCOL':
      return `the intermediary does not speak TLS 1.3, which h2-reverse requires`;
    case 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL':
      return alpnMismatch(null, alpn);
  }
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(.+)$/.exec(code);
  if (alert) {
    const name = alert[1].toLowerCase().replace(/_/g, ' ');
    if (CERTIFICATE_REJECTED_ALERTS.includes(alert[1])) {
      return `the intermediary rejected our certificate during the TLS handshake (alert: ${name}); check --cert/--key and that the intermediary trusts the CA that issued them`;
    }
    return `the intermediary ended the TLS handshake (alert: ${name})`;
  }
  return e?.message ? `${e.message}${code ? ` (${code})` : ''}` : String(error);
}
