/**
 * The QPACK dynamic table (RFC 9204 §3.2): a FIFO of fields addressed by absolute index (the
 * first entry ever inserted is 0). Both the encoder's and the decoder's copy; what may be evicted
 * is the encoder's decision (§2.1.1), the decoder just follows the encoder's instructions.
 */
import type { HeaderField } from '../frame/types.js';

/** RFC 9204 §3.2.1: an entry's size is its name and value lengths in octets plus 32. */
export const ENTRY_OVERHEAD = 32;

/** Evicted slots kept at the front of the arrays before they are compacted away. */
const COMPACT_AFTER = 64;

export class QpackDynamicTable {
  /** Entries from absolute index `dropped` on; slot `i` holds absolute index `dropped + i - offset`. */
  private names: string[] = [];
  private values: string[] = [];
  /** Slots at the front of the arrays already evicted. */
  private offset = 0;
  /** Current capacity (RFC 9204 §3.2.3); 0 until a Set Dynamic Table Capacity. */
  capacity = 0;
  /** Sum of entry sizes (§3.2.1). */
  size = 0;
  /** Insert Count: entries ever inserted (§3.2.4); the newest has absolute index `inserted - 1`. */
  inserted = 0;
  /** Entries ever evicted: absolute indices below this are gone. */
  dropped = 0;

  /** Entries in the table. */
  get length(): number {
    return this.inserted - this.dropped;
  }

  /** Whether absolute index `abs` is in the table (inserted and not evicted). */
  has(abs: number): boolean {
    return abs >= this.dropped && abs < this.inserted;
  }

  nameAt(abs: number): string {
    return this.names[abs - this.dropped + this.offset];
  }

  valueAt(abs: number): string {
    return this.values[abs - this.dropped + this.offset];
  }

  entrySize(abs: number): number {
    const i = abs - this.dropped + this.offset;
    return this.names[i].length + this.values[i].length + ENTRY_OVERHEAD;
  }

  /** Absolute index of the oldest entry `evict(need)` would keep: entries below it must go to free `need` octets. */
  evictionBoundFor(need: number): number {
    let abs = this.dropped;
    let size = this.size;
    while (size + need > this.capacity && abs < this.inserted) {
      size -= this.entrySize(abs);
      abs++;
    }
    return abs;
  }

  /** Evicts oldest entries until `need` more octets fit within the capacity (or the table is empty). */
  evict(need: number): void {
    while (this.size + need > this.capacity && this.dropped < this.inserted) {
      const i = this.offset;
      this.size -= this.names[i].length + this.values[i].length + ENTRY_OVERHEAD;
      this.names[i] = '';
      this.values[i] = '';
      this.offset++;
      this.dropped++;
    }
    if (this.offset >= COMPACT_AFTER && this.offset * 2 >= this.names.length) {
      this.names = this.names.slice(this.offset);
      this.values = this.values.slice(this.offset);
      this.offset = 0;
    }
  }

  /** Sets the capacity, evicting what no longer fits. The caller has checked the limit. */
  setCapacity(capacity: number): void {
    this.capacity = capacity;
    this.evict(0);
  }

  /** Inserts a field, evicting first; the caller has checked it fits in the capacity. Returns its absolute index. */
  insert(name: string, value: string): number {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    this.evict(size);
    this.names.push(name);
    this.values.push(value);
    this.size += size;
    return this.inserted++;
  }

  /** Entries oldest first, for tests and debugging. */
  entries(): HeaderField[] {
    const out: HeaderField[] = [];
    for (let abs = this.dropped; abs < this.inserted; abs++) out.push([this.nameAt(abs), this.valueAt(abs)]);
    return out;
  }
}
