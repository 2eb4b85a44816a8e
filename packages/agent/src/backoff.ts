/**
 * Reconnect delays: exponential backoff with "full jitter" (a uniformly random delay between 0
 * and the exponential ceiling), so that many agents cut off at once do not come back in step.
 */

/** First ceiling: a blip (an intermediary restart) is retried almost at once. */
export const DEFAULT_BACKOFF_BASE_MS = 250;
/** Largest ceiling: a long outage is probed about twice a minute, not hammered. */
export const DEFAULT_BACKOFF_CAP_MS = 30_000;
/**
 * Delay after the intermediary refused us (GOAWAY with an error, e.g. an origin our certificate
 * does not cover): retrying sooner would only repeat the refusal until someone fixes the setup.
 */
export const DEFAULT_REFUSED_BACKOFF_MS = 5 * 60_000;
/** A connection that lived this long was healthy: the next failure starts the backoff over. */
export const DEFAULT_HEALTHY_AFTER_MS = 60_000;

/** The reconnect policy of one connection slot (all fields in milliseconds). */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
  refusedMs: number;
  healthyAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  baseMs: DEFAULT_BACKOFF_BASE_MS,
  capMs: DEFAULT_BACKOFF_CAP_MS,
  refusedMs: DEFAULT_REFUSED_BACKOFF_MS,
  healthyAfterMs: DEFAULT_HEALTHY_AFTER_MS,
};

/**
 * The delay before attempt number `failures` (0 for the first retry): a random value in
 * [0, min(cap, base · 2^failures)]. `random` returns [0, 1) like Math.random.
 */
export function backoffDelay(failures: number, policy: Pick<BackoffPolicy, 'baseMs' | 'capMs'>, random: () => number = Math.random): number {
  // 2^failures overflows to Infinity for large counts; min() with the cap keeps it finite.
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, failures));
  return Math.floor(random() * ceiling);
}
