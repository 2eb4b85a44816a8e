/**
 * V8 settings for a proxy process (rhttp-agent, rhttp-intermediary), set by their CLIs at start.
 *
 * A proxy allocates a few KiB of short-lived objects per request: parsed heads, field lists,
 * closures, frames. V8's allocation-site pretenuring watches object and array literals, and when
 * most objects from one site are still alive at a scavenge it allocates that site's objects in the
 * old generation from then on. Under a steady request load it takes the in-flight requests'
 * literals for long-lived ones. Pretenured objects die young anyway. Until the next full GC, every
 * young object they point to (the rest of each request) counts as alive in each scavenge, so it is
 * copied and then promoted. That makes the promoted requests look long-lived too, and the state
 * feeds itself.
 *
 * Measured on the agent of `npm run bench:tunnel` (h2load -c 10 -m 10 through the tunnel, Node 20,
 * `--trace-gc-nvp`): with pretenuring on, 40–46% of each scavenge's new space survived, about
 * 3 MB a time was promoted, and each scavenge paused 10–20 ms. With it off, under 2% survived,
 * nothing was promoted, and pauses were 1–2 ms. In a side-by-side A/B the agent's CPU per request
 * went from 69 to 39 µs. The same kind of state has a second cause, churned Maps and Sets, which
 * @rhttp/core's IdTable removes (id-table.ts); with that fixed this flag still matters: three
 * alternating rounds, agent CPU per request 48–52 µs with it and 72–101 µs without.
 *
 * Node 20 (V8 11.3) is where this was measured and where it helps. Bun (JavaScriptCore) has no such
 * flag, and Deno's `node:v8` setter does nothing: there the call changes nothing. Deno 2.9 (V8 15)
 * did not need it: the agent under Deno with `--v8-flags=--no-allocation-site-pretenuring` against
 * without, three alternating rounds of the same load, showed no difference in CPU per request.
 */
import * as v8 from 'node:v8';

/** The V8 flag {@link tuneForProxying} sets. */
const NO_PRETENURING_FLAG = '--no-allocation-site-pretenuring';

/**
 * Turn off V8's allocation-site pretenuring for this process (see the module's comment). Call it
 * once at the start of a process that serves requests, before the load begins; an embedder of
 * `Agent` or `Intermediary` may call it too, or start node with the flag. It changes when the
 * garbage collector runs and what it copies, never what a program computes.
 */
export function tuneForProxying(): void {
  try {
    v8.setFlagsFromString(NO_PRETENURING_FLAG);
  } catch {
    // A runtime without V8 flags: nothing to tune.
  }
}
