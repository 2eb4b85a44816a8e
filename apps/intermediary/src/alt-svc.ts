/**
 * HTTP Alternative Services (RFC 7838) toward browsers: with `--quic`, responses to `https`
 * origins say `alt-svc: h3=":PORT"; ma=86400`, so a browser that reached us over TCP (HTTP/1.1 or
 * HTTP/2 on `--https`) moves to HTTP/3 on the QUIC port (RFC 9114 §3.1.1). The rule is here; the
 * field is written by browser-exchange.ts's `answerExchange`, which every browser listener's
 * ordinary exchange goes through.
 *
 * @example
 * altSvcValue(8443, { scheme: 'https' })  // 'h3=":8443"; ma=86400'
 * altSvcValue(8443, { scheme: 'http' })   // undefined: no h3 for http:// origins
 */
import type { HeaderField } from '@rhttp/core';
import type { ExchangeInfo } from './browser-exchange.js';

/** How long a browser may keep using the advertisement (RFC 7838 §3 `ma`, seconds): RFC 7838's own default, one day, said explicitly. */
export const ALT_SVC_MAX_AGE_S = 86_400;

/**
 * The Alt-Svc value for a response on a listener with `info.scheme`, when the QUIC listener is on
 * `quicPort`; undefined when there is nothing to advertise. Responses on HTTP/3 itself carry it
 * too: it keeps the browser's cached alternative fresh while it uses it.
 */
export function altSvcValue(quicPort: number | undefined, info: Pick<ExchangeInfo, 'scheme'>): string | undefined {
  if (quicPort === undefined) return undefined;
  // RFC 9114 §3.1.2: HTTP/3 cannot directly serve an "http" URI, and reaching one over it needs
  // RFC 8164's opportunistic security, which we do not offer: no h3 alternative for http:// origins.
  if (info.scheme !== 'https') return undefined;
  // RFC 7838 §3: an alt-authority with an empty host means the origin's host, on another port (ours: UDP).
  return `h3=":${quicPort}"; ma=${ALT_SVC_MAX_AGE_S}`;
}

/**
 * Sets the response's Alt-Svc to `value`, dropping any the origin sent: the browser reaches the
 * intermediary, not the origin's server, so only the intermediary's alternatives are true for it.
 */
export function setAltSvc(fields: HeaderField[], value: string): void {
  for (let i = fields.length - 1; i >= 0; i--) if (fields[i][0] === 'alt-svc') fields.splice(i, 1);
  fields.push(['alt-svc', value]);
}
