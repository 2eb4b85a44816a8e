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
import { canonicalIPAddress } from './ip-address.js';
import type { Origin } from './origin.js';
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
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
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
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectAltName,
  '2.5.29.14', // subjectKeyIdentifier
  '2.5.29.35', // authorityKeyIdentifier
  '2.5.29.32', // certificatePolicies (no policy is required of origins)
  '2.5.29.31', // cRLDistributionPoints
  '1.3.6.1.5.5.7.1.1', // authorityInfoAccess
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
    blocks.push(base64ToBytes(base64));
  }
  if (blocks.length === 0) throw new CertificateError('malformed', `no "-----BEGIN ${label}-----" block found in the PEM text`);
  return blocks;
}

/** PEM text (RFC 7468 §2: 64-character lines) of DER bytes; `label` defaults to `CERTIFICATE`. */
export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const base64 = bytesToBase64(der);
  const lines: string[] = [];
  for (let i = 0; i < base64.length; i += 64) lines.push(base64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function base64ToBytes(base64: string): Uint8Array {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  const CHUNK = 0x8000; // keeps String.fromCharCode's argument count well inside engine limits
  for (let i = 0; i < bytes.length; i += CHUNK) binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(binary);
}

// ---------------------------------------------------------------------------------------------
// Path validation (RFC 5280 §6)

interface ParsedCertificate {
  der: Uint8Array;
  cert: x509.X509Certificate;
  subject: string;
  issuer: string;
  isAnchor: boolean;
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
  const certs = chainDer.map((der, i) => parseCertificate(der, i === 0 ? 'the leaf certificate' : `certificate ${i + 1} of the chain`, false));
  const anchors = parseTrustAnchors(options.trustAnchors);
  if (anchors.length === 0) throw new CertificateError('untrusted', 'no trust anchors are configured, so no certificate can be trusted');

  const path = await buildPath(certs, anchors);
  const anchorWord = options.anchorWord ?? 'trust anchor';
  path.forEach((c) => checkValidity(c, now, anchorWord));
  path.forEach((c) => checkCriticalExtensions(c));
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
  const leaf = parseCertificate(der, 'the leaf certificate', false);
  try {
    return await (algorithm ? leaf.cert.publicKey.export(algorithm, ['verify'], webCrypto) : leaf.cert.publicKey.export(webCrypto));
  } catch (cause) {
    throw new CertificateError('malformed', `the public key of "${leaf.subject}" cannot be used with WebCrypto: ${message(cause)}`, { cause });
  }
}

function parseCertificate(der: Uint8Array, what: string, isAnchor: boolean): ParsedCertificate {
  try {
    const cert = new x509.X509Certificate(der);
    // Touch the lazily decoded parts now, so that a broken certificate fails here, clearly.
    void cert.notBefore;
    void cert.notAfter;
    void cert.extensions;
    return { der, cert, subject: cert.subject, issuer: cert.issuer, isAnchor };
  } catch (cause) {
    throw new CertificateError('malformed', `${what} is not a valid X.509 certificate: ${message(cause)}`, { cause });
  }
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
  const path: ParsedCertificate[] = [];
  const unused = new Set(certs.slice(1));
  let current = certs[0];
  for (;;) {
    const pinned = anchors.find((a) => equalBytes(a.der, current.der));
    if (pinned !== undefined) {
      path.push(pinned);
      return path;
    }
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
    return await subject.cert.verify({ publicKey: issuer.cert.publicKey, signatureOnly: true }, webCrypto);
  } catch {
    return false; // unsupported or inconsistent algorithm: not a signature we can accept
  }
}

function checkValidity(c: ParsedCertificate, now: Date, anchorWord: string): void {
  const t = now.getTime();
  const which = c.isAnchor ? anchorWord : 'certificate';
  if (t < c.cert.notBefore.getTime()) {
    throw new CertificateError('not-yet-valid', `${which} "${c.subject}" is not valid before ${c.cert.notBefore.toISOString()} (now is ${now.toISOString()})`);
  }
  if (t > c.cert.notAfter.getTime()) {
    throw new CertificateError('expired', `${which} "${c.subject}" expired at ${c.cert.notAfter.toISOString()} (now is ${now.toISOString()})`);
  }
}

function checkCriticalExtensions(c: ParsedCertificate): void {
  for (const ext of c.cert.extensions) {
    // RFC 5280 §4.2: reject a critical extension that is not recognized.
    if (ext.critical && !RECOGNIZED_EXTENSIONS.has(ext.type)) {
      throw new CertificateError('untrusted', `certificate "${c.subject}" has critical extension ${ext.type}, which rhttp does not process, so it cannot be trusted`);
    }
  }
}

/** `below` = how many non-leaf certificates sit under `c` on the path. */
function checkIssuer(c: ParsedCertificate, below: number, anchorWord: string): void {
  const which = c.isAnchor ? anchorWord : 'intermediate certificate';
  const bc = c.cert.getExtension(x509.BasicConstraintsExtension);
  // RFC 5280 §6.1.4 (k): an intermediate must carry basicConstraints with cA TRUE.
  if (bc === null ? !c.isAnchor : !bc.ca) {
    throw new CertificateError('not-a-ca', `${which} "${c.subject}" issued another certificate but is not a CA (basicConstraints cA is ${bc === null ? 'absent' : 'false'})`);
  }
  // RFC 5280 §6.1.4 (m): pathLenConstraint bounds the CA certificates that may follow.
  if (bc !== null && bc.pathLength !== undefined && below > bc.pathLength) {
    throw new CertificateError('not-a-ca', `${which} "${c.subject}" allows ${bc.pathLength} CA certificate(s) below it (pathLenConstraint) but the chain has ${below}`);
  }
  const ku = c.cert.getExtension(x509.KeyUsagesExtension);
  // RFC 5280 §6.1.4 (n): if keyUsage is present, keyCertSign must be set.
  if (ku !== null && (ku.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
    throw new CertificateError('key-usage', `${which} "${c.subject}" issued another certificate but its keyUsage does not allow keyCertSign`);
  }
}

function checkLeafUsage(c: ParsedCertificate): void {
  const ku = c.cert.getExtension(x509.KeyUsagesExtension);
  if (ku !== null && (ku.usages & x509.KeyUsageFlags.digitalSignature) === 0) {
    throw new CertificateError('key-usage', `certificate "${c.subject}" has a keyUsage that does not allow digitalSignature, which TLS and message signatures need`);
  }
  const eku = c.cert.getExtension(x509.ExtendedKeyUsageExtension);
  if (eku !== null) {
    const usages = eku.usages.map(String);
    if (!usages.some((u) => u === OID.serverAuth || u === OID.clientAuth || u === OID.anyExtendedKeyUsage)) {
      throw new CertificateError('key-usage', `certificate "${c.subject}" has an extendedKeyUsage without serverAuth or clientAuth (it has ${usages.join(', ')})`);
    }
  }
}

async function identityOf(c: ParsedCertificate): Promise<CertificateIdentity> {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  let sans: x509.SubjectAlternativeNameExtension[];
  try {
    sans = c.cert.getExtensions(x509.SubjectAlternativeNameExtension);
    for (const san of sans) {
      for (const name of san.names.items) {
        if (name.type === 'dns') dnsNames.push(name.value.toLowerCase());
        else if (name.type === 'ip') ipAddresses.push(canonicalIPAddress(name.value) ?? name.value);
      }
    }
  } catch (cause) {
    throw new CertificateError('malformed', `the subjectAltName of "${c.subject}" cannot be read: ${message(cause)}`, { cause });
  }
  const digest = new Uint8Array(await webCrypto.subtle.digest('SHA-256', c.der));
  return {
    subject: c.subject,
    dnsNames,
    ipAddresses,
    notBefore: c.cert.notBefore,
    notAfter: c.cert.notAfter,
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

