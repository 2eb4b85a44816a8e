/**
 * DNS messages (RFC 1035 §4.1): a query encoder and a response decoder, plus a plain encoder used
 * by tests and DoH servers. Names are decompressed on read (pointers must point backwards and
 * inside the message); nothing is compressed on write. RDATA of A, AAAA, CNAME, SVCB (64) and
 * HTTPS (65) is decoded; every other type is kept raw (RFC 3597).
 *
 * @example
 * ```ts
 * const query = encodeQuery('_http-reverse.proxy.example.net', RRType.SVCB);
 * const reply = decodeMessage(bytes);
 * for (const rr of reply.answers) if (rr.data.kind === 'svcb') console.log(rr.data.svcb.target);
 * ```
 */
import { DnsFormatError, SvcbFormatError } from './errors.js';
import { ipv4FromBytes, ipv4ToBytes, ipv6FromBytes, ipv6ToBytes } from './ip-address.js';
import { decodeName, encodeName, fqdn } from './name.js';
import { decodeSvcbRdata, encodeSvcbRdata, type SvcbRecord } from './svcb.js';

/** Resource record types (an open set; `rrTypeName` prints unknown ones as `TYPE1234`). */
export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  OPT: 41,
  SVCB: 64,
  HTTPS: 65,
} as const;

const rrTypeNames = new Map<number, string>(Object.entries(RRType).map(([k, v]) => [v, k]));

/** `rrTypeName(64)` → `"SVCB"`; unknown types print as `TYPE1234` (RFC 3597 §5). */
export function rrTypeName(type: number): string {
  return rrTypeNames.get(type) ?? `TYPE${type}`;
}

/** The Internet class (RFC 1035 §3.2.4). */
export const CLASS_IN = 1;

/** `className(1)` → `"IN"`; others print as `CLASS3` (RFC 3597 §5). */
export function className(cls: number): string {
  return cls === CLASS_IN ? 'IN' : `CLASS${cls}`;
}

/** Response codes (RFC 1035 §4.1.1, RFC 6895 §2.3). An open set. */
export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
  BADVERS: 16,
} as const;

const rcodeNames = new Map<number, string>(Object.entries(Rcode).map(([k, v]) => [v, k]));

/** `rcodeName(3)` → `"NXDOMAIN"`; unknown codes print as `RCODE23`. */
export function rcodeName(rcode: number): string {
  return rcodeNames.get(rcode) ?? `RCODE${rcode}`;
}

/** RFC 1035 §4.2.1 / RFC 8484 §6: a DNS message is at most 65535 octets. */
export const MAX_DNS_MESSAGE_LENGTH = 65535;
/** RFC 1035 §4.1.1: the header is 12 octets. */
export const DNS_HEADER_LENGTH = 12;

/** One entry of the question section. */
export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

/** Decoded RDATA: the types discovery needs, and raw octets for every other type. */
export type RData =
  | { kind: 'a'; address: string }
  | { kind: 'aaaa'; address: string }
  | { kind: 'cname'; target: string }
  /** SVCB (64) or HTTPS (65). */
  | { kind: 'svcb'; svcb: SvcbRecord }
  | { kind: 'raw'; bytes: Uint8Array };

/** A resource record (RFC 1035 §4.1.3). For OPT (RFC 6891), `class` is the UDP payload size. */
export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: RData;
}

/** A whole DNS message. `rcode` includes the EDNS extended bits when an OPT record is present. */
export interface DnsMessage {
  id: number;
  /** Response (true) or query. */
  qr: boolean;
  opcode: number;
  /** Authoritative answer. */
  aa: boolean;
  /** Truncated. */
  tc: boolean;
  /** Recursion desired. */
  rd: boolean;
  /** Recursion available. */
  ra: boolean;
  /** Authentic data (RFC 4035 §3.2.3). */
  ad: boolean;
  /** Checking disabled (RFC 4035 §3.2.2). */
  cd: boolean;
  rcode: number;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

/** Options of `encodeQuery`. */
export interface QueryOptions {
  /** Message ID; RFC 8484 §4.1 asks DoH clients to use 0. Default 0. */
  id?: number;
  /** Recursion desired. Default true. */
  rd?: boolean;
  /** Add an EDNS(0) OPT record (RFC 6891) advertising this UDP payload size. Default: none. */
  ednsUdpPayloadSize?: number;
}

/** Encodes a standard query for one question (class IN). Throws `TypeError` for a bad name. */
export function encodeQuery(name: string, type: number, options: QueryOptions = {}): Uint8Array {
  const additionals: DnsRecord[] = [];
  if (options.ednsUdpPayloadSize !== undefined) {
    additionals.push({ name: '.', type: RRType.OPT, class: options.ednsUdpPayloadSize, ttl: 0, data: { kind: 'raw', bytes: new Uint8Array(0) } });
  }
  return encodeMessage({
    id: options.id ?? 0,
    rd: options.rd ?? true,
    questions: [{ name: fqdn(name), type, class: CLASS_IN }],
    additionals,
  });
}

/** Encodes a message without name compression (tests, DoH servers). Missing fields are 0/empty. */
export function encodeMessage(message: Partial<DnsMessage>): Uint8Array {
  const parts: Uint8Array[] = [];
  const header = new Uint8Array(DNS_HEADER_LENGTH);
  const view = new DataView(header.buffer);
  const rcode = message.rcode ?? 0;
  view.setUint16(0, message.id ?? 0);
  view.setUint16(
    2,
    (message.qr ? 0x8000 : 0) |
      (((message.opcode ?? 0) & 0xf) << 11) |
      (message.aa ? 0x0400 : 0) |
      (message.tc ? 0x0200 : 0) |
      (message.rd ? 0x0100 : 0) |
      (message.ra ? 0x0080 : 0) |
      (message.ad ? 0x0020 : 0) |
      (message.cd ? 0x0010 : 0) |
      (rcode & 0xf),
  );
  const questions = message.questions ?? [];
  const sections = [message.answers ?? [], message.authorities ?? [], message.additionals ?? []];
  view.setUint16(4, questions.length);
  sections.forEach((s, i) => view.setUint16(6 + i * 2, s.length));
  parts.push(header);
  for (const q of questions) {
    parts.push(encodeName(q.name), u16pair(q.type, q.class));
  }
  for (const section of sections) {
    for (const rr of section) {
      const rdata = encodeRdata(rr);
      let ttl = rr.ttl;
      if (rr.type === RRType.OPT) ttl = (ttl & 0x00ffffff) | ((rcode >> 4) << 24); // RFC 6891 §6.1.3
      const fixed = new Uint8Array(10);
      const fv = new DataView(fixed.buffer);
      fv.setUint16(0, rr.type);
      fv.setUint16(2, rr.class);
      fv.setUint32(4, ttl >>> 0);
      fv.setUint16(8, rdata.length);
      parts.push(encodeName(rr.name), fixed, rdata);
    }
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  if (total > MAX_DNS_MESSAGE_LENGTH) throw new TypeError(`DNS message of ${total} octets is longer than ${MAX_DNS_MESSAGE_LENGTH}`);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function u16pair(a: number, b: number): Uint8Array {
  return Uint8Array.of(a >> 8, a & 0xff, b >> 8, b & 0xff);
}

function encodeRdata(rr: DnsRecord): Uint8Array {
  const d = rr.data;
  switch (d.kind) {
    case 'a':
      return ipv4ToBytes(d.address);
    case 'aaaa':
      return ipv6ToBytes(d.address);
    case 'cname':
      return encodeName(d.target);
    case 'svcb':
      return encodeSvcbRdata(d.svcb);
    case 'raw':
      if (d.bytes.length > 0xffff) throw new TypeError(`RDATA of ${d.bytes.length} octets is longer than 65535`);
      return d.bytes;
  }
}

/**
 * Decodes a DNS message. Throws `DnsFormatError` for bytes that are not a well-formed message
 * and `SvcbFormatError` when an SVCB/HTTPS RR is malformed (RFC 9460 §2.2: the RRset is then
 * unusable as a whole, and so is this message).
 */
export function decodeMessage(bytes: Uint8Array): DnsMessage {
  if (bytes.length < DNS_HEADER_LENGTH) throw new DnsFormatError(`DNS message of ${bytes.length} octets is shorter than its 12-octet header`);
  if (bytes.length > MAX_DNS_MESSAGE_LENGTH) throw new DnsFormatError(`DNS message of ${bytes.length} octets is longer than ${MAX_DNS_MESSAGE_LENGTH}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const flags = view.getUint16(2);
  const counts = [view.getUint16(4), view.getUint16(6), view.getUint16(8), view.getUint16(10)];
  let at = DNS_HEADER_LENGTH;
  const need = (n: number, what: string) => {
    if (at + n > bytes.length) throw new DnsFormatError(`DNS message truncated in ${what} at offset ${at}`);
  };
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const { name, end } = decodeName(bytes, at);
    at = end;
    need(4, 'a question');
    questions.push({ name, type: view.getUint16(at), class: view.getUint16(at + 2) });
    at += 4;
  }
  const sections: DnsRecord[][] = [[], [], []];
  const sectionNames = ['answer', 'authority', 'additional'];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]; i++) {
      const { name, end } = decodeName(bytes, at);
      at = end;
      need(10, `the ${sectionNames[s]} section`);
      const type = view.getUint16(at);
      const cls = view.getUint16(at + 2);
      const ttl = view.getUint32(at + 4);
      const rdlength = view.getUint16(at + 8);
      at += 10;
      need(rdlength, `the RDATA of ${name} ${rrTypeName(type)}`);
      const data = decodeRdata(bytes, at, rdlength, name, type);
      at += rdlength;
      sections[s].push({ name, type, class: cls, ttl, data });
    }
  }
  if (at !== bytes.length) throw new DnsFormatError(`${bytes.length - at} octets after the last section of the DNS message`);
  let rcode = flags & 0xf;
  const opt = sections[2].find((rr) => rr.type === RRType.OPT);
  if (opt) rcode |= (opt.ttl >>> 24) << 4; // RFC 6891 §6.1.3: EXTENDED-RCODE, upper 8 bits
  return {
    id: view.getUint16(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    ad: (flags & 0x0020) !== 0,
    cd: (flags & 0x0010) !== 0,
    rcode,
    questions,
    answers: sections[0],
    authorities: sections[1],
    additionals: sections[2],
  };
}

function decodeRdata(message: Uint8Array, at: number, length: number, owner: string, type: number): RData {
  const rdata = message.subarray(at, at + length);
  switch (type) {
    case RRType.A:
      if (length !== 4) throw new DnsFormatError(`A record for ${owner} has ${length} octets of RDATA, expected 4`);
      return { kind: 'a', address: ipv4FromBytes(rdata) };
    case RRType.AAAA:
      if (length !== 16) throw new DnsFormatError(`AAAA record for ${owner} has ${length} octets of RDATA, expected 16`);
      return { kind: 'aaaa', address: ipv6FromBytes(rdata) };
    case RRType.CNAME: {
      const { name, end } = decodeName(message, at);
      if (end !== at + length) throw new DnsFormatError(`CNAME record for ${owner}: the name does not fill the RDATA`);
      return { kind: 'cname', target: name };
    }
    case RRType.SVCB:
    case RRType.HTTPS:
      try {
        return { kind: 'svcb', svcb: decodeSvcbRdata(rdata) };
      } catch (e) {
        if (!(e instanceof SvcbFormatError)) throw e;
        throw new SvcbFormatError(`malformed ${rrTypeName(type)} record at ${owner} (the whole RRset is rejected): ${e.message}`, { cause: e });
      }
    default:
      return { kind: 'raw', bytes: rdata.slice() };
  }
}
