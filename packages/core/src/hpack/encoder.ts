/**
 * HPACK encoder (RFC 7541 §6): one per connection. Exact matches become one-octet Indexed
 * fields; everything else is a literal with incremental indexing (reusing a static or dynamic
 * name index), except sensitive fields (Never Indexed, RFC 7541 §7.1.3) and fields too large for
 * the table (without indexing).
 */
import { Http2UsageError } from '../errors.js';
import type { HeaderField } from '../frame/types.js';
import { DEFAULT_HEADER_TABLE_SIZE } from './decoder.js';
import { DynamicTable, ENTRY_OVERHEAD, type EvictionListener } from './dynamic-table.js';
import { huffmanEncode } from './huffman.js';
import { encodeInteger } from './integer.js';
import { STATIC_TABLE } from './static-table.js';

/** Names sent as Never Indexed by default: credentials an attacker could probe for (RFC 7541 §7.1.3). */
export const DEFAULT_NEVER_INDEX: readonly string[] = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie'];

/**
 * A `cookie` listed in `neverIndex` is Never Indexed only when its value is shorter than this:
 * short cookies are guessable (RFC 7541 §7.1.3), long ones are worth compressing (as nghttp2 does).
 */
export const NEVER_INDEX_COOKIE_BELOW = 20;

export interface HpackEncoderOptions {
  /** Our cap on the dynamic table size, whatever the peer allows (default 4096). */
  maxTableSize?: number;
  /** Huffman-code string literals: `auto` (default) when it is shorter, `always`, or `never`. */
  huffman?: 'auto' | 'always' | 'never';
  /**
   * Names whose fields use Literal Never Indexed (default DEFAULT_NEVER_INDEX; `cookie` only for
   * values shorter than NEVER_INDEX_COOKIE_BELOW).
   */
  neverIndex?: Iterable<string>;
}

/** Static table lookup: the first index of a name, and the index of each of its values. */
interface StaticName {
  index: number;
  values: Map<string, number>;
}

const STATIC_NAMES = new Map<string, StaticName>();
for (let i = 0; i < STATIC_TABLE.length; i++) {
  const [name, value] = STATIC_TABLE[i];
  let entry = STATIC_NAMES.get(name);
  if (!entry) STATIC_NAMES.set(name, (entry = { index: i + 1, values: new Map() }));
  if (!entry.values.has(value)) entry.values.set(value, i + 1);
}

/** Per static name index: whether DEFAULT_NEVER_INDEX lists it (shared by encoders using the default). */
const DEFAULT_NEVER_INDEX_STATIC = neverIndexStaticOf(DEFAULT_NEVER_INDEX);
const DEFAULT_NEVER_INDEX_SET: ReadonlySet<string> = new Set(DEFAULT_NEVER_INDEX);

function neverIndexStaticOf(names: Iterable<string>): Uint8Array {
  const flags = new Uint8Array(STATIC_TABLE.length + 1);
  for (const name of names) {
    const stat = STATIC_NAMES.get(name);
    if (stat !== undefined) flags[stat.index] = 1;
  }
  return flags;
}

/** Dynamic table lookup by insertion number (`seq`): dynamic index = inserted - seq. */
interface DynamicName {
  /** Newest entry with this name. */
  seq: number;
  /** Newest entry for each value. */
  values: Map<string, number>;
}

const HUFFMAN_AUTO = 0;
const HUFFMAN_ALWAYS = 1;
const HUFFMAN_NEVER = 2;

/** Holds a multi-octet string length while the Huffman output is moved to make room for it. */
const LENGTH_SCRATCH = new Uint8Array(8);

/**
 * Output scratch shared by every encoder: `encode` is synchronous and returns a copy, so one
 * buffer serves all connections and an idle connection holds none (it was 4 KiB each).
 */
let scratch = new Uint8Array(4096);
const EMPTY_SCRATCH = new Uint8Array(0);
/** A scratch grown past this by one huge header block is dropped after that block, not kept. */
const SCRATCH_KEPT_MAX = 64 * 1024;

/** Room for the integers and opcode of one field (two 6-octet integers, slack). */
const FIELD_OVERHEAD = 16;
/** Worst-case expansion of Huffman coding: 30-bit codes per octet. */
const HUFFMAN_WORST_EXPANSION = 4;

/**
 * Encodes header lists into HPACK header blocks.
 *
 * ```ts
 * const encoder = new HpackEncoder();
 * const block = encoder.encode([[':method', 'GET'], [':path', '/']]); // Uint8Array [0x82, 0x84]
 * ```
 */
export class HpackEncoder implements EvictionListener {
  private readonly table: DynamicTable;
  private readonly cap: number;
  private readonly huffman: number;
  private readonly neverIndex: ReadonlySet<string>;
  /** Per static name index: whether `neverIndex` lists that name (saves a lookup per field). */
  private readonly neverIndexStatic: Uint8Array;
  /** Whether `neverIndex` lists any name outside the static table. */
  private readonly neverIndexOther: boolean;
  /** Created on the first indexed insertion (an idle connection never needs it). */
  private dynamicNames: Map<string, DynamicName> | undefined;
  /** The table size the peer's decoder last heard from us (initially the protocol default). */
  private signaledSize = DEFAULT_HEADER_TABLE_SIZE;
  /** Smallest table size since the last block. */
  private lowestSize: number;
  /** The shared scratch while `encode` runs. */
  private buf = EMPTY_SCRATCH;

  constructor(options: HpackEncoderOptions = {}) {
    this.cap = options.maxTableSize ?? DEFAULT_HEADER_TABLE_SIZE;
    this.huffman =
      options.huffman === 'always' ? HUFFMAN_ALWAYS : options.huffman === 'never' ? HUFFMAN_NEVER : HUFFMAN_AUTO;
    this.neverIndex = options.neverIndex === undefined ? DEFAULT_NEVER_INDEX_SET : new Set(options.neverIndex);
    this.neverIndexStatic = options.neverIndex === undefined ? DEFAULT_NEVER_INDEX_STATIC : neverIndexStaticOf(this.neverIndex);
    let other = false;
    for (const name of this.neverIndex) if (!STATIC_NAMES.has(name)) other = true;
    this.neverIndexOther = other;
    // Until the peer's SETTINGS say otherwise its table holds 4096 octets; a smaller cap is
    // signaled in the first block.
    const size = Math.min(this.cap, DEFAULT_HEADER_TABLE_SIZE);
    this.lowestSize = size;
    this.table = new DynamicTable(size, this);
  }

  /**
   * The peer's SETTINGS_HEADER_TABLE_SIZE changed: use min(n, our cap) and emit a Dynamic Table
   * Size Update at the start of the next block (RFC 7541 §4.2, §6.3; two updates if it shrank
   * then grew).
   */
  setMaxTableSize(n: number): void {
    const size = Math.min(n, this.cap);
    this.table.setMaxSize(size);
    if (size < this.lowestSize) this.lowestSize = size;
  }

  /** Current dynamic table size in octets (RFC 7541 §4.1). */
  get tableSize(): number {
    return this.table.size;
  }

  /**
   * Encode one header list (names already lower-case, names and values Latin-1). Fields whose
   * name is in `neverIndex` use Literal Never Indexed. Throws Http2UsageError for a char above
   * U+00FF. With `reserve`, the block starts that many octets into the result, room for a frame
   * header to be written in front of it without a copy (`encodeHeaderBlockInPlace`).
   */
  encode(fields: HeaderField[], reserve = 0): Uint8Array {
    const table = this.table;
    this.buf = scratch;
    let pos = reserve;
    this.ensure(0, reserve + 12);
    // RFC 7541 §4.2: a change of the maximum table size MUST be signaled at the beginning of the
    // first header block after it, and the smallest size in between too if it is smaller.
    if (this.lowestSize < this.signaledSize) {
      pos = encodeInteger(this.buf, pos, this.lowestSize, 5, 0x20);
      this.signaledSize = this.lowestSize;
    }
    if (table.maxSize !== this.signaledSize) {
      pos = encodeInteger(this.buf, pos, table.maxSize, 5, 0x20);
      this.signaledSize = table.maxSize;
    }
    this.lowestSize = table.maxSize;

    for (let f = 0; f < fields.length; f++) {
      const field = fields[f];
      const name = field[0];
      const value = field[1];
      const stat = STATIC_NAMES.get(name);
      let nameIndex = 0;
      if (stat !== undefined) {
        const index = stat.values.get(value);
        if (index !== undefined) {
          this.ensure(pos, 6);
          pos = encodeInteger(this.buf, pos, index, 7, 0x80);
          continue;
        }
        nameIndex = stat.index;
      }
      const listed = nameIndex !== 0 ? this.neverIndexStatic[nameIndex] === 1 : this.neverIndexOther && this.neverIndex.has(name);
      const never = listed && (name !== 'cookie' || value.length < NEVER_INDEX_COOKIE_BELOW);
      const dyn = this.dynamicNames?.get(name);
      if (dyn !== undefined) {
        if (!never) {
          const seq = dyn.values.get(value);
          if (seq !== undefined) {
            this.ensure(pos, 6);
            pos = encodeInteger(this.buf, pos, STATIC_TABLE.length + table.inserted - seq, 7, 0x80);
            continue;
          }
        }
        if (nameIndex === 0) nameIndex = STATIC_TABLE.length + table.inserted - dyn.seq;
      }
      this.ensure(pos, FIELD_OVERHEAD + (name.length + value.length) * HUFFMAN_WORST_EXPANSION);
      if (never) {
        // Literal Header Field Never Indexed (RFC 7541 §6.2.3).
        pos = encodeInteger(this.buf, pos, nameIndex, 4, 0x10);
        if (nameIndex === 0) pos = this.writeString(pos, name);
        pos = this.writeString(pos, value);
      } else if (name.length + value.length + ENTRY_OVERHEAD > table.maxSize) {
        // Literal Header Field without Indexing (RFC 7541 §6.2.2): it would only empty the table.
        pos = encodeInteger(this.buf, pos, nameIndex, 4, 0x00);
        if (nameIndex === 0) pos = this.writeString(pos, name);
        pos = this.writeString(pos, value);
      } else {
        // Literal Header Field with Incremental Indexing (RFC 7541 §6.2.1).
        pos = encodeInteger(this.buf, pos, nameIndex, 6, 0x40);
        if (nameIndex === 0) pos = this.writeString(pos, name);
        pos = this.writeString(pos, value);
        table.add(name, value);
        const seq = table.inserted - 1;
        // Re-read: the insertion may have evicted every older entry with this name.
        const names = (this.dynamicNames ??= new Map());
        const current = names.get(name);
        if (current !== undefined) {
          current.seq = seq;
          current.values.set(value, seq);
        } else {
          names.set(name, { seq, values: new Map([[value, seq]]) });
        }
      }
    }
    const block = this.buf.slice(0, pos);
    // Keep a grown scratch for the next block, unless one outsized block grew it.
    if (this.buf.length <= SCRATCH_KEPT_MAX) scratch = this.buf;
    this.buf = EMPTY_SCRATCH;
    return block;
  }

  /** String Literal (RFC 7541 §5.2). */
  private writeString(pos: number, s: string): number {
    const buf = this.buf;
    if (this.huffman !== HUFFMAN_NEVER) {
      // One pass: Huffman-code straight after a one-octet length, then fix up if that guess was wrong.
      const start = pos + 1;
      const end = huffmanEncode(s, buf, start);
      const length = end - start;
      if (this.huffman === HUFFMAN_ALWAYS || length < s.length) {
        if (length < 0x7f) {
          buf[pos] = 0x80 | length;
          return end;
        }
        const lengthEnd = encodeInteger(LENGTH_SCRATCH, 0, length, 7, 0x80);
        buf.copyWithin(pos + lengthEnd, start, end);
        buf.set(LENGTH_SCRATCH.subarray(0, lengthEnd), pos);
        return pos + lengthEnd + length;
      }
    }
    pos = encodeInteger(buf, pos, s.length, 7, 0x00);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0xff) throw new Http2UsageError(`header field has a non-Latin-1 character at ${i}`);
      buf[pos++] = c;
    }
    return pos;
  }

  /** Grows the output buffer so `extra` more octets fit after `pos`. */
  private ensure(pos: number, extra: number): void {
    if (pos + extra <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, pos + extra));
    grown.set(this.buf.subarray(0, pos));
    this.buf = grown;
  }

  /** @internal The table evicted an entry (EvictionListener): drops it from the lookup maps. */
  evicted(name: string, value: string, seq: number): void {
    const dyn = this.dynamicNames?.get(name);
    if (dyn === undefined) return;
    // Entries leave oldest first: once the newest entry with this name goes, all of them are gone.
    if (dyn.seq === seq) this.dynamicNames!.delete(name);
    else if (dyn.values.get(value) === seq) dyn.values.delete(value);
  }
}
