/**
 * The ALPN identifiers of reversed HTTP/2 over TLS: the origin's agent is the TLS client and the
 * HTTP/2 server, the intermediary the TLS server and the HTTP/2 client. Two drafts name it.
 */

/** draft-bt-httpbis-reverse-http-01 §2: the reversed connection exists only under this ALPN. */
export const H2_REVERSE_ALPN = 'h2-reverse';

/**
 * draft-thomson-ptth-potato ("rh2"): the same reversed HTTP/2. The draft makes client
 * certificates optional and lets ORIGIN frames only narrow the scope; rhttp's intermediary still
 * asks for the certificate on its agent port, so the admission is the same under both names.
 */
export const RH2_ALPN = 'rh2';

/** Every ALPN that names reversed HTTP/2, in the intermediary's order of preference. */
export const REVERSED_H2_ALPNS: readonly ReversedH2Alpn[] = [H2_REVERSE_ALPN, RH2_ALPN];

export type ReversedH2Alpn = typeof H2_REVERSE_ALPN | typeof RH2_ALPN;

/** True when `alpn` (what TLS negotiated) names reversed HTTP/2. */
export function isReversedH2Alpn(alpn: string | false | null | undefined): alpn is ReversedH2Alpn {
  return alpn === H2_REVERSE_ALPN || alpn === RH2_ALPN;
}

/**
 * draft-bt-httpbis-reverse-http-01 over QUIC: the agent is the QUIC client and the HTTP/3 server;
 * requests arrive on QUIC server-initiated bidirectional streams. Where the QUIC stack has no
 * client certificates, the agent authenticates in-band (reverse/quic-authentication.ts).
 */
export const H3_REVERSE_ALPN = 'h3-reverse';
/** The ALPN of ordinary HTTP/3 (RFC 9114 §3.1), for browsers on the same QUIC port. */
export const H3_ALPN = 'h3';
