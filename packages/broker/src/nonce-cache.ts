/**
 * Nonces of accepted upgrade signatures, remembered for as long as a signature with that nonce
 * could still be fresh, so a captured upgrade request cannot be replayed (DESIGN.md, Carrier 2).
 * In memory: in the edge's broker object (agents for one registrable domain all reach the same
 * object), and once per Node intermediary.
 */

/** Most nonces remembered at once: bounds memory if something floods the upgrade endpoint with valid signatures. */
export const MAX_REMEMBERED_NONCES = 100_000;

export class NonceCache {
  readonly #expiry = new Map<string, number>();
  readonly #windowMs: number;

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /**
   * Records `nonce` as used at `nowMs`. Returns false if it was already used within the window
   * (a replay). When full, the oldest entries are dropped early; only a holder of a trusted
   * certificate's key can fill the cache (every entry needs a valid signature), so that is the
   * one who could then replay its own dropped nonces.
   */
  use(nonce: string, nowMs: number): boolean {
    this.#sweep(nowMs);
    const expires = this.#expiry.get(nonce);
    if (expires !== undefined && expires > nowMs) return false;
    if (this.#expiry.size >= MAX_REMEMBERED_NONCES) {
      const oldest = this.#expiry.keys().next().value;
      if (oldest !== undefined) this.#expiry.delete(oldest);
    }
    this.#expiry.set(nonce, nowMs + this.#windowMs);
    return true;
  }

  get size(): number {
    return this.#expiry.size;
  }

  #sweep(nowMs: number): void {
    // Insertion order is expiry order (constant window), so stop at the first live entry.
    for (const [nonce, expires] of this.#expiry) {
      if (expires > nowMs) break;
      this.#expiry.delete(nonce);
    }
  }
}
