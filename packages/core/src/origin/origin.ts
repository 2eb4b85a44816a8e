/**
 * Origins (RFC 6454) as rhttp uses them: the entries of an ORIGIN frame (RFC 8336) and of the
 * PTTH upgrade path, the keys the broker routes by, and what a certificate must cover.
 *
 * Unlike RFC 8336 §2.2, an origin-set entry may be a wildcard, `https://*.example.com`
 * (draft-bt-httpbis-reverse-http-01), which covers exactly one extra left-most label.
 *
 * @example
 * const entry = parseOrigin('https://*.example.com');
 * originCovers(entry, { scheme: 'https', ...parseAuthority('a.example.com', 'https') }); // true
 * registrableDomain(entry.host); // "example.com"
 */
import { getDomain } from 'tldts';
import { RhttpError } from '../errors.js';
import { canonicalIPAddress, formatIPv6, parseIPv4, parseIPv6 } from './ip-address.js';

export { unbracketHost } from './ip-address.js';

/** A parsed ASCII-serialized origin, possibly a wildcard ("https://*.example.com"). Ports: default (443/80) omitted when serialized. */
export interface Origin {
  scheme: 'https' | 'http';
  /** Lower-case; IPv6 in brackets (canonical RFC 5952 text); a wildcard keeps its leading "*.". */
  host: string;
  port: number;
  /** `host` starts with "*.". */
  wildcard: boolean;
}

/** An origin or authority could not be parsed. `code` is `ERR_RHTTP_ORIGIN`. */
export class OriginError extends RhttpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_RHTTP_ORIGIN', message, options);
  }
}

/** Longest origin text we look at: scheme + "://" + a 253-octet name + ":65535", with room to spare. */
export const MAX_ORIGIN_LENGTH = 512;
/** Most origins one PTTH path may list: bounds the work one upgrade request causes; real agents claim a handful. */
export const MAX_ORIGINS_IN_LIST = 100;
/** RFC 1035 §2.3.4: a name is at most 253 octets in text form (255 on the wire). */
const MAX_DNS_NAME_LENGTH = 253;
/** RFC 1035 §2.3.4: a label is at most 63 octets. */
const MAX_DNS_LABEL_LENGTH = 63;

const DEFAULT_PORT = { https: 443, http: 80 } as const;

/**
 * Parses `scheme://host[:port]`. Scheme and host are case-insensitive and come back lower-case;
 * an explicit default port is dropped on serialization. Throws {@link OriginError} with a plain
 * explanation for anything else: paths (even a lone "/"), queries, fragments, userinfo,
 * non-ASCII hosts (use the A-label, `xn--…`), `*` anywhere but as the whole left-most label.
 */
export function parseOrigin(text: string): Origin {
  if (typeof text !== 'string') throw new OriginError(`origin must be a string, got ${typeof text}`);
  const shown = show(text);
  if (text.length > MAX_ORIGIN_LENGTH) {
    throw new OriginError(`origin ${shown} is longer than ${MAX_ORIGIN_LENGTH} characters`);
  }
  const sep = text.indexOf('://');
  if (sep < 0) {
    throw new OriginError(`origin ${shown} is not of the form scheme://host[:port], e.g. "https://app.example.com"`);
  }
  const scheme = text.slice(0, sep).toLowerCase();
  if (scheme !== 'https' && scheme !== 'http') {
    throw new OriginError(`origin ${shown} has scheme "${text.slice(0, sep)}"; only https:// and http:// origins are supported`);
  }
  const rest = text.slice(sep + 3);
  const extra = rest.search(/[/?#]/);
  if (extra >= 0) {
    const what = rest[extra] === '/' ? (rest.slice(extra) === '/' ? 'a trailing "/"' : 'a path') : rest[extra] === '?' ? 'a query' : 'a fragment';
    throw new OriginError(`origin ${shown} has ${what}; an origin is only scheme://host[:port], e.g. "${scheme}://${rest.slice(0, extra)}"`);
  }
  if (rest.includes('@')) {
    throw new OriginError(`origin ${shown} contains userinfo ("…@"); an origin is only scheme://host[:port]`);
  }
  const { host, port } = parseHostAndPort(rest, scheme, `origin ${shown}`, true);
  return { scheme, host, port, wildcard: host.startsWith('*.') };
}

/** ASCII serialization (RFC 6454 §6.2): `scheme://host[:port]`, the default port omitted. */
export function serializeOrigin(o: Origin): string {
  return o.port === DEFAULT_PORT[o.scheme] ? `${o.scheme}://${o.host}` : `${o.scheme}://${o.host}:${o.port}`;
}

/**
 * Does origin-set entry `entry` cover a request authority? Exact host match, or a wildcard
 * matching exactly ONE extra left-most label (`*.example.com` covers `a.example.com`, not
 * `example.com` nor `a.b.example.com`); scheme and port must match. An entry always covers an
 * identical entry, so this also answers "is wildcard entry X one of the listed ones".
 */
export function originCovers(entry: Origin, target: { scheme: string; host: string; port: number }): boolean {
  if (entry.scheme !== target.scheme.toLowerCase() || entry.port !== target.port) return false;
  const host = target.host.toLowerCase();
  if (entry.host === host) return true;
  if (!entry.wildcard) return false;
  const suffix = entry.host.slice(1); // ".example.com"
  if (!host.endsWith(suffix)) return false;
  const label = host.slice(0, -suffix.length);
  return label.length > 0 && !label.includes('.') && label !== '*';
}

/**
 * Parses a request authority (`:authority` pseudo-header or `Host` field) into a lower-case host
 * (IPv6 in brackets, canonical) and a port (the scheme's default when absent). A trailing dot on
 * a DNS name is dropped (`example.com.` is `example.com`). Throws {@link OriginError} on garbage,
 * on userinfo and on `*`.
 */
export function parseAuthority(authority: string, scheme: 'http' | 'https'): { host: string; port: number } {
  if (typeof authority !== 'string') throw new OriginError(`authority must be a string, got ${typeof authority}`);
  const shown = show(authority);
  if (authority.length > MAX_ORIGIN_LENGTH) {
    throw new OriginError(`authority ${shown} is longer than ${MAX_ORIGIN_LENGTH} characters`);
  }
  // RFC 9113 §8.3.1: ":authority MUST NOT include the deprecated userinfo subcomponent for
  // "http" or "https" schemed URIs."
  if (authority.includes('@')) throw new OriginError(`authority ${shown} contains userinfo ("…@"), which is not allowed`);
  if (/[/?#]/.test(authority)) throw new OriginError(`authority ${shown} contains "/", "?" or "#"; it must be host[:port]`);
  return parseHostAndPort(authority, scheme, `authority ${shown}`, false);
}

/**
 * The `{serialized_origin}` path segment of the PTTH upgrade request (DESIGN.md, Carrier 2):
 * each origin normalized, percent-encoded, joined by ",". Throws {@link OriginError} on a bad
 * origin or an empty list.
 *
 * @example serializeOriginList(['https://app.example.com']) // "https%3A%2F%2Fapp.example.com"
 */
export function serializeOriginList(origins: string[]): string {
  if (origins.length === 0) throw new OriginError('the origin list is empty; list at least one origin');
  if (origins.length > MAX_ORIGINS_IN_LIST) {
    throw new OriginError(`${origins.length} origins listed; at most ${MAX_ORIGINS_IN_LIST} are allowed`);
  }
  // encodeURIComponent escapes ":", "/" and "," (so the list splits unambiguously) and keeps "*".
  return origins.map((o) => encodeURIComponent(serializeOrigin(parseOrigin(o)))).join(',');
}

/** Inverse of {@link serializeOriginList}. Throws {@link OriginError} naming the bad entry. */
export function parseOriginList(segment: string): Origin[] {
  if (typeof segment !== 'string' || segment.length === 0) {
    throw new OriginError('the origin list is empty; expected comma-separated, percent-encoded origins');
  }
  const parts = segment.split(',');
  if (parts.length > MAX_ORIGINS_IN_LIST) {
    throw new OriginError(`${parts.length} origins listed; at most ${MAX_ORIGINS_IN_LIST} are allowed`);
  }
  return parts.map((part, i) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(part);
    } catch (cause) {
      throw new OriginError(`origin list entry ${i + 1} (${show(part)}) is not valid percent-encoding`, { cause });
    }
    if (decoded.length === 0) throw new OriginError(`origin list entry ${i + 1} is empty`);
    return parseOrigin(decoded);
  });
}

/**
 * Registrable domain (eTLD+1 by the Public Suffix List, private section included, so
 * `alice.github.io` and `bob.github.io` are different domains, as browsers treat them) of a
 * host. For IP addresses and hosts without a public suffix (`localhost`, `co.uk`), the host
 * itself. For a wildcard host (`*.app.example.com`), of the part after "*.".
 */
export function registrableDomain(host: string): string {
  let name = host.toLowerCase();
  if (name.startsWith('*.')) name = name.slice(2);
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (canonicalIPAddress(name) !== null) return name;
  return getDomain(name, { allowPrivateDomains: true, extractHostname: false, detectIp: false }) ?? name;
}

function show(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/** Splits and validates `host[:port]`; `what` starts every error message. */
function parseHostAndPort(
  text: string,
  scheme: 'http' | 'https',
  what: string,
  allowWildcard: boolean,
): { host: string; port: number } {
  let hostText: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new OriginError(`${what} has "[" without a closing "]"`);
    hostText = text.slice(0, close + 1);
    const after = text.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) throw new OriginError(`${what} has unexpected text after "]"`);
      portText = after.slice(1);
    }
  } else {
    const colon = text.indexOf(':');
    if (colon >= 0 && text.indexOf(':', colon + 1) >= 0) {
      throw new OriginError(`${what} has several ":"; an IPv6 address must be written in brackets, e.g. "[::1]"`);
    }
    hostText = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
  }
  const host = parseHost(hostText, what, allowWildcard);
  let port: number = DEFAULT_PORT[scheme];
  if (portText !== undefined) {
    if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw new OriginError(`${what} has port ${JSON.stringify(portText)}; a port is a number from 1 to 65535`);
    }
    port = Number(portText);
  }
  return { host, port };
}

function parseHost(text: string, what: string, allowWildcard: boolean): string {
  if (text.length === 0) throw new OriginError(`${what} has no host`);
  if (text.startsWith('[')) {
    const inner = text.slice(1, -1);
    if (inner.includes('%')) throw new OriginError(`${what} has an IPv6 zone id ("%…"), which is not allowed`);
    const bytes = parseIPv6(inner);
    if (bytes === null) throw new OriginError(`${what} has ${JSON.stringify(text)}, which is not a valid IPv6 address`);
    return `[${formatIPv6(bytes)}]`;
  }
  // eslint-disable-next-line no-control-regex
  if (/[^\x21-\x7e]/.test(text)) {
    throw new OriginError(
      /[\s]/.test(text)
        ? `${what} contains whitespace`
        : `${what} has a non-ASCII host; write internationalized names in A-label (punycode) form, e.g. "xn--bcher-kva.example"`,
    );
  }
  let host = text.toLowerCase();
  if (!allowWildcard && host.endsWith('.') && host.length > 1) host = host.slice(0, -1);
  let wildcard = false;
  if (host.startsWith('*.')) {
    if (!allowWildcard) throw new OriginError(`${what} contains "*", which only an origin-set entry may use`);
    wildcard = true;
    host = host.slice(2);
  }
  if (host.includes('*')) {
    throw new OriginError(
      allowWildcard
        ? `${what}: "*" is only allowed as the whole left-most label, e.g. "https://*.example.com"`
        : `${what} contains "*", which only an origin-set entry may use`,
    );
  }
  const labels = host.split('.');
  const last = labels[labels.length - 1];
  if (/^[0-9]+$/.test(last) || /^0x[0-9a-f]*$/.test(last)) {
    // A name ending in a numeric label is an IPv4 address or nothing (WHATWG URL host parser).
    if (wildcard || parseIPv4(host) === null) {
      throw new OriginError(`${what} has host ${JSON.stringify(text)}, which is not a valid IPv4 address or DNS name`);
    }
    return host;
  }
  if (host.length > MAX_DNS_NAME_LENGTH) {
    throw new OriginError(`${what} has a host longer than ${MAX_DNS_NAME_LENGTH} characters`);
  }
  for (const label of labels) {
    if (label.length === 0) {
      throw new OriginError(`${what} has host ${JSON.stringify(text)} with an empty label ("..", or a leading or trailing ".")`);
    }
    if (label.length > MAX_DNS_LABEL_LENGTH) {
      throw new OriginError(`${what} has a host label longer than ${MAX_DNS_LABEL_LENGTH} characters`);
    }
    // Letters, digits and hyphen (RFC 1123 §2.1), plus "_", which real names carry.
    if (!/^[a-z0-9_-]+$/.test(label)) {
      throw new OriginError(`${what} has host ${JSON.stringify(text)} with characters not allowed in a DNS name`);
    }
  }
  return wildcard ? `*.${host}` : host;
}
