/**
 * SVCB and HTTPS RDATA (RFC 9460 §2.2): SvcPriority, TargetName (never compressed) and
 * SvcParams, decoded with every validity rule of the RFC enforced, because RFC 9460 §2.2 says a
 * malformed RR makes the whole RRset unusable. SvcParamKeys are an open numeric set: the seven
 * keys of RFC 9460 are typed, every other key is kept as its raw value octets.
 *
 * @example
 * ```ts
 * const rdata = encodeSvcbRdata({ priority: 1, target: 'proxy.example.net.', params: { alpn: ['h2-reverse'], port: 8443 } });
 * decodeSvcbRdata(rdata).params.port; // 8443
 * ```
 */
import { SvcbFormatError } from './errors.js';
import { ipv4FromBytes, ipv4ToBytes, ipv6FromBytes, ipv6ToBytes } from './ip-address.js';
import { decodeName, encodeName } from './name.js';
import { concatBytes } from '../bytes.js';

/** SvcParamKeys registered by RFC 9460 §14.3.2. An open set: other numbers are valid keys. */
export const SvcParamKey = {
  MANDATORY: 0,
  ALPN: 1,
  NO_DEFAULT_ALPN: 2,
  PORT: 3,
  IPV4HINT: 4,
  ECH: 5,
  IPV6HINT: 6,
} as const;

/** RFC 9460 §14.3.2: key 65535 is reserved as the "Invalid key". */
export const INVALID_SVC_PARAM_KEY = 65535;

const keyNames = ['mandatory', 'alpn', 'no-default-alpn', 'port', 'ipv4hint', 'ech', 'ipv6hint'];

/** Presentation name of a key (RFC 9460 §2.1): `alpn`, …; unnamed keys print as `key65333`. */
export function svcParamKeyName(key: number): string {
  return keyNames[key] ?? `key${key}`;
}

/** Parses `alpn` or `key1` (RFC 9460 §2.1) to its number; throws `SvcbFormatError` otherwise. */
export function parseSvcParamKeyName(text: string): number {
  const named = keyNames.indexOf(text);
  if (named >= 0) return named;
  // RFC 9460 §2.1: keyNNNNN, where NNNNN is the numeric value without leading zeros.
  const m = /^key(0|[1-9][0-9]{0,4})$/.exec(text);
  if (!m || Number(m[1]) > 0xffff) throw new SvcbFormatError(`unknown SvcParamKey ${JSON.stringify(text)}`);
  const key = Number(m[1]);
  if (key === INVALID_SVC_PARAM_KEY) throw new SvcbFormatError('SvcParamKey 65535 is reserved ("Invalid key")');
  return key;
}

/**
 * SvcParams with the RFC 9460 keys typed. ALPN ids are octet strings: each octet is one
 * character (code 0–255), so ids that are not ASCII survive a round trip.
 */
export interface SvcParams {
  /** Keys a client must understand to use the record (RFC 9460 §8). */
  mandatory?: number[];
  /** ALPN protocol ids (RFC 9460 §7.1). */
  alpn?: string[];
  /** The default ALPN set is not supported (RFC 9460 §7.1). */
  noDefaultAlpn?: boolean;
  /** TCP/UDP port (RFC 9460 §7.2). */
  port?: number;
  /** IPv4 address hints (RFC 9460 §7.3). */
  ipv4hint?: string[];
  /** ECHConfigList octets (RFC 9460 §7.4 / RFC 9848). */
  ech?: Uint8Array;
  /** IPv6 address hints (RFC 9460 §7.3). */
  ipv6hint?: string[];
  /** Every other key, with its value octets as on the wire. */
  unknown?: Map<number, Uint8Array>;
}

/** One SVCB or HTTPS RR's RDATA. `priority` 0 is AliasMode, otherwise ServiceMode. */
export interface SvcbRecord {
  priority: number;
  /** TargetName, fully qualified; `"."` means the owner name (ServiceMode) or "no service" (AliasMode). */
  target: string;
  params: SvcParams;
}

/** True for AliasMode records (RFC 9460 §2.4.2: SvcPriority 0). */
export function isAliasMode(record: SvcbRecord): boolean {
  return record.priority === 0;
}

/** The keys present in `params`, ascending. */
export function svcParamKeys(params: SvcParams): number[] {
  const keys: number[] = [];
  if (params.mandatory !== undefined) keys.push(SvcParamKey.MANDATORY);
  if (params.alpn !== undefined) keys.push(SvcParamKey.ALPN);
  if (params.noDefaultAlpn) keys.push(SvcParamKey.NO_DEFAULT_ALPN);
  if (params.port !== undefined) keys.push(SvcParamKey.PORT);
  if (params.ipv4hint !== undefined) keys.push(SvcParamKey.IPV4HINT);
  if (params.ech !== undefined) keys.push(SvcParamKey.ECH);
  if (params.ipv6hint !== undefined) keys.push(SvcParamKey.IPV6HINT);
  for (const k of params.unknown?.keys() ?? []) keys.push(k);
  return keys.sort((a, b) => a - b);
}

/** Decodes SVCB/HTTPS RDATA, validating it fully. Throws `SvcbFormatError` saying what is wrong. */
export function decodeSvcbRdata(rdata: Uint8Array): SvcbRecord {
  if (rdata.length < 3) throw new SvcbFormatError(`RDATA of ${rdata.length} octets is too short for SvcPriority and TargetName`);
  const priority = (rdata[0] << 8) | rdata[1];
  let target: string;
  let at: number;
  try {
    // RFC 9460 §2.2: TargetName ... MUST NOT be compressed.
    ({ name: target, end: at } = decodeName(rdata, 2, false));
  } catch (e) {
    throw new SvcbFormatError(`bad TargetName: ${(e as Error).message}`, { cause: e });
  }
  const params: SvcParams = {};
  let previous = -1;
  while (at < rdata.length) {
    if (at + 4 > rdata.length) throw new SvcbFormatError(`SvcParam at offset ${at} is truncated (no room for key and length)`);
    const key = (rdata[at] << 8) | rdata[at + 1];
    const length = (rdata[at + 2] << 8) | rdata[at + 3];
    const name = svcParamKeyName(key);
    // RFC 9460 §2.2: SvcParamKeys SHALL appear in increasing numeric order. Clients MUST
    // consider an RR malformed if the SvcParamKeys are not in strictly increasing numeric order.
    if (key <= previous) {
      throw new SvcbFormatError(key === previous ? `SvcParamKey ${name} appears twice` : `SvcParamKeys not in strictly increasing order (${name} after ${svcParamKeyName(previous)})`);
    }
    if (key === INVALID_SVC_PARAM_KEY) throw new SvcbFormatError('SvcParamKey 65535 is reserved ("Invalid key")');
    previous = key;
    at += 4;
    if (at + length > rdata.length) throw new SvcbFormatError(`value of ${name} (${length} octets) runs past the end of the RDATA`);
    setParam(params, key, rdata.subarray(at, at + length));
    at += length;
  }
  checkMandatory(params);
  return { priority, target, params };
}

function setParam(params: SvcParams, key: number, value: Uint8Array): void {
  switch (key) {
    case SvcParamKey.MANDATORY: {
      if (value.length === 0 || value.length % 2 !== 0) throw new SvcbFormatError(`mandatory value of ${value.length} octets: expected a non-empty list of 2-octet keys`);
      const keys: number[] = [];
      for (let i = 0; i < value.length; i += 2) {
        const k = (value[i] << 8) | value[i + 1];
        // RFC 9460 §8: the keys are concatenated in strictly increasing numeric order.
        if (keys.length > 0 && k <= keys[keys.length - 1]) {
          throw new SvcbFormatError(k === keys[keys.length - 1] ? `mandatory lists ${svcParamKeyName(k)} twice` : `mandatory keys not in strictly increasing order (${svcParamKeyName(k)} after ${svcParamKeyName(keys[keys.length - 1])})`);
        }
        keys.push(k);
      }
      params.mandatory = keys;
      return;
    }
    case SvcParamKey.ALPN: {
      // RFC 9460 §7.1.1: the wire-format value consists of at least one alpn-id, each a
      // length-prefixed non-empty octet string (RFC 7301 §3.1).
      if (value.length === 0) throw new SvcbFormatError('alpn has an empty value: at least one protocol id is required');
      const ids: string[] = [];
      for (let i = 0; i < value.length; ) {
        const len = value[i];
        if (len === 0) throw new SvcbFormatError('alpn contains an empty protocol id');
        if (i + 1 + len > value.length) throw new SvcbFormatError('alpn protocol id runs past the end of the alpn value');
        ids.push(String.fromCharCode(...value.subarray(i + 1, i + 1 + len)));
        i += 1 + len;
      }
      params.alpn = ids;
      return;
    }
    case SvcParamKey.NO_DEFAULT_ALPN:
      // RFC 9460 §7.1.1: for "no-default-alpn", the wire-format value MUST be empty.
      if (value.length !== 0) throw new SvcbFormatError(`no-default-alpn has a ${value.length}-octet value; it must be empty`);
      params.noDefaultAlpn = true;
      return;
    case SvcParamKey.PORT:
      // RFC 9460 §7.2: the wire format is the port number in network byte order (2 octets).
      if (value.length !== 2) throw new SvcbFormatError(`port value of ${value.length} octets, expected 2`);
      params.port = (value[0] << 8) | value[1];
      return;
    case SvcParamKey.IPV4HINT:
      // RFC 9460 §7.3: one or more IP addresses, 4 octets each.
      if (value.length === 0 || value.length % 4 !== 0) throw new SvcbFormatError(`ipv4hint value of ${value.length} octets, expected a non-zero multiple of 4`);
      params.ipv4hint = [];
      for (let i = 0; i < value.length; i += 4) params.ipv4hint.push(ipv4FromBytes(value.subarray(i, i + 4)));
      return;
    case SvcParamKey.ECH:
      // The value is an ECHConfigList, which starts with its own 2-octet length: never empty.
      if (value.length === 0) throw new SvcbFormatError('ech has an empty value');
      params.ech = value.slice();
      return;
    case SvcParamKey.IPV6HINT:
      if (value.length === 0 || value.length % 16 !== 0) throw new SvcbFormatError(`ipv6hint value of ${value.length} octets, expected a non-zero multiple of 16`);
      params.ipv6hint = [];
      for (let i = 0; i < value.length; i += 16) params.ipv6hint.push(ipv6FromBytes(value.subarray(i, i + 16)));
      return;
    default:
      (params.unknown ??= new Map()).set(key, value.slice());
  }
}

function checkMandatory(params: SvcParams): void {
  if (!params.mandatory) return;
  const present = new Set(svcParamKeys(params));
  for (const k of params.mandatory) {
    // RFC 9460 §8: the "mandatory" SvcParamKey MUST NOT be included in the mandatory list.
    if (k === SvcParamKey.MANDATORY) throw new SvcbFormatError('mandatory lists the key "mandatory" itself');
    // RFC 9460 §8: if any key listed in "mandatory" is not present in the RR, the RR is malformed.
    if (!present.has(k)) throw new SvcbFormatError(`mandatory lists ${svcParamKeyName(k)}, which is not in the record`);
  }
}

/** Value octets of one SvcParam in `params` (the key must be present). */
export function encodeSvcParamValue(params: SvcParams, key: number): Uint8Array {
  switch (key) {
    case SvcParamKey.MANDATORY: {
      const keys = [...(params.mandatory ?? [])].sort((a, b) => a - b);
      const out = new Uint8Array(keys.length * 2);
      keys.forEach((k, i) => {
        out[i * 2] = k >> 8;
        out[i * 2 + 1] = k & 0xff;
      });
      return out;
    }
    case SvcParamKey.ALPN: {
      const parts: number[] = [];
      for (const id of params.alpn ?? []) {
        if (id.length > 255) throw new SvcbFormatError(`alpn id ${JSON.stringify(id)} is longer than 255 octets`);
        parts.push(id.length);
        for (let i = 0; i < id.length; i++) {
          const c = id.charCodeAt(i);
          if (c > 0xff) throw new SvcbFormatError(`alpn id ${JSON.stringify(id)} has a character above U+00FF (ids are octet strings)`);
          parts.push(c);
        }
      }
      return Uint8Array.from(parts);
    }
    case SvcParamKey.NO_DEFAULT_ALPN:
      return new Uint8Array(0);
    case SvcParamKey.PORT: {
      const p = params.port ?? -1;
      if (!Number.isInteger(p) || p < 0 || p > 0xffff) throw new SvcbFormatError(`port ${p} is not in 0..65535`);
      return Uint8Array.of(p >> 8, p & 0xff);
    }
    case SvcParamKey.IPV4HINT:
      return concatBytes((params.ipv4hint ?? []).map((a) => wrapAddress(() => ipv4ToBytes(a))));
    case SvcParamKey.ECH:
      return params.ech ?? new Uint8Array(0);
    case SvcParamKey.IPV6HINT:
      return concatBytes((params.ipv6hint ?? []).map((a) => wrapAddress(() => ipv6ToBytes(a))));
    default:
      return params.unknown?.get(key) ?? new Uint8Array(0);
  }
}

function wrapAddress(f: () => Uint8Array): Uint8Array {
  try {
    return f();
  } catch (e) {
    throw new SvcbFormatError((e as Error).message, { cause: e });
  }
}


/**
 * Encodes SVCB/HTTPS RDATA: keys in increasing order, TargetName uncompressed. The result is
 * decoded again, so a record that would be malformed on the wire throws `SvcbFormatError`.
 */
export function encodeSvcbRdata(record: SvcbRecord): Uint8Array {
  if (!Number.isInteger(record.priority) || record.priority < 0 || record.priority > 0xffff) {
    throw new SvcbFormatError(`SvcPriority ${record.priority} is not in 0..65535`);
  }
  for (const k of record.params.unknown?.keys() ?? []) {
    if (!Number.isInteger(k) || k < 0 || k > 0xffff) throw new SvcbFormatError(`SvcParamKey ${k} is not in 0..65535`);
    if (k <= SvcParamKey.IPV6HINT) throw new SvcbFormatError(`SvcParamKey ${svcParamKeyName(k)} must be given by its typed field, not in "unknown"`);
  }
  let target: Uint8Array;
  try {
    target = encodeName(record.target);
  } catch (e) {
    throw new SvcbFormatError(`bad TargetName: ${(e as Error).message}`, { cause: e });
  }
  const parts: Uint8Array[] = [Uint8Array.of(record.priority >> 8, record.priority & 0xff), target];
  for (const key of svcParamKeys(record.params)) {
    const value = encodeSvcParamValue(record.params, key);
    if (value.length > 0xffff) throw new SvcbFormatError(`value of ${svcParamKeyName(key)} is longer than 65535 octets`);
    parts.push(Uint8Array.of(key >> 8, key & 0xff, value.length >> 8, value.length & 0xff), value);
  }
  const rdata = concatBytes(parts);
  decodeSvcbRdata(rdata); // same rules both ways
  return rdata;
}
