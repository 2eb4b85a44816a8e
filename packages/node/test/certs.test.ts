import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type PeerCertificate, type TLSSocket } from 'node:tls';
import { X509Certificate, createPrivateKey as nodeCreatePrivateKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { derToPem, parseOrigin, pemToDer, unauthorizedOrigins, verifyCertificateChain } from '@rhttp/core';
import { createDevCa, issueCertificate, writeDevCertificates, type IssuedCertificate } from '../src/certs.js';

let ca: IssuedCertificate;

beforeAll(async () => {
  ca = await createDevCa({ commonName: 'Agent Test CA', days: 30 });
});

describe('createDevCa / issueCertificate (RFC 5280 profile, ECDSA P-256)', () => {
  it('makes a CA that node:crypto reads as a P-256 CA with the requested lifetime', () => {
    const cert = new X509Certificate(ca.certPem);
    expect(cert.subject).toBe('CN=Agent Test CA');
    expect(cert.ca).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const lifetimeDays = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
    expect(Math.round(lifetimeDays)).toBe(30);
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(cert.checkPrivateKey(createPrivateKey(ca.keyPem))).toBe(true);
  });

  it('gives every default dev CA its own name', async () => {
    const [a, b] = await Promise.all([createDevCa(), createDevCa()]);
    expect(new X509Certificate(a.certPem).subject).toMatch(/^CN=rhttp development CA [0-9a-f]{8}$/);
    expect(new X509Certificate(a.certPem).subject).not.toBe(new X509Certificate(b.certPem).subject);
  });

  it('issues leaves with the SANs, EKUs and chain asked for', async () => {
    const leaf = await issueCertificate(ca, { dnsNames: ['app.example.com', '*.app.example.com'], ipAddresses: ['127.0.0.1', '[::1]'], extendedKeyUsage: ['serverAuth'] });
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.subject).toBe('CN=app.example.com');
    expect(cert.subjectAltName).toBe('DNS:app.example.com, DNS:*.app.example.com, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // node reports the EKU here
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(pemToDer(leaf.chainPem)).toEqual([...pemToDer(leaf.certPem), ...pemToDer(ca.certPem)]);
    expect(cert.checkPrivateKey(createPrivateKey(leaf.keyPem))).toBe(true);
  });

  it('refuses to issue a certificate without any SAN', async () => {
    await expect(issueCertificate(ca, { commonName: 'x' })).rejects.toThrow(/at least one DNS name or IP address/);
  });
});

describe('RFC 8446 TLS 1.3 with dev certificates (node:tls, mutual authentication)', () => {
  async function handshake(caPem: string, server: Pick<IssuedCertificate, 'chainPem' | 'keyPem'>, client: Pick<IssuedCertificate, 'chainPem' | 'keyPem'>, rejectUnauthorizedClient: boolean) {
    const seen: { socket?: TLSSocket } = {};
    const tlsServer = createServer({
      key: server.keyPem,
      cert: server.chainPem,
      ca: caPem,
      requestCert: true,
      rejectUnauthorized: rejectUnauthorizedClient,
      minVersion: 'TLSv1.3',
      ALPNProtocols: ['h2-reverse'],
    });
    const accepted = new Promise<TLSSocket>((resolve) => tlsServer.on('secureConnection', resolve));
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    const { port } = tlsServer.address() as { port: number };
    try {
      const clientSocket = connect({ host: '127.0.0.1', port, ca: caPem, cert: client.chainPem, key: client.keyPem, minVersion: 'TLSv1.3', ALPNProtocols: ['h2-reverse'] });
      await new Promise<void>((resolve, reject) => {
        clientSocket.once('secureConnect', resolve);
        clientSocket.once('error', reject);
      });
      seen.socket = await accepted;
      const result = {
        clientAuthorized: clientSocket.authorized,
        clientProtocol: clientSocket.getProtocol(),
        clientAlpn: clientSocket.alpnProtocol,
        serverSeenByClient: clientSocket.getPeerCertificate(true),
        serverAuthorized: seen.socket.authorized,
        serverAuthorizationError: seen.socket.authorizationError,
        clientSeenByServer: seen.socket.getPeerCertificate(true),
      };
      clientSocket.destroy();
      seen.socket.destroy();
      return result;
    } finally {
      await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
    }
  }

  const chainOf = (peer: PeerCertificate & { issuerCertificate?: PeerCertificate }): Uint8Array[] => {
    const ders: Uint8Array[] = [new Uint8Array(peer.raw)];
    if (peer.issuerCertificate && peer.issuerCertificate !== peer) ders.push(new Uint8Array(peer.issuerCertificate.raw));
    return ders;
  };

  let dir: string;
  let paths: Awaited<ReturnType<typeof writeDevCertificates>>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rhttp-certs-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('an intermediary certificate on 127.0.0.1 and an origin client certificate: both sides see the expected peer', async () => {
    const intermediary = await issueCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const origin = await issueCertificate(ca, { dnsNames: ['app.example.com'] });
    const r = await handshake(ca.certPem, intermediary, origin, true);
    expect(r.clientProtocol).toBe('TLSv1.3');
    expect(r.clientAlpn).toBe('h2-reverse');
    expect(r.clientAuthorized).toBe(true);
    expect(r.serverSeenByClient.subject.CN).toBe('localhost');
    expect(r.serverSeenByClient.subjectaltname).toContain('IP Address:127.0.0.1');
    expect(r.serverAuthorized).toBe(true);
    expect(r.clientSeenByServer.subject.CN).toBe('app.example.com');
    expect(r.clientSeenByServer.subjectaltname).toBe('DNS:app.example.com');
    // rhttp's own check on what the TLS stack received.
    const identity = await verifyCertificateChain(chainOf(r.clientSeenByServer), { trustAnchors: [ca.certPem] });
    expect(unauthorizedOrigins(identity, [parseOrigin('https://app.example.com')])).toEqual([]);
    expect(identity.fingerprintSha256).toBe(r.clientSeenByServer.fingerprint256.replaceAll(':', '').toLowerCase());
  });

  it('a serverAuth-only origin certificate: OpenSSL refuses it as a client certificate, rhttp accepts it (DESIGN.md Carrier 1 step 4)', async () => {
    const intermediary = await issueCertificate(ca, { ipAddresses: ['127.0.0.1'] });
    const serverOnly = await issueCertificate(ca, { dnsNames: ['app.example.com'], extendedKeyUsage: ['serverAuth'] });
    const r = await handshake(ca.certPem, intermediary, serverOnly, false);
    expect(r.serverAuthorized).toBe(false);
    expect(r.serverAuthorizationError).toMatch(/purpose/i);
    const identity = await verifyCertificateChain(chainOf(r.clientSeenByServer), { trustAnchors: [ca.certPem] });
    expect(identity.dnsNames).toEqual(['app.example.com']);
  });

  it('writeDevCertificates writes a CA, an intermediary and an origin certificate that work in TLS', async () => {
    paths = await writeDevCertificates(dir, { origins: ['https://app.example.com', 'https://*.app.example.com', 'https://127.0.0.1:8443', 'http://[::1]:8080'] });
    expect(paths).toEqual({
      caCert: join(dir, 'ca.pem'),
      caKey: join(dir, 'ca.key'),
      intermediaryCert: join(dir, 'intermediary.pem'),
      intermediaryKey: join(dir, 'intermediary.key'),
      originCert: join(dir, 'origin.pem'),
      originKey: join(dir, 'origin.key'),
    });
    for (const key of [paths.caKey, paths.intermediaryKey, paths.originKey]) expect((await stat(key)).mode & 0o777).toBe(0o600);
    const read = (p: string) => readFile(p, 'utf8');
    const devCa = { certPem: await read(paths.caCert), keyPem: await read(paths.caKey), chainPem: await read(paths.caCert) };
    const originChain = await read(paths.originCert);
    const originIdentity = await verifyCertificateChain(originChain, { trustAnchors: [devCa.certPem] });
    expect(originIdentity.dnsNames).toEqual(['app.example.com', '*.app.example.com']);
    expect(originIdentity.ipAddresses).toEqual(['127.0.0.1', '::1']);
    const claimed = ['https://app.example.com', 'https://*.app.example.com', 'https://x.app.example.com', 'https://127.0.0.1:8443', 'http://[::1]:8080'].map(parseOrigin);
    expect(unauthorizedOrigins(originIdentity, claimed)).toEqual([]);
    const intermediaryIdentity = await verifyCertificateChain(await read(paths.intermediaryCert), { trustAnchors: [devCa.certPem] });
    expect(intermediaryIdentity.dnsNames).toEqual(['localhost']);
    expect(intermediaryIdentity.ipAddresses).toEqual(['127.0.0.1', '::1']);

    const r = await handshake(
      devCa.certPem,
      { chainPem: await read(paths.intermediaryCert), keyPem: await read(paths.intermediaryKey) },
      { chainPem: originChain, keyPem: await read(paths.originKey) },
      true,
    );
    expect(r.clientAuthorized).toBe(true);
    expect(r.serverAuthorized).toBe(true);
  });

  it('writeDevCertificates keeps existing files unless force, and reissues leaves when the CA is new', async () => {
    const before = await Promise.all(Object.values(paths).map((p) => readFile(p, 'utf8')));
    await writeDevCertificates(dir, { origins: ['https://other.example.com'] });
    expect(await Promise.all(Object.values(paths).map((p) => readFile(p, 'utf8')))).toEqual(before);

    await rm(paths.originCert);
    await writeDevCertificates(dir, { origins: ['https://other.example.com'] });
    const caPem = await readFile(paths.caCert, 'utf8');
    expect(caPem).toBe(before[0]);
    expect((await verifyCertificateChain(await readFile(paths.originCert, 'utf8'), { trustAnchors: [caPem] })).dnsNames).toEqual(['other.example.com']);

    await writeDevCertificates(dir, { origins: ['https://other.example.com'], force: true });
    const after = await Promise.all(Object.values(paths).map((p) => readFile(p, 'utf8')));
    after.forEach((content, i) => expect(content).not.toBe(before[i]));

    await rm(paths.caCert);
    await writeDevCertificates(dir, { origins: ['https://third.example.com'] });
    const newCa = await readFile(paths.caCert, 'utf8');
    await expect(verifyCertificateChain(await readFile(paths.intermediaryCert, 'utf8'), { trustAnchors: [newCa] })).resolves.toBeDefined();
    await expect(verifyCertificateChain(await readFile(paths.originCert, 'utf8'), { trustAnchors: [newCa] })).resolves.toMatchObject({ dnsNames: ['third.example.com'] });
  });

  it('writeDevCertificates refuses bad origins before writing anything', async () => {
    const empty = join(dir, 'bad');
    await expect(writeDevCertificates(empty, { origins: ['https://app.example.com/path'] })).rejects.toThrow(/has a path/);
    await expect(stat(empty)).rejects.toThrow();
    await expect(writeDevCertificates(empty, { origins: [] })).rejects.toThrow(/at least one origin/);
  });
});

function createPrivateKey(pem: string) {
  // node:crypto KeyObject from our PKCS#8 PEM (round-trips through the core PEM codec on purpose).
  return nodeCreatePrivateKey(derToPem(pemToDer(pem, 'PRIVATE KEY')[0], 'PRIVATE KEY'));
}
