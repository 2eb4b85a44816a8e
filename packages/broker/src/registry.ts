/**
 * The set of brokers, one per key (the registrable domain of the origins it serves), and the
 * front door that routes a browser request to the right one. The edge keeps one Durable Object
 * per key; the Node intermediary keeps this registry in memory.
 *
 * @example
 * const registry = new BrokerRegistry({ keyFor: registrableDomain });
 * registry.register(session);   // throws SessionRefusedError if its origins span several domains
 * return registry.dispatch(request, { clientAddress, scheme: 'https' });
 */
import { toResponse, type ResponseMessage } from '@rhttp/core';
import { Broker, type BrokerOptions, type BrokerStatus } from './broker.js';
import { NoSessionError, SessionRefusedError, BadRequestError } from './errors.js';
import { originOf, parseOriginEntry, serializeOrigin, type ParsedOrigin } from './origin-match.js';
import type { BrokerSession, DispatchInfo, ForwardRequest } from './session.js';

/**
 * Stand-in key function: the last two DNS labels (`app.example.com` → `example.com`), or the
 * whole host for IP literals and single labels. Wrong for multi-label public suffixes
 * (`example.co.uk`); pass a Public-Suffix-List based `keyFor` in production.
 */
export function lastTwoLabels(host: string): string {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h.includes(':') || /^\d+(?:\.\d+){3}$/.test(h)) return h;
  const labels = h.split('.');
  return labels.slice(-2).join('.');
}

export interface BrokerRegistryOptions {
  /** Maps a host (for wildcard entries, the part after `*.`) to its broker key, e.g. the registrable domain. */
  keyFor?: (host: string) => string;
  /** Options for every broker the registry creates. */
  broker?: Omit<BrokerOptions, 'key'>;
}

export interface RegistryStatus {
  brokers: BrokerStatus[];
}

/**
 * Hosts whose broker key is remembered (the key function, a Public Suffix List lookup in
 * production, would otherwise run per request); past this the memory starts over, so a browser
 * sending random Host names cannot grow it.
 */
const KEY_MEMO_HOSTS = 4_096;

export class BrokerRegistry {
  readonly #keyFor: (host: string) => string;
  readonly #keyMemo = new Map<string, string>();
  readonly #brokerOptions: Omit<BrokerOptions, 'key'>;
  readonly #brokers = new Map<string, Broker>();
  readonly #sessionKeys = new Map<BrokerSession, string>();

  constructor(options: BrokerRegistryOptions = {}) {
    this.#keyFor = options.keyFor ?? lastTwoLabels;
    this.#brokerOptions = options.broker ?? {};
  }

  /** `keyFor(host)`, remembered (`host` lower case). */
  #key(host: string): string {
    let key = this.#keyMemo.get(host);
    if (key === undefined) {
      key = this.#keyFor(host);
      if (this.#keyMemo.size >= KEY_MEMO_HOSTS) this.#keyMemo.clear();
      this.#keyMemo.set(host, key);
    }
    return key;
  }

  /** The broker for `host`'s key, created on first use. */
  brokerFor(host: string): Broker {
    const key = this.#key(host.toLowerCase());
    let broker = this.#brokers.get(key);
    if (broker === undefined) {
      broker = new Broker({ ...this.#brokerOptions, key });
      this.#brokers.set(key, broker);
    }
    return broker;
  }

  /**
   * Registers a session with the broker of its origins' key and returns that broker. Throws
   * `SessionRefusedError` when the session has no valid origin, a malformed entry, or origins
   * spanning several keys (DESIGN "Broker semantics": such a connection is refused).
   */
  register(session: BrokerSession): Broker {
    if (session.origins.length === 0) {
      throw new SessionRefusedError(`Session ${session.id} declares no origins; register it once its origin set is known.`);
    }
    const keys = new Map<string, string[]>();
    for (const entry of session.origins) {
      const parsed = parseOriginEntry(entry);
      if (parsed === undefined) {
        throw new SessionRefusedError(`Session ${session.id} declares a malformed origin ${JSON.stringify(entry)}; expected e.g. "https://app.example.com" or "https://*.example.com".`);
      }
      const key = this.#key(parsed.host);
      keys.set(key, [...(keys.get(key) ?? []), serializeOrigin(parsed)]);
    }
    if (keys.size > 1) {
      const spans = [...keys].map(([key, origins]) => `${key} (${origins.join(', ')})`).join('; ');
      throw new SessionRefusedError(`Session ${session.id} serves origins in ${keys.size} registrable domains: ${spans}. One connection may serve one registrable domain; open one connection per domain.`);
    }
    const [key] = keys.keys();
    const previous = this.#sessionKeys.get(session);
    if (previous !== undefined && previous !== key) this.unregister(session);
    let broker = this.#brokers.get(key);
    if (broker === undefined) {
      broker = new Broker({ ...this.#brokerOptions, key });
      this.#brokers.set(key, broker);
    }
    broker.register(session);
    this.#sessionKeys.set(session, key);
    return broker;
  }

  /** Removes a session from its broker, and the broker once it is idle. */
  unregister(session: BrokerSession): void {
    const key = this.#sessionKeys.get(session);
    if (key === undefined) return;
    this.#sessionKeys.delete(session);
    const broker = this.#brokers.get(key);
    if (broker === undefined) return;
    broker.unregister(session);
    if (broker.idle) this.#brokers.delete(key);
  }

  /** Routes by the request's host to its broker; 503 `destination_unavailable` when there is none. */
  async dispatch(request: ForwardRequest, info: DispatchInfo): Promise<Response> {
    return toResponse(await this.exchange(request, info));
  }

  /** {@link dispatch} as a message (`Broker.exchange`): what a listener relays without web objects. */
  exchange(request: ForwardRequest, info: DispatchInfo): Promise<ResponseMessage> {
    const target = originOf(request);
    if (target === undefined) {
      return Promise.resolve(new BadRequestError('This request has no http or https authority to forward to.').toMessage());
    }
    const broker = this.#brokers.get(this.#key(target.host));
    if (broker === undefined) return Promise.resolve(new NoSessionError(serializeOrigin(target)).toMessage());
    return broker.exchange(request, info);
  }

  /** True when a live, non-draining session serves `target` now (what a request to it would be routed to). */
  serves(target: ParsedOrigin): boolean {
    return this.#brokers.get(this.#key(target.host))?.serves(target) ?? false;
  }

  /** Routes an extended CONNECT (`Broker.tunnel`) by the request's host, like `dispatch`. */
  async tunnel(request: ForwardRequest, protocol: string, info: DispatchInfo): Promise<Response> {
    const target = originOf(request);
    if (target === undefined) {
      return new BadRequestError('This request has no http or https authority to forward to.').toResponse();
    }
    const broker = this.#brokers.get(this.#key(target.host));
    if (broker === undefined) return new NoSessionError(serializeOrigin(target)).toResponse();
    return broker.tunnel(request, protocol, info);
  }

  /** Every broker's snapshot (idle brokers are dropped first). */
  status(): RegistryStatus {
    for (const [key, broker] of this.#brokers) if (broker.idle) this.#brokers.delete(key);
    for (const [session, key] of this.#sessionKeys) if (!this.#brokers.has(key) || session.isClosed) this.#sessionKeys.delete(session);
    return { brokers: [...this.#brokers.values()].map((b) => b.status()) };
  }
}
