/**
 * One large ArrayBuffer, allocated and dropped once per process when a connection first moves bulk
 * data, so that glibc's malloc stops handing memory back to the kernel after every garbage
 * collection.
 *
 * glibc trims its heap whenever more than M_TRIM_THRESHOLD (128 KiB unless raised) is free at the
 * top. The memory comes back one page fault per 4 KiB on the next allocations. A Node socket reads
 * into a new 64 KiB buffer each time, and that buffer is freed only when the garbage collector
 * finds it dead. So during a bulk transfer each scavenge frees many MiB at once, and the heap is
 * trimmed and then faulted back in, again and again. A core server that received 256 MiB uploads
 * took 17,000–52,000 page faults per upload, more with each one, and 3–4× the time node:http2
 * took. (Node's own HTTP/2 frees its read buffers at once.)
 *
 * When glibc frees a chunk it had mapped (anything above its mmap threshold), it raises its mmap
 * threshold to that chunk's size and its trim threshold to twice that, for chunks up to 32 MiB
 * (DEFAULT_MMAP_THRESHOLD_MAX). Dropping one buffer of just under 32 MiB therefore lets the heap
 * keep up to 64 MiB free. (8 MiB was not enough: one scavenge could free more than 16 MiB, and the
 * faults came back from the third upload on.) With it, the same server took 30–1,900 page faults
 * per upload and moved 256 MiB in 0.27–0.39 s instead of 0.43–0.71 s, side by side with the old
 * code; its RSS stayed ≈15 MiB higher.
 *
 * This happens only once a connection has moved {@link BULK_BYTES}. A process that only holds many
 * idle connections keeps glibc's defaults, and so keeps its RSS low. Under other allocators (Bun,
 * musl) it costs one transient allocation.
 */

/** Octets one connection moves (both ways) before the process counts as moving bulk data. */
export const BULK_BYTES = 4 << 20;
/** The buffer dropped: glibc's thresholds become this (mmap) and twice this (trim). */
export const RAISE_BYTES = (32 << 20) - (64 << 10);

let raised = false;

/** A per-connection counter: `add(octets)` for what it reads and writes; calls `raise` once it passes {@link BULK_BYTES}. */
export class BulkCounter {
  #octets = 0;

  constructor(private readonly raise: () => void = raiseAllocatorThresholds) {}

  add(octets: number): void {
    // Once the process has raised them, no connection needs to count any more.
    if (raised || this.#octets >= BULK_BYTES) return;
    this.#octets += octets;
    if (this.#octets >= BULK_BYTES) this.raise();
  }
}

/** Allocate and drop {@link RAISE_BYTES}, once per process. */
export function raiseAllocatorThresholds(): void {
  if (raised) return;
  raised = true;
  // Never touched, so never faulted in: calloc maps it zeroed, and freeing it (when the next
  // scavenge finds it dead) is what raises the thresholds.
  void new ArrayBuffer(RAISE_BYTES);
}
