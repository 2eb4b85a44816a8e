// Certificates for the certificate-reader tests, and @peculiar/x509's reading of one in the
// shape of certificate-reader.ts's CertificateFields (the library is the judge the reader is
// compared with).
import { canonicalIPAddress } from '../../src/origin/ip-address.js';
import { webCrypto, x509 } from '../../src/origin/x509.js';

export const DAY = 24 * 60 * 60 * 1000;
export type KeyPair = { publicKey: never; privateKey: never };
const EC = { name: 'ECDSA', namedCurve: 'P-256' };
export const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) };

/** The library's reading of `der`, in the reader's shape (without the algorithm OIDs: see {@link libraryAlgorithms}). */
export function libraryFields(der: Uint8Array) {
  const cert = new x509.X509Certificate(der);
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  const names = cert.getExtensions(x509.SubjectAlternativeNameExtension).flatMap((san) => san.names.items);
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    extensions: cert.extensions.map((e) => ({ type: e.type, critical: e.critical })),
    basicConstraints: bc === null ? null : { ca: bc.ca, pathLength: bc.pathLength },
    keyUsage: ku === null ? null : ku.usages,
    extendedKeyUsage: eku === null ? null : eku.usages.map(String),
    dnsNames: names.filter((n) => n.type === 'dns').map((n) => n.value),
    ipAddresses: names.filter((n) => n.type === 'ip').map((n) => canonicalIPAddress(n.value) ?? n.value),
    tbs: new Uint8Array(cert.tbs),
    signature: new Uint8Array(cert.signature),
    publicKey: new Uint8Array(cert.publicKey.rawData),
  };
}

/** A certificate made with @peculiar/x509; self-signed unless `issuer` is given. Keys are ECDSA P-256 unless `keys` says otherwise. */
export async function makeCertificate(opts: {
  subject: x509.JsonName | string;
  issuer?: { certPem: string; keys: KeyPair };
  keys?: KeyPair;
  notAfter?: Date;
  extensions?: x509.Extension[];
}): Promise<{ certPem: string; keys: KeyPair }> {
  const keys = opts.keys ?? ((await webCrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as KeyPair);
  const signingKeys = opts.issuer?.keys ?? keys;
  const signingAlgorithm = (signingKeys.privateKey as { algorithm: { name: string } }).algorithm.name === 'ECDSA' ? { name: 'ECDSA', hash: 'SHA-256' } : RSA;
  const cert = await x509.X509CertificateGenerator.create(
    {
      subject: opts.subject,
      issuer: opts.issuer ? new x509.X509Certificate(opts.issuer.certPem).subjectName : opts.subject,
      notBefore: new Date(Date.now() - DAY),
      notAfter: opts.notAfter ?? new Date(Date.now() + 30 * DAY),
      signingAlgorithm,
      publicKey: keys.publicKey,
      signingKey: signingKeys.privateKey,
      extensions: opts.extensions ?? [new x509.BasicConstraintsExtension(true, undefined, true)],
    },
    webCrypto,
  );
  return { certPem: cert.toString('pem') + '\n', keys };
}

/**
 * The algorithms as the library read them: signatureAlgorithm's OID and parameters, the
 * subject public key's algorithm OID and parameters (parameters as DER, or null when absent).
 */
export function libraryAlgorithms(der: Uint8Array) {
  type AlgorithmIdentifier = { algorithm: string; parameters?: ArrayBuffer | null };
  const { asn } = new x509.X509Certificate(der) as unknown as {
    asn: { signatureAlgorithm: AlgorithmIdentifier; tbsCertificate: { signature: AlgorithmIdentifier; subjectPublicKeyInfo: { algorithm: AlgorithmIdentifier } } };
  };
  const parameters = (a: AlgorithmIdentifier) => (a.parameters == null ? null : new Uint8Array(a.parameters));
  const key = asn.tbsCertificate.subjectPublicKeyInfo.algorithm;
  const [inner, outer] = [asn.tbsCertificate.signature, asn.signatureAlgorithm];
  const [p, q] = [inner.parameters, outer.parameters];
  return {
    signatureAlgorithm: outer.algorithm,
    signatureParameters: parameters(outer),
    /** The tbsCertificate's `signature` is the outer one (RFC 5280 §4.1.1.2); the library reads NULL parameters as null, absent ones as undefined. */
    signatureAlgorithmsMatch: inner.algorithm === outer.algorithm && (p instanceof ArrayBuffer && q instanceof ArrayBuffer ? Buffer.from(p).equals(Buffer.from(q)) : p === q),
    publicKeyAlgorithm: key.algorithm,
    publicKeyParameters: parameters(key),
  };
}

/** A subject whose values need escaping, with multi-valued RDNs, an unnamed attribute type, IA5String and UTF8String values. */
export const ESCAPED_SUBJECT: x509.JsonName = [{ CN: ['a, b+c'], O: ['Example'] }, { OU: [' "quoted" <x>; #1 '] }, { '2.5.4.97': ['VATFR-123'] }, { E: ['ops@example.com'] }, { DC: ['example'] }];

/** A CA's extensions in less usual forms: pathLenConstraint, keyUsage bits of the second octet, any EKU, a private extension. */
export function unusualCaExtensions(): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(true, 3, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.decipherOnly, true),
    new x509.ExtendedKeyUsageExtension(['2.5.29.37.0', '1.3.6.1.5.5.7.3.9']),
    new x509.Extension('1.3.6.1.4.1.99999.1', false, new Uint8Array([0x05, 0x00])),
  ];
}

/** What public CAs issue: a CA named like Let's Encrypt's and a web leaf with certificate policies, AIA and CRL distribution point URIs. */
export async function makeWebCertificates() {
  const ca = await makeCertificate({ subject: [{ C: ['US'] }, { O: ["Let's Encrypt"] }, { CN: ['E9'] }] });
  const leaf = await makeCertificate({
    subject: 'CN=public.example.com',
    issuer: ca,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.AuthorityInfoAccessExtension({ ocsp: ['http://e9.o.lencr.org'], caIssuers: ['http://e9.i.lencr.org/'] }),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'public.example.com' }, { type: 'ip', value: '192.0.2.7' }]),
      new x509.CertificatePolicyExtension(['2.23.140.1.2.1']),
      new x509.CRLDistributionPointsExtension(['http://e9.c.lencr.org/12.crl']),
    ],
  });
  return { ca, leaf };
}

/** An RSA CA and the leaf it signed (sha256WithRSAEncryption). */
export async function makeRsaCertificates() {
  const keys = (await webCrypto.subtle.generateKey(RSA, true, ['sign', 'verify'])) as KeyPair;
  const ca = await makeCertificate({ subject: 'CN=RSA CA', keys });
  const leaf = await makeCertificate({
    subject: 'CN=rsa.example.com',
    issuer: ca,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'rsa.example.com' }])],
  });
  return { ca, leaf };
}
