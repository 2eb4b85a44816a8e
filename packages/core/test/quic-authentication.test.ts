import { beforeAll, describe, expect, it } from 'vitest';
import { createDevCa, issueCertificate, issueCertificateForKey, type IssuedCertificate } from '../../node/src/certs.js';
import { derToPem, pemToDer } from '../src/origin/certificate.js';
import type { WebCryptoKey } from '../src/origin/x509.js';
import { isReservedH3Type } from '../src/h3/frame/types.js';
import { encodeVarint } from '../src/h3/varint.js';
import { SignatureError } from '../src/signature/index.js';
import {
  MAX_QUIC_AUTHENTICATE_CERTIFICATES,
  MAX_QUIC_AUTHENTICATE_CERTIFICATE_LENGTH,
  MAX_QUIC_AUTHENTICATE_LENGTH,
  QUIC_CHALLENGE_LENGTH,
  RHTTP_AUTHENTICATE_FRAME,
  RHTTP_CHALLENGE_FRAME,
  decodeQuicAuthenticate,
  decodeQuicChallenge,
  encodeQuicAuthenticate,
  newQuicChallenge,
  signQuicChallenge,
  verifyQuicAuthenticate,
} from '../src/reverse/quic-authentication.js';
import { concatBytes } from '../src/bytes.js';

const concat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);

async function reason(promise: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    expect(error).toBeInstanceOf(SignatureError);
    return (error as SignatureError).reason;
  }
  throw new Error('expected a SignatureError');
}

describe('rhttp h3-reverse authentication frames (docs/carriers.md)', () => {
  it('uses frame types outside the Standards Action range and the reserved 0x1f * N + 0x21 pattern (RFC 9114 §7.2.8, §11.2.1)', () => {
    for (const type of [RHTTP_CHALLENGE_FRAME, RHTTP_AUTHENTICATE_FRAME]) {
      expect(type).toBeGreaterThan(0x3f);
      expect(Number.isSafeInteger(type)).toBe(true);
      expect(isReservedH3Type(type)).toBe(false);
    }
    expect(RHTTP_CHALLENGE_FRAME).not.toBe(RHTTP_AUTHENTICATE_FRAME);
  });

  it('makes a fresh 32-octet challenge per connection and accepts only that length', async () => {
    const a = newQuicChallenge();
    const b = newQuicChallenge();
    expect(a.length).toBe(QUIC_CHALLENGE_LENGTH);
    expect(a).not.toEqual(b);
    expect(decodeQuicChallenge(a)).toBe(a);
    expect(await reason(() => decodeQuicChallenge(a.subarray(1)))).toBe('malformed');
    expect(await reason(() => decodeQuicChallenge(concat(a, new Uint8Array(1))))).toBe('malformed');
  });
});

describe('RHTTP_AUTHENTICATE: sign and verify', () => {
  let ca: IssuedCertificate;
  let origin: IssuedCertificate;
  beforeAll(async () => {
    ca = await createDevCa();
    origin = await issueCertificate(ca, { dnsNames: ['app.example.com'] });
  });

  it('round-trips (ECDSA P-256): the chain comes back leaf first and the signature verifies over this challenge', async () => {
    const challenge = newQuicChallenge();
    const payload = await signQuicChallenge(challenge, { certChainPem: origin.chainPem, keyPem: origin.keyPem });
    const frame = await verifyQuicAuthenticate(payload, challenge);
    expect(frame.algorithm).toBe('ecdsa-p256-sha256');
    expect(frame.chain).toEqual(pemToDer(origin.chainPem));
    expect(frame.signature.length).toBe(64); // r || s, RFC 9421 §3.3.4
    expect(decodeQuicAuthenticate(encodeQuicAuthenticate(frame))).toEqual(frame);
  });

  it('round-trips with an Ed25519 and an RSA-PSS leaf key', async () => {
    for (const algorithm of [{ name: 'Ed25519' }, { name: 'RSA-PSS', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-512' }]) {
      const keys = (await crypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as { publicKey: WebCryptoKey; privateKey: WebCryptoKey };
      const certPem = await issueCertificateForKey(ca, keys.publicKey, { dnsNames: ['app.example.com'] });
      const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
      const keyPem = derToPem(pkcs8, 'PRIVATE KEY');
      const challenge = newQuicChallenge();
      const frame = await verifyQuicAuthenticate(await signQuicChallenge(challenge, { certChainPem: certPem + ca.certPem, keyPem }), challenge);
      expect(frame.algorithm).toBe(algorithm.name === 'Ed25519' ? 'ed25519' : 'rsa-pss-sha512');
    }
  });

  it('refuses a signature over another challenge (a replay from another connection)', async () => {
    const seenElsewhere = newQuicChallenge();
    const payload = await signQuicChallenge(seenElsewhere, { certChainPem: origin.chainPem, keyPem: origin.keyPem });
    expect(await reason(verifyQuicAuthenticate(payload, newQuicChallenge()))).toBe('bad-signature');
  });

  it('refuses a forged signature: a flipped bit, and a chain presented with another key', async () => {
    const challenge = newQuicChallenge();
    const frame = decodeQuicAuthenticate(await signQuicChallenge(challenge, { certChainPem: origin.chainPem, keyPem: origin.keyPem }));
    const flipped = frame.signature.slice();
    flipped[10] ^= 0x01;
    expect(await reason(verifyQuicAuthenticate(encodeQuicAuthenticate({ ...frame, signature: flipped }), challenge))).toBe('bad-signature');
    // Someone holding only the public chain signs with their own key.
    const thief = await issueCertificate(ca, { dnsNames: ['evil.example.com'] });
    const forged = decodeQuicAuthenticate(await signQuicChallenge(challenge, { certChainPem: thief.chainPem, keyPem: thief.keyPem }));
    expect(await reason(verifyQuicAuthenticate(encodeQuicAuthenticate({ ...forged, chain: frame.chain }), challenge))).toBe('bad-signature');
  });

  it('refuses an algorithm that does not match the leaf key, and one the profile does not accept', async () => {
    const challenge = newQuicChallenge();
    const frame = decodeQuicAuthenticate(await signQuicChallenge(challenge, { certChainPem: origin.chainPem, keyPem: origin.keyPem }));
    expect(await reason(verifyQuicAuthenticate(encodeQuicAuthenticate({ ...frame, algorithm: 'ed25519' }), challenge))).toBe('unsupported-algorithm');
    expect(await reason(() => decodeQuicAuthenticate(encodeQuicAuthenticate({ ...frame, algorithm: 'rsa-v1_5-sha256' })))).toBe('unsupported-algorithm');
  });
});

describe('RHTTP_AUTHENTICATE: bounded decoding of hostile payloads', () => {
  let valid: Uint8Array;
  let challenge: Uint8Array;
  beforeAll(async () => {
    const ca = await createDevCa();
    const origin = await issueCertificate(ca, { dnsNames: ['app.example.com'] });
    challenge = newQuicChallenge();
    valid = await signQuicChallenge(challenge, { certChainPem: origin.chainPem, keyPem: origin.keyPem });
  });

  it('refuses every truncation of a valid payload', async () => {
    // Cutting the signature short still parses (the signature is the rest) but cannot verify.
    for (let cut = 0; cut < valid.length; cut++) {
      const why = await reason(verifyQuicAuthenticate(valid.subarray(0, cut), challenge));
      expect(['malformed', 'bad-signature', 'unsupported-algorithm']).toContain(why);
    }
  });

  it('refuses oversized payloads, certificate counts, certificates and signatures', async () => {
    expect(await reason(() => decodeQuicAuthenticate(new Uint8Array(MAX_QUIC_AUTHENTICATE_LENGTH + 1)))).toBe('malformed');
    expect(await reason(() => decodeQuicAuthenticate(encodeVarint(MAX_QUIC_AUTHENTICATE_CERTIFICATES + 1)))).toBe('malformed');
    const bigCertificate = concat(encodeVarint(1), encodeVarint(MAX_QUIC_AUTHENTICATE_CERTIFICATE_LENGTH + 1), new Uint8Array(MAX_QUIC_AUTHENTICATE_CERTIFICATE_LENGTH + 1));
    expect(await reason(() => decodeQuicAuthenticate(bigCertificate))).toBe('malformed');
    const frame = decodeQuicAuthenticate(valid);
    expect(await reason(() => encodeQuicAuthenticate({ ...frame, signature: new Uint8Array(2000) }))).toBe('malformed');
    const longSignature = concat(valid, new Uint8Array(2000));
    expect(await reason(() => decodeQuicAuthenticate(longSignature))).toBe('malformed');
    expect(await reason(() => encodeQuicAuthenticate({ ...frame, chain: Array.from({ length: MAX_QUIC_AUTHENTICATE_CERTIFICATES + 1 }, () => frame.chain[0]) }))).toBe('malformed');
  });

  it('refuses a payload with no certificate', async () => {
    const frame = decodeQuicAuthenticate(valid);
    expect(await reason(verifyQuicAuthenticate(encodeQuicAuthenticate({ ...frame, chain: [] }), challenge))).toBe('malformed');
  });
});
