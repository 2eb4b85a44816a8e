/**
 * What `--intermediary` means: a `tls://`, `ws://` or `wss://` URL is one endpoint as given; a
 * bare name (`proxy.example.net`, or `proxy.example.net:8443` for port-prefix naming) is found
 * through SVCB discovery over DNS-over-HTTPS (DESIGN.md "Discovery", RFC 9460, RFC 8484).
 *
 * @example
 * ```ts
 * const endpoints = await resolveIntermediary('proxy.example.net', { doh: DEFAULT_DOH_URL });
 * // an agent holds connections to every endpoint (grouped by target:port)
 * console.log(formatDiscovery('proxy.example.net', endpoints));
 * ```
 */
import {
  CARRIER_ALPN,
  type DiscoveryOptions,
  type Endpoint,
  formatRecord,
  type IntermediaryDiscovery,
  lookupIntermediary,
  svcbQueryName,
  unbracketHost,
} from '@rhttp/core';

/** Options of `resolveIntermediary` / `discoverIntermediaryDetails`: the DoH resolver and friends. */
export type ResolveOptions = Omit<DiscoveryOptions, 'port'>;

/** Default ports of the URL forms. */
const DEFAULT_URL_PORT: Record<string, number> = { tls: 443, quic: 443, wss: 443, ws: 80 };

/** A bare `--intermediary` value split into name and optional port. */
export interface BareIntermediary {
  name: string;
  port?: number;
}

/**
 * Parses `proxy.example.net` or `proxy.example.net:8443`. Throws `TypeError` for IP addresses
 * (they have no SVCB records: give `tls://IP:PORT`) and for anything that is not a DNS name.
 * `from` names where the value came from in the messages (`rhttp-agent discover` says `discover`).
 */
export function parseBareIntermediary(value: string, from = '--intermediary'): BareIntermediary {
  if (/^\[|^[0-9a-f]*:[0-9a-f]*:/i.test(value) || /^[0-9.]+(:\d+)?$/.test(value)) {
    throw new TypeError(`${from} ${value} is an IP address, which has no SVCB records: give tls://${value} (or ws://, wss://) instead`);
  }
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(value);
  const name = m?.[1].replace(/\.$/, '') ?? '';
  if (!m || !/^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/i.test(name)) {
    throw new TypeError(`${from} must be tls://host:port, ws://host:port, wss://host[:port] or a DNS name to discover (like proxy.example.net), got ${value}`);
  }
  if (m[2] === undefined) return { name };
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new TypeError(`${from} ${value}: port ${m[2]} is not in 1..65535`);
  return { name, port };
}

function urlEndpoint(value: string, scheme: string): Endpoint {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`--intermediary ${value} is not a valid URL`);
  }
  if (!url.hostname) throw new TypeError(`--intermediary ${value} has no host`);
  if ((scheme === 'tls' || scheme === 'quic') && ((url.pathname !== '' && url.pathname !== '/') || url.search || url.hash || url.username)) {
    throw new TypeError(`--intermediary must be ${scheme}://host:port, got ${value}`);
  }
  const carrier = scheme === 'tls' || scheme === 'quic' ? scheme : 'ws';
  return {
    target: unbracketHost(url.hostname),
    port: url.port ? Number(url.port) : DEFAULT_URL_PORT[scheme],
    alpn: carrier === 'ws' ? [] : [CARRIER_ALPN[carrier]],
    carrier,
    addresses: [],
    priority: 0,
    url: value,
  };
}

/**
 * Full discovery result for a bare name (for `rhttp-agent discover NAME`). Throws `TypeError`
 * for a value that is not a bare name, and what `lookupIntermediary` throws (`DiscoveryError`
 * when there is nothing usable, `DohError`/`DnsRcodeError` when the resolver fails).
 */
export async function discoverIntermediaryDetails(value: string, options: ResolveOptions = {}): Promise<IntermediaryDiscovery> {
  const { name, port } = parseBareIntermediary(value);
  return lookupIntermediary(name, { ...options, port });
}

/**
 * Turns an `--intermediary` value into endpoints, best first: a `tls://`, `quic://`, `ws://` or
 * `wss://` URL passes through as one endpoint; a bare name goes through SVCB discovery over DoH. The
 * agent holds connections to each target:port; a record's addresses and carriers are tried in
 * order, the next when a connection fails.
 */
export async function resolveIntermediary(value: string, options: ResolveOptions = {}): Promise<Endpoint[]> {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme === 'tls' || scheme === 'quic' || scheme === 'ws' || scheme === 'wss') return [urlEndpoint(value, scheme)];
  if (scheme !== undefined) throw new TypeError(`--intermediary must be tls://, quic://, ws://, wss:// or a DNS name to discover, got ${value}`);
  return (await discoverIntermediaryDetails(value, options)).endpoints;
}

function describeCarrier(e: Endpoint): string {
  if (e.carrier === 'tls') return `TLS carrier (ALPN ${CARRIER_ALPN.tls})`;
  if (e.carrier === 'quic') return `QUIC carrier (ALPN ${CARRIER_ALPN.quic}, HTTP/3)`;
  return 'WebSocket carrier';
}

function plain(name: string): string {
  return name === '.' ? '.' : name.replace(/\.$/, '');
}

/**
 * The plain-words text `rhttp-agent discover NAME` prints: the query, any AliasMode hops, the
 * SVCB answer, records that could not be used and why, and the endpoints in the order the agent
 * would try them. Pass the `IntermediaryDiscovery` to include skipped records.
 */
export function formatDiscovery(name: string, found: Endpoint[] | IntermediaryDiscovery, options: { doh?: string } = {}): string {
  const details = Array.isArray(found) ? undefined : found;
  const endpoints = details ? details.endpoints : (found as Endpoint[]);
  const lines: string[] = [];
  const bare = parseBareIntermediaryOrNull(name);
  const query = details?.query ?? (bare ? svcbQueryName(bare.name, bare.port) : name);
  lines.push(`Looked up SVCB ${plain(query)}${options.doh ? ` via ${options.doh}` : ''}.`);
  const aliases = details ? [query, ...details.aliases] : (endpoints.find((e) => e.aliases)?.aliases ?? []);
  for (let i = 1; i < aliases.length; i++) lines.push(`  ${plain(aliases[i - 1])} is an alias (AliasMode) for ${plain(aliases[i])}`);
  const records = details ? details.records.map(formatRecord) : [...new Set(endpoints.flatMap((e) => (e.record ? [e.record] : [])))];
  lines.push(`SVCB answer at ${plain(aliases[aliases.length - 1] ?? query)} (${records.length} record${records.length === 1 ? '' : 's'}):`);
  for (const r of records) lines.push(`  ${r}`);
  if (details && details.skipped.length > 0) {
    lines.push('Not usable:');
    for (const s of details.skipped) lines.push(`  ${s.record}\n    ${s.reason}`);
  }
  if (endpoints.length === 0) {
    lines.push('Nothing to connect to.');
  } else {
    lines.push(endpoints.length === 1 ? 'The agent would connect to:' : 'The agent would hold connections to each of these (one target:port is one intermediary; its addresses and carriers are alternatives, tried in order):');
    endpoints.forEach((e, i) => {
      const at = e.addresses.length > 0 ? ` at ${e.addresses.join(', ')}` : '';
      lines.push(`  ${i + 1}. ${e.url} — ${describeCarrier(e)}${at}, priority ${e.priority}`);
    });
  }
  return `${lines.join('\n')}\n`;
}

function parseBareIntermediaryOrNull(value: string): BareIntermediary | null {
  try {
    return parseBareIntermediary(value);
  } catch {
    return null;
  }
}
