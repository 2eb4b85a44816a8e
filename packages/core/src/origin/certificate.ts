/**
 * Certificate checks done by rhttp itself rather than by the TLS stack (DESIGN.md, Carrier 1
 * step 4, and Carrier 2): path validation to configured trust anchors (RFC 5280 §6, the parts
 * listed at {@link verifyCertificateChain}) and matching of origins against the leaf's subject
 * alternative names (RFC 9525 §6).
 *
 * Public CAs no longer put `clientAuth` in web certificates, so an origin's ordinary server
 * certificate (EKU `serverAuth`) is accepted as the client certificate of an agent.
 *
 * @example
 * const identity = await verifyCertificateChain(chainPem, { trustAnchors: [caPem] });
 * const refused = unauthorizedOrigins(identity, claimed.map(parseOrigin));
 * if (refused.length > 0) throw new Error(`not covered: ${refused.map(serializeOrigin).join(', ')}`);
 */
import { parse as parseDomain } from 'tldts';
import { RhttpError } from '../errors.js';
import { base64Decode, base64Encode } from '../bytes.js';
import { canonicalIPAddress } from './ip-address.js';
import type { Origin } from './origin.js';
import { EXTENSION, KEY_ALGORITHM, readCertificate, type CertificateFields } from './certificate-reader.js';
import { webCrypto, x509, type WebCryptoKey } from './x509.js';

/** What a verified leaf certificate says about its holder. */
export interface CertificateIdentity {
  /** Subject distinguished name, e.g. `CN=app.example.com`. For messages only: never matched. */
  subject: string;
  /** dNSName SANs, lower-case, as written (wildcards included). */
  dnsNames: string[];
  /** iPAddress SANs in canonical text (`192.0.2.1`, `2001:db8::1`, no brackets). */
  ipAddresses: string[];
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 of the certificate's DER, lower-case hex without separators. */
  fingerprintSha256: string;
}

/** Why a certificate chain was refused. */
export type CertificateErrorReason =
  | 'untrusted'
  | 'expired'
  | 'not-yet-valid'
  | 'bad-signature'
  | 'key-usage'
  | 'malformed'
  | 'not-a-ca';

/** A certificate chain was refused. `code` is `ERR_RHTTP_CERTIFICATE`; `reason` says why. */
export class CertificateError extends RhttpError {
  readonly reason: CertificateErrorReason;
  constructor(reason: CertificateErrorReason, message: string, options?: { cause?: unknown }) {
    super('ERR_RHTTP_CERTIFICATE', message, options);
    this.reason = reason;
  }
}

/** Options of {@link verifyCertificateChain}. */
export interface VerifyOptions {
  /** Trust anchors: PEM text (may hold several certificates) or DER. */
  trustAnchors: (string | Uint8Array)[];
  /** The time to check validity periods at; defaults to the current time. */
  now?: Date;
  /**
   * What messages call an anchor; default `trust anchor`. A holder checking its own chain
   * against its own last certificate says `certificate`: to it, that is no trust decision.
   */
  anchorWord?: string;
}

/** Longest certification path we build (leaf + intermediates + anchor): real web PKI paths have 3–4; bounds work on hostile chains. */
export const MAX_CERTIFICATE_PATH_LENGTH = 8;

const OID = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  anyExtendedKeyUsage: '2.5.29.37.0',
} as const;

/**
 * Extensions whose meaning we either enforce or may safely ignore. RFC 5280 §4.2: "A certificate-
 * using system MUST reject the certificate if it encounters a critical extension it does not
 * recognize"; notably name constraints (2.5.29.30) are not implemented, so a CA that marks them
 * critical is refused rather than silently trusted beyond its constraints.
 */
const RECOGNIZED_EXTENSIONS = new Set<string>([
  EXTENSION.basicConstraints,
  EXTENSION.keyUsage,
  EXTENSION.extKeyUsage,
  EXTENSION.subjectAltName,
  EXTENSION.subjectKeyIdentifier,
  EXTENSION.authorityKeyIdentifier,
  EXTENSION.certificatePolicies, // no policy is required of origins
  EXTENSION.cRLDistributionPoints,
  EXTENSION.authorityInfoAccess,
]);

// ---------------------------------------------------------------------------------------------
// Name matching (RFC 9525 §6.3)

/**
 * RFC 9525: does the certificate's SAN set cover the origin? Scheme and port play no part (a
 * certificate names hosts, RFC 9110 §4.3.4).
 *
 * - DNS host: a dNSName SAN equal to it (case-insensitive), or a wildcard SAN `*.parent` where
 *   the host is exactly one label under `parent`. `*` counts only as the whole left-most label
 *   (`a*.example.com`, `*.*.example.com` match nothing), and a wildcard directly over a public
 *   suffix (`*.com`, `*.co.uk`, ICANN section of the Public Suffix List) matches nothing, as in
 *   browsers.
 * - IP host: an iPAddress SAN with the same address. A dNSName SAN never matches an IP.
 * - Wildcard origin `*.parent`: it claims every one-label name under `parent`, an unbounded set,
 *   so only a SAN that covers all of them does: the wildcard SAN `*.parent` itself. Explicit
 *   SANs for some children do not, nor does `*.example.com` cover `*.a.example.com`.
 * - No fallback to the subject common name (RFC 9525 §6.2.1 leaves that to legacy clients).
 */
export function certificateCoversOrigin(identity: CertificateIdentity, origin: Origin): boolean {
  const host = origin.host.toLowerCase();
  if (origin.wildcard) {
    return identity.dnsNames.some((san) => san.toLowerCase() === host && wildcardSanIsUsable(host));
  }
  const ip = canonicalIPAddress(host);
  if (ip !== null) return identity.ipAddresses.some((address) => canonicalIPAddress(address) === ip);
  return identity.dnsNames.some((san) => dnsSanMatches(san.toLowerCase(), host));
}

/** Entries of `origins` the certificate does NOT cover (empty = all authorized). */
export function unauthorizedOrigins(identity: CertificateIdentity, origins: Origin[]): Origin[] {
  return origins.filter((origin) => !certificateCoversOrigin(identity, origin));
}

function dnsSanMatches(san: string, host: string): boolean {
  if (!/^[\x21-\x7e]+$/.test(san) || san.endsWith('.')) return false;
  if (!san.includes('*')) return san === host;
  // RFC 9525 §6.3: the wildcard must be the complete left-most label and matches one label only.
  if (!san.startsWith('*.') || !wildcardSanIsUsable(san)) return false;
  const suffix = san.slice(1); // ".example.com"
  if (!host.endsWith(suffix)) return false;
  const label = host.slice(0, -suffix.length);
  return label.length > 0 && !label.includes('.');
}

/** `*.parent` is usable if `parent` has no other "*" and is not itself an ICANN public suffix. */
function wildcardSanIsUsable(san: string): boolean {
  const parent = san.slice(2);
  if (parent.length === 0 || parent.includes('*') || parent.startsWith('.')) return false;
  const parsed = parseDomain(parent, { extractHostname: false, detectIp: false });
  return !(parsed.isIcann === true && parsed.publicSuffix === parent);
}

// ---------------------------------------------------------------------------------------------
// PEM (RFC 7468)

/**
 * DER bytes of every PEM block labelled `label` (default `CERTIFICATE`) in `pem`, in order.
 * Text outside the blocks is ignored. Throws {@link CertificateError} (`malformed`) when there
 * is no such block or one is broken.
 */
export function pemToDer(pem: string, label = 'CERTIFICATE'): Uint8Array[] {
  const blocks: Uint8Array[] = [];
  const re = /-----BEGIN ([^-\r\n]*)-----([\s\S]*?)-----END ([^-\r\n]*)-----/g;
  let index = 0;
  for (let m = re.exec(pem); m !== null; m = re.exec(pem)) {
    index++;
    if (m[1] !== m[3]) {
      throw new CertificateError('malformed', `PEM block ${index} begins as "${m[1]}" but ends as "${m[3]}"`);
    }
    if (m[1] !== label) continue;
    const base64 = m[2].replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64) || base64.length % 4 !== 0 || base64.length === 0) {
      throw new CertificateError('malformed', `PEM block ${index} ("${label}") is not valid base64`);
    }
    blocks.push(base64Decode(base64));
  }
  if (blocks.length === 0) throw new CertificateError('malformed', `no "-----BEGIN ${label}-----" block found in the PEM text`);
  return blocks;
}

/** PEM text (RFC 7468 §2: 64-character lines) of DER bytes; `label` defaults to `CERTIFICATE`. */
export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const base64 = base64Encode(der);
  const lines: string[] = [];
  for (let i = 0; i < base64.length; i += 64) lines.push(base64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

// ---------------------------------------------------------------------------------------------
// Path validation (RFC 5280 §6)

/**
 * One certificate of a chain, as the checks below read it: from certificate-reader.ts, or from
 * @peculiar/x509 when that reader declined it.
 */
interface ParsedCertificate {
  der: Uint8Array;
  isAnchor: boolean;
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  extensions: readonly { type: string; critical: boolean }[];
  basicConstraints: { ca: boolean | undefined; pathLength: number | undefined } | null;
  keyUsage: number | null;
  extendedKeyUsage: readonly string[] | null;
  /** certificate-reader.ts's fields (SANs, signed parts), or undefined when the library read it. */
  read: CertificateFields | undefined;
  /** @peculiar/x509's view: when it read the certificate, or once a signature check needs it. */
  cert: x509.X509Certificate | undefined;
  /** The public key imported for WebCrypto, by algorithm (kept with the parsed trust anchors). */
  keys?: Map<string, Promise<WebCryptoKey>>;
}

/**
 * Verifies `chain` (leaf first, then intermediates in any order; PEM text with several
 * certificates, or DER) and returns the leaf's identity. Checks:
 *
 * 1. a path leaf → intermediates → trust anchor exists in which every signature verifies
 *    (a trust anchor may also be the leaf itself: a pinned certificate);
 * 2. every certificate on the path, trust anchor included, is inside its validity period at
 *    `now` (notBefore and notAfter inclusive, RFC 5280 §4.1.2.5);
 * 3. every issuer is a CA: basicConstraints cA (required of intermediates; a trust anchor
 *    without the extension is accepted, as old v1 roots have none), keyCertSign when keyUsage
 *    is present, and pathLenConstraint respected;
 * 4. the leaf's keyUsage, if present, allows digitalSignature (TLS 1.3 CertificateVerify and
 *    HTTP message signatures both sign with it); its extendedKeyUsage, if present, has
 *    serverAuth, clientAuth or anyExtendedKeyUsage;
 * 5. no certificate carries a critical extension we do not process (e.g. name constraints).
 *
 * Revocation (CRL/OCSP) and certificate policies are not checked.
 * Throws {@link CertificateError} whose message names the certificate and the reason.
 */
export async function verifyCertificateChain(chain: string | Uint8Array[], options: VerifyOptions): Promise<CertificateIdentity> {
  const now = options.now ?? new Date();
  const chainDer = typeof chain === 'string' ? pemToDer(chain) : chain;
  if (chainDer.length === 0) throw new CertificateError('malformed', 'the certificate chain is empty');
  if (chainDer.length > MAX_CERTIFICATE_PATH_LENGTH) {
    throw new CertificateError('malformed', `the certificate chain has ${chainDer.length} certificates; at most ${MAX_CERTIFICATE_PATH_LENGTH} are accepted`);
  }
  // The anchors are parsed first so that a chain that carries one (a private CA's chain often
  // ends with its root) shares its parse; their errors still come after the chain's.
  let anchors: ParsedCertificate[] = [];
  let anchorError: unknown;
  try {
    anchors = parseTrustAnchors(options.trustAnchors);
  } catch (error) {
    anchorError = error;
  }
  const certs = chainDer.map(
    (der, i) => sameAnchor(der, anchors) ?? parseCertificate(der, i === 0 ? 'the leaf certificate' : `certificate ${i + 1} of the chain`, false),
  );
  if (anchorError !== undefined) throw anchorError;
  if (anchors.length === 0) throw new CertificateError('untrusted', 'no trust anchors are configured, so no certificate can be trusted');

  const path = await buildPath(certs, anchors);
  const anchorWord = options.anchorWord ?? 'trust anchor';
  path.forEach((c) => checkValidity(c, now, anchorWord));
  path.forEach((c) => checkCriticalExtensions(c));
  path.forEach((c) => c.isAnchor || checkSignatureAlgorithms(c));
  for (let k = 1; k < path.length; k++) checkIssuer(path[k], k - 1, anchorWord);
  const leaf = path[0];
  checkLeafUsage(leaf);
  return identityOf(leaf);
}

/**
 * The leaf's public key as a CryptoKey usable for `crypto.subtle.verify` (e.g. checking an
 * RFC 9421 HTTP message signature made with the certificate's private key). `algorithm` imports
 * it for another scheme than the certificate's default (an RSA key as RSA-PSS).
 */
export async function leafPublicKey(chain: string | Uint8Array[], algorithm?: { name: string; hash: string }): Promise<WebCryptoKey> {
  const der = typeof chain === 'string' ? pemToDer(chain)[0] : chain[0];
  if (der === undefined) throw new CertificateError('malformed', 'the certificate chain is empty');
  // The caller has just verified this chain, which read the leaf with certificate-reader.ts: read
  // it so again rather than with the library (a second, heavy parse per connection).
  const read = readCertificate(der);
  const readAlgorithm = read === undefined ? undefined : (algorithm ?? defaultKeyAlgorithm(read));
  const leaf = readAlgorithm === undefined ? libraryCertificate(der, 'the leaf certificate') : undefined;
  try {
    // Imported as the library's publicKey.export() imports it: extractable, for 'verify'.
    if (leaf === undefined) return await webCrypto.subtle.importKey('spki', read!.publicKey, readAlgorithm!, true, ['verify']);
    return await (algorithm ? leaf.publicKey.export(algorithm, ['verify'], webCrypto) : leaf.publicKey.export(webCrypto));
  } catch (cause) {
    throw new CertificateError('malformed', `the public key of "${read?.subject ?? leaf!.subject}" cannot be used with WebCrypto: ${message(cause)}`, { cause });
  }
}

/** The algorithm @peculiar/x509's `publicKey.export()` imports a key with by default (SHA-256 unless the key says otherwise); undefined for keys left to it. */
function defaultKeyAlgorithm(read: CertificateFields): { name: string; namedCurve?: string; hash?: string } | undefined {
  if (read.publicKeyAlgorithm === KEY_ALGORITHM.rsaEncryption) return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const curve = read.namedCurve === undefined ? undefined : CURVES.get(read.namedCurve);
  if (read.publicKeyAlgorithm === KEY_ALGORITHM.ecPublicKey && curve !== undefined) return { name: 'ECDSA', namedCurve: curve.name, hash: 'SHA-256' };
  return undefined;
}

/** Reads `der` with certificate-reader.ts, or with @peculiar/x509 when that declines it. */
function parseCertificate(der: Uint8Array, what: string, isAnchor: boolean): ParsedCertificate {
  const read = readCertificate(der);
  if (read !== undefined) {
    const { subject, issuer, notBefore, notAfter, extensions, basicConstraints, keyUsage, extendedKeyUsage } = read;
    return { der, isAnchor, subject, issuer, notBefore, notAfter, extensions, basicConstraints, keyUsage, extendedKeyUsage, read, cert: undefined };
  }
  const cert = libraryCertificate(der, what);
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  return {
    der,
    isAnchor,
    subject: cert.subject,
    issuer: cert.issuer,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    extensions: cert.extensions.map((ext) => ({ type: ext.type, critical: ext.critical })),
    basicConstraints: bc === null ? null : { ca: bc.ca, pathLength: bc.pathLength },
    keyUsage: ku === null ? null : ku.usages,
    extendedKeyUsage: eku === null ? null : eku.usages.map(String),
    read: undefined,
    cert,
  };
}

function libraryCertificate(der: Uint8Array, what: string): x509.X509Certificate {
  try {
    const cert = new x509.X509Certificate(der);
    // Touch the lazily decoded parts now, so that a broken certificate fails here, clearly.
    void cert.notBefore;
    void cert.notAfter;
    void cert.extensions;
    void cert.subject;
    void cert.issuer;
    return cert;
  } catch (cause) {
    throw new CertificateError('malformed', `${what} is not a valid X.509 certificate: ${message(cause)}`, { cause });
  }
}

/** The trust anchor that a chain certificate is byte for byte: the chain uses the anchor's parse, and it ends the path there. */
function sameAnchor(der: Uint8Array, anchors: ParsedCertificate[]): ParsedCertificate | undefined {
  return anchors.find((a) => equalBytes(a.der, der));
}

/**
 * Trust anchors parsed from their PEM text. The same anchors come with every connection, and
 * parsing them again was most of a verification's work and of the garbage a connection storm
 * leaves behind. Parsed certificates are never changed, so they are shared. Anchors are
 * configuration, not peer input; the bound only keeps a caller that makes new ones each time
 * from growing it.
 */
const parsedAnchors = new Map<string, ParsedCertificate[]>();
const PARSED_ANCHORS_LIMIT = 32;

function parseTrustAnchors(trustAnchors: (string | Uint8Array)[]): ParsedCertificate[] {
  const anchors: ParsedCertificate[] = [];
  trustAnchors.forEach((entry, i) => {
    const known = typeof entry === 'string' ? parsedAnchors.get(entry) : undefined;
    if (known !== undefined) {
      anchors.push(...known);
      return;
    }
    let ders: Uint8Array[];
    try {
      ders = typeof entry === 'string' ? pemToDer(entry) : [entry];
    } catch (cause) {
      throw new CertificateError('malformed', `trust anchor ${i + 1}: ${message(cause)}`, { cause });
    }
    const parsed = ders.map((der, j) => parseCertificate(der, `trust anchor ${i + 1}${ders.length > 1 ? `.${j + 1}` : ''}`, true));
    if (typeof entry === 'string') {
      if (parsedAnchors.size >= PARSED_ANCHORS_LIMIT) parsedAnchors.clear();
      parsedAnchors.set(entry, parsed);
    }
    anchors.push(...parsed);
  });
  return anchors;
}

/** Leaf first, ending at a trust anchor. */
async function buildPath(certs: ParsedCertificate[], anchors: ParsedCertificate[]): Promise<ParsedCertificate[]> {
  if (certs[0].isAnchor) return [certs[0]]; // a pinned certificate
  const path: ParsedCertificate[] = [];
  // The chain's copies of trust anchors are the anchors themselves (sameAnchor), candidates already.
  const unused = new Set(certs.slice(1).filter((c) => !c.isAnchor));
  let current = certs[0];
  for (;;) {
    path.push(current);
    if (path.length >= MAX_CERTIFICATE_PATH_LENGTH) {
      throw new CertificateError('untrusted', `no path to a trust anchor within ${MAX_CERTIFICATE_PATH_LENGTH} certificates`);
    }
    // Issuer candidates: trust anchors first, then the chain's unused certificates, by name.
    const candidates = [...anchors, ...unused].filter((c) => c.subject === current.issuer);
    if (candidates.length === 0) {
      const selfSigned = current.subject === current.issuer;
      throw new CertificateError(
        'untrusted',
        selfSigned
          ? `certificate "${current.subject}" is self-signed and is not one of the trust anchors` +
              (current === certs[0] ? '' : ` (it issued the chain of "${certs[0].subject}")`)
          : `certificate "${current.subject}" was issued by "${current.issuer}", which is neither a trust anchor nor in the chain`,
      );
    }
    let issuer: ParsedCertificate | undefined;
    for (const candidate of candidates) {
      if (await signedBy(current, candidate)) {
        issuer = candidate;
        break;
      }
    }
    if (issuer === undefined) {
      throw new CertificateError(
        'bad-signature',
        `the signature on certificate "${current.subject}" does not verify with the public key of its issuer "${current.issuer}" ` +
          '(the certificate was altered, or issued by a different CA with the same name)',
      );
    }
    if (issuer.isAnchor) {
      path.push(issuer);
      return path;
    }
    unused.delete(issuer);
    current = issuer;
  }
}

async function signedBy(subject: ParsedCertificate, issuer: ParsedCertificate): Promise<boolean> {
  try {
    const web = subject.read && issuer.read ? webSignature(subject.read, issuer.read) : undefined;
    if (web !== undefined) {
      const key = await importedKey(issuer, web.importAlgorithm);
      return await webCrypto.subtle.verify(web.verifyAlgorithm, key, web.signature, subject.read!.tbs);
    }
    // Algorithms and encodings certificate-reader.ts leaves to the library (RSA-PSS, Ed25519, BER signatures, …).
    subject.cert ??= new x509.X509Certificate(subject.der);
    issuer.cert ??= new x509.X509Certificate(issuer.der);
    return await subject.cert.verify({ publicKey: issuer.cert.publicKey, signatureOnly: true }, webCrypto);
  } catch {
    return false; // unsupported or inconsistent algorithm: not a signature we can accept
  }
}

/** The issuer's public key for WebCrypto; imported once per algorithm and kept with the (shared) trust anchor. */
function importedKey(c: ParsedCertificate, algorithm: { name: string; namedCurve?: string; hash?: string }): Promise<WebCryptoKey> {
  const id = `${algorithm.name}/${algorithm.namedCurve ?? algorithm.hash}`;
  c.keys ??= new Map();
  let key = c.keys.get(id);
  if (key === undefined) {
    key = webCrypto.subtle.importKey('spki', c.read!.publicKey, algorithm, false, ['verify']);
    c.keys.set(id, key);
  }
  return key;
}

/** Curves of EC keys certificate-reader.ts's callers verify with WebCrypto, and their coordinate size. */
const CURVES = new Map([
  ['1.2.840.10045.3.1.7', { name: 'P-256', size: 32 }],
  ['1.3.132.0.34', { name: 'P-384', size: 48 }],
  ['1.3.132.0.35', { name: 'P-521', size: 66 }],
]);
const ECDSA_HASHES = new Map([
  ['1.2.840.10045.4.3.2', 'SHA-256'],
  ['1.2.840.10045.4.3.3', 'SHA-384'],
  ['1.2.840.10045.4.3.4', 'SHA-512'],
]);
const RSA_PKCS1_HASHES = new Map([
  ['1.2.840.113549.1.1.11', 'SHA-256'],
  ['1.2.840.113549.1.1.12', 'SHA-384'],
  ['1.2.840.113549.1.1.13', 'SHA-512'],
]);

/**
 * How WebCrypto checks `subject`'s signature with `issuer`'s key, as @peculiar/x509's
 * `verify()` does it, for ECDSA (P-256/384/521) and RSA PKCS#1 v1.5 with SHA-2; undefined for
 * anything else, which the library checks.
 */
function webSignature(
  subject: CertificateFields,
  issuer: CertificateFields,
): { importAlgorithm: { name: string; namedCurve?: string; hash?: string }; verifyAlgorithm: { name: string; hash?: string }; signature: Uint8Array } | undefined {
  const ecdsaHash = ECDSA_HASHES.get(subject.signatureAlgorithm);
  const curve = issuer.namedCurve === undefined ? undefined : CURVES.get(issuer.namedCurve);
  if (ecdsaHash !== undefined && issuer.publicKeyAlgorithm === KEY_ALGORITHM.ecPublicKey && curve !== undefined) {
    // WebCrypto takes r‖s, each left-padded to the curve's size; the certificate has ECDSA-Sig-Value (RFC 5480 §2.2.3).
    const signature = ecdsaSignature(subject.signature, curve.size);
    if (signature === undefined) return undefined;
    return { importAlgorithm: { name: 'ECDSA', namedCurve: curve.name }, verifyAlgorithm: { name: 'ECDSA', hash: ecdsaHash }, signature };
  }
  const rsaHash = RSA_PKCS1_HASHES.get(subject.signatureAlgorithm);
  if (rsaHash !== undefined && issuer.publicKeyAlgorithm === KEY_ALGORITHM.rsaEncryption) {
    return { importAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: rsaHash }, verifyAlgorithm: { name: 'RSASSA-PKCS1-v1_5' }, signature: subject.signature };
  }
  return undefined;
}

/** DER `SEQUENCE { r INTEGER, s INTEGER }` to r‖s of `size` octets each; undefined unless it is plainly that. */
function ecdsaSignature(der: Uint8Array, size: number): Uint8Array | undefined {
  // Short form lengths only: r and s of at most 66 octets keep the whole under 128.
  if (der.length < 8 || der[0] !== 0x30 || der[1] !== der.length - 2) return undefined;
  const out = new Uint8Array(2 * size);
  let p = 2;
  for (let k = 0; k < 2; k++) {
    if (der[p] !== 0x02 || p + 2 + der[p + 1] > der.length || der[p + 1] >= 0x80) return undefined;
    let start = p + 2;
    const end = start + der[p + 1];
    if (end - start > 1 && der[start] === 0 && der[start + 1] < 0x80) return undefined; // not minimal
    while (start < end && der[start] === 0) start++; // the library strips every leading zero octet
    if (start === end || end - start > size) return undefined;
    out.set(der.subarray(start, end), (k + 1) * size - (end - start));
    p = end;
  }
  return p === der.length ? out : undefined;
}

function checkValidity(c: ParsedCertificate, now: Date, anchorWord: string): void {
  const t = now.getTime();
  const which = c.isAnchor ? anchorWord : 'certificate';
  if (t < c.notBefore.getTime()) {
    throw new CertificateError('not-yet-valid', `${which} "${c.subject}" is not valid before ${c.notBefore.toISOString()} (now is ${now.toISOString()})`);
  }
  if (t > c.notAfter.getTime()) {
    throw new CertificateError('expired', `${which} "${c.subject}" expired at ${c.notAfter.toISOString()} (now is ${now.toISOString()})`);
  }
}

function checkCriticalExtensions(c: ParsedCertificate): void {
  for (const ext of c.extensions) {
    // RFC 5280 §4.2: reject a critical extension that is not recognized.
    if (ext.critical && !RECOGNIZED_EXTENSIONS.has(ext.type)) {
      throw new CertificateError('untrusted', `certificate "${c.subject}" has critical extension ${ext.type}, which rhttp does not process, so it cannot be trusted`);
    }
  }
}

/**
 * RFC 5280 §4.1.1.2: signatureAlgorithm "MUST contain the same algorithm identifier as the
 * signature field in the sequence tbsCertificate". Checked on every certificate whose signature
 * the path relies on (a trust anchor's own signature is not one of them).
 */
function checkSignatureAlgorithms(c: ParsedCertificate): void {
  if (c.read ? c.read.signatureAlgorithmsMatch : librarySignatureAlgorithmsMatch(c.cert!)) return;
  throw new CertificateError('malformed', `certificate "${c.subject}" names one signature algorithm in its signed part and another outside it (RFC 5280 §4.1.1.2)`);
}

/**
 * {@link checkSignatureAlgorithms} on the library's view: the same algorithm and the same
 * parameters, a NULL parameter (null) not being an absent one (undefined), as the reader's octet
 * comparison and OpenSSL's X509_ALGOR_cmp have it.
 */
function librarySignatureAlgorithmsMatch(cert: x509.X509Certificate): boolean {
  const { asn } = cert as unknown as { asn: { tbsCertificate: { signature: AlgorithmIdentifierAsn }; signatureAlgorithm: AlgorithmIdentifierAsn } };
  const [inner, outer] = [asn.tbsCertificate.signature, asn.signatureAlgorithm];
  const [p, q] = [inner.parameters, outer.parameters];
  return inner.algorithm === outer.algorithm && (p instanceof ArrayBuffer && q instanceof ArrayBuffer ? equalBytes(new Uint8Array(p), new Uint8Array(q)) : p === q);
}

/** An AlgorithmIdentifier as @peculiar/asn1-x509 parses it: the parameters' DER, null for NULL, undefined when absent. */
interface AlgorithmIdentifierAsn {
  algorithm: string;
  parameters?: ArrayBuffer | null;
}

/** `below` = how many non-leaf certificates sit under `c` on the path. */
function checkIssuer(c: ParsedCertificate, below: number, anchorWord: string): void {
  const which = c.isAnchor ? anchorWord : 'intermediate certificate';
  const bc = c.basicConstraints;
  // RFC 5280 §6.1.4 (k): an intermediate must carry basicConstraints with cA TRUE.
  if (bc === null ? !c.isAnchor : !bc.ca) {
    throw new CertificateError('not-a-ca', `${which} "${c.subject}" issued another certificate but is not a CA (basicConstraints cA is ${bc === null ? 'absent' : 'false'})`);
  }
  // RFC 5280 §6.1.4 (m): pathLenConstraint bounds the CA certificates that may follow.
  if (bc !== null && bc.pathLength !== undefined && below > bc.pathLength) {
    throw new CertificateError('not-a-ca', `${which} "${c.subject}" allows ${bc.pathLength} CA certificate(s) below it (pathLenConstraint) but the chain has ${below}`);
  }
  // RFC 5280 §6.1.4 (n): if keyUsage is present, keyCertSign must be set.
  if (c.keyUsage !== null && (c.keyUsage & x509.KeyUsageFlags.keyCertSign) === 0) {
    throw new CertificateError('key-usage', `${which} "${c.subject}" issued another certificate but its keyUsage does not allow keyCertSign`);
  }
}

function checkLeafUsage(c: ParsedCertificate): void {
  if (c.keyUsage !== null && (c.keyUsage & x509.KeyUsageFlags.digitalSignature) === 0) {
    throw new CertificateError('key-usage', `certificate "${c.subject}" has a keyUsage that does not allow digitalSignature, which TLS and message signatures need`);
  }
  if (c.extendedKeyUsage !== null) {
    const usages = c.extendedKeyUsage;
    if (!usages.some((u) => u === OID.serverAuth || u === OID.clientAuth || u === OID.anyExtendedKeyUsage)) {
      throw new CertificateError('key-usage', `certificate "${c.subject}" has an extendedKeyUsage without serverAuth or clientAuth (it has ${usages.join(', ')})`);
    }
  }
}

async function identityOf(c: ParsedCertificate): Promise<CertificateIdentity> {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  if (c.read !== undefined) {
    for (const dnsName of c.read.dnsNames) dnsNames.push(dnsName.toLowerCase());
    ipAddresses.push(...c.read.ipAddresses); // canonical already
  } else {
    try {
      for (const san of c.cert!.getExtensions(x509.SubjectAlternativeNameExtension)) {
        for (const name of san.names.items) {
          if (name.type === 'dns') dnsNames.push(name.value.toLowerCase());
          else if (name.type === 'ip') ipAddresses.push(canonicalIPAddress(name.value) ?? name.value);
        }
      }
    } catch (cause) {
      throw new CertificateError('malformed', `the subjectAltName of "${c.subject}" cannot be read: ${message(cause)}`, { cause });
    }
  }
  const digest = new Uint8Array(await webCrypto.subtle.digest('SHA-256', c.der));
  return {
    subject: c.subject,
    dnsNames,
    ipAddresses,
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    fingerprintSha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join(''),
  };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function message(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

