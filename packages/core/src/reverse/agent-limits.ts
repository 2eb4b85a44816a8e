/**
 * What an agent allows its intermediary that it would not allow a browser. On a reversed
 * connection one peer, the intermediary, carries the cancellations of every browser it serves and
 * the resets of its own buffer budget. It bounds each browser connection itself (too many resets
 * → GOAWAY to that browser), so at the agent those resets must not trip the Rapid Reset defence
 * meant for a single client (limits.ts, 200 per second): that closes the whole reversed connection,
 * and with it every other tenant's requests in flight on it.
 */
import { DEFAULT_LIMITS } from '../proto/limits.js';

/**
 * Stream resets per `resetWindowMs` the agent takes from its intermediary: 50 browsers' worth of
 * the per-client bound. It stays a bound (a broken intermediary cannot make the agent start and
 * drop upstream requests without end), but no single browser can reach it.
 */
export const REVERSED_RESETS_PER_WINDOW = 50 * DEFAULT_LIMITS.maxResetsPerWindow;
