/**
 * Discovery of client-selected intermediaries from `Via` (draft-bt-httpbis-reverse-http-01 §3.2):
 * "If a Via header arrives with an unrecognized host, the origin MAY attempt a Reverse HTTP
 * connection for use by future requests from this intermediary. If the intermediary does not
 * confirm the protocol via ALPN, the origin MUST close the connection."
 *
 * How we read it: each Via member's received-by (RFC 9110 §7.6.3) that is a DNS name (not a
 * pseudonym, not an IP literal) and not an intermediary we already know is tried once, as a bare
 * intermediary name: its `_http-reverse` SVCB record (draft §4) says where its Reverse HTTP
 * endpoint is (the port in Via is where the proxy took the request, not that endpoint). The
 * connection is an ordinary agent connection, so ALPN must come back `h2-reverse` or it closes.
 * Opt-in (`--via-discovery`): it makes the agent dial hosts named by request headers.
 *
 * @example
 * const discovery = new ViaDiscovery({ known: ['proxy-a.example.net'], start: (host) => startPeer(host) });
 * discovery.observe(request.headers.get('via'));   // "1.1 proxy-b.example.net, 2 rhttp"
 */

/** Most Via hosts tried over the agent's life: Via is written by whoever sends the request, so a flood of invented names must not become a flood of connections. */
export const MAX_VIA_PEERS = 8;

/** A peer connection started for one discovered host. */
export interface ViaPeer {
  stop(): Promise<void>;
}

/** Options of {@link ViaDiscovery}. */
export interface ViaDiscoveryOptions {
  /** Intermediary hosts we already connect to (never tried again). */
  known: readonly string[];
  /** Start a Reverse HTTP connection to the intermediary found for `host`. */
  start(host: string): ViaPeer;
  /** Most hosts to try (default {@link MAX_VIA_PEERS}). */
  maxPeers?: number;
}

/** One Via member: `received-protocol received-by [ comment ]` (RFC 9110 §7.6.3). */
export interface ViaMember {
  protocol: string;
  receivedBy: string;
}

/** Split a Via field value into members (commas inside comments do not split). */
export function parseVia(value: string): ViaMember[] {
  const members: ViaMember[] = [];
  let depth = 0;
  let current = '';
  const flush = () => {
    // Comments are dropped; what remains is "protocol received-by".
    const parts = current.replace(/\([^)]*\)/g, ' ').trim().split(/\s+/);
    if (parts.length >= 2 && parts[0] && parts[1]) members.push({ protocol: parts[0], receivedBy: parts[1] });
    current = '';
  };
  for (const ch of value) {
    if (ch === '(') depth++;
    else if (ch === ')') depth = Math.max(0, depth - 1);
    if (ch === ',' && depth === 0) flush();
    else current += ch;
  }
  flush();
  return members;
}

/** The DNS name in a received-by worth trying, lower case; undefined for pseudonyms and IP literals. */
export function viaHost(receivedBy: string): string | undefined {
  let host = receivedBy.toLowerCase();
  if (host.startsWith('[')) return undefined; // IPv6 literal
  const colon = host.lastIndexOf(':');
  if (colon >= 0) {
    if (!/^\d{1,5}$/.test(host.slice(colon + 1))) return undefined;
    host = host.slice(0, colon);
  }
  host = host.replace(/\.$/, '');
  // A pseudonym is a token; a name we can look up has at least two labels. IPv4 literals have no SVCB record.
  if (!host.includes('.') || /^[\d.]+$/.test(host)) return undefined;
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/.test(host)) return undefined;
  return host;
}

/** Watches Via fields and starts one peer connection per new intermediary host. */
export class ViaDiscovery {
  private readonly tried = new Set<string>();
  private readonly peers = new Map<string, ViaPeer>();
  private readonly maxPeers: number;
  private stopped = false;

  constructor(private readonly options: ViaDiscoveryOptions) {
    for (const host of options.known) this.tried.add(host.toLowerCase().replace(/\.$/, ''));
    this.maxPeers = options.maxPeers ?? MAX_VIA_PEERS;
  }

  /** Hosts a peer connection was started for. */
  get discovered(): string[] {
    return [...this.peers.keys()];
  }

  /** Look at one request's Via field; start peers for hosts not seen before. */
  observe(via: string | null): void {
    if (!via || this.stopped) return;
    for (const member of parseVia(via)) {
      const host = viaHost(member.receivedBy);
      if (!host || this.tried.has(host)) continue;
      if (this.tried.size - this.options.known.length >= this.maxPeers) return;
      this.tried.add(host);
      this.peers.set(host, this.options.start(host));
    }
  }

  /** Stop one peer (it refused, or its name has no Reverse HTTP endpoint); the host is not tried again. */
  async forget(host: string): Promise<void> {
    const peer = this.peers.get(host);
    this.peers.delete(host);
    await peer?.stop();
  }

  /** Stop every peer. */
  async stop(): Promise<void> {
    this.stopped = true;
    const peers = [...this.peers.values()];
    this.peers.clear();
    await Promise.all(peers.map((p) => p.stop()));
  }
}
