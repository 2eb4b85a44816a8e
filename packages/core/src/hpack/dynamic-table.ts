/**
 * The HPACK dynamic table (RFC 7541 §2.3.2, §4): a FIFO of fields, newest at dynamic index 1,
 * kept in a ring buffer. Shared by the encoder and the decoder.
 */

/** RFC 7541 §4.1: an entry's size is its name and value lengths in octets plus 32. */
export const ENTRY_OVERHEAD = 32;

/**
 * Ring slots allocated at the first insertion (none before: an idle connection's two tables stay
 * empty); the ring doubles when full (4096 octets hold at most 128 entries).
 */
const INITIAL_SLOTS = 16;
const NO_SLOTS: string[] = [];

/**
 * Told of each evicted entry, oldest first; `seq` is the entry's insertion number. An object with
 * a method (the encoder itself) rather than a callback, so that no closure is kept per table.
 */
export interface EvictionListener {
  evicted(name: string, value: string, seq: number): void;
}

export class DynamicTable {
  private names: string[] = NO_SLOTS;
  private values: string[] = NO_SLOTS;
  /** Slot count - 1; -1 before the first insertion (so that `length > mask` allocates). */
  private mask = -1;
  /** Slot of the next insertion. */
  private head = 0;
  /** Number of entries. */
  length = 0;
  /** Sum of entry sizes (RFC 7541 §4.1). */
  size = 0;
  /** Entries ever inserted: the newest entry has insertion number `inserted - 1`. */
  inserted = 0;

  constructor(
    /** Current maximum size (RFC 7541 §4.2). */
    public maxSize: number,
    private readonly onEvict?: EvictionListener,
  ) {}

  /** Name at dynamic index `i` (1 = newest); `1 <= i <= length` is the caller's check. */
  nameAt(i: number): string {
    return this.names[(this.head - i) & this.mask];
  }

  /** Value at dynamic index `i` (1 = newest). */
  valueAt(i: number): string {
    return this.values[(this.head - i) & this.mask];
  }

  /**
   * Inserts a field at index 1, evicting from the end as needed (RFC 7541 §4.4). Returns false
   * when the entry alone is larger than `maxSize`: then the table ends up empty.
   */
  add(name: string, value: string): boolean {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    if (entrySize > this.maxSize) {
      // RFC 7541 §4.4: an attempt to add an entry larger than the maximum size causes the table
      // to be emptied of all existing entries and results in an empty table.
      this.evictTo(0);
      return false;
    }
    this.evictTo(this.maxSize - entrySize);
    if (this.length > this.mask) this.grow();
    const slot = this.head;
    this.names[slot] = name;
    this.values[slot] = value;
    this.head = (slot + 1) & this.mask;
    this.length++;
    this.size += entrySize;
    this.inserted++;
    return true;
  }

  /** Sets the maximum size and evicts down to it (RFC 7541 §4.3). */
  setMaxSize(maxSize: number): void {
    this.maxSize = maxSize;
    this.evictTo(maxSize);
  }

  /** Evicts oldest entries until `size <= limit`. */
  private evictTo(limit: number): void {
    while (this.size > limit) {
      const slot = (this.head - this.length) & this.mask;
      const name = this.names[slot];
      const value = this.values[slot];
      this.size -= name.length + value.length + ENTRY_OVERHEAD;
      this.names[slot] = '';
      this.values[slot] = '';
      this.length--;
      this.onEvict?.evicted(name, value, this.inserted - this.length - 1);
    }
  }

  private grow(): void {
    const slots = this.mask < 0 ? INITIAL_SLOTS : (this.mask + 1) * 2;
    const names = new Array<string>(slots).fill('');
    const values = new Array<string>(slots).fill('');
    for (let i = 0; i < this.length; i++) {
      const from = (this.head - this.length + i) & this.mask;
      names[i] = this.names[from];
      values[i] = this.values[from];
    }
    this.names = names;
    this.values = values;
    this.mask = slots - 1;
    this.head = this.length;
  }
}
