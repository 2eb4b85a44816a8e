import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDevCa, issueCertificate, type IssuedCertificate } from '../../node/src/certs.js';
import {
  CertificateError,
  derToPem,
  leafPublicKey,
  pemToDer,
  verifyCertificateChain,
  type CertificateErrorReason,
} from '../src/origin/certificate.js';
import { webCrypto, x509 } from '../src/origin/x509.js';

const DAY = 24 * 60 * 60 * 1000;

/** A CA certificate with knobs the dev tooling does not expose (for intermediates and bad CAs). */
async function makeCa(opts: {
  commonName: string;
  issuer?: IssuedCertificate;
  ca?: boolean | null; // null: no basicConstraints at all
  pathLength?: number;
  keyUsage?: number | null;
  extensions?: x509.Extension[];
}): Promise<IssuedCertificate> {
  const keys = (await webCrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as {
    publicKey: never;
    privateKey: never;
  };
  const extensions: x509.Extension[] = [...(opts.extensions ?? [])];
  if (opts.ca !== null) extensions.push(new x509.BasicConstraintsExtension(opts.ca ?? true, opts.pathLength, true));
  if (opts.keyUsage !== null) {
    extensions.push(new x509.KeyUsagesExtension(opts.keyUsage ?? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true));
  }
  const common = {
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 30 * DAY),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions,
  };
  let cert: x509.X509Certificate;
  if (opts.issuer === undefined) {
    cert = await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: `CN=${opts.commonName}`, keys }, webCrypto);
  } else {
    const issuerCert = new x509.X509Certificate(opts.issuer.certPem);
    const signingKey = await webCrypto.subtle.importKey('pkcs8', pemToDer(opts.issuer.keyPem, 'PRIVATE KEY')[0], { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    cert = await x509.X509CertificateGenerator.create(
      { ...common, subject: `CN=${opts.commonName}`, issuer: issuerCert.subjectName, publicKey: keys.publicKey, signingKey },
      webCrypto,
    );
  }
  const pkcs8 = new Uint8Array(await webCrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const certPem = cert.toString('pem') + '\n';
  return { certPem, keyPem: derToPem(pkcs8, 'PRIVATE KEY'), chainPem: certPem + (opts.issuer?.certPem ?? '') };
}

async function expectRefusal(promise: Promise<unknown>, reason: CertificateErrorReason, message: RegExp): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CertificateError);
  expect((error as CertificateError).code).toBe('ERR_RHTTP_CERTIFICATE');
  expect((error as CertificateError).message).toMatch(message);
  expect((error as CertificateError).reason).toBe(reason);
}

let ca: IssuedCertificate;
let leaf: IssuedCertificate;

beforeAll(async () => {
  ca = await createDevCa({ commonName: 'Test Dev CA' });
  leaf = await issueCertificate(ca, { dnsNames: ['app.example.com', '*.app.example.com'], ipAddresses: ['192.0.2.1', '::1'] });
});

describe('RFC 5280 §6 verifyCertificateChain: accepted chains', () => {
  it('accepts a leaf issued by a trust anchor and returns its identity', async () => {
    const identity = await verifyCertificateChain(leaf.chainPem, { trustAnchors: [ca.certPem] });
    const der = pemToDer(leaf.certPem)[0];
    expect(identity).toEqual({
      subject: 'CN=app.example.com',
      dnsNames: ['app.example.com', '*.app.example.com'],
      ipAddresses: ['192.0.2.1', '::1'],
      notBefore: new x509.X509Certificate(der).notBefore,
      notAfter: new x509.X509Certificate(der).notAfter,
      fingerprintSha256: createHash('sha256').update(der).digest('hex'),
    });
  });

  it('accepts the leaf alone, DER input, and several anchors in one PEM', async () => {
    const other = await createDevCa();
    await expect(verifyCertificateChain(leaf.certPem, { trustAnchors: [ca.certPem] })).resolves.toMatchObject({ subject: 'CN=app.example.com' });
    await expect(verifyCertificateChain(pemToDer(leaf.chainPem), { trustAnchors: pemToDer(ca.certPem) })).resolves.toMatchObject({
      subject: 'CN=app.example.com',
    });
    await expect(verifyCertificateChain(leaf.chainPem, { trustAnchors: [other.certPem + ca.certPem] })).resolves.toMatchObject({
      subject: 'CN=app.example.com',
    });
  });

  it('accepts a leaf via an intermediate CA', async () => {
    const root = await makeCa({ commonName: 'Test Root' });
    const intermediate = await makeCa({ commonName: 'Test Intermediate', issuer: root, pathLength: 0 });
    const viaIntermediate = await issueCertificate(intermediate, { dnsNames: ['deep.example.com'] });
    const identity = await verifyCertificateChain(viaIntermediate.certPem + intermediate.certPem, { trustAnchors: [root.certPem] });
    expect(identity.dnsNames).toEqual(['deep.example.com']);
    // Without the intermediate there is no path.
    await expectRefusal(
      verifyCertificateChain(viaIntermediate.certPem, { trustAnchors: [root.certPem] }),
      'untrusted',
      /"CN=deep.example.com" was issued by "CN=Test Intermediate", which is neither a trust anchor nor in the chain/,
    );
  });

  it('accepts an ordinary server certificate (EKU serverAuth only) as an agent certificate', async () => {
    const serverOnly = await issueCertificate(ca, { dnsNames: ['app.example.com'], extendedKeyUsage: ['serverAuth'] });
    await expect(verifyCertificateChain(serverOnly.chainPem, { trustAnchors: [ca.certPem] })).resolves.toMatchObject({ dnsNames: ['app.example.com'] });
    const clientOnly = await issueCertificate(ca, { dnsNames: ['app.example.com'], extendedKeyUsage: ['clientAuth'] });
    await expect(verifyCertificateChain(clientOnly.chainPem, { trustAnchors: [ca.certPem] })).resolves.toBeDefined();
    const noEku = await issueCertificate(ca, { dnsNames: ['app.example.com'], extendedKeyUsage: [] });
    await expect(verifyCertificateChain(noEku.chainPem, { trustAnchors: [ca.certPem] })).resolves.toBeDefined();
  });

  it('accepts a pinned self-signed leaf that is itself a trust anchor', async () => {
    const selfSigned = await makeCa({ commonName: 'pinned.example.com', ca: null, keyUsage: x509.KeyUsageFlags.digitalSignature });
    await expect(verifyCertificateChain(selfSigned.certPem, { trustAnchors: [selfSigned.certPem] })).resolves.toMatchObject({
      subject: 'CN=pinned.example.com',
    });
  });
});

describe('RFC 5280 §6 verifyCertificateChain: refused chains', () => {
  it('untrusted: issued by a CA that is not a trust anchor', async () => {
    const stranger = await createDevCa({ commonName: 'Stranger CA' });
    const strangers = await issueCertificate(stranger, { dnsNames: ['app.example.com'] });
    await expectRefusal(
      verifyCertificateChain(strangers.certPem, { trustAnchors: [ca.certPem] }),
      'untrusted',
      /"CN=app.example.com" was issued by "CN=Stranger CA", which is neither a trust anchor nor in the chain/,
    );
    await expectRefusal(
      verifyCertificateChain(strangers.chainPem, { trustAnchors: [ca.certPem] }),
      'untrusted',
      /"CN=Stranger CA" is self-signed and is not one of the trust anchors \(it issued the chain of "CN=app.example.com"\)/,
    );
    await expectRefusal(
      verifyCertificateChain(stranger.certPem, { trustAnchors: [ca.certPem] }),
      'untrusted',
      /"CN=Stranger CA" is self-signed and is not one of the trust anchors/,
    );
    await expectRefusal(verifyCertificateChain(leaf.chainPem, { trustAnchors: [] }), 'untrusted', /no trust anchors are configured/);
  });

  it('expired: the leaf or the CA is past notAfter', async () => {
    const old = await issueCertificate(ca, {
      dnsNames: ['app.example.com'],
      notBefore: new Date(Date.now() - 10 * DAY),
      notAfter: new Date(Date.now() - DAY),
    });
    await expectRefusal(verifyCertificateChain(old.chainPem, { trustAnchors: [ca.certPem] }), 'expired', /certificate "CN=app.example.com" expired at \d{4}-/);
    const later = new Date(Date.now() + 20 * 365 * DAY);
    await expectRefusal(verifyCertificateChain(leaf.chainPem, { trustAnchors: [ca.certPem], now: later }), 'expired', /"CN=app.example.com" expired at/);
  });

  it('not-yet-valid: before notBefore', async () => {
    const future = await issueCertificate(ca, {
      dnsNames: ['app.example.com'],
      notBefore: new Date(Date.now() + DAY),
      notAfter: new Date(Date.now() + 10 * DAY),
    });
    await expectRefusal(
      verifyCertificateChain(future.chainPem, { trustAnchors: [ca.certPem] }),
      'not-yet-valid',
      /certificate "CN=app.example.com" is not valid before \d{4}-/,
    );
  });

  it('bad-signature: a tampered leaf (one byte of its subject changed, or of its signature)', async () => {
    const der = pemToDer(leaf.certPem)[0];
    const text = new TextEncoder().encode('app.example.com');
    const at = der.findIndex((_, i) => text.every((b, j) => der[i + j] === b));
    expect(at).toBeGreaterThan(0);
    const renamed = der.slice();
    renamed[at] = 'x'.charCodeAt(0); // "xpp.example.com": still well-formed, no longer what the CA signed
    await expectRefusal(
      verifyCertificateChain([renamed], { trustAnchors: [ca.certPem] }),
      'bad-signature',
      /the signature on certificate "CN=xpp.example.com" does not verify with the public key of its issuer "CN=Test Dev CA"/,
    );
    const resigned = der.slice();
    resigned[resigned.length - 1] ^= 0x01;
    await expectRefusal(verifyCertificateChain([resigned], { trustAnchors: [ca.certPem] }), 'bad-signature', /does not verify/);
  });

  it('bad-signature: issued by a different CA that has the same name as the trust anchor', async () => {
    const impostor = await createDevCa({ commonName: 'Test Dev CA' });
    const forged = await issueCertificate(impostor, { dnsNames: ['app.example.com'] });
    await expectRefusal(verifyCertificateChain(forged.chainPem, { trustAnchors: [ca.certPem] }), 'bad-signature', /different CA with the same name/);
  });

  it('not-a-ca: an intermediate without basicConstraints cA', async () => {
    const root = await makeCa({ commonName: 'Test Root' });
    for (const ca of [false, null]) {
      const notCa = await makeCa({ commonName: 'Not A CA', issuer: root, ca });
      const issued = await issueCertificate(notCa, { dnsNames: ['app.example.com'] });
      await expectRefusal(
        verifyCertificateChain(issued.certPem + notCa.certPem, { trustAnchors: [root.certPem] }),
        'not-a-ca',
        new RegExp(`intermediate certificate "CN=Not A CA" issued another certificate but is not a CA \\(basicConstraints cA is ${ca === null ? 'absent' : 'false'}\\)`),
      );
    }
  });

  it('not-a-ca: pathLenConstraint exceeded (the dev CA has pathLen 0)', async () => {
    const intermediate = await makeCa({ commonName: 'Under Dev CA', issuer: ca });
    const issued = await issueCertificate(intermediate, { dnsNames: ['app.example.com'] });
    await expectRefusal(
      verifyCertificateChain(issued.certPem + intermediate.certPem, { trustAnchors: [ca.certPem] }),
      'not-a-ca',
      /trust anchor "CN=Test Dev CA" allows 0 CA certificate\(s\) below it \(pathLenConstraint\) but the chain has 1/,
    );
  });

  it('key-usage: an intermediate whose keyUsage lacks keyCertSign', async () => {
    const root = await makeCa({ commonName: 'Test Root' });
    const noSign = await makeCa({ commonName: 'No CertSign', issuer: root, keyUsage: x509.KeyUsageFlags.cRLSign });
    const issued = await issueCertificate(noSign, { dnsNames: ['app.example.com'] });
    await expectRefusal(
      verifyCertificateChain(issued.certPem + noSign.certPem, { trustAnchors: [root.certPem] }),
      'key-usage',
      /"CN=No CertSign" issued another certificate but its keyUsage does not allow keyCertSign/,
    );
  });

  it('key-usage: a leaf without digitalSignature, or with an EKU that is neither serverAuth nor clientAuth', async () => {
    const keyEnciphermentOnly = await makeCa({ commonName: 'enc.example.com', issuer: ca, ca: false, keyUsage: x509.KeyUsageFlags.keyEncipherment });
    await expectRefusal(
      verifyCertificateChain(keyEnciphermentOnly.chainPem, { trustAnchors: [ca.certPem] }),
      'key-usage',
      /"CN=enc.example.com" has a keyUsage that does not allow digitalSignature/,
    );
    const codeSigning = await makeCa({
      commonName: 'code.example.com',
      issuer: ca,
      ca: false,
      keyUsage: x509.KeyUsageFlags.digitalSignature,
      extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning])],
    });
    await expectRefusal(
      verifyCertificateChain(codeSigning.chainPem, { trustAnchors: [ca.certPem] }),
      'key-usage',
      /"CN=code.example.com" has an extendedKeyUsage without serverAuth or clientAuth \(it has 1\.3\.6\.1\.5\.5\.7\.3\.3\)/,
    );
  });

  it('untrusted: a CA with a critical extension we do not process (name constraints)', async () => {
    const root = await makeCa({ commonName: 'Test Root' });
    const constrained = await makeCa({
      commonName: 'Constrained',
      issuer: root,
      extensions: [new x509.Extension('2.5.29.30', true, new Uint8Array([0x30, 0x00]))],
    });
    const issued = await issueCertificate(constrained, { dnsNames: ['app.example.com'] });
    await expectRefusal(
      verifyCertificateChain(issued.certPem + constrained.certPem, { trustAnchors: [root.certPem] }),
      'untrusted',
      /"CN=Constrained" has critical extension 2\.5\.29\.30, which rhttp does not process/,
    );
  });

  it('malformed: garbage, empty chains and broken trust anchors', async () => {
    await expectRefusal(verifyCertificateChain('hello', { trustAnchors: [ca.certPem] }), 'malformed', /no "-----BEGIN CERTIFICATE-----" block/);
    await expectRefusal(verifyCertificateChain([], { trustAnchors: [ca.certPem] }), 'malformed', /the certificate chain is empty/);
    await expectRefusal(verifyCertificateChain([new Uint8Array([0x30, 0x03, 1, 2, 3])], { trustAnchors: [ca.certPem] }), 'malformed', /the leaf certificate is not a valid X\.509 certificate/);
    await expectRefusal(verifyCertificateChain(leaf.chainPem, { trustAnchors: ['not pem'] }), 'malformed', /trust anchor 1: no "-----BEGIN CERTIFICATE-----" block/);
    await expectRefusal(
      verifyCertificateChain('-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n', { trustAnchors: [ca.certPem] }),
      'malformed',
      /PEM block 1 \("CERTIFICATE"\) is not valid base64/,
    );
    await expectRefusal(verifyCertificateChain(Array(9).fill(pemToDer(leaf.certPem)[0]), { trustAnchors: [ca.certPem] }), 'malformed', /at most 8/);
  });
});

describe('RFC 7468 PEM', () => {
  it('derToPem and pemToDer round-trip, several blocks, other labels skipped', () => {
    const der = pemToDer(leaf.certPem)[0];
    const pem = derToPem(der);
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE-----\n$/);
    expect(pemToDer(pem)).toEqual([der]);
    expect(pemToDer(`comment\n${leaf.keyPem}${pem}${ca.certPem}`)).toEqual([der, pemToDer(ca.certPem)[0]]);
    expect(pemToDer(leaf.keyPem, 'PRIVATE KEY')).toHaveLength(1);
    expect(() => pemToDer('-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----')).toThrow(/begins as "CERTIFICATE" but ends as "PRIVATE KEY"/);
  });
});

describe('RFC 9421 groundwork: leafPublicKey', () => {
  it('returns a key that verifies signatures made with the certificate private key', async () => {
    const data = new TextEncoder().encode('"@method": GET');
    const privateKey = await webCrypto.subtle.importKey('pkcs8', pemToDer(leaf.keyPem, 'PRIVATE KEY')[0], { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    const signature = await webCrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, data);
    const publicKey = await leafPublicKey(leaf.chainPem);
    expect(await webCrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, publicKey, signature, data)).toBe(true);
    expect(await webCrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, publicKey, signature, new TextEncoder().encode('other'))).toBe(false);
  });
});
