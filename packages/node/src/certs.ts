/**
 * Development certificates: a private CA, an intermediary (TLS server) certificate and an origin
 * certificate, so that `rhttp-agent` and `rhttp-intermediary` can run real TLS 1.3 with client
 * certificates on a laptop. Generation is WebCrypto + @peculiar/x509 (ECDSA P-256, SHA-256) and
 * runs on every runtime; only {@link writeDevCertificates} touches files.
 *
 * @example
 * const ca = await createDevCa();
 * const origin = await issueCertificate(ca, { dnsNames: ['app.example.com'] });
 * // origin.chainPem + origin.keyPem go to the agent; ca.certPem to the intermediary's --trust
 */
import 'reflect-metadata'; // must precede @peculiar/x509, whose tsyringe needs the polyfill at load
import * as x509 from '@peculiar/x509';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseOrigin, unbracketHost } from '@rhttp/core';

/** A certificate with its private key. */
export interface IssuedCertificate {
  certPem: string;
  /** PKCS#8 private key (`-----BEGIN PRIVATE KEY-----`). */
  keyPem: string;
  /** The certificate followed by the issuing CA's certificate (leaf first); the CA's own is just its certificate. */
  chainPem: string;
}

/** Default lifetime of the dev CA: long enough to forget about, short enough to expire some day. */
const DEFAULT_CA_DAYS = 3650;
/** Default lifetime of issued certificates: 397 days, the most browsers accept for a TLS server certificate. */
const DEFAULT_LEAF_DAYS = 397;
/** Issued certificates start this long before "now", so a peer whose clock is a little behind accepts them. */
const CLOCK_SKEW_MS = 60 * 60 * 1000;

const webCrypto = globalThis.crypto;
const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * A self-signed CA (basicConstraints cA, pathLen 0, keyUsage keyCertSign + cRLSign). The default
 * common name carries a random suffix, so that two dev CAs are never mistaken for each other.
 */
export async function createDevCa(opts: { commonName?: string; days?: number } = {}): Promise<IssuedCertificate> {
  const keys = await generateKeys();
  const notBefore = new Date(Date.now() - CLOCK_SKEW_MS);
  const commonName = opts.commonName ?? `rhttp development CA ${randomHex(4)}`;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: [{ CN: [commonName] }],
      notBefore,
      notAfter: new Date(notBefore.getTime() + (opts.days ?? DEFAULT_CA_DAYS) * DAY_MS),
      keys,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webCrypto),
      ],
    },
    webCrypto,
  );
  const certPem = cert.toString('pem') + '\n';
  return { certPem, keyPem: await exportKey(keys.privateKey), chainPem: certPem };
}

/**
 * A leaf certificate signed by `ca`: keyUsage digitalSignature, the given SANs (the common name
 * defaults to the first of them and is never used for matching), extendedKeyUsage serverAuth and
 * clientAuth unless narrowed. `notBefore`/`notAfter` override `days` (tests use them to make
 * expired or not-yet-valid certificates).
 */
export async function issueCertificate(ca: IssuedCertificate, opts: IssueOptions): Promise<IssuedCertificate> {
  const keys = await generateKeys();
  const certPem = await issueCertificateForKey(ca, keys.publicKey, opts);
  return { certPem, keyPem: await exportKey(keys.privateKey), chainPem: certPem + ca.certPem };
}

/** What {@link issueCertificate} and {@link issueCertificateForKey} put in a certificate. */
export interface IssueOptions {
  commonName?: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  days?: number;
  notBefore?: Date;
  notAfter?: Date;
  extendedKeyUsage?: ('serverAuth' | 'clientAuth')[];
}

/**
 * {@link issueCertificate} for a public key someone else holds (the key of a PKCS#10 request,
 * `new x509.Pkcs10CertificateRequest(pem).publicKey`): returns the certificate's PEM only.
 */
export async function issueCertificateForKey(ca: IssuedCertificate, publicKey: x509.PublicKey | WebCryptoKey, opts: IssueOptions): Promise<string> {
  const dnsNames = opts.dnsNames ?? [];
  const ipAddresses = opts.ipAddresses ?? [];
  if (dnsNames.length === 0 && ipAddresses.length === 0) {
    throw new TypeError('issueCertificate needs at least one DNS name or IP address for the subjectAltName');
  }
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importKey(ca.keyPem);
  const notBefore = opts.notBefore ?? new Date(Date.now() - CLOCK_SKEW_MS);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + (opts.days ?? DEFAULT_LEAF_DAYS) * DAY_MS);
  const usages = opts.extendedKeyUsage ?? ['serverAuth', 'clientAuth'];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.SubjectAlternativeNameExtension(
      [...dnsNames.map((value) => ({ type: 'dns' as const, value })), ...ipAddresses.map((value) => ({ type: 'ip' as const, value: unbracketHost(value) }))],
      false,
    ),
    await x509.SubjectKeyIdentifierExtension.create(publicKey, false, webCrypto),
    await x509.AuthorityKeyIdentifierExtension.create(caCert, false, webCrypto),
  ];
  if (usages.length > 0) extensions.push(new x509.ExtendedKeyUsageExtension(usages.map((u) => x509.ExtendedKeyUsage[u]), false));
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serialNumber(),
      subject: [{ CN: [opts.commonName ?? dnsNames[0] ?? ipAddresses[0]] }],
      issuer: caCert.subjectName,
      notBefore,
      notAfter,
      publicKey,
      signingKey: caKey,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions,
    },
    webCrypto,
  );
  return cert.toString('pem') + '\n';
}

/**
 * A fresh key pair (ECDSA P-256) and a PKCS#10 certificate request (RFC 2986) signed with it, for
 * enrollment: the key never leaves the agent; the intermediary decides the names.
 */
export async function createCertificateRequest(opts: { commonName?: string } = {}): Promise<{ csrPem: string; keyPem: string }> {
  const keys = await generateKeys();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    { name: [{ CN: [opts.commonName ?? 'rhttp agent'] }], keys: keys as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]["keys"], signingAlgorithm: SIGNING_ALGORITHM },
    webCrypto,
  );
  return { csrPem: csr.toString('pem') + '\n', keyPem: await exportKey(keys.privateKey) };
}

/**
 * The public key of a PKCS#10 request (PEM) whose signature verifies with that key (RFC 2986 §3:
 * the signature proves possession of the private key). Throws a TypeError saying what is wrong.
 */
export async function certificateRequestKey(pem: string): Promise<x509.PublicKey> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem);
  } catch {
    throw new TypeError('The CSR is not a PKCS#10 certificate request in PEM.');
  }
  let valid = false;
  try {
    valid = await csr.verify(webCrypto);
  } catch {
    valid = false;
  }
  if (!valid) throw new TypeError("The CSR's signature does not verify with its own key.");
  return csr.publicKey;
}

/**
 * Writes a dev CA (`ca.pem`, `ca.key`), an intermediary certificate (`intermediary.pem` = chain,
 * `intermediary.key`; SANs `localhost`, `127.0.0.1` and `::1` unless `intermediaryNames` is
 * given) and an origin certificate (`origin.pem` = chain, `origin.key`; SANs = the hosts of
 * `origins`, wildcards included) into `dir`. Files that exist are kept unless `force`; the CA
 * is reused from disk when present (so regenerating leaves keeps trust), and a newly made CA
 * reissues both leaves.
 * Private keys are written with mode 0600. Returns the paths.
 */
export async function writeDevCertificates(
  dir: string,
  opts: { origins: string[]; intermediaryNames?: string[]; force?: boolean },
): Promise<{ caCert: string; caKey: string; intermediaryCert: string; intermediaryKey: string; originCert: string; originKey: string }> {
  const paths = {
    caCert: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca.key'),
    intermediaryCert: join(dir, 'intermediary.pem'),
    intermediaryKey: join(dir, 'intermediary.key'),
    originCert: join(dir, 'origin.pem'),
    originKey: join(dir, 'origin.key'),
  };
  const originHosts = [...new Set(opts.origins.map((o) => parseOrigin(o).host))];
  if (originHosts.length === 0) throw new TypeError('writeDevCertificates needs at least one origin');
  await mkdir(dir, { recursive: true });
  const force = opts.force === true;
  const present = (cert: string, key: string) => !force && existsSync(cert) && existsSync(key);

  let ca: IssuedCertificate;
  let caCreated = false;
  if (present(paths.caCert, paths.caKey)) {
    const certPem = await readFile(paths.caCert, 'utf8');
    ca = { certPem, chainPem: certPem, keyPem: await readFile(paths.caKey, 'utf8') };
  } else {
    ca = await createDevCa();
    caCreated = true;
    await writePair(paths.caCert, ca.certPem, paths.caKey, ca.keyPem);
  }
  // Certificates from an older CA would no longer verify: a new CA means new leaves.
  if (caCreated || !present(paths.intermediaryCert, paths.intermediaryKey)) {
    const names = opts.intermediaryNames ?? ['localhost', '127.0.0.1', '::1'];
    const issued = await issueCertificate(ca, splitNames(names));
    await writePair(paths.intermediaryCert, issued.chainPem, paths.intermediaryKey, issued.keyPem);
  }
  if (caCreated || !present(paths.originCert, paths.originKey)) {
    const issued = await issueCertificate(ca, splitNames(originHosts));
    await writePair(paths.originCert, issued.chainPem, paths.originKey, issued.keyPem);
  }
  return paths;
}

/** Sorts host names into dNSName and iPAddress SANs. */
function splitNames(names: string[]): { dnsNames: string[]; ipAddresses: string[] } {
  const isIp = (n: string) => /^[0-9.]+$/.test(n) || n.includes(':');
  return { dnsNames: names.filter((n) => !isIp(n)), ipAddresses: names.filter(isIp).map(unbracketHost) };
}

async function writePair(certPath: string, certPem: string, keyPath: string, keyPem: string): Promise<void> {
  await writeFile(keyPath, keyPem, { mode: 0o600 });
  await writeFile(certPath, certPem);
}

async function generateKeys(): Promise<CryptoKeyPairLike> {
  return (await webCrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPairLike;
}

type CryptoKeyPairLike = { publicKey: WebCryptoKey; privateKey: WebCryptoKey };
type WebCryptoKey = Awaited<ReturnType<typeof webCrypto.subtle.importKey>>;

async function exportKey(key: WebCryptoKey): Promise<string> {
  const pkcs8 = await webCrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') + '\n';
}

async function importKey(pem: string): Promise<WebCryptoKey> {
  const der = x509.PemConverter.decode(pem).at(0);
  if (der === undefined) throw new TypeError('the CA key is not PEM text');
  return webCrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, false, ['sign']);
}

/** A positive 16-byte serial number (RFC 5280 §4.1.2.2: at most 20 octets, positive). */
function serialNumber(): string {
  const bytes = webCrypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f;
  bytes[0] |= 0x01; // non-zero first byte: no leading-zero trimming changes its length
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function randomHex(n: number): string {
  return Array.from(webCrypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, '0')).join('');
}
