/**
 * The peer's Origin Set as ORIGIN frames build it (RFC 8336 §2.3 for HTTP/2, RFC 9412 for HTTP/3):
 * each frame may add origins and none removes one, so the set only grows. One rule for both
 * engines, with a bound: without it a server could grow the client's memory for ever (in reverse
 * HTTP that server is an agent, and the client the broker).
 */

/** The most origins a peer's set may hold; past it the connection is closed (the engine's ENHANCE_YOUR_CALM / H3_EXCESSIVE_LOAD). */
export const MAX_PEER_ORIGINS = 1024;

/**
 * Adds a frame's origins to `set` (in place) and returns those that were new; `undefined`, with
 * `set` unchanged past what fitted, when the set would pass {@link MAX_PEER_ORIGINS}.
 */
export function growOriginSet(set: string[], received: readonly string[]): string[] | undefined {
  const added: string[] = [];
  const known = new Set(set);
  for (const origin of received) {
    if (known.has(origin)) continue;
    if (set.length >= MAX_PEER_ORIGINS) return undefined;
    known.add(origin);
    set.push(origin);
    added.push(origin);
  }
  return added;
}
