// Properties of certificate-reader.ts on hostile input: real certificates, mutated. Whatever the
// reader accepts (returns fields for rather than declining), @peculiar/x509 must read too, and
// read the same; the reader throws nothing but its own decline; and verifyCertificateChain gives
// the same answer with the reader as with the library alone, so the lean path is never more
// lenient than the library (which stays the judge of what the reader declines).
//
// Mutations work on a DER tree of the certificate (extension values and BIT STRING-wrapped DER
// included), re-encoded with the lengths of every enclosing element fixed, so that one bad field
// is not just caught by the outer SEQUENCE's length; and then on the raw bytes.
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createDevCa, issueCertificate } from '../../node/src/certs.js';
import { concatBytes as concat } from '../src/bytes.js';
import { readCertificate } from '../src/origin/certificate-reader.js';
import { CertificateError, pemToDer, verifyCertificateChain } from '../src/origin/certificate.js';
import { webCrypto, x509 } from '../src/origin/x509.js';
import { ESCAPED_SUBJECT, RSA, libraryAlgorithms, libraryFields, makeCertificate, makeRsaCertificates, makeWebCertificates, unusualCaExtensions } from './support/certificates.js';

// verifyCertificateChain with the reader, or with the library alone: the reader declines every certificate while `forceLibrary` is set.
const mode = vi.hoisted(() => ({ forceLibrary: false, declined: 0 }));
vi.mock('../src/origin/certificate-reader.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/origin/certificate-reader.js')>();
  const readCertificate = (der: Uint8Array) => (mode.forceLibrary ? void mode.declined++ : actual.readCertificate(der));
  return { ...actual, readCertificate };
});

// ---------------------------------------------------------------------------------------------
// A DER tree that mutations edit and that re-encodes with consistent enclosing lengths

interface Node {
  tag: number;
  /** Length octets a mutation wrote; otherwise the minimal DER length of the contents. */
  length?: number[];
  /** Octets after the contents (an indefinite length's end-of-contents). */
  trailer?: number[];
  /** Contents before `children`: the unused-bits octet of a BIT STRING that wraps DER. */
  prefix?: number[];
  children?: Node[];
  content?: Uint8Array;
}

/** The DER elements that fill [start, end) exactly; throws otherwise. OCTET and BIT STRINGs that hold DER are opened too. */
function parseElements(b: Uint8Array, start: number, end: number): Node[] {
  const nodes: Node[] = [];
  for (let p = start; p < end; ) {
    const tag = b[p];
    let length = b[p + 1];
    let s = p + 2;
    if (length & 0x80) {
      const octets = length & 0x7f;
      if (octets === 0 || octets > 3) throw new Error('not DER');
      length = 0;
      for (let i = 0; i < octets; i++) length = length * 256 + b[s + i];
      s += octets;
    }
    const e = s + length;
    if (e > end || Number.isNaN(tag)) throw new Error('not DER');
    if (tag & 0x20) nodes.push({ tag, children: parseElements(b, s, e) });
    else nodes.push(encapsulated(b, tag, s, e) ?? { tag, content: b.slice(s, e) });
    p = e;
  }
  return nodes;
}

function encapsulated(b: Uint8Array, tag: number, s: number, e: number): Node | undefined {
  const prefix = tag === 0x03 ? [b[s]] : tag === 0x04 ? [] : undefined;
  if (prefix === undefined || (tag === 0x03 && b[s] !== 0) || e - s < prefix.length + 2) return undefined;
  try {
    return { tag, prefix, children: parseElements(b, s + prefix.length, e) };
  } catch {
    return undefined;
  }
}

function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  const octets: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) octets.unshift(v & 0xff);
  return [0x80 | octets.length, ...octets];
}

function contents(node: Node): Uint8Array {
  return node.children !== undefined ? concat([new Uint8Array(node.prefix ?? []), ...node.children.map(encode)]) : node.content!;
}

function encode(node: Node): Uint8Array {
  const inner = contents(node);
  return concat([new Uint8Array([node.tag, ...(node.length ?? derLength(inner.length))]), inner, new Uint8Array(node.trailer ?? [])]);
}

/** Every node in pre-order, with where it sits. */
function flatten(root: Node): { node: Node; siblings: Node[] | undefined; index: number }[] {
  const list: { node: Node; siblings: Node[] | undefined; index: number }[] = [{ node: root, siblings: undefined, index: 0 }];
  const walk = (node: Node) =>
    node.children?.forEach((child, index, siblings) => {
      list.push({ node: child, siblings, index });
      walk(child);
    });
  walk(root);
  return list;
}

// ---------------------------------------------------------------------------------------------
// Mutations

const TAGS = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x14, 0x16, 0x17, 0x18, 0x1e, 0x1f, 0x23, 0x24, 0x30, 0x31, 0x80, 0x81, 0x82, 0x86, 0x87, 0xa0, 0xa1, 0xa2, 0xa3, 0xff];
const TIME_CHARACTERS = '0123456789Z+-.';
/** Name values and GeneralNames: what a distinguished name escapes, and a few octets outside printable ASCII. */
const TEXT_OCTETS = [...Array.from(',+"\\<>;#= aZ0.*@/:', (ch) => ch.charCodeAt(0)), 0x00, 0x09, 0x0a, 0x7f, 0x80, 0xc3, 0xff];
const STRING_TAGS = [0x0c, 0x13, 0x16, 0x82, 0x86]; // UTF8String, PrintableString, IA5String, dNSName, URI

type TreeMutation =
  | { kind: 'tag'; pick: number; tag: number }
  | { kind: 'length'; pick: number; form: 'long' | 'indefinite' | 'delta' | 'huge'; delta: number }
  | { kind: 'duplicate' | 'drop'; pick: number }
  | { kind: 'swap'; pick: number; other: number }
  | { kind: 'graft'; pick: number; from: number }
  | { kind: 'content'; pick: number; op: 'set' | 'truncate' | 'append' | 'replace'; at: number; bytes: number[] }
  | { kind: 'integer'; pick: number; op: 'pad-zero' | 'pad-ff' | 'replace'; bytes: number[] }
  | { kind: 'time'; pick: number; time: { tag: number; text: string } }
  | { kind: 'oid'; pick: number; bytes: number[] }
  | { kind: 'text'; pick: number; where: 'prefix' | 'suffix' | 'replace'; text: number[] };

type ByteMutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'truncate'; at: number };

const pick = fc.nat();
const twoDigits = fc.integer({ min: 0, max: 99 }).map((n) => String(n).padStart(2, '0'));
/** MMDDHHMMSSZ, each field often at or past its edge. */
const timeRest = fc.array(fc.oneof(fc.constantFrom('00', '01', '12', '13', '23', '24', '29', '31', '32', '59', '60', '99'), twoDigits), { minLength: 5, maxLength: 5 }).map((f) => `${f.join('')}Z`);
const someBytes = (max: number) => fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: max });
const treeMutation: fc.Arbitrary<TreeMutation> = fc.oneof(
  fc.record({ kind: fc.constant('tag' as const), pick, tag: fc.oneof(fc.constantFrom(...TAGS), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ kind: fc.constant('length' as const), pick, form: fc.constantFrom('long' as const, 'indefinite' as const, 'delta' as const, 'huge' as const), delta: fc.integer({ min: -3, max: 3 }) }),
  fc.record({ kind: fc.constantFrom('duplicate' as const, 'drop' as const), pick }),
  fc.record({ kind: fc.constant('swap' as const), pick, other: fc.nat() }),
  fc.record({ kind: fc.constant('graft' as const), pick, from: fc.nat() }),
  fc.record({ kind: fc.constant('content' as const), pick, op: fc.constantFrom('set' as const, 'truncate' as const, 'append' as const, 'replace' as const), at: fc.nat(), bytes: someBytes(8) }),
  fc.record({ kind: fc.constant('integer' as const), pick, op: fc.constantFrom('pad-zero' as const, 'pad-ff' as const, 'replace' as const), bytes: someBytes(6) }),
  fc.record({
    kind: fc.constant('time' as const),
    pick,
    // The shapes the reader reads (UTCTime YYMMDDHHMMSSZ, GeneralizedTime YYYYMMDDHHMMSSZ) with years at the edges and
    // fields out of range (month 00, hour 99 …), and any string of time-like characters under either tag.
    time: fc.oneof(
      fc.tuple(fc.constant(0x17), fc.oneof(fc.constantFrom('00', '49', '50', '99'), twoDigits), timeRest),
      fc.tuple(fc.constant(0x18), fc.oneof(fc.constantFrom('0000', '0049', '0050', '0099', '0100', '1949', '1950', '2049', '2050', '9999'), twoDigits.map((d) => `20${d}`)), timeRest),
      fc.tuple(fc.constantFrom(0x17, 0x18), fc.string({ unit: fc.constantFrom(...TIME_CHARACTERS), minLength: 10, maxLength: 20 }), fc.constant('')),
    ).map(([tag, year, rest]) => ({ tag, text: year + rest })),
  }),
  fc.record({
    kind: fc.constant('text' as const),
    pick,
    where: fc.constantFrom('prefix' as const, 'suffix' as const, 'replace' as const),
    text: fc.array(fc.constantFrom(...TEXT_OCTETS), { maxLength: 6 }),
  }),
  fc.record({ kind: fc.constant('oid' as const), pick, bytes: fc.array(fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0x80, max: 0xff })), { minLength: 0, maxLength: 12 }) }),
);
const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(0x00, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0xff), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: someBytes(4) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);
/**
 * One to five mutations: on the tree, then on the bytes. Most mutants carry no byte-level change,
 * which nearly always breaks the DER and so tests only the reader's refusal.
 */
const mutations = fc
  .record({
    seed: fc.nat(),
    tree: fc.array(treeMutation, { maxLength: 3 }),
    bytes: fc.oneof({ arbitrary: fc.constant<ByteMutation[]>([]), weight: 3 }, { arbitrary: fc.array(byteMutation, { minLength: 1, maxLength: 2 }), weight: 1 }),
  })
  .filter((m) => m.tree.length + m.bytes.length > 0);
type Mutations = { seed: number; tree: TreeMutation[]; bytes: ByteMutation[] };

/** Nodes a mutation of this kind applies to (all, or those of the tags it is about). */
function targets(root: Node, kind: TreeMutation['kind']) {
  const all = flatten(root);
  if (kind === 'content') return all.filter((t) => t.node.content !== undefined);
  const tags = kind === 'integer' ? [0x02] : kind === 'time' ? [0x17, 0x18] : kind === 'oid' ? [0x06] : kind === 'text' ? STRING_TAGS : undefined;
  return tags === undefined ? all : all.filter((t) => tags.includes(t.node.tag));
}

function applyTree(root: Node, m: TreeMutation): void {
  const list = targets(root, m.kind);
  if (list.length === 0) return;
  const { node, siblings, index } = list[m.pick % list.length];
  switch (m.kind) {
    case 'tag':
      node.tag = m.tag;
      return;
    case 'length': {
      const n = contents(node).length;
      const minimal = derLength(n);
      // X.690 §10.1 (DER) forbids each of these: more length octets than needed, the indefinite form; and the others lie.
      if (m.form === 'long') node.length = n < 0x80 ? [0x81, n] : [minimal[0] + 1, 0, ...minimal.slice(1)];
      else if (m.form === 'indefinite') [node.length, node.trailer] = [[0x80], [0, 0]];
      else if (m.form === 'delta') node.length = derLength(Math.max(0, n + (m.delta === 0 ? 1 : m.delta)));
      else node.length = m.delta >= 0 ? [0x84, 0xff, 0xff, 0xff, 0xff] : [0x83, 0xff, 0xff, 0xff];
      return;
    }
    case 'duplicate':
      siblings?.splice(index, 0, structuredClone(node));
      return;
    case 'drop':
      siblings?.splice(index, 1);
      return;
    case 'swap':
      if (siblings !== undefined) {
        const other = m.other % siblings.length;
        [siblings[index], siblings[other]] = [siblings[other], siblings[index]];
      }
      return;
    case 'graft': {
      const all = flatten(root);
      const donor = structuredClone(all[m.from % all.length].node);
      if (siblings !== undefined) siblings[index] = donor;
      return;
    }
    case 'content': {
      const c = Array.from(node.content!);
      if (m.op === 'set' && c.length > 0) c[m.at % c.length] = m.bytes[0];
      else if (m.op === 'truncate') c.length = m.at % (c.length + 1);
      else if (m.op === 'append') c.push(...m.bytes);
      else if (m.op === 'replace') c.splice(0, c.length, ...m.bytes);
      node.content = new Uint8Array(c);
      return;
    }
    case 'integer': {
      const c = Array.from(node.content ?? []);
      node.content = new Uint8Array(m.op === 'pad-zero' ? [0, ...c] : m.op === 'pad-ff' ? [0xff, ...c] : m.bytes);
      return;
    }
    case 'time':
      node.tag = m.time.tag;
      node.content = new Uint8Array(Array.from(m.time.text, (ch) => ch.charCodeAt(0)));
      return;
    case 'oid':
      node.content = new Uint8Array(m.bytes);
      delete node.children;
      return;
    case 'text': {
      // Spliced into the value at either end, or replacing it: "#x", "x ", "a,b", "" …
      const c = Array.from(node.content ?? []);
      node.content = new Uint8Array(m.where === 'prefix' ? [...m.text, ...c] : m.where === 'suffix' ? [...c, ...m.text] : m.text);
      delete node.children;
      return;
    }
  }
}

function applyBytes(der: Uint8Array, m: ByteMutation): Uint8Array {
  const b = Array.from(der);
  const at = m.at % (b.length + 1);
  if (m.kind === 'flip' && at < b.length) b[at] ^= 1 << m.bit;
  else if (m.kind === 'set' && at < b.length) b[at] = m.value;
  else if (m.kind === 'insert') b.splice(at, 0, ...m.bytes);
  else if (m.kind === 'delete') b.splice(at, m.count);
  else if (m.kind === 'truncate') b.length = at;
  return new Uint8Array(b);
}

function mutate(seed: Node, m: Pick<Mutations, 'tree' | 'bytes'>): Uint8Array {
  const root = structuredClone(seed);
  for (const t of m.tree) applyTree(root, t);
  return m.bytes.reduce(applyBytes, encode(root));
}

// ---------------------------------------------------------------------------------------------
// The judge: the library's reading, and verifyCertificateChain's answer with and without the reader

/** Dotted OID to its DER (X.690 §8.19), to compare the reader's named curve with the library's parameter bytes. */
function oidDer(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number);
  const body: number[] = [];
  for (const arc of [arcs[0] * 40 + arcs[1], ...arcs.slice(2)]) {
    const septets = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) septets.unshift(0x80 | (v & 0x7f));
    body.push(...septets);
  }
  return new Uint8Array([0x06, body.length, ...body]);
}

/** The reader's fields for `der` must be the library's; the library must read every certificate the reader does. */
function expectReadAsLibrary(der: Uint8Array, read: NonNullable<ReturnType<typeof readCertificate>>): void {
  let library: ReturnType<typeof libraryFields>;
  let algorithms: ReturnType<typeof libraryAlgorithms>;
  try {
    library = libraryFields(der);
    algorithms = libraryAlgorithms(der);
  } catch (error) {
    throw new Error(`the reader accepted a certificate @peculiar/x509 cannot read (${String(error)}): ${Buffer.from(der).toString('hex')}`);
  }
  const { signatureAlgorithm, signatureAlgorithmsMatch, publicKeyAlgorithm, namedCurve, ...fields } = read;
  expect(fields).toEqual(library);
  expect(signatureAlgorithm).toBe(algorithms.signatureAlgorithm);
  expect(signatureAlgorithmsMatch).toBe(algorithms.signatureAlgorithmsMatch);
  expect(algorithms.signatureParameters === null || Buffer.from(algorithms.signatureParameters).equals(Buffer.from([0x05, 0x00]))).toBe(true);
  expect(publicKeyAlgorithm).toBe(algorithms.publicKeyAlgorithm);
  const parameters = algorithms.publicKeyParameters;
  if (namedCurve !== undefined) expect(parameters).toEqual(oidDer(namedCurve));
  else expect(parameters === null || (parameters[0] === 0x05 && parameters.length === 2)).toBe(true);
}

type Outcome = { ok: true; identity: unknown } | { ok: false; reason: string; message: string };

/** One instant for every verification, so that two answers can be compared message for message. */
const NOW = new Date();

async function outcome(chain: Uint8Array[], anchor: Uint8Array, forceLibrary: boolean): Promise<Outcome> {
  mode.forceLibrary = forceLibrary;
  try {
    // Trust anchors as DER: certificate.ts keeps the parse of PEM anchors, which would carry one mode's parse into the other.
    return { ok: true, identity: await verifyCertificateChain(chain, { trustAnchors: [anchor], now: NOW }) };
  } catch (error) {
    // Anything but a CertificateError from either path is a bug of its own.
    if (!(error instanceof CertificateError)) throw error;
    return { ok: false, reason: error.reason, message: error.message };
  } finally {
    mode.forceLibrary = false;
  }
}

/** ECDSA's r‖s (WebCrypto) as the DER ECDSA-Sig-Value a certificate carries. */
function ecdsaSigValue(raw: Uint8Array): Uint8Array {
  const integer = (v: Uint8Array) => {
    let s = 0;
    while (s < v.length - 1 && v[s] === 0) s++;
    const body = v[s] & 0x80 ? [0, ...v.subarray(s)] : [...v.subarray(s)];
    return [0x02, body.length, ...body];
  };
  const half = raw.length / 2;
  const body = [...integer(raw.subarray(0, half)), ...integer(raw.subarray(half))];
  return encode({ tag: 0x30, content: new Uint8Array(body) });
}

// ---------------------------------------------------------------------------------------------
// Seeds: the certificates the other reader tests read, EC and RSA

interface Seed {
  name: string;
  der: Uint8Array;
  tree: Node;
}
interface SignedSeed extends Seed {
  anchor: Uint8Array;
  /** Signs a (mutated) tbsCertificate as the seed's issuer does; returns the whole certificate. */
  sign: (tbs: Uint8Array) => Promise<Uint8Array>;
}

function seed(name: string, pem: string): Seed {
  const der = pemToDer(pem)[0];
  const [tree] = parseElements(der, 0, der.length);
  expect(encode(tree), `${name} re-encodes to itself`).toEqual(der);
  expect(readCertificate(der), `the reader reads ${name}`).toBeDefined();
  return { name, der, tree };
}

function signedSeed(name: string, leafPem: string, anchorPem: string, privateKey: unknown): SignedSeed {
  const s = seed(name, leafPem);
  const algorithm = encode(s.tree.children![1]);
  const ec = (privateKey as { algorithm: { name: string } }).algorithm.name === 'ECDSA';
  return {
    ...s,
    anchor: pemToDer(anchorPem)[0],
    sign: async (tbs) => {
      const raw = new Uint8Array(await webCrypto.subtle.sign(ec ? { name: 'ECDSA', hash: 'SHA-256' } : RSA, privateKey as never, tbs));
      const signature = ec ? ecdsaSigValue(raw) : raw;
      const bitString = encode({ tag: 0x03, content: concat([new Uint8Array([0]), signature]) });
      return encode({ tag: 0x30, content: concat([tbs, algorithm, bitString]) });
    },
  };
}

let seeds: Seed[];
let signedSeeds: SignedSeed[];

beforeAll(async () => {
  const devCa = await createDevCa({ commonName: 'Fuzz CA' });
  const devLeaf = await issueCertificate(devCa, { dnsNames: ['app.example.com', '*.app.example.com'], ipAddresses: ['192.0.2.1', '2001:db8::1'] });
  const devCaKey = await webCrypto.subtle.importKey('pkcs8', pemToDer(devCa.keyPem, 'PRIVATE KEY')[0], { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  const names = await makeCertificate({
    subject: ESCAPED_SUBJECT,
    notAfter: new Date(Date.UTC(2051, 0, 2, 3, 4, 5)),
    extensions: unusualCaExtensions(),
  });
  const { ca: publicCa, leaf: publicLeaf } = await makeWebCertificates();
  const { ca: rsaCa, leaf: rsaLeaf } = await makeRsaCertificates();
  seeds = [
    seed('the dev CA', devCa.certPem),
    seed('a dev leaf', devLeaf.certPem),
    seed('a certificate with escaped names and GeneralizedTime', names.certPem),
    seed('a public CA', publicCa.certPem),
    seed('a web leaf', publicLeaf.certPem),
    seed('an RSA CA', rsaCa.certPem),
    seed('an RSA-signed leaf', rsaLeaf.certPem),
  ];
  signedSeeds = [
    signedSeed('a dev leaf', devLeaf.certPem, devCa.certPem, devCaKey),
    signedSeed('a web leaf', publicLeaf.certPem, publicCa.certPem, publicCa.keys.privateKey),
    signedSeed('an RSA-signed leaf', rsaLeaf.certPem, rsaCa.certPem, rsaCa.keys.privateKey),
  ];
  for (const s of signedSeeds) {
    // The re-signing itself is sound: the seed's own tbs, signed again, verifies as the seed does.
    const again = await s.sign(encode(s.tree.children![0]));
    expect(await outcome([again], s.anchor, false)).toMatchObject({ ok: true });
    // And forcing the library reaches certificate.ts: it asked the (mocked) reader for the leaf and the anchor, and was declined.
    const declined = mode.declined;
    expect(await outcome([again], s.anchor, true)).toMatchObject({ ok: true });
    expect(mode.declined - declined).toBe(2);
  }
}, 60_000);

/** Runs per property: enough to reach most fields of every seed; the file stays within a few seconds. */
const READ_RUNS = 4000;
const VERIFY_RUNS = 300;

describe('certificate-reader on mutated certificates', () => {
  it('reads every mutant it accepts exactly as @peculiar/x509 does, and throws nothing', () => {
    let accepted = 0;
    fc.assert(
      fc.property(mutations, (m) => {
        const s = seeds[m.seed % seeds.length];
        const der = mutate(s.tree, m);
        const read = readCertificate(der); // throws only if the reader leaks an error: the property fails
        if (read === undefined) return;
        accepted++;
        expectReadAsLibrary(der, read);
      }),
      { numRuns: READ_RUNS },
    );
    // Not a vacuous property: a fair share of mutants (e.g. other names, times, extension bits) is accepted and compared.
    expect(accepted).toBeGreaterThan(READ_RUNS / 20);
  });

  it('throws nothing on arbitrary bytes, nor on DER-shaped garbage', () => {
    const garbage = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.uint8Array({ minLength: 0, maxLength: 300 }).map((body) => encode({ tag: 0x30, content: body })),
    );
    fc.assert(
      fc.property(garbage, (der) => {
        const read = readCertificate(der);
        if (read !== undefined) expectReadAsLibrary(der, read);
      }),
      { numRuns: 2000 },
    );
  });

  it('verifyCertificateChain answers with the reader as with the library alone, for mutants re-signed by the real issuer', async () => {
    let verified = 0;
    let leanRead = 0;
    await fc.assert(
      fc.asyncProperty(mutations, async (m) => {
        const s = signedSeeds[m.seed % signedSeeds.length];
        // Mutate inside tbsCertificate only, then sign what came out as the issuer would.
        const tbs = mutate(s.tree.children![0], m);
        const leaf = await s.sign(tbs);
        if (readCertificate(leaf) !== undefined) leanRead++;
        const [lean, library] = [await outcome([leaf], s.anchor, false), await outcome([leaf], s.anchor, true)];
        expect(lean).toEqual(library);
        if (lean.ok) verified++;
      }),
      { numRuns: VERIFY_RUNS },
    );
    expect(leanRead).toBeGreaterThan(VERIFY_RUNS / 20);
    expect(verified).toBeGreaterThan(0);
  });

  it('verifyCertificateChain fails for every mutant that changes a signed byte, with the reader as with the library alone', async () => {
    await fc.assert(
      fc.asyncProperty(mutations, async (m) => {
        const s = signedSeeds[m.seed % signedSeeds.length];
        const leaf = mutate(s.tree, m);
        const [lean, library] = [await outcome([leaf], s.anchor, false), await outcome([leaf], s.anchor, true)];
        expect(lean).toEqual(library);
        if (lean.ok) {
          // Only the unsigned envelope changed (e.g. a BER length on the outer SEQUENCE): the signed bytes are the seed's.
          expect(libraryFields(leaf).tbs).toEqual(encode(s.tree.children![0]));
        }
      }),
      { numRuns: VERIFY_RUNS },
    );
  });
});

describe('certificate-reader: pinned examples (discrepancies found by the properties, and by review)', () => {
  const seedNamed = (name: string) => structuredClone(seeds.find((s) => s.name === name)!.tree);
  const spkiOf = (cert: Node) => cert.children![0].children!.find((n) => n.tag === 0x30 && n.children![0].tag === 0x30 && n.children![1].tag === 0x03)!;

  it('RFC 5280 §4.1.1.2: a certificate signed by its real issuer whose signed algorithm differs from its outer one is refused, with the reader and the library', async () => {
    for (const s of signedSeeds) {
      const tbs = structuredClone(s.tree.children![0]);
      // tbsCertificate: [0] version, serial, then the `signature` AlgorithmIdentifier.
      const at = tbs.children![0].tag === 0xa0 ? 2 : 1;
      const outer = s.tree.children![1].children![0];
      const other = outer.content !== undefined && oidDer('1.2.840.10045.4.3.3').subarray(2).every((v, i) => v === outer.content![i]) ? '1.2.840.10045.4.3.2' : '1.2.840.10045.4.3.3';
      tbs.children![at] = { tag: 0x30, children: [{ tag: 0x06, content: oidDer(other).subarray(2) }] };
      const leaf = await s.sign(encode(tbs));
      expect(readCertificate(leaf)?.signatureAlgorithmsMatch, s.name).toBe(false);
      for (const forceLibrary of [false, true]) {
        expect(await outcome([leaf], s.anchor, forceLibrary), `${s.name}, library ${forceLibrary}`).toMatchObject({ ok: false, reason: 'malformed', message: expect.stringContaining('RFC 5280 §4.1.1.2') });
      }
      // The same re-signing with the seed's own algorithm verifies: the refusal is the mismatch's.
      expect(await outcome([await s.sign(encode(s.tree.children![0]))], s.anchor, false)).toMatchObject({ ok: true });
    }
  });

  it('declines a key the library cannot read: an RSA key that is no RSAPublicKey, an EC key without its curve', () => {
    const rsa = seedNamed('an RSA CA');
    spkiOf(rsa).children![1].children = [{ tag: 0x02, content: new Uint8Array([1]) }]; // BIT STRING { INTEGER 1 }
    const ec = seedNamed('the dev CA');
    spkiOf(ec).children![0].children!.length = 1; // AlgorithmIdentifier { id-ecPublicKey } without namedCurve
    for (const der of [encode(rsa), encode(ec)]) {
      expect(() => new x509.X509Certificate(der).publicKey).toThrow();
      expect(readCertificate(der)).toBeUndefined();
    }
  });

  it('declines a certificate longer than any the library is sure to take: it refuses more than 10,000 ASN.1 elements', async () => {
    // Two octets per element, the densest there is: a private extension holding SEQUENCE { NULL, NULL, … }.
    const dense = async (nulls: number) => {
      const body = new Uint8Array(2 * nulls).map((_, i) => (i % 2 === 0 ? 0x05 : 0x00));
      const value = encode({ tag: 0x30, content: body });
      const { certPem } = await makeCertificate({ subject: 'CN=Dense', extensions: [new x509.Extension('1.3.6.1.4.1.99999.1', false, value)] });
      return pemToDer(certPem)[0];
    };
    const tooMany = await dense(10_100);
    expect(() => libraryFields(tooMany)).toThrow(/Maximum ASN.1 node count exceeded/);
    expect(readCertificate(tooMany)).toBeUndefined();
    // Read by the reader, this pinned certificate verified; the library refuses it.
    await expect(verifyCertificateChain([tooMany], { trustAnchors: [tooMany] })).rejects.toThrow(/not a valid X\.509 certificate: Maximum ASN\.1 node count/);
    // Just under the reader's bound (16 KiB), the densest certificate is still the library's to read, and the reader's.
    const dense16k = await dense(8000);
    expect(dense16k.length).toBeGreaterThan(16_000);
    expect(dense16k.length).toBeLessThanOrEqual(16 * 1024);
    expectReadAsLibrary(dense16k, readCertificate(dense16k)!);
  });

  it('declines a certificate with an extension twice (the library would keep both)', () => {
    const leaf = seedNamed('a web leaf');
    const extensions = leaf.children![0].children!.at(-1)!.children![0].children!;
    extensions.push(structuredClone(extensions[0]));
    const der = encode(leaf);
    expect(libraryFields(der).extensions).toHaveLength(extensions.length);
    expect(readCertificate(der)).toBeUndefined();
  });
});
