/**
 * Origin-set entries and the authority of a browser request, and whether one covers the other
 * (RFC 8336 §2.3 for the Origin Set; draft-bt-httpbis-reverse-http-01 for the `*.` wildcard).
 *
 * A wildcard entry `https://*.example.com` covers exactly one extra left-most label:
 * `https://app.example.com` yes, `https://example.com` and `https://a.b.example.com` no.
 * Scheme and port always have to be equal.
 */

/** A parsed origin: lower-case scheme and host, explicit port (defaults filled in). */
export interface ParsedOrigin {
  readonly scheme: string;
  /** Host without brackets for IPv6; for a wildcard entry, the part after `*.`. */
  readonly host: string;
  readonly port: number;
  /** True for `scheme://*.suffix[:port]` entries. */
  readonly wildcard: boolean;
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { http: 80, https: 443 };

/** DNS label: letters, digits, hyphen, underscore (seen in real hostnames), 1–63 chars. */
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * Parses an ASCII-serialized origin such as `https://app.example.com:8443` or
 * `https://*.example.com`. Returns `undefined` for anything else (paths, userinfo, unknown
 * schemes, empty labels), so a malformed ORIGIN entry simply matches nothing. (@rhttp/core's
 * `parseOrigin` is the strict one: it throws an OriginError saying what is wrong.)
 */
export function parseOriginEntry(serialized: string): ParsedOrigin | undefined {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/(\[[0-9a-fA-F:.]+\]|[^/:?#@[\]]+)(?::(\d{1,5}))?\/?$/.exec(serialized);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  const defaultPort = DEFAULT_PORTS[scheme];
  if (defaultPort === undefined) return undefined;
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  let host = m[2].toLowerCase();
  if (host.startsWith('[')) return { scheme, host: host.slice(1, -1), port, wildcard: false };
  if (host.endsWith('.')) host = host.slice(0, -1);
  let wildcard = false;
  if (host.startsWith('*.')) {
    wildcard = true;
    host = host.slice(2);
  }
  const labels = host.split('.');
  if (!labels.every((l) => LABEL.test(l))) return undefined;
  // A wildcard over a bare TLD (`*.com`) would claim a whole public namespace.
  if (wildcard && labels.length < 2) return undefined;
  return { scheme, host, port, wildcard };
}

/** The origin a request is addressed to, from its URL (built from `:authority`/Host and the listener's scheme). */
export function requestOrigin(url: string | URL): ParsedOrigin | undefined {
  let u: URL;
  try {
    u = typeof url === 'string' ? new URL(url) : url;
  } catch {
    return undefined;
  }
  const scheme = u.protocol.slice(0, -1);
  const defaultPort = DEFAULT_PORTS[scheme];
  if (defaultPort === undefined || u.hostname === '') return undefined;
  let host = u.hostname.toLowerCase();
  if (host.startsWith('[')) host = host.slice(1, -1);
  else if (host.endsWith('.')) host = host.slice(0, -1);
  return { scheme, host, port: u.port === '' ? defaultPort : Number(u.port), wildcard: false };
}

/**
 * The origin a request is routed by: the one it carries (`ForwardRequest.origin`, parsed by the
 * listener that built it) or else {@link requestOrigin} of its URL. `url` is the request's URL
 * when the caller has parsed it already (so a string is not parsed twice). Every hop that routes
 * reads the origin through here.
 */
export function originOf(request: { readonly url: string | URL; readonly origin?: ParsedOrigin | undefined }, url: string | URL = request.url): ParsedOrigin | undefined {
  return request.origin ?? requestOrigin(url);
}

/** The same host as `origin` on `https` and its default port (where a cleartext listener looks when no agent serves the `http` origin). */
export function secureOrigin(origin: ParsedOrigin): ParsedOrigin {
  return { scheme: 'https', host: origin.host, port: DEFAULT_PORTS.https, wildcard: origin.wildcard };
}

function isIpLiteral(host: string): boolean {
  return host.includes(':') || /^\d+(?:\.\d+){3}$/.test(host);
}

/** How an origin-set entry matches a target: `'exact'`, `'wildcard'`, or `undefined` for no match. */
export function originMatch(entry: ParsedOrigin, target: ParsedOrigin): 'exact' | 'wildcard' | undefined {
  if (entry.scheme !== target.scheme || entry.port !== target.port) return undefined;
  if (!entry.wildcard) return entry.host === target.host ? 'exact' : undefined;
  if (isIpLiteral(target.host)) return undefined;
  const dot = target.host.indexOf('.');
  // Exactly one extra label: what precedes the suffix must be a single non-empty label.
  if (dot <= 0 || target.host.slice(dot + 1) !== entry.host) return undefined;
  return 'wildcard';
}

/** True when `entry` (exactly or by wildcard) covers `target`. */
export function originCovers(entry: ParsedOrigin, target: ParsedOrigin): boolean {
  return originMatch(entry, target) !== undefined;
}

/** ASCII serialization, default port omitted: `https://*.example.com`, `http://[::1]:8080`. */
export function serializeOrigin(origin: ParsedOrigin): string {
  const host = origin.host.includes(':') ? `[${origin.host}]` : origin.wildcard ? `*.${origin.host}` : origin.host;
  const port = DEFAULT_PORTS[origin.scheme] === origin.port ? '' : `:${origin.port}`;
  return `${origin.scheme}://${host}${port}`;
}
