/**
 * Gradual ramp for new sessions: a fresh session starts with a few streams and reaches its
 * peer's limit over `SLOW_START_DURATION_MS`, so a reconnecting agent is not handed every
 * queued request at once (its caches and upstream connections are cold).
 */

/** Streams a brand-new session may carry: enough for a page's first burst, not a flood. */
export const SLOW_START_INITIAL_STREAMS = 4;
/** Time for a session's allowance to grow from the initial value to its maximum. */
export const SLOW_START_DURATION_MS = 10_000;
/** Ceiling the ramp grows toward when the peer sets no SETTINGS_MAX_CONCURRENT_STREAMS (Infinity). */
export const SLOW_START_UNLIMITED_CEILING = 100;

/**
 * Streams a session of age `ageMs` may carry under slow start (before the hard
 * `maxConcurrentStreams` limit, which always applies too). Grows linearly; Infinity once the
 * ramp is over.
 */
export function slowStartLimit(ageMs: number, maxConcurrentStreams: number): number {
  if (ageMs >= SLOW_START_DURATION_MS) return maxConcurrentStreams;
  const ceiling = Math.min(maxConcurrentStreams, SLOW_START_UNLIMITED_CEILING);
  if (ceiling <= SLOW_START_INITIAL_STREAMS) return ceiling;
  const grown = SLOW_START_INITIAL_STREAMS + ((ceiling - SLOW_START_INITIAL_STREAMS) * Math.max(0, ageMs)) / SLOW_START_DURATION_MS;
  return Math.floor(grown);
}
