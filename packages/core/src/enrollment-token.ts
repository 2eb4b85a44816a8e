/**
 * The one-token onboarding format that `rhttp-intermediary token create` prints and
 * `rhttp-agent --token` reads: `rhttp1.` followed by base64url (RFC 4648 §5, no padding) of a
 * small JSON object. It carries where the agent enrolls (the intermediary's agent listener), how
 * to recognise it (the SHA-256 fingerprint of its TLS certificate, pinned instead of a CA file)
 * and a one-time secret. The origins are not in the token: the intermediary keeps them with the
 * token's record and puts exactly those in the certificate it issues. Pure, Web-standard only.
 *
 * @example
 * const token = encodeEnrollmentToken({ address: '127.0.0.1:8443', fingerprint, id, secret });
 * decodeEnrollmentToken(token); // { address: '127.0.0.1:8443', fingerprint, id, secret }
 */
import { base64UrlDecode, base64UrlEncode } from './bytes.js';

/** Prefix and version of the token text; a future format gets `rhttp2.`. */
export const ENROLLMENT_TOKEN_PREFIX = 'rhttp1.';
/** Where the agent POSTs its CSR with a token (on the agent listener, ALPN http/1.1). */
export const ENROLL_PATH = '/.well-known/rhttp/enroll';
/** Where an enrolled agent POSTs a CSR for a fresh certificate, authenticated by its current one (mTLS). */
export const RENEW_PATH = '/.well-known/rhttp/renew';
/** Bytes of randomness in a token's secret: 256 bits, far above the 128 that make guessing hopeless. */
export const ENROLLMENT_SECRET_BYTES = 32;
/** Longest token text accepted: a real one is ~200 characters; this bounds what a typo or paste accident makes us parse. */
const MAX_TOKEN_CHARS = 2048;

/** What a token says. */
export interface EnrollmentToken {
  /** The intermediary's agent listener, `host:port` (`[::1]:8443` for IPv6). */
  address: string;
  /** SHA-256 of the DER of the intermediary's TLS certificate (its leaf), 64 lowercase hex digits. */
  fingerprint: string;
  /** The token's id: names its record (`token list`, `token revoke ID`); not secret. */
  id: string;
  /** The one-time secret, base64url; the intermediary keeps only its SHA-256. */
  secret: string;
}

/** The token text is not a token (truncated paste, wrong prefix, bad JSON). */
export class EnrollmentTokenError extends Error {
  readonly code = 'ERR_RHTTP_TOKEN';
}

/** `rhttp1.` + base64url(JSON). */
export function encodeEnrollmentToken(token: EnrollmentToken): string {
  const json = JSON.stringify({ v: 1, a: token.address, f: token.fingerprint, i: token.id, s: token.secret });
  return ENROLLMENT_TOKEN_PREFIX + base64UrlEncode(new TextEncoder().encode(json));
}

/** Parses a token text; throws {@link EnrollmentTokenError} saying what is wrong with it. */
export function decodeEnrollmentToken(text: string): EnrollmentToken {
  const trimmed = text.trim();
  if (trimmed.length > MAX_TOKEN_CHARS) throw new EnrollmentTokenError(`the token is ${trimmed.length} characters long; a token is a few hundred`);
  if (!trimmed.startsWith(ENROLLMENT_TOKEN_PREFIX)) throw new EnrollmentTokenError(`the token does not start with "${ENROLLMENT_TOKEN_PREFIX}" (copy the last line 'rhttp-intermediary token create' printed)`);
  let fields: Record<string, unknown>;
  try {
    fields = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64UrlDecode(trimmed.slice(ENROLLMENT_TOKEN_PREFIX.length)))) as Record<string, unknown>;
  } catch {
    throw new EnrollmentTokenError('the token is damaged (not base64url JSON): was it copied whole?');
  }
  const { a, f, i, s } = fields ?? {};
  if (typeof a !== 'string' || !/^(?:\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):\d{1,5}$/.test(a)) throw new EnrollmentTokenError('the token has no intermediary address (host:port)');
  if (typeof f !== 'string' || !/^[0-9a-f]{64}$/.test(f)) throw new EnrollmentTokenError('the token has no SHA-256 certificate fingerprint');
  if (typeof i !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(i)) throw new EnrollmentTokenError('the token has no id');
  if (typeof s !== 'string' || !/^[A-Za-z0-9_-]{22,}$/.test(s)) throw new EnrollmentTokenError('the token has no secret of at least 128 bits');
  return { address: a, fingerprint: f, id: i, secret: s };
}

/** A fresh random secret for a token (base64url of {@link ENROLLMENT_SECRET_BYTES} bytes). */
export function randomEnrollmentSecret(): string {
  return base64UrlEncode(crypto.getRandomValues(new Uint8Array(ENROLLMENT_SECRET_BYTES)));
}
