// certificate-reader.ts reads what path validation needs without @peculiar/x509; it must read every
// certificate it accepts exactly as the library does, and decline (so that the library reads it)
// whatever it does not. Both are checked here against the library itself.
import { describe, expect, it } from 'vitest';
import { createDevCa, issueCertificate, type IssuedCertificate } from '../../node/src/certs.js';
import { readCertificate } from '../src/origin/certificate-reader.js';
import { derToPem, pemToDer, verifyCertificateChain } from '../src/origin/certificate.js';
import { x509 } from '../src/origin/x509.js';
import { DAY, ESCAPED_SUBJECT, libraryFields, makeCertificate, makeRsaCertificates, makeWebCertificates, unusualCaExtensions } from './support/certificates.js';

function expectReadAsLibrary(pem: string): void {
  const der = pemToDer(pem)[0];
  const read = readCertificate(der);
  expect(read, 'the reader declined a certificate it should read').toBeDefined();
  const { signatureAlgorithm, signatureAlgorithmsMatch, publicKeyAlgorithm, namedCurve, ...fields } = read!;
  expect(fields).toEqual(libraryFields(der));
  expect(signatureAlgorithm).toMatch(/^1\.2\.840\./);
  expect(signatureAlgorithmsMatch).toBe(true);
  expect(publicKeyAlgorithm).toMatch(/^1\.2\.840\./);
  expect(namedCurve === undefined || namedCurve === '1.2.840.10045.3.1.7').toBe(true);
}

describe('certificate-reader: reads as @peculiar/x509 does', () => {
  let ca: IssuedCertificate;

  it('the dev CA and a leaf with wildcard, IPv4 and IPv6 SANs (UTCTime validity)', async () => {
    ca = await createDevCa({ commonName: 'Reader Test CA' });
    const leaf = await issueCertificate(ca, { dnsNames: ['App.Example.com', '*.app.example.com'], ipAddresses: ['192.0.2.1', '::1', '2001:db8::ff00:42:8329'] });
    expectReadAsLibrary(ca.certPem);
    expectReadAsLibrary(leaf.certPem);
  });

  it('names that need escaping, multi-valued RDNs, unnamed attribute types, IA5String and UTF8String values', async () => {
    const { certPem } = await makeCertificate({ subject: ESCAPED_SUBJECT });
    expect(new x509.X509Certificate(certPem).subject).toContain('\\,'); // the library escaped something
    expectReadAsLibrary(certPem);
  });

  it('GeneralizedTime validity (after 2049), pathLenConstraint, keyUsage bits of the second octet, any EKU', async () => {
    const { certPem } = await makeCertificate({
      subject: 'CN=Long CA',
      notAfter: new Date(Date.UTC(2051, 0, 2, 3, 4, 5)),
      extensions: unusualCaExtensions(),
    });
    expectReadAsLibrary(certPem);
    expect(readCertificate(pemToDer(certPem)[0])!.notAfter.toISOString()).toBe('2051-01-02T03:04:05.000Z');
  });

  it('what public CAs put in web certificates: certificate policies, AIA and CRL distribution point URIs', async () => {
    const { ca, leaf } = await makeWebCertificates();
    expectReadAsLibrary(ca.certPem);
    expectReadAsLibrary(leaf.certPem);
    await expect(verifyCertificateChain(leaf.certPem, { trustAnchors: [ca.certPem] })).resolves.toMatchObject({ dnsNames: ['public.example.com'] });
  });

  it('an RSA CA and the leaf it signed (sha256WithRSAEncryption) verify as before', async () => {
    const { ca: rsaCa, leaf } = await makeRsaCertificates();
    expectReadAsLibrary(rsaCa.certPem);
    expectReadAsLibrary(leaf.certPem);
    const identity = await verifyCertificateChain(leaf.certPem, { trustAnchors: [rsaCa.certPem] });
    expect(identity.dnsNames).toEqual(['rsa.example.com']);
  });
});

describe('certificate-reader: declines, and the library reads instead', () => {
  it('extensions the library decodes and the reader does not (issuer alternative name)', async () => {
    const ca = await makeCertificate({ subject: 'CN=Policy CA' });
    const leaf = await makeCertificate({
      subject: 'CN=policy.example.com',
      issuer: ca,
      extensions: [new x509.IssuerAlternativeNameExtension([{ type: 'dns', value: 'ca.example.com' }]), new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'policy.example.com' }])],
    });
    expect(readCertificate(pemToDer(leaf.certPem)[0])).toBeUndefined();
    const identity = await verifyCertificateChain(leaf.certPem, { trustAnchors: [ca.certPem] });
    expect(identity).toMatchObject({ subject: 'CN=policy.example.com', dnsNames: ['policy.example.com'] });
    await expect(verifyCertificateChain(leaf.certPem, { trustAnchors: [ca.certPem], now: new Date(Date.now() + 60 * DAY) })).rejects.toThrow(
      /certificate "CN=policy\.example\.com" expired at/,
    );
  });

  it('names with characters outside printable ASCII', async () => {
    const { certPem } = await makeCertificate({ subject: 'CN=Zürich CA' });
    expect(readCertificate(pemToDer(certPem)[0])).toBeUndefined();
    await expect(verifyCertificateChain(certPem, { trustAnchors: [certPem] })).resolves.toMatchObject({ subject: 'CN=Zürich CA' });
  });

  it('BER: a length in more octets than needed (the signature still verifies, as the library reads it)', async () => {
    const ca = await createDevCa({ commonName: 'BER Test CA' });
    const leaf = await issueCertificate(ca, { dnsNames: ['ber.example.com'] });
    const der = pemToDer(leaf.certPem)[0];
    expect(der[0]).toBe(0x30);
    expect(der[1]).toBe(0x82); // two length octets; rewrite them as three, the first zero
    const ber = new Uint8Array(der.length + 1);
    ber.set([0x30, 0x83, 0x00, der[2], der[3]]);
    ber.set(der.subarray(4), 5);
    expect(readCertificate(ber)).toBeUndefined();
    const identity = await verifyCertificateChain(derToPem(ber) + ca.certPem, { trustAnchors: [ca.certPem] });
    expect(identity.dnsNames).toEqual(['ber.example.com']);
  });

  it('garbage and truncated certificates', async () => {
    const ca = await createDevCa({ commonName: 'Truncation CA' });
    const der = pemToDer(ca.certPem)[0];
    expect(readCertificate(new Uint8Array([0x30, 0x03, 1, 2, 3]))).toBeUndefined();
    for (const cut of [1, 2, 10, der.length - 1]) expect(readCertificate(der.subarray(0, cut))).toBeUndefined();
  });
});

describe('verifyCertificateChain: a chain that carries its trust anchor shares the anchor\'s parse', () => {
  it('verifies the same as the leaf alone; a broken chain is still reported before broken anchors', async () => {
    const ca = await createDevCa({ commonName: 'Carried CA' });
    const leaf = await issueCertificate(ca, { dnsNames: ['carried.example.com'] });
    const [withAnchor, alone] = await Promise.all([
      verifyCertificateChain(leaf.certPem + ca.certPem, { trustAnchors: [ca.certPem] }),
      verifyCertificateChain(leaf.certPem, { trustAnchors: [ca.certPem] }),
    ]);
    expect(withAnchor).toEqual(alone);
    const broken = [pemToDer(leaf.certPem)[0], new Uint8Array([0x30, 0x03, 1, 2, 3])];
    await expect(verifyCertificateChain(broken, { trustAnchors: ['not pem'] })).rejects.toThrow(/certificate 2 of the chain is not a valid X\.509 certificate/);
    await expect(verifyCertificateChain(leaf.certPem + ca.certPem, { trustAnchors: ['not pem'] })).rejects.toThrow(/trust anchor 1: no "-----BEGIN CERTIFICATE-----" block/);
  });
});
