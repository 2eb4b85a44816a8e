/**
 * V8 settings for a proxy process (rhttp-agent, rhttp-intermediary), set by their CLIs at start.
 * There are two, each for a state of V8's garbage collector that a proxy's load brings about.
 *
 * **Allocation-site pretenuring, off.** A proxy allocates a few KiB of short-lived objects per request: parsed heads, field lists,
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
 *
 * **The old generation's growing factor, pinned at 4.** After each full GC, V8 sets the next
 * one's limit at the live size times a factor it picks from 1.1 to 4 by how fast the program
 * promotes objects compared with how fast the GC marks them. A bulk transfer moves hundreds of
 * MB/s in Buffers (outside the JavaScript heap) with hardly any objects promoted, so V8 picks 1.1:
 * the agent's trace (`--trace-gc-verbose`, after request load had grown its young generation to
 * 16 MB) showed "factor 1.1 based on … speed_ratio=335146", a limit of 38.7 MB for 14.4 MB live.
 * That leaves less room than the young generation it may promote at once, so V8 starts marking
 * again at once: a full GC about every 100 ms through the whole transfer (8–9 per 256 MiB in each
 * process), each freeing nothing (14.2 → 14.1 MB), with concurrent marking on a second thread.
 * Both proxies then spent about twice the CPU per byte: 209–305 MB/s where fresh processes moved
 * 400–540. Request load, which promotes faster, already gets the factor of 4 from V8 itself.
 * `--heap-growing-percent=300` gives that factor always: no full GCs in the same transfers and
 * 385–501 MB/s. The cost is that garbage in the old generation may grow to four times the live
 * size before it is collected; with pretenuring off and no churned Maps little reaches it.
 */
import * as v8 from 'node:v8';

/** The V8 flags {@link tuneForProxying} sets (see the module's comment). */
export const PROXY_V8_FLAGS: readonly string[] = ['--no-allocation-site-pretenuring', '--heap-growing-percent=300'];

/**
 * Set {@link PROXY_V8_FLAGS} for this process: no allocation-site pretenuring, and the old
 * generation's growing factor at 4 (see the module's comment). Call it once at the start of a
 * process that serves requests, before the load begins; an embedder of `Agent` or `Intermediary`
 * may call it too, or start node with the flags. It changes when the garbage collector runs and
 * what it copies, never what a program computes.
 */
export function tuneForProxying(): void {
  try {
    for (const flag of PROXY_V8_FLAGS) v8.setFlagsFromString(flag);
  } catch {
    // A runtime without V8 flags: nothing to tune.
  }
}
