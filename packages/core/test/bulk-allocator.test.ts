/** transport/bulk-allocator.ts: the once-per-connection trigger that raises glibc's malloc thresholds once bulk data moves. */
import { describe, expect, it } from 'vitest';
import { BULK_BYTES, BulkCounter, RAISE_BYTES } from '../src/transport/bulk-allocator.js';

describe('BulkCounter', () => {
  it('raises once, when the octets a connection moved reach BULK_BYTES, and never again', () => {
    let raised = 0;
    const counter = new BulkCounter(() => raised++);
    const chunk = 64 * 1024;
    for (let moved = chunk; moved < BULK_BYTES; moved += chunk) counter.add(chunk);
    expect(raised).toBe(0);
    counter.add(chunk);
    expect(raised).toBe(1);
    for (let i = 0; i < 1000; i++) counter.add(chunk);
    expect(raised).toBe(1);
  });

  it('counts per connection: small connections never raise', () => {
    let raised = 0;
    for (let i = 0; i < 1000; i++) new BulkCounter(() => raised++).add(BULK_BYTES / 2);
    expect(raised).toBe(0);
  });

  it('drops a buffer glibc maps and whose free raises its thresholds (at most DEFAULT_MMAP_THRESHOLD_MAX, 32 MiB)', () => {
    expect(RAISE_BYTES).toBeGreaterThan(128 * 1024);
    expect(RAISE_BYTES + 4096).toBeLessThanOrEqual(32 << 20);
  });
});
