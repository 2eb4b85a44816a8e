/**
 * In-band authentication of an `h3-reverse` agent (draft-bt-httpbis-reverse-http-01 over QUIC):
 * rhttp's experimental profile for runtimes whose QUIC has no TLS client certificates (Deno's
 * `Deno.connectQuic`). The agent proves it holds the origin certificate's key with two HTTP/3
 * extension frames on the control streams, before the intermediary sends any request. RFC 9114
 * §9: "Implementations MUST ignore unknown or unsupported values in all extensible protocol
 * elements", so a peer that does not know these frames skips them. See docs/carriers.md,
 * "h3-reverse over QUIC: in-band authentication".
 *
 *     RHTTP_CHALLENGE Frame {            intermediary → agent, right after its SETTINGS
 *       Type (i) = 0x7268747401,
 *       Length (i) = 32,
 *       Challenge (256),                 fresh random bytes, one per connection
 *     }
 *     RHTTP_AUTHENTICATE Frame {         agent → intermediary, in answer
 *       Type (i) = 0x7268747402,
 *       Length (i),
 *       Certificate Count (i),
 *       Certificate {                    the chain, leaf first
 *         Length (i),
 *         DER (..),
 *       } ...,
 *       Signature Algorithm Length (i),
 *       Signature Algorithm (..),        an RFC 9421 §6.2 name: ecdsa-p256-sha256, ed25519, …
 *       Signature (..),                  the rest of the payload, in RFC 9421 §3.3's form
 *     }
 *     RHTTP_ADMITTED Frame {             intermediary → agent, once the proof and ORIGIN checked out
 *       Type (i) = 0x7268747403,
 *       Length (i) = 0,
 *     }
 *
 * The signature is made with the leaf's key over `"rhttp h3-reverse authentication\0" ||
 * challenge`. Only the intermediary saw its challenge, so a signature answers this connection
 * alone: one captured on another connection signs another challenge.
 *
 * This module is the wire format and the signature rule, on both sides. What the intermediary
 * then trusts (chain to the trust anchors, the ORIGIN frame covered) is the broker's
 * (`QuicAgentAuthentication`, quic-agent-authentication.ts).
 *
 * @example
 * // intermediary, on its control stream after SETTINGS:
 * const challenge = newQuicChallenge();
 * h3.sendControlFrame(RHTTP_CHALLENGE_FRAME, challenge);
 * // agent, on receiving it:
 * h3.sendControlFrame(RHTTP_AUTHENTICATE_FRAME, await signQuicChallenge(payload, { certChainPem, keyPem }));
 * // intermediary, on receiving that:
 * const { chain } = await verifyQuicAuthenticate(payload, challenge);   // then verifyCertificateChain(chain, …)
 */
import { concatBytes } from '../bytes.js';
import { leafPublicKey, MAX_CERTIFICATE_PATH_LENGTH, pemToDer } from '../origin/certificate.js';
import { webCrypto, type WebCryptoKey } from '../origin/x509.js';
import { algorithmOfKey, signatureAlgorithmParams, type SignatureAlgorithm } from '../signature/message-signature.js';
import { SignatureError } from '../signature/signature-error.js';
import { importSigningKey } from '../signature/signing-key.js';
import { readVarint, varintLength, writeVarint } from '../h3/varint.js';
import { DEFAULT_H3_LIMITS } from '../h3/limits.js';

/**
 * Frame types of rhttp's experimental profile: large values ("rhtt" 01/02) outside the range
 * RFC 9114 §11.2.1 assigns by Standards Action (0x00–0x3f) and not of the reserved form
 * 0x1f * N + 0x21 (§7.2.8), so no registered or grease type collides with them.
 */
export const RHTTP_CHALLENGE_FRAME = 0x7268747401;
export const RHTTP_AUTHENTICATE_FRAME = 0x7268747402;
/**
 * Intermediary → agent, empty: the proof and the ORIGIN frame checked out and requests may come.
 * HTTP/3's counterpart of carrier 1's admission PING (reverse/admission.ts), so the agent says
 * "connected" when it is served, not when QUIC is up.
 */
export const RHTTP_ADMITTED_FRAME = 0x7268747403;

/** Octets of a challenge: 256 bits, so no two connections ever share one. */
export const QUIC_CHALLENGE_LENGTH = 32;
/** Most certificates in RHTTP_AUTHENTICATE: the longest path the verifier builds (MAX_CERTIFICATE_PATH_LENGTH); real chains have 2–4. */
export const MAX_QUIC_AUTHENTICATE_CERTIFICATES = MAX_CERTIFICATE_PATH_LENGTH;
/** Largest certificate accepted: real ones are 1–2 KB, an RSA-4096 one with many SANs under 8 KB. */
export const MAX_QUIC_AUTHENTICATE_CERTIFICATE_LENGTH = 8192;
/** Longest signature: RSA-8192 makes 1,024 octets; ECDSA and Ed25519 64–96. */
export const MAX_QUIC_AUTHENTICATE_SIGNATURE_LENGTH = 1024;
/**
 * Longest RHTTP_AUTHENTICATE payload read at all: what the HTTP/3 engine buffers of one control
 * frame (it skips larger unknown ones unread), so a chain that fits one fits the other. A real
 * chain of 2–3 certificates is 3–6 KB.
 */
export const MAX_QUIC_AUTHENTICATE_LENGTH = DEFAULT_H3_LIMITS.maxControlFrameBytes;
/** Longest Signature Algorithm name: the RFC 9421 names are 7–17 characters. */
const MAX_SIGNATURE_ALGORITHM_NAME = 32;

/** What the signature covers before the challenge: the profile and its purpose, so it can never be mistaken for another signature by the same key. */
const SIGNATURE_CONTEXT = new TextEncoder().encode('rhttp h3-reverse authentication\0');

/** RFC 9421 §6.2 algorithms this profile accepts: the keys `importSigningKey` imports. */
const ACCEPTED_ALGORITHMS: ReadonlySet<string> = new Set<SignatureAlgorithm>(['ecdsa-p256-sha256', 'ecdsa-p384-sha384', 'ed25519', 'rsa-pss-sha512']);

/** The contents of an RHTTP_AUTHENTICATE frame. */
export interface QuicAuthenticate {
  /** The certificate chain, DER, leaf first. */
  chain: Uint8Array[];
  /** The RFC 9421 §6.2 name of the signature algorithm. */
  algorithm: SignatureAlgorithm;
  signature: Uint8Array;
}

/** The agent's certificate chain and key (as the other carriers take them). */
export interface QuicCredentials {
  /** The origin certificate chain (PEM, leaf first). */
  certChainPem: string;
  /** Its PKCS#8 private key (PEM), or an already imported signing key. */
  keyPem: string | WebCryptoKey;
}

/** A fresh RHTTP_CHALLENGE payload: {@link QUIC_CHALLENGE_LENGTH} random octets. Make one per connection. */
export function newQuicChallenge(): Uint8Array {
  return webCrypto.getRandomValues(new Uint8Array(QUIC_CHALLENGE_LENGTH));
}

/** The challenge of an RHTTP_CHALLENGE payload. Throws {@link SignatureError} (`malformed`) unless it is exactly {@link QUIC_CHALLENGE_LENGTH} octets. */
export function decodeQuicChallenge(payload: Uint8Array): Uint8Array {
  if (payload.length !== QUIC_CHALLENGE_LENGTH) {
    throw new SignatureError('malformed', `RHTTP_CHALLENGE carries ${payload.length} octets; it must carry exactly ${QUIC_CHALLENGE_LENGTH}`);
  }
  return payload;
}

/** The RHTTP_AUTHENTICATE payload of `frame`. Throws {@link SignatureError} (`malformed`) when a bound is exceeded. */
export function encodeQuicAuthenticate(frame: QuicAuthenticate): Uint8Array {
  checkChainBounds(frame.chain.length, frame.chain.map((der) => der.length));
  if (frame.signature.length === 0 || frame.signature.length > MAX_QUIC_AUTHENTICATE_SIGNATURE_LENGTH) {
    throw new SignatureError('malformed', `a signature of ${frame.signature.length} octets cannot be sent (1..${MAX_QUIC_AUTHENTICATE_SIGNATURE_LENGTH})`);
  }
  const algorithm = new TextEncoder().encode(frame.algorithm);
  let length = varintLength(frame.chain.length) + varintLength(algorithm.length) + algorithm.length + frame.signature.length;
  for (const der of frame.chain) length += varintLength(der.length) + der.length;
  if (length > MAX_QUIC_AUTHENTICATE_LENGTH) {
    throw new SignatureError('malformed', `RHTTP_AUTHENTICATE would be ${length} octets; at most ${MAX_QUIC_AUTHENTICATE_LENGTH} are accepted (send fewer certificates)`);
  }
  const out = new Uint8Array(length);
  let offset = writeVarint(out, 0, frame.chain.length);
  for (const der of frame.chain) {
    offset = writeVarint(out, offset, der.length);
    out.set(der, offset);
    offset += der.length;
  }
  offset = writeVarint(out, offset, algorithm.length);
  out.set(algorithm, offset);
  out.set(frame.signature, offset + algorithm.length);
  return out;
}

/**
 * The contents of an RHTTP_AUTHENTICATE payload. Throws {@link SignatureError}: `malformed` when
 * it is truncated or exceeds a bound, `unsupported-algorithm` for an algorithm this profile does
 * not accept. Nothing is verified here.
 */
export function decodeQuicAuthenticate(payload: Uint8Array): QuicAuthenticate {
  if (payload.length > MAX_QUIC_AUTHENTICATE_LENGTH) {
    throw new SignatureError('malformed', `RHTTP_AUTHENTICATE carries ${payload.length} octets; at most ${MAX_QUIC_AUTHENTICATE_LENGTH} are accepted`);
  }
  const truncated = (what: string) => new SignatureError('malformed', `RHTTP_AUTHENTICATE ends inside ${what}`);
  const count = readVarint(payload, 0);
  if (!count) throw truncated('the certificate count');
  checkChainBounds(count.value, []);
  let offset = count.next;
  const chain: Uint8Array[] = [];
  for (let i = 0; i < count.value; i++) {
    const length = readVarint(payload, offset);
    if (!length) throw truncated(`the length of certificate ${i + 1}`);
    checkChainBounds(count.value, [length.value]);
    if (length.next + length.value > payload.length) throw truncated(`certificate ${i + 1}`);
    chain.push(payload.slice(length.next, length.next + length.value));
    offset = length.next + length.value;
  }
  const nameLength = readVarint(payload, offset);
  if (!nameLength) throw truncated('the signature algorithm');
  if (nameLength.value === 0 || nameLength.value > MAX_SIGNATURE_ALGORITHM_NAME || nameLength.next + nameLength.value > payload.length) {
    throw new SignatureError('malformed', 'RHTTP_AUTHENTICATE has no readable signature algorithm name');
  }
  const algorithm = new TextDecoder().decode(payload.subarray(nameLength.next, nameLength.next + nameLength.value));
  if (!ACCEPTED_ALGORITHMS.has(algorithm)) {
    throw new SignatureError('unsupported-algorithm', `RHTTP_AUTHENTICATE is signed with ${JSON.stringify(algorithm.slice(0, MAX_SIGNATURE_ALGORITHM_NAME))}; accepted: ${[...ACCEPTED_ALGORITHMS].join(', ')}`);
  }
  const signature = payload.slice(nameLength.next + nameLength.value);
  if (signature.length === 0) throw truncated('the signature');
  if (signature.length > MAX_QUIC_AUTHENTICATE_SIGNATURE_LENGTH) {
    throw new SignatureError('malformed', `the RHTTP_AUTHENTICATE signature has ${signature.length} octets; at most ${MAX_QUIC_AUTHENTICATE_SIGNATURE_LENGTH} are accepted`);
  }
  return { chain, algorithm: algorithm as SignatureAlgorithm, signature };
}

/**
 * The agent's answer to an RHTTP_CHALLENGE payload: the RHTTP_AUTHENTICATE payload carrying its
 * chain and a signature by the leaf's key over the challenge. Throws {@link SignatureError}
 * (`malformed` challenge, `unsupported-algorithm` key).
 */
export async function signQuicChallenge(challengePayload: Uint8Array, credentials: QuicCredentials): Promise<Uint8Array> {
  const challenge = decodeQuicChallenge(challengePayload);
  const chain = pemToDer(credentials.certChainPem);
  const key = typeof credentials.keyPem === 'string' ? await importSigningKey(credentials.keyPem) : credentials.keyPem;
  const algorithm = algorithmOfKey(key);
  if (!ACCEPTED_ALGORITHMS.has(algorithm)) throw new SignatureError('unsupported-algorithm', `h3-reverse authentication cannot sign with ${algorithm} keys; accepted: ${[...ACCEPTED_ALGORITHMS].join(', ')}`);
  const signature = new Uint8Array(await webCrypto.subtle.sign(signatureAlgorithmParams(algorithm), key, signedContent(challenge)));
  return encodeQuicAuthenticate({ chain, algorithm, signature });
}

/**
 * The intermediary's check of an RHTTP_AUTHENTICATE `payload` against the `challenge` it sent on
 * this connection: decodes it and verifies the signature with the leaf's public key. Returns the
 * frame (its `chain` is still to be verified to the trust anchors). Throws {@link SignatureError}
 * (`malformed`, `unsupported-algorithm`, `bad-signature`) or `CertificateError` (a leaf that
 * cannot be parsed).
 */
export async function verifyQuicAuthenticate(payload: Uint8Array, challenge: Uint8Array): Promise<QuicAuthenticate> {
  const frame = decodeQuicAuthenticate(payload);
  if (frame.chain.length === 0) throw new SignatureError('malformed', 'RHTTP_AUTHENTICATE carries no certificate');
  const key = await leafPublicKey(frame.chain, importParamsOf(frame.algorithm));
  // As RFC 9421 §3.2 for `alg`: the algorithm named MUST match the key.
  const keyAlgorithm = algorithmOfKey(key);
  if (keyAlgorithm !== frame.algorithm) {
    throw new SignatureError('unsupported-algorithm', `RHTTP_AUTHENTICATE says ${frame.algorithm} but the certificate's key is ${keyAlgorithm}`);
  }
  const ok = await webCrypto.subtle.verify(signatureAlgorithmParams(frame.algorithm), key, frame.signature, signedContent(challenge));
  if (!ok) throw new SignatureError('bad-signature', `the ${frame.algorithm} signature in RHTTP_AUTHENTICATE does not verify with the certificate's public key over this connection's challenge`);
  return frame;
}

/** `"rhttp h3-reverse authentication\0" || challenge`. */
function signedContent(challenge: Uint8Array): Uint8Array {
  return concatBytes([SIGNATURE_CONTEXT, challenge]);
}

/** How the leaf's public key is imported to verify `algorithm`: an RSA key as RSA-PSS (x509's default would be PKCS#1 v1.5). */
function importParamsOf(algorithm: SignatureAlgorithm): { name: string; hash: string } | undefined {
  return algorithm === 'rsa-pss-sha512' ? { name: 'RSA-PSS', hash: 'SHA-512' } : undefined;
}

function checkChainBounds(count: number, lengths: number[]): void {
  if (count > MAX_QUIC_AUTHENTICATE_CERTIFICATES) {
    throw new SignatureError('malformed', `RHTTP_AUTHENTICATE carries ${count} certificates; at most ${MAX_QUIC_AUTHENTICATE_CERTIFICATES} are accepted`);
  }
  for (const length of lengths) {
    if (length === 0 || length > MAX_QUIC_AUTHENTICATE_CERTIFICATE_LENGTH) {
      throw new SignatureError('malformed', `a certificate of ${length} octets in RHTTP_AUTHENTICATE is refused (1..${MAX_QUIC_AUTHENTICATE_CERTIFICATE_LENGTH})`);
    }
  }
}

