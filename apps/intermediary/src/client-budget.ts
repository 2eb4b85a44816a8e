/**
 * Concurrent exchanges per client address: one browser address (or a botnet's worth of
 * connections from it) may hold at most this many requests in flight through the intermediary.
 * The cap per HTTP/2 connection is the listener's SETTINGS_MAX_CONCURRENT_STREAMS; this one stops
 * the same client from multiplying connections to pin more streams (and the agent's buffers
 * behind them). Refusals answer 503 with Proxy-Status, counted for metrics.
 *
 * @example
 * const budget = new ClientBudget(256);
 * const release = budget.acquire('203.0.113.7');  // undefined: refused
 * // … when the exchange ends: release?.()
 */

/**
 * Default in-flight exchanges per client address: several browsers behind one NAT, each with a
 * few HTTP/2 connections of 100 streams, fit; one address holding thousands of stalled streams
 * does not.
 */
export const DEFAULT_MAX_EXCHANGES_PER_CLIENT = 512;

export class ClientBudget {
  private readonly inFlight = new Map<string, number>();
  /** Exchanges refused because their address was at its cap. */
  refused = 0;

  constructor(readonly maxPerClient: number = DEFAULT_MAX_EXCHANGES_PER_CLIENT) {}

  /** Exchanges in flight now, over all addresses. */
  get active(): number {
    let n = 0;
    for (const v of this.inFlight.values()) n += v;
    return n;
  }

  /** Addresses with at least one exchange in flight. */
  get clients(): number {
    return this.inFlight.size;
  }

  /** Takes one slot for `address`; returns its release (call once), or undefined when the address is at its cap. */
  acquire(address: string): (() => void) | undefined {
    const n = this.inFlight.get(address) ?? 0;
    if (n >= this.maxPerClient) {
      this.refused++;
      return undefined;
    }
    this.inFlight.set(address, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(address) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(address);
      else this.inFlight.set(address, left);
    };
  }
}
