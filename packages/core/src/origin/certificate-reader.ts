/**
 * The fields of an X.509 certificate (RFC 5280 §4.1) that path validation uses, read straight
 * from its DER: names, validity, the extensions rhttp checks (decoded), and the signed parts.
 *
 * Why not @peculiar/x509: it builds an asn1js object tree for every element and parses each
 * extension twice, ≈0.5 MB of short-lived objects per certificate. Verified once per agent
 * connection, that grew V8's young generation to its maximum during a reconnect storm (every
 * agent at once, after a restart); this reader allocates a few kilobytes.
 *
 * It is stricter than the library, never more lenient: anything it does not read exactly as
 * @peculiar/x509 does makes it return `undefined`, and the caller parses that certificate with
 * the library instead, which stays the judge of it (certificate.ts). Declined: BER forms (DER
 * only), name values other than PrintableString/UTF8String/IA5String in printable ASCII, times
 * other than `YYMMDDHHMMSSZ` and `YYYYMMDDHHMMSSZ`, unique identifiers, duplicate extensions,
 * public keys other than RSA and EC on a named curve, and extensions the library decodes in
 * forms this reader does not check: subjectAltName, CRL distribution points and authority
 * information access other than DNS names, IP addresses and URIs; policy qualifiers other than
 * CPS URIs; issuer alternative names.
 */
import { formatIPAddress } from './ip-address.js';

/** What certificate.ts needs to know of one certificate. */
export interface CertificateFields {
  /** Distinguished names as @peculiar/x509's `Name.toString()` writes them (`CN=a, O=b`). */
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  /** Every extension's type (dotted OID) and criticality, in certificate order. */
  extensions: { type: string; critical: boolean }[];
  /** basicConstraints, or null when absent. */
  basicConstraints: { ca: boolean; pathLength: number | undefined } | null;
  /** keyUsage as @peculiar/x509's `KeyUsageFlags` bits (digitalSignature = 1), or null when absent. */
  keyUsage: number | null;
  /** extendedKeyUsage purposes (dotted OIDs), or null when absent. */
  extendedKeyUsage: string[] | null;
  /** subjectAltName entries: dNSName as written, iPAddress in canonical text. */
  dnsNames: string[];
  ipAddresses: string[];
  /** The DER of tbsCertificate: what the signature covers. */
  tbs: Uint8Array;
  /** signatureAlgorithm (dotted OID; the reader accepts none with parameters other than NULL). */
  signatureAlgorithm: string;
  /** The signatureValue BIT STRING's bytes. */
  signature: Uint8Array;
  /** Whether tbsCertificate's `signature` AlgorithmIdentifier is the outer `signatureAlgorithm`, octet for octet (RFC 5280 §4.1.1.2). */
  signatureAlgorithmsMatch: boolean;
  /** subjectPublicKeyInfo's DER, its algorithm, and the named curve of an EC key. */
  publicKey: Uint8Array;
  publicKeyAlgorithm: string;
  namedCurve: string | undefined;
}

const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
  version: 0xa0, // [0] EXPLICIT
  extensions: 0xa3, // [3] EXPLICIT
  dNSName: 0x82, // GeneralName [2] IMPLICIT IA5String
  uniformResourceIdentifier: 0x86, // GeneralName [6] IMPLICIT IA5String
  distributionPoint: 0xa0, // DistributionPoint [0] EXPLICIT, and its fullName [0] IMPLICIT GeneralNames
  iPAddress: 0x87, // GeneralName [7] IMPLICIT OCTET STRING
  keyIdentifier: 0x80, // AuthorityKeyIdentifier [0] IMPLICIT OCTET STRING
} as const;

/** The extensions this reader decodes (certificate.ts recognizes the same). */
export const EXTENSION = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  certificatePolicies: '2.5.29.32',
  cRLDistributionPoints: '2.5.29.31',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
} as const;

export const KEY_ALGORITHM = {
  rsaEncryption: '1.2.840.113549.1.1.1',
  ecPublicKey: '1.2.840.10045.2.1',
} as const;

/** Extensions @peculiar/x509 decodes (its ExtensionFactory) that this reader does not: a certificate with one goes to the library. */
const LIBRARY_DECODED_EXTENSIONS = new Set(['2.5.29.18']); // issuerAltName

/** Short names @peculiar/x509's `Name.toString()` uses for attribute types; others print as the OID. */
const ATTRIBUTE_NAMES = new Map([
  ['2.5.4.3', 'CN'],
  ['2.5.4.7', 'L'],
  ['2.5.4.8', 'ST'],
  ['2.5.4.10', 'O'],
  ['2.5.4.11', 'OU'],
  ['2.5.4.6', 'C'],
  ['0.9.2342.19200300.100.1.25', 'DC'],
  ['1.2.840.113549.1.9.1', 'E'],
  ['2.5.4.42', 'G'],
  ['2.5.4.43', 'I'],
  ['2.5.4.4', 'SN'],
  ['2.5.4.12', 'T'],
]);

/** Thrown inside the reader when it declines; never leaves this module. */
const DECLINED = Symbol('declined');

function decline(): never {
  throw DECLINED;
}

/** One DER element: tag, where its header starts, and its contents [start, end). */
interface Element {
  tag: number;
  at: number;
  start: number;
  end: number;
}

/** The fields of the certificate `der`, or undefined when the library must read it. */
export function readCertificate(der: Uint8Array): CertificateFields | undefined {
  try {
    return read(der);
  } catch (error) {
    if (error === DECLINED) return undefined;
    throw error;
  }
}

/**
 * Longest certificate read here; a longer one is the library's to judge. @peculiar/x509 (asn1js)
 * refuses a certificate of more than 10,000 ASN.1 elements, counting those it finds inside OCTET
 * and BIT STRINGs; each takes at least two octets, so no certificate this short reaches that
 * bound. Real ones are 1–4 KB.
 */
const MAX_CERTIFICATE_LENGTH = 16 * 1024;

function read(b: Uint8Array): CertificateFields {
  if (b.length > MAX_CERTIFICATE_LENGTH) decline();
  const cert = element(b, 0, b.length, TAG.sequence);
  if (cert.end !== b.length) decline();
  const tbs = element(b, cert.start, cert.end, TAG.sequence);
  const outerAlgorithm = element(b, tbs.end, cert.end, TAG.sequence);
  const signatureValue = element(b, outerAlgorithm.end, cert.end, TAG.bitString);
  if (signatureValue.end !== cert.end) decline();
  const signatureAlgorithm = algorithmIdentifier(b, outerAlgorithm);
  if (signatureAlgorithm.parameter !== undefined && signatureAlgorithm.parameter !== null) decline();

  let p = tbs.start;
  if (b[p] === TAG.version) {
    const version = element(b, p, tbs.end, TAG.version);
    const value = element(b, version.start, version.end, TAG.integer);
    if (value.end !== version.end || value.end - value.start !== 1 || b[value.start] > 2) decline();
    p = version.end;
  }
  const serial = element(b, p, tbs.end, TAG.integer);
  integerBytes(b, serial);
  const innerAlgorithm = element(b, serial.end, tbs.end, TAG.sequence);
  algorithmIdentifier(b, innerAlgorithm);
  const issuerName = element(b, innerAlgorithm.end, tbs.end, TAG.sequence);
  const validity = element(b, issuerName.end, tbs.end, TAG.sequence);
  const notBefore = time(b, validity.start, validity.end);
  const notAfter = time(b, notBefore.end, validity.end);
  if (notAfter.end !== validity.end) decline();
  const subjectName = element(b, validity.end, tbs.end, TAG.sequence);
  const spki = element(b, subjectName.end, tbs.end, TAG.sequence);
  const keyAlgorithmSequence = element(b, spki.start, spki.end, TAG.sequence);
  const keyAlgorithm = algorithmIdentifier(b, keyAlgorithmSequence);
  const keyBits = element(b, keyAlgorithmSequence.end, spki.end, TAG.bitString);
  if (keyBits.end !== spki.end) decline();
  bitStringBytes(b, keyBits);
  subjectPublicKey(b, keyAlgorithm, keyBits.start + 1, keyBits.end);

  const fields: CertificateFields = {
    subject: name(b, subjectName),
    issuer: name(b, issuerName),
    notBefore: notBefore.date,
    notAfter: notAfter.date,
    extensions: [],
    basicConstraints: null,
    keyUsage: null,
    extendedKeyUsage: null,
    dnsNames: [],
    ipAddresses: [],
    tbs: b.subarray(tbs.at, tbs.end),
    signatureAlgorithm: signatureAlgorithm.oid,
    signature: bitStringBytes(b, signatureValue),
    signatureAlgorithmsMatch: equalRange(b, innerAlgorithm, outerAlgorithm),
    publicKey: b.subarray(spki.at, spki.end),
    publicKeyAlgorithm: keyAlgorithm.oid,
    namedCurve: typeof keyAlgorithm.parameter === 'string' ? keyAlgorithm.parameter : undefined,
  };
  p = spki.end;
  if (p < tbs.end) {
    // issuerUniqueID [1] and subjectUniqueID [2] are declined by element()'s tag check.
    const wrapper = element(b, p, tbs.end, TAG.extensions);
    const types = new Set<string>();
    for (const ext of sequenceOf(b, wrapper.start, wrapper.end, TAG.sequence)) extension(b, ext, fields, types);
    p = wrapper.end;
  }
  if (p !== tbs.end) decline();
  return fields;
}

/** Reads one extension into `fields`; `types` holds the types read before it. */
function extension(b: Uint8Array, ext: Element, fields: CertificateFields, types: Set<string>): void {
  const id = element(b, ext.start, ext.end, TAG.oid);
  const type = oid(b, id);
  let p = id.end;
  let critical = false;
  if (b[p] === TAG.boolean) {
    const flag = element(b, p, ext.end, TAG.boolean);
    critical = boolean(b, flag);
    p = flag.end;
  }
  const value = element(b, p, ext.end, TAG.octetString);
  if (value.end !== ext.end) decline();
  if (types.has(type)) decline(); // RFC 5280 §4.2: at most one instance of each (a Set: thousands of them must not cost n²)
  types.add(type);
  fields.extensions.push({ type, critical });
  if (LIBRARY_DECODED_EXTENSIONS.has(type)) decline();
  const { start, end } = value;
  switch (type) {
    case EXTENSION.basicConstraints: {
      // BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL }
      const seq = element(b, start, end, TAG.sequence);
      if (seq.end !== end) decline();
      let q = seq.start;
      let ca = false;
      let pathLength: number | undefined;
      if (q < seq.end && b[q] === TAG.boolean) {
        const flag = element(b, q, seq.end, TAG.boolean);
        ca = boolean(b, flag);
        q = flag.end;
      }
      if (q < seq.end) {
        const length = element(b, q, seq.end, TAG.integer);
        const bytes = integerBytes(b, length);
        if (bytes.length > 3 || bytes[0] >= 0x80) decline(); // negative or implausibly long
        pathLength = bytes.reduce((n, byte) => n * 256 + byte, 0);
        q = length.end;
      }
      if (q !== seq.end) decline();
      fields.basicConstraints = { ca, pathLength };
      return;
    }
    case EXTENSION.keyUsage: {
      const bits = element(b, start, end, TAG.bitString);
      if (bits.end !== end) decline();
      const unused = b[bits.start];
      const bytes = bits.end - bits.start - 1;
      if (bytes < 1 || bytes > 2 || unused > 7) decline();
      // @peculiar/asn1-schema BitString.toNumber(): bit i (from the first octet's high bit) is 2^i; unused bits are dropped.
      let flags = 0;
      for (let i = 0; i < bytes * 8 - unused; i++) {
        if (b[bits.start + 1 + (i >> 3)] & (0x80 >> (i & 7))) flags += 2 ** i;
      }
      fields.keyUsage = flags;
      return;
    }
    case EXTENSION.extKeyUsage: {
      fields.extendedKeyUsage = sequenceOf(b, start, end, TAG.oid).map((purpose) => oid(b, purpose));
      return;
    }
    case EXTENSION.subjectAltName: {
      for (const entry of sequenceOf(b, start, end)) {
        if (entry.tag === TAG.dNSName) {
          fields.dnsNames.push(latin1(b, entry.start, entry.end));
        } else if (entry.tag === TAG.iPAddress) {
          fields.ipAddresses.push(formatIPAddress(b.subarray(entry.start, entry.end)) ?? decline());
        } else {
          decline(); // other GeneralName forms: the library's to decode
        }
      }
      return;
    }
    case EXTENSION.certificatePolicies: {
      // RFC 5280 §4.2.1.4: SEQUENCE OF PolicyInformation { policyIdentifier, policyQualifiers OPTIONAL }.
      for (const info of sequenceOf(b, start, end, TAG.sequence)) {
        const id = element(b, info.start, info.end, TAG.oid);
        oid(b, id);
        if (id.end === info.end) continue;
        const qualifiers = element(b, id.end, info.end, TAG.sequence);
        if (qualifiers.end !== info.end) decline();
        for (const qualifier of children(b, qualifiers.start, qualifiers.end, TAG.sequence)) {
          // Only id-qt-cps with its URI (an IA5String); user notices are the library's.
          const qualifierId = element(b, qualifier.start, qualifier.end, TAG.oid);
          if (oid(b, qualifierId) !== '1.3.6.1.5.5.7.2.1') decline();
          if (element(b, qualifierId.end, qualifier.end, TAG.ia5String).end !== qualifier.end) decline();
        }
      }
      return;
    }
    case EXTENSION.authorityInfoAccess: {
      // RFC 5280 §4.2.2.1: SEQUENCE OF AccessDescription { accessMethod, accessLocation }; locations as URIs only.
      for (const description of sequenceOf(b, start, end, TAG.sequence)) {
        const method = element(b, description.start, description.end, TAG.oid);
        oid(b, method);
        if (element(b, method.end, description.end, TAG.uniformResourceIdentifier).end !== description.end) decline();
      }
      return;
    }
    case EXTENSION.cRLDistributionPoints: {
      // RFC 5280 §4.2.1.13: SEQUENCE OF DistributionPoint; only { distributionPoint [0] { fullName [0] URIs } }.
      for (const point of sequenceOf(b, start, end, TAG.sequence)) {
        const name = element(b, point.start, point.end, TAG.distributionPoint);
        const fullName = element(b, name.start, name.end, TAG.distributionPoint);
        if (name.end !== point.end || fullName.end !== name.end) decline();
        children(b, fullName.start, fullName.end, TAG.uniformResourceIdentifier);
      }
      return;
    }
    case EXTENSION.subjectKeyIdentifier: {
      const id = element(b, start, end, TAG.octetString);
      if (id.end !== end || id.start === id.end) decline();
      return;
    }
    case EXTENSION.authorityKeyIdentifier: {
      // Only the usual form: SEQUENCE { keyIdentifier [0] }.
      const seq = element(b, start, end, TAG.sequence);
      const id = element(b, seq.start, seq.end, TAG.keyIdentifier);
      if (seq.end !== end || id.end !== seq.end || id.start === id.end) decline();
      return;
    }
    default:
      return; // not decoded by the library either: only its type and criticality matter
  }
}

/** The elements of the SEQUENCE that is exactly [start, end): at least one, each with tag `tag` when given. */
function sequenceOf(b: Uint8Array, start: number, end: number, tag?: number): Element[] {
  const seq = element(b, start, end, TAG.sequence);
  if (seq.end !== end) decline();
  return children(b, seq.start, seq.end, tag);
}

/** The elements that fill [start, end) exactly: at least one, each with tag `tag` when given. */
function children(b: Uint8Array, start: number, end: number, tag?: number): Element[] {
  if (start === end) decline();
  const list: Element[] = [];
  for (let p = start; p < end; ) {
    const item = element(b, p, end, tag);
    list.push(item);
    p = item.end;
  }
  return list;
}

/** Reads the DER element at `at`, which must end by `limit` (and have tag `tag` when given). */
function element(b: Uint8Array, at: number, limit: number, tag?: number): Element {
  if (at + 2 > limit) decline();
  const t = b[at];
  if ((t & 0x1f) === 0x1f || (tag !== undefined && t !== tag)) decline();
  let length = b[at + 1];
  let start = at + 2;
  if (length >= 0x80) {
    // DER (X.690 §10.1): definite form, as few length octets as possible.
    const octets = length & 0x7f;
    if (octets === 0 || octets > 3 || start + octets > limit || b[start] === 0) decline();
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + b[start + i];
    start += octets;
    if (length < 0x80) decline();
  }
  const end = start + length;
  if (end > limit) decline();
  return { tag: t, at, start, end };
}

/**
 * Only keys that @peculiar/x509's PublicKey reads without fail (it throws on an RSA key that is
 * not an RSAPublicKey and on an EC key without parameters): RSA with its RSAPublicKey (RFC 8017
 * §A.1.1) exactly, and EC on a named curve (RFC 5480 §2.1.1). Other keys are the library's.
 */
function subjectPublicKey(b: Uint8Array, algorithm: { oid: string; parameter: string | null | undefined }, start: number, end: number): void {
  if (algorithm.oid === KEY_ALGORITHM.ecPublicKey && typeof algorithm.parameter === 'string') return;
  if (algorithm.oid !== KEY_ALGORITHM.rsaEncryption || typeof algorithm.parameter === 'string') decline();
  // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
  const seq = element(b, start, end, TAG.sequence);
  const modulus = element(b, seq.start, seq.end, TAG.integer);
  const exponent = element(b, modulus.end, seq.end, TAG.integer);
  integerBytes(b, modulus);
  integerBytes(b, exponent);
  if (exponent.end !== seq.end || seq.end !== end) decline();
}

/** AlgorithmIdentifier: the OID, and its parameter: absent (undefined), NULL (null) or an OID (a named curve). */
/** Whether two elements of `b` are the same octets (tag, length and contents). */
function equalRange(b: Uint8Array, x: Element, y: Element): boolean {
  if (x.end - x.at !== y.end - y.at) return false;
  for (let i = 0; i < x.end - x.at; i++) if (b[x.at + i] !== b[y.at + i]) return false;
  return true;
}

function algorithmIdentifier(b: Uint8Array, seq: Element): { oid: string; parameter: string | null | undefined } {
  const id = element(b, seq.start, seq.end, TAG.oid);
  let parameter: string | null | undefined;
  let p = id.end;
  if (p < seq.end) {
    const param = element(b, p, seq.end);
    if (param.tag === TAG.null && param.start === param.end) parameter = null;
    else if (param.tag === TAG.oid) parameter = oid(b, param);
    else decline();
    p = param.end;
  }
  if (p !== seq.end) decline();
  return { oid: oid(b, id), parameter };
}

/** OBJECT IDENTIFIER contents in dotted form (X.690 §8.19), minimal sub-identifiers only. */
function oid(b: Uint8Array, el: Element): string {
  if (el.start === el.end || (b[el.end - 1] & 0x80) !== 0) decline();
  let text = '';
  let value = 0;
  let first = true;
  for (let i = el.start; i < el.end; i++) {
    if (value === 0 && b[i] === 0x80) decline(); // a leading 0x80 pads a sub-identifier
    value = value * 128 + (b[i] & 0x7f);
    if (value > 0xffffffff) decline();
    if (b[i] & 0x80) continue;
    if (first) {
      text = value < 40 ? `0.${value}` : value < 80 ? `1.${value - 40}` : `2.${value - 80}`;
      first = false;
    } else {
      text += `.${value}`;
    }
    value = 0;
  }
  return text;
}

function boolean(b: Uint8Array, el: Element): boolean {
  // DER (X.690 §11.1): TRUE is 0xFF.
  if (el.end - el.start !== 1 || (b[el.start] !== 0 && b[el.start] !== 0xff)) decline();
  return b[el.start] === 0xff;
}

/** An INTEGER's content octets, minimal two's complement (X.690 §8.3.2). */
function integerBytes(b: Uint8Array, el: Element): Uint8Array {
  const n = el.end - el.start;
  if (n === 0) decline();
  if (n > 1 && ((b[el.start] === 0 && b[el.start + 1] < 0x80) || (b[el.start] === 0xff && b[el.start + 1] >= 0x80))) decline();
  return b.subarray(el.start, el.end);
}

/** A BIT STRING's bytes; the reader takes none with unused bits. */
function bitStringBytes(b: Uint8Array, el: Element): Uint8Array {
  if (el.end - el.start < 2 || b[el.start] !== 0) decline();
  return b.subarray(el.start + 1, el.end);
}

/** UTCTime `YYMMDDHHMMSSZ` or GeneralizedTime `YYYYMMDDHHMMSSZ`, converted as asn1js does. */
function time(b: Uint8Array, at: number, limit: number): { date: Date; end: number } {
  const el = element(b, at, limit);
  const n = el.end - el.start;
  let digits: number;
  if (el.tag === TAG.utcTime && n === 13) digits = 12;
  else if (el.tag === TAG.generalizedTime && n === 15) digits = 14;
  else decline();
  for (let i = el.start; i < el.start + digits; i++) if (b[i] < 0x30 || b[i] > 0x39) decline();
  if (b[el.start + digits] !== 0x5a) decline(); // 'Z'
  const d = (i: number) => (b[el.start + i] - 0x30) * 10 + (b[el.start + i + 1] - 0x30);
  let year: number;
  let o: number;
  if (digits === 12) {
    year = d(0) >= 50 ? 1900 + d(0) : 2000 + d(0); // RFC 5280 §4.1.2.5.1
    o = 2;
  } else {
    year = d(0) * 100 + d(2);
    o = 4;
  }
  return { date: new Date(Date.UTC(year, d(o) - 1, d(o + 2), d(o + 4), d(o + 6), d(o + 8), 0)), end: el.end };
}

/** A Name as @peculiar/x509's `Name.toString()` writes it: RDNs joined by ", ", multi-valued ones by "+". */
function name(b: Uint8Array, seq: Element): string {
  const rdns: string[] = [];
  for (let p = seq.start; p < seq.end; ) {
    const set = element(b, p, seq.end, TAG.set);
    const attributes: string[] = [];
    for (const attribute of children(b, set.start, set.end, TAG.sequence)) {
      const type = element(b, attribute.start, attribute.end, TAG.oid);
      const value = element(b, type.end, attribute.end);
      if (value.end !== attribute.end) decline();
      if (value.tag !== TAG.printableString && value.tag !== TAG.utf8String && value.tag !== TAG.ia5String) decline();
      if (value.start === value.end) decline();
      for (let i = value.start; i < value.end; i++) if (b[i] < 0x20 || b[i] > 0x7e) decline(); // printable ASCII only
      const id = oid(b, type);
      attributes.push(`${ATTRIBUTE_NAMES.get(id) ?? id}=${escapeValue(latin1(b, value.start, value.end))}`);
    }
    rdns.push(attributes.join('+'));
    p = set.end;
  }
  return rdns.join(', ');
}

const NEEDS_ESCAPING = /[,+"\\<>;]|^[ #]| $/;

/** @peculiar/x509's escaping of a printable-ASCII attribute value (its control-character rule cannot apply). */
function escapeValue(value: string): string {
  if (!NEEDS_ESCAPING.test(value)) return value;
  return value
    .replace(/([,+"\\<>;])/g, '\\$1')
    .replace(/^([ #])/, '\\$1')
    .replace(/([ ]$)/, '\\$1');
}

/** Octets as char codes, as asn1js decodes IA5String and PrintableString (and ASCII UTF8String). */
function latin1(b: Uint8Array, start: number, end: number): string {
  if (end - start <= LATIN1_APPLY_LIMIT) return String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]);
  let text = '';
  for (let i = start; i < end; i++) text += String.fromCharCode(b[i]);
  return text;
}

/** Longest string decoded with one `fromCharCode.apply`: names are short, and a hostile one must not reach the engine's argument limit. */
const LATIN1_APPLY_LIMIT = 1024;
