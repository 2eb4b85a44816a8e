/**
 * Finding an intermediary by name (DESIGN.md "Discovery"): an SVCB RRset (RFC 9460) at
 * `_http-reverse.<name>` — or `_<port>._http-reverse.<name>` with port-prefix naming (RFC 9460
 * §2.3) — looked up over DNS-over-HTTPS, AliasMode followed, ServiceMode records ordered by
 * priority and turned into endpoints an agent can dial.
 *
 * The carrier comes from `alpn`, which this service REQUIRES (there is no default ALPN set for
 * `_http-reverse`, so a record without `alpn` is unusable):
 * - `h2-reverse` → the TLS carrier: TLS with ALPN `h2-reverse` to `target:port`.
 * - `h2-reverse-ws` → the WebSocket carrier: `wss://target:port`. This id names the carrier in
 *   the record only; the TLS handshake of a WebSocket upgrade negotiates `http/1.1` as usual, and
 *   the WebSocket subprotocol is `h2-reverse` (DESIGN.md "Carrier 2").
 * - `h3-reverse` → the QUIC carrier: QUIC with ALPN `h3-reverse` to `target:port` (UDP), reversed
 *   HTTP/3 (`quic://target:port`). Only runtimes with QUIC can dial it (Deno today).
 * A record listing several yields one endpoint per carrier, in the order of `carriers` (the
 * client's preference: TLS, QUIC, WebSocket by default; an agent with QUIC puts QUIC first).
 *
 * @example
 * ```ts
 * const endpoints = await discoverIntermediary('proxy.example.net', { doh: DEFAULT_DOH_URL });
 * // [{ target: 'proxy.example.net', port: 8443, alpn: ['h2-reverse'], carrier: 'tls',
 * //    addresses: ['192.0.2.7'], priority: 1, url: 'tls://proxy.example.net:8443', … }]
 * ```
 */
import { DiscoveryError, DnsRcodeError } from './errors.js';
import { DEFAULT_DOH_URL, type DohOptions, dohQuery } from './doh.js';
import { type DnsMessage, type DnsRecord, Rcode, RRType } from './message.js';
import { H2_REVERSE_ALPN, H3_REVERSE_ALPN } from '../reverse/alpn.js';
import { canonicalName, fqdn } from './name.js';
import { formatRecord } from './presentation.js';
import { encodeSvcbRdata, SvcParamKey, svcParamKeyName, type SvcbRecord } from './svcb.js';

/** The underscore label of the service (RFC 8552 attrleaf): `_http-reverse.<name>`. */
export const RHTTP_SERVICE_LABEL = '_http-reverse';
/** ALPN ids in the SVCB `alpn` param that select each carrier. */
export const CARRIER_ALPN = { tls: H2_REVERSE_ALPN, quic: H3_REVERSE_ALPN, ws: 'h2-reverse-ws' } as const;
/** Every carrier, in the order a client without a preference tries a record's carriers (the order records list them in `alpn`). */
export const DEFAULT_CARRIER_ORDER: readonly Carrier[] = ['tls', 'quic', 'ws'];
/** RFC 9460 §2.4 / DESIGN.md: the port when the record has no `port` param. */
export const DEFAULT_INTERMEDIARY_PORT = 443;
/** AliasMode hops followed before giving up (RFC 9460 §2.4.2 asks for a chain limit; 8 as in most resolvers' CNAME limits). */
export const DEFAULT_MAX_ALIAS_CHAIN = 8;
/** CNAME hops followed inside one answer: a resolver never legitimately sends more. */
const MAX_CNAME_CHAIN = 16;

/** SvcParamKeys whose meaning discovery implements; a record making another key mandatory is ignored (RFC 9460 §8). */
const SUPPORTED_KEYS = new Set<number>([SvcParamKey.MANDATORY, SvcParamKey.ALPN, SvcParamKey.NO_DEFAULT_ALPN, SvcParamKey.PORT, SvcParamKey.IPV4HINT, SvcParamKey.IPV6HINT]);

/** How the agent carries its reversed connection: HTTP/2 over TLS or a WebSocket, HTTP/3 over QUIC. */
export type Carrier = 'tls' | 'quic' | 'ws';

/** One place an agent can connect to, in the order it should try them. */
export interface Endpoint {
  /** Host to connect to and to expect in the certificate (no trailing dot). */
  target: string;
  port: number;
  /** The record's `alpn` ids. */
  alpn: string[];
  carrier: Carrier;
  /** Addresses of `target`: the record's hints, else its A/AAAA records; empty for URLs given directly. */
  addresses: string[];
  /** SvcPriority (lower first); 0 for URLs given directly. */
  priority: number;
  /** `tls://host:port`, `quic://host:port`, `wss://host:port` or the `ws://`/`wss://` URL as given. */
  url: string;
  /** The SVCB RR this endpoint came from, as a zone-file line; absent for URLs given directly. */
  record?: string;
  /** AliasMode hops followed to reach the record (owner names), if any. */
  aliases?: string[];
}

/** Options of `discoverIntermediary`. */
export interface DiscoveryOptions extends Omit<DohOptions, 'doh'> {
  /** DoH resolver URL. Default `DEFAULT_DOH_URL`. */
  doh?: string;
  /** Port given with the name (`NAME:PORT`): port-prefix naming `_<port>._http-reverse.<name>` unless it is 443. */
  port?: number;
  /** Most AliasMode hops to follow. Default `DEFAULT_MAX_ALIAS_CHAIN`. */
  maxAliasChain?: number;
  /**
   * Random numbers in [0, 1) to order records of equal priority (RFC 9460 §2.4.1 lets clients
   * pick among them at random). Default `Math.random`; a constant keeps the answer's order.
   */
  rng?: () => number;
  /**
   * The carriers this client can dial, most preferred first: a record's carriers become endpoints
   * in this order, and a record listing none of them is skipped. Default `DEFAULT_CARRIER_ORDER`
   * (all three, TLS first); an agent without QUIC leaves `quic` out, one with QUIC puts it first.
   */
  carriers?: readonly Carrier[];
}

/** Everything one discovery found: for `rhttp-agent discover` to print. */
export interface IntermediaryDiscovery {
  /** The name asked about (fully qualified). */
  name: string;
  /** The first SVCB query name. */
  query: string;
  /** Owner names reached through AliasMode, in order (empty when none). */
  aliases: string[];
  /** The ServiceMode RRset that was used. */
  records: DnsRecord[];
  /** Usable endpoints, best first. */
  endpoints: Endpoint[];
  /** Records (zone-file lines) that could not be used, and why. */
  skipped: { record: string; reason: string }[];
}

/** `svcbQueryName('proxy.example.net', 8443)` → `"_8443._http-reverse.proxy.example.net."`. */
export function svcbQueryName(name: string, port?: number): string {
  const base = `${RHTTP_SERVICE_LABEL}.${fqdn(name)}`;
  return port === undefined || port === DEFAULT_INTERMEDIARY_PORT ? base : `_${port}.${base}`;
}

function plain(name: string): string {
  return name === '.' ? '.' : name.replace(/\.$/, '');
}

/** SVCB RRs for `owner` in an answer, following CNAMEs within the answer. */
function svcbAnswers(reply: DnsMessage, owner: string): DnsRecord[] {
  let current = canonicalName(owner);
  for (let hops = 0; hops <= MAX_CNAME_CHAIN; hops++) {
    const here = reply.answers.filter((rr) => canonicalName(rr.name) === current);
    const svcb = here.filter((rr) => rr.type === RRType.SVCB && rr.data.kind === 'svcb');
    if (svcb.length > 0) return svcb;
    const cname = here.find((rr) => rr.data.kind === 'cname');
    if (!cname || cname.data.kind !== 'cname') return [];
    current = canonicalName(cname.data.target);
  }
  return [];
}

function svcbOf(rr: DnsRecord): SvcbRecord {
  if (rr.data.kind !== 'svcb') throw new TypeError('not an SVCB record');
  return rr.data.svcb;
}

/**
 * Looks up an intermediary and explains what it found. Throws `DiscoveryError` when there is no
 * usable endpoint (no record, NXDOMAIN, alias loop or chain too long, no record with a usable
 * `alpn`), `DohError`/`DnsRcodeError` when the resolver fails, `SvcbFormatError` for a malformed
 * record set.
 */
export async function lookupIntermediary(name: string, options: DiscoveryOptions = {}): Promise<IntermediaryDiscovery> {
  const doh: DohOptions = { doh: options.doh ?? DEFAULT_DOH_URL, method: options.method, fetch: options.fetch, timeoutMs: options.timeoutMs };
  const maxAliasChain = options.maxAliasChain ?? DEFAULT_MAX_ALIAS_CHAIN;
  const rng = options.rng ?? Math.random;
  const usable = options.carriers ?? DEFAULT_CARRIER_ORDER;
  const query = svcbQueryName(name, options.port);
  const aliases: string[] = [];
  const seen = new Set<string>([canonicalName(query)]);
  let owner = query;
  let rrset: DnsRecord[];
  for (;;) {
    let reply: DnsMessage;
    const via = aliases.length > 0 ? ` (reached through AliasMode from ${plain(query)})` : '';
    try {
      reply = await dohQuery(owner, RRType.SVCB, doh);
    } catch (e) {
      if (e instanceof DnsRcodeError && e.rcode === Rcode.NXDOMAIN) {
        throw new DiscoveryError(`no SVCB record at ${plain(owner)} (NXDOMAIN)${via} — is this an rhttp intermediary?`, { cause: e });
      }
      throw e;
    }
    rrset = svcbAnswers(reply, owner);
    if (rrset.length === 0) {
      throw new DiscoveryError(`no SVCB record at ${plain(owner)} (the name exists but has no SVCB records)${via} — is this an rhttp intermediary?`);
    }
    // RFC 9460 §2.4.2: if an RRset contains a record in AliasMode, the recipient MUST ignore
    // any ServiceMode records in the set.
    const alias = rrset.find((rr) => svcbOf(rr).priority === 0);
    if (!alias) break;
    const target = svcbOf(alias).target;
    // RFC 9460 §2.5.1: for AliasMode SVCB RRs, a TargetName of "." indicates that the service
    // is not available or does not exist.
    if (target === '.') throw new DiscoveryError(`${plain(owner)} says the service is not available (AliasMode record with TargetName ".")`);
    const chain = [query, ...aliases, target].map(plain).join(' → ');
    if (seen.has(canonicalName(target))) throw new DiscoveryError(`AliasMode loop: ${chain}`);
    // RFC 9460 §2.4.2: clients ... SHOULD place a limit on the length of the AliasMode chain.
    if (aliases.length >= maxAliasChain) throw new DiscoveryError(`AliasMode chain longer than ${maxAliasChain} hops: ${chain}`);
    seen.add(canonicalName(target));
    aliases.push(target);
    owner = target;
  }

  const tiebreak = new Map(rrset.map((rr) => [rr, rng()]));
  const ordered = [...rrset].sort((a, b) => svcbOf(a).priority - svcbOf(b).priority || tiebreak.get(a)! - tiebreak.get(b)!);
  const skipped: { record: string; reason: string }[] = [];
  const candidates: (Omit<Endpoint, 'addresses'> & { hints: string[] })[] = [];
  for (const rr of ordered) {
    const svcb = svcbOf(rr);
    const record = formatRecord(rr);
    const unsupported = (svcb.params.mandatory ?? []).filter((k) => !SUPPORTED_KEYS.has(k));
    // RFC 9460 §8: if a client does not support any key listed in "mandatory", it MUST ignore the RR.
    if (unsupported.length > 0) {
      skipped.push({ record, reason: `it makes ${unsupported.map(svcParamKeyName).join(', ')} mandatory, which rhttp does not support` });
      continue;
    }
    const alpn = svcb.params.alpn;
    if (!alpn) {
      skipped.push({ record, reason: `it has no alpn (required: one or more of ${DEFAULT_CARRIER_ORDER.map((c) => CARRIER_ALPN[c]).join(', ')})` });
      continue;
    }
    const carriers = usable.filter((c) => alpn.includes(CARRIER_ALPN[c]));
    if (carriers.length === 0) {
      const known = DEFAULT_CARRIER_ORDER.filter((c) => alpn.includes(CARRIER_ALPN[c]));
      const reason =
        known.length === 0
          ? `its alpn (${alpn.join(',')}) lists none of ${DEFAULT_CARRIER_ORDER.map((c) => CARRIER_ALPN[c]).join(', ')}`
          : `its alpn (${alpn.join(',')}) lists only carriers this client cannot dial (it dials ${usable.map((c) => CARRIER_ALPN[c]).join(', ') || 'none'}${known.includes('quic') ? `; ${CARRIER_ALPN.quic} needs QUIC` : ''})`;
      skipped.push({ record, reason });
      continue;
    }
    // RFC 9460 §2.5.2: for ServiceMode, a TargetName of "." means the owner name.
    const target = plain(svcb.target === '.' ? rr.name : svcb.target);
    const port = svcb.params.port ?? DEFAULT_INTERMEDIARY_PORT;
    const hostPort = `${target}:${port}`;
    for (const carrier of carriers) {
      candidates.push({
        target,
        port,
        alpn: [...alpn],
        carrier,
        priority: svcb.priority,
        url: `${carrier === 'ws' ? 'wss' : carrier}://${hostPort}`,
        record,
        hints: [...(svcb.params.ipv4hint ?? []), ...(svcb.params.ipv6hint ?? [])],
        ...(aliases.length > 0 ? { aliases: [query, ...aliases].map(plain) } : {}),
      });
    }
  }

  // Addresses: the hints, else A/AAAA over DoH (once per target).
  const lookups = new Map<string, Promise<{ addresses: string[]; problem?: string }>>();
  const endpoints: Endpoint[] = [];
  for (const { hints, ...c } of candidates) {
    let addresses = hints;
    if (addresses.length === 0) {
      if (!lookups.has(c.target)) lookups.set(c.target, lookupAddresses(c.target, doh));
      const found = await lookups.get(c.target)!;
      addresses = found.addresses;
      if (addresses.length === 0) {
        if (!skipped.some((s) => s.record === c.record)) skipped.push({ record: c.record!, reason: `${c.target} has no address: ${found.problem}` });
        continue;
      }
    }
    endpoints.push({ ...c, addresses });
  }

  if (endpoints.length === 0) {
    const why = skipped.map((s) => `\n  ${s.record}\n    unusable: ${s.reason}`).join('');
    throw new DiscoveryError(`no usable SVCB record at ${plain(owner)}:${why}`);
  }
  return { name: fqdn(name), query, aliases, records: ordered, endpoints, skipped };
}

async function lookupAddresses(host: string, doh: DohOptions): Promise<{ addresses: string[]; problem?: string }> {
  const results = await Promise.allSettled([dohQuery(host, RRType.A, doh), dohQuery(host, RRType.AAAA, doh)]);
  const addresses: string[] = [];
  const problems: string[] = [];
  for (const r of results) {
    if (r.status === 'rejected') {
      problems.push((r.reason as Error).message);
      continue;
    }
    for (const rr of r.value.answers) if (rr.data.kind === 'a' || rr.data.kind === 'aaaa') addresses.push(rr.data.address);
  }
  const unique = [...new Set(addresses)];
  return unique.length > 0 ? { addresses: unique } : { addresses: [], problem: problems.length > 0 ? [...new Set(problems)].join('; ') : 'no A or AAAA records' };
}

/**
 * Discovers an intermediary's endpoints by name, best first (see `lookupIntermediary` for what
 * it throws). The agent holds connections to every target:port found (several intermediaries
 * behind one name share the load) and tries the addresses and carriers of one in order.
 */
export async function discoverIntermediary(name: string, options: DiscoveryOptions = {}): Promise<Endpoint[]> {
  return (await lookupIntermediary(name, options)).endpoints;
}

/** Options of `rhttpSvcbRecord`. */
export interface RhttpSvcbRecordOptions {
  /** The name agents are given (`--intermediary NAME`). */
  name: string;
  /** Port agents connect to; omitted from the record when 443. Default 443. */
  port?: number;
  /** TargetName: the host agents connect to (its certificate names it). Default: `name`. */
  host?: string;
  /** Carrier(s) listening at that port (QUIC's UDP port may share the number of TLS's TCP port). Default `'tls'`. */
  carrier?: Carrier | Carrier[];
  /** TTL in seconds. Default 300. */
  ttl?: number;
  /** SvcPriority (1 and up). Default 1. */
  priority?: number;
  ipv4hint?: string[];
  ipv6hint?: string[];
  /**
   * Publish under port-prefix naming, `_<port>._http-reverse.<name>`, for agents given
   * `NAME:PORT`. Default false: `_http-reverse.<name>`, which a bare `NAME` finds.
   */
  portPrefix?: boolean;
}

/**
 * The zone-file line an intermediary operator publishes, e.g.
 * `_http-reverse.proxy.example.net. 300 IN SVCB 1 proxy.example.net. alpn=h2-reverse port=8443`.
 */
export function rhttpSvcbRecord(options: RhttpSvcbRecordOptions): string {
  const port = options.port ?? DEFAULT_INTERMEDIARY_PORT;
  const carriers = Array.isArray(options.carrier) ? options.carrier : [options.carrier ?? 'tls'];
  const priority = options.priority ?? 1;
  if (priority < 1) throw new TypeError('an intermediary record is in ServiceMode: priority must be 1 or more');
  const owner = options.portPrefix ? svcbQueryName(options.name, port) : svcbQueryName(options.name);
  const svcb: SvcbRecord = {
    priority,
    target: fqdn(options.host ?? options.name),
    params: {
      alpn: DEFAULT_CARRIER_ORDER.filter((c) => carriers.includes(c)).map((c) => CARRIER_ALPN[c]),
      ...(port !== DEFAULT_INTERMEDIARY_PORT ? { port } : {}),
      ...(options.ipv4hint?.length ? { ipv4hint: options.ipv4hint } : {}),
      ...(options.ipv6hint?.length ? { ipv6hint: options.ipv6hint } : {}),
    },
  };
  encodeSvcbRdata(svcb); // throws SvcbFormatError for values that cannot be published
  return formatRecord({ name: owner, type: RRType.SVCB, class: 1, ttl: options.ttl ?? 300, data: { kind: 'svcb', svcb } });
}
