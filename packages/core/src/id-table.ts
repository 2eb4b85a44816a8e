/**
 * A table from whole-number ids (1 to 2^32 - 1) to values, for long-lived owners whose entries
 * come and go with every request: a connection's open streams, a pool's exchanges waiting for a
 * head. Open addressing with linear probing in a typed array of keys and a plain array of values,
 * backward-shift deletion (no tombstones); it grows when half full and never shrinks, so it holds
 * one slot pair per peak entry, at most twice over. Adding and removing allocates nothing.
 *
 * Why not a Map or a Set: V8 (Node 20's V8 11.3) rehashes a Map's or Set's backing table into a
 * new one as entries are added and deleted, and the old table keeps a pointer to its successor
 * (for iterators) and the entries it held. A full GC moves the table in use to the old
 * generation. From the next rehash on, each young table, and every request whose object it held,
 * is reached from that dead old table in every scavenge until the next full GC. The GC promotes
 * them, and the next full GC starts it over. Measured on the agent (`--trace-gc-nvp`): once a full
 * GC had run under load, about 3 MB was promoted per scavenge for good. The same program with a
 * Map replaced by this table: nothing promoted. A one-file reproduction, a Set churned by
 * `add`/`delete` with one forced full GC, promotes 3–5 MB per scavenge; a plain object dictionary
 * or this table promotes nothing.
 *
 * @example
 * const open = new IdTable<Stream>();
 * open.set(5, stream);
 * open.get(5); // stream
 * open.delete(5); // true
 */
export class IdTable<V> {
  /** Keys by slot; 0 is an empty slot. */
  #keys: Uint32Array = EMPTY_KEYS;
  #values: (V | undefined)[] = [];
  /** 32 - log2(slot count): the hash is the top bits of the multiplied id. */
  #shift = 32;
  /** Slot count - 1 (-1 before the first insertion: nothing allocated for an empty table). */
  #mask = -1;
  #size = 0;

  /** Entries in the table. */
  get size(): number {
    return this.#size;
  }

  get(id: number): V | undefined {
    const slot = this.#find(id);
    return slot === -1 ? undefined : this.#values[slot];
  }

  has(id: number): boolean {
    return this.#find(id) !== -1;
  }

  /** Adds or replaces the value of `id` (a whole number from 1 to 2^32 - 1). */
  set(id: number, value: V): this {
    if (!isId(id)) throw new RangeError(`an IdTable id is a whole number from 1 to ${MAX_ID}, got ${id}`);
    if ((this.#size + 1) * 2 > this.#mask + 1) this.#grow();
    const keys = this.#keys;
    for (let i = this.#home(id); ; i = (i + 1) & this.#mask) {
      const key = keys[i];
      if (key === id) {
        this.#values[i] = value;
        return this;
      }
      if (key === 0) {
        keys[i] = id;
        this.#values[i] = value;
        this.#size++;
        return this;
      }
    }
  }

  /** Removes `id`; false when it was not there. */
  delete(id: number): boolean {
    let hole = this.#find(id);
    if (hole === -1) return false;
    const keys = this.#keys;
    const values = this.#values;
    const mask = this.#mask;
    // Backward shift: each later key of the run that may live at the hole (its home is not
    // cyclically within (hole, j]) moves into it, and its old slot becomes the hole.
    for (let j = (hole + 1) & mask; keys[j] !== 0; j = (j + 1) & mask) {
      const home = this.#home(keys[j]);
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        keys[hole] = keys[j];
        values[hole] = values[j];
        hole = j;
      }
    }
    keys[hole] = 0;
    values[hole] = undefined;
    this.#size--;
    return true;
  }

  /** The values, in no particular order: a copy, so the table may change while it is walked. */
  values(): V[] {
    const out: V[] = [];
    if (this.#size === 0) return out;
    const keys = this.#keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== 0) out.push(this.#values[i] as V);
    return out;
  }

  /** The slot holding `id`, or -1. */
  #find(id: number): number {
    // 0 marks an empty slot, so it (and anything not a key) is never found.
    if (this.#size === 0 || !isId(id)) return -1;
    const keys = this.#keys;
    for (let i = this.#home(id); ; i = (i + 1) & this.#mask) {
      const key = keys[i];
      if (key === id) return i;
      if (key === 0) return -1;
    }
  }

  #home(id: number): number {
    // Fibonacci hashing: the top bits of id × 2^32/φ spread runs of ids (every other one, for
    // stream ids of one side) over all slots.
    return Math.imul(id, 0x9e3779b9) >>> this.#shift;
  }

  #grow(): void {
    const oldKeys = this.#keys;
    const oldValues = this.#values;
    const slots = oldKeys.length === 0 ? INITIAL_SLOTS : oldKeys.length * 2;
    this.#keys = new Uint32Array(slots);
    this.#values = new Array<V | undefined>(slots).fill(undefined);
    this.#mask = slots - 1;
    this.#shift = 32 - Math.log2(slots);
    this.#size = 0;
    for (let i = 0; i < oldKeys.length; i++) if (oldKeys[i] !== 0) this.set(oldKeys[i], oldValues[i] as V);
  }
}

/** What a reader of an {@link IdTable} may do. */
export type ReadonlyIdTable<V> = Pick<IdTable<V>, 'get' | 'has' | 'size' | 'values'>;

const MAX_ID = 0xffff_ffff;

function isId(id: number): boolean {
  return id >= 1 && id <= MAX_ID && Number.isInteger(id);
}
const INITIAL_SLOTS = 8;
const EMPTY_KEYS = new Uint32Array(0);
