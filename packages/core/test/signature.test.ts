import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createDevCa, issueCertificate, type IssuedCertificate } from '../../node/src/certs.js';
import { leafPublicKey, pemToDer } from '../src/origin/certificate.js';
import {
  SignatureError,
  decodeClientCert,
  decodeClientCertChain,
  encodeClientCert,
  encodeClientCertChain,
  importSigningKey,
  parseDictionary,
  signMessage,
  signatureBase,
  verifyMessageSignature,
  type SignableMessage,
} from '../src/signature/index.js';

const COMPONENTS = ['@method', '@authority', '@path', 'client-cert'];

function message(url: string, headers: Record<string, string>, method = 'GET'): SignableMessage {
  return { method, url, headers: new Headers(headers) };
}

async function reason(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SignatureError);
    return (error as SignatureError).reason;
  }
  throw new Error('expected a SignatureError');
}

describe('RFC 9421 §2.5 signature base (Appendix B.2.6 test vector, Ed25519)', () => {
  // RFC 9421 Appendix B.1.4 test-key-ed25519 and the B.2 example request.
  const publicPem = 'MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=';
  const request = message(
    'https://example.com/foo?param=Value&Pet=dog',
    {
      host: 'example.com',
      date: 'Tue, 20 Apr 2021 02:07:55 GMT',
      'content-type': 'application/json',
      'content-digest': 'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
      'content-length': '18',
      'signature-input': 'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
      signature: 'sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:',
    },
    'POST',
  );

  it('serializes the base exactly as the RFC prints it', () => {
    const input = parseDictionary(request.headers.get('signature-input')!).get('sig-b26')!;
    const components = ('items' in input ? input.items : []).map((i) => i.value as string);
    expect(signatureBase(request, components, input.params)).toBe(
      [
        '"date": Tue, 20 Apr 2021 02:07:55 GMT',
        '"@method": POST',
        '"@path": /foo',
        '"@authority": example.com',
        '"content-type": application/json',
        '"content-length": 18',
        '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
      ].join('\n'),
    );
  });

  it("verifies the RFC's signature with the RFC's public key, and refuses it after one field changes", async () => {
    const key = await crypto.subtle.importKey('spki', Buffer.from(publicPem, 'base64'), { name: 'Ed25519' }, false, ['verify']);
    const verified = await verifyMessageSignature(request, { key, label: 'sig-b26', now: 1618884473 });
    expect(verified.params).toEqual({ created: 1618884473, keyid: 'test-key-ed25519' });
    const tampered = message(request.url, { ...Object.fromEntries(request.headers as Headers), 'content-length': '19' }, 'POST');
    expect(await reason(verifyMessageSignature(tampered, { key, label: 'sig-b26' }))).toBe('bad-signature');
  });
});

describe('RFC 9421 §3 sign and verify with a certificate key (ecdsa-p256-sha256, §3.3.4)', () => {
  let ca: IssuedCertificate;
  let origin: IssuedCertificate;
  let clientCert: string;
  beforeAll(async () => {
    ca = await createDevCa();
    origin = await issueCertificate(ca, { dnsNames: ['app.example.com'] });
    clientCert = encodeClientCert(pemToDer(origin.chainPem)[0]);
  });

  async function signed(url = 'https://edge.example.net/.well-known/ptth/https%3A%2F%2Fapp.example.com/', created?: number) {
    const key = await importSigningKey(origin.keyPem);
    const m = message(url, { 'client-cert': clientCert });
    const fields = await signMessage(m, { key, components: COMPONENTS, ...(created ? { created } : {}) });
    m.headers = new Headers({ 'client-cert': clientCert, 'signature-input': fields.signatureInput, signature: fields.signature });
    return { m, fields };
  }

  it('round-trips: the leaf key verifies what the private key signed; r||s is 64 octets', async () => {
    const { m, fields } = await signed();
    expect(fields.signatureInput).toMatch(/^rhttp=\("@method" "@authority" "@path" "client-cert"\);created=\d+;nonce="[A-Za-z0-9_-]{22}";alg="ecdsa-p256-sha256"$/);
    const sig = parseDictionary(fields.signature).get('rhttp')!;
    expect('value' in sig && sig.value instanceof Uint8Array && sig.value.length).toBe(64);
    const verified = await verifyMessageSignature(m, {
      key: await leafPublicKey(origin.chainPem),
      requiredComponents: COMPONENTS,
      maxAgeSeconds: 60,
      requireNonce: true,
    });
    expect(verified.components).toEqual(COMPONENTS);
    expect(verified.base.split('\n')[1]).toBe('"@authority": edge.example.net');
  });

  it('fails when a covered component is tampered with (@path, @authority, client-cert)', async () => {
    const key = await leafPublicKey(origin.chainPem);
    const { m } = await signed();
    const other = await issueCertificate(ca, { dnsNames: ['app.example.com'] });
    const variants = [
      { ...m, url: m.url.replace('app.example.com', 'evil.example.com') },
      { ...m, url: m.url.replace('edge.example.net', 'other.example.net') },
      { ...m, headers: new Headers({ ...Object.fromEntries(m.headers as Headers), 'client-cert': encodeClientCert(pemToDer(other.certPem)[0]) }) },
    ];
    for (const v of variants) expect(await reason(verifyMessageSignature(v, { key }))).toBe('bad-signature');
  });

  it("fails with another certificate's key", async () => {
    const other = await issueCertificate(ca, { dnsNames: ['app.example.com'] });
    const { m } = await signed();
    expect(await reason(verifyMessageSignature(m, { key: await leafPublicKey(other.chainPem) }))).toBe('bad-signature');
  });

  it('refuses stale and future `created`, missing components and missing fields', async () => {
    const key = await leafPublicKey(origin.chainPem);
    const now = Math.floor(Date.now() / 1000);
    expect(await reason(verifyMessageSignature((await signed(undefined, now - 61)).m, { key, maxAgeSeconds: 60 }))).toBe('stale');
    expect(await reason(verifyMessageSignature((await signed(undefined, now + 600)).m, { key, maxAgeSeconds: 60 }))).toBe('future');
    const { m } = await signed();
    expect(await reason(verifyMessageSignature(m, { key, requiredComponents: ['@query'] }))).toBe('missing-component');
    expect(await reason(verifyMessageSignature({ ...m, headers: new Headers() }, { key }))).toBe('missing');
    expect(await reason(verifyMessageSignature(m, { key, label: 'other' }))).toBe('missing');
  });
});

describe('RFC 9440 §2 Client-Cert and Client-Cert-Chain', () => {
  it('encodes DER as sf-binary and decodes it back', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 4 }), (ders) => {
        expect(decodeClientCert(encodeClientCert(ders[0]))).toEqual(ders[0]);
        expect(decodeClientCertChain(encodeClientCertChain(ders))).toEqual(ders);
      }),
    );
    expect(encodeClientCert(new Uint8Array([0x30, 0x82]))).toBe(':MII=:');
    expect(decodeClientCertChain('')).toEqual([]);
  });

  it('refuses values that are not byte sequences', () => {
    for (const bad of ['MII=', '"MII="', ':M I:', '::']) expect(() => decodeClientCert(bad)).toThrow(SignatureError);
    expect(() => decodeClientCertChain(':MII=:, token')).toThrow(/entry 2/);
  });
});
