/**
 * HPACK decoder (RFC 7541 §3, §6): one per connection, fed complete header blocks in order.
 */
import { CompressionError, Http2Error } from '../errors.js';
import type { HeaderField } from '../frame/types.js';
import { DynamicTable, ENTRY_OVERHEAD } from './dynamic-table.js';
import { huffmanDecode } from './huffman.js';
import { decodeInteger, type HpackCursor } from './integer.js';
import { decodeLatin1 } from './latin1.js';
import { STATIC_TABLE, STATIC_TABLE_LENGTH } from './static-table.js';

const EMPTY = new Uint8Array(0);

/** RFC 7541 §4.2, RFC 9113 §6.5.2: the initial SETTINGS_HEADER_TABLE_SIZE. */
export const DEFAULT_HEADER_TABLE_SIZE = 4096;

/**
 * Default bound on a decoded header list (RFC 9113 §6.5.2 size: name + value + 32 per field):
 * 64 KiB is twice nginx's default ceiling for request headers (4 × 8 KiB buffers) and far above
 * what browsers send, while capping what one small block can make us allocate (HPACK bomb: a
 * 4 KiB dynamic entry referenced by one-octet indices expands ~4000×).
 */
export const DEFAULT_MAX_HEADER_LIST_SIZE = 64 * 1024;

/**
 * A decoded header list exceeded the decoder's `maxHeaderListSize`. The block was still fully
 * processed, so the HPACK context is intact: this is a stream-level problem (answer with 431 or
 * RST_STREAM), not a COMPRESSION_ERROR.
 */
export class HeaderListTooLargeError extends Http2Error {
  /** Size of the whole decoded list (RFC 9113 §6.5.2), in octets. */
  readonly size: number;
  /** The limit it exceeded. */
  readonly limit: number;
  constructor(size: number, limit: number) {
    super('ERR_HTTP2_HEADER_LIST_TOO_LARGE', `header list of ${size} octets exceeds the limit of ${limit}`);
    this.size = size;
    this.limit = limit;
  }
}

export interface HpackDecoderOptions {
  /**
   * Our SETTINGS_HEADER_TABLE_SIZE in force when the decoder is created (default 4096, which is
   * what the peer assumes until it ACKs our SETTINGS): the limit and the initial table size.
   */
  maxTableSize?: number;
  /** Bound on the decoded header list size; default DEFAULT_MAX_HEADER_LIST_SIZE. */
  maxHeaderListSize?: number;
}

/**
 * Decodes HPACK header blocks.
 *
 * ```ts
 * const decoder = new HpackDecoder();
 * decoder.decode(Uint8Array.of(0x82, 0x86, 0x84)); // [[':method','GET'], [':scheme','http'], [':path','/']]
 * ```
 */
/**
 * Cursor over the block being decoded (shared with decodeInteger). `decode` is synchronous, so
 * one cursor serves every decoder and an idle connection holds none.
 */
const CURSOR: HpackCursor = { buf: EMPTY, pos: 0, end: 0 };

export class HpackDecoder {
  private readonly table: DynamicTable;
  /** Our SETTINGS_HEADER_TABLE_SIZE: no size update may exceed it (RFC 7541 §6.3). */
  private maxTableSize: number;
  /** Smallest limit set since the last block: the next block must signal a size ≤ it if below the table's size. */
  private lowestMaxTableSize: number;
  private readonly maxHeaderListSize: number;

  constructor(options: HpackDecoderOptions = {}) {
    this.maxTableSize = options.maxTableSize ?? DEFAULT_HEADER_TABLE_SIZE;
    this.lowestMaxTableSize = this.maxTableSize;
    this.maxHeaderListSize = options.maxHeaderListSize ?? DEFAULT_MAX_HEADER_LIST_SIZE;
    this.table = new DynamicTable(this.maxTableSize);
  }

  /** Our advertised SETTINGS_HEADER_TABLE_SIZE, effective once the peer ACKed it: the limit size updates must respect. */
  setMaxTableSize(n: number): void {
    this.maxTableSize = n;
    if (n < this.lowestMaxTableSize) this.lowestMaxTableSize = n;
  }

  /** Current dynamic table size in octets (RFC 7541 §4.1). */
  get tableSize(): number {
    return this.table.size;
  }

  /** Dynamic table entries, newest (index 62) first. For tests and debugging. */
  tableEntries(): HeaderField[] {
    const entries: HeaderField[] = [];
    for (let i = 1; i <= this.table.length; i++) entries.push([this.table.nameAt(i), this.table.valueAt(i)]);
    return entries;
  }

  /**
   * Decode one complete header block. Throws CompressionError on any malformed input, and
   * HeaderListTooLargeError (after processing the whole block) if the list is too large.
   */
  decode(block: Uint8Array): HeaderField[] {
    const cursor = CURSOR;
    const table = this.table;
    cursor.buf = block;
    cursor.pos = 0;
    cursor.end = block.length;
    const end = block.length;

    // Dynamic table size updates: only at the beginning of a block (RFC 7541 §4.2).
    const sizeBefore = table.maxSize;
    let lowestSignaled = Infinity;
    while (cursor.pos < end && (block[cursor.pos] & 0xe0) === 0x20) {
      const size = decodeInteger(cursor, 5);
      // RFC 7541 §6.3: the new maximum size MUST be lower than or equal to the limit determined
      // by the protocol using HPACK; a value that exceeds this limit MUST be treated as a
      // decoding error.
      if (size > this.maxTableSize) {
        throw new CompressionError(`dynamic table size update to ${size} exceeds the limit of ${this.maxTableSize}`);
      }
      table.setMaxSize(size);
      if (size < lowestSignaled) lowestSignaled = size;
    }
    // RFC 7541 §4.2: when the limit was reduced, the encoder MUST signal the smallest maximum
    // table size that occurred, at the beginning of the first header block after the change.
    if (this.lowestMaxTableSize < sizeBefore && lowestSignaled > this.lowestMaxTableSize) {
      cursor.buf = EMPTY;
      throw new CompressionError(`expected a dynamic table size update to at most ${this.lowestMaxTableSize}`);
    }
    this.lowestMaxTableSize = this.maxTableSize;

    const fields: HeaderField[] = [];
    const limit = this.maxHeaderListSize;
    let listSize = 0;
    while (cursor.pos < end) {
      const b = block[cursor.pos];
      let name: string;
      let value: string;
      if (b & 0x80) {
        // Indexed Header Field (RFC 7541 §6.1).
        const index = decodeInteger(cursor, 7);
        if (index <= STATIC_TABLE_LENGTH) {
          // RFC 7541 §6.1: the index value of 0 is not used; it MUST be treated as a decoding error.
          if (index === 0) throw new CompressionError('indexed header field with index 0');
          const entry = STATIC_TABLE[index - 1];
          name = entry[0];
          value = entry[1];
        } else {
          const i = index - STATIC_TABLE_LENGTH;
          // RFC 7541 §2.3.3: indices strictly greater than the sum of the lengths of both tables
          // MUST be treated as a decoding error.
          if (i > table.length) throw new CompressionError(`header field index ${index} is out of range`);
          name = table.nameAt(i);
          value = table.valueAt(i);
        }
      } else {
        let prefix: number;
        let incremental = false;
        if (b & 0x40) {
          // Literal with Incremental Indexing (RFC 7541 §6.2.1).
          prefix = 6;
          incremental = true;
        } else if (b & 0x20) {
          // RFC 7541 §4.2: a dynamic table size update MUST occur at the beginning of a header block.
          throw new CompressionError('dynamic table size update after the first header field');
        } else {
          // Literal without Indexing (0000) or Never Indexed (0001) (RFC 7541 §6.2.2, §6.2.3).
          prefix = 4;
        }
        const index = decodeInteger(cursor, prefix);
        if (index === 0) {
          name = this.readString();
        } else if (index <= STATIC_TABLE_LENGTH) {
          name = STATIC_TABLE[index - 1][0];
        } else {
          const i = index - STATIC_TABLE_LENGTH;
          // RFC 7541 §2.3.3: out-of-range indices MUST be treated as a decoding error.
          if (i > table.length) throw new CompressionError(`header name index ${index} is out of range`);
          name = table.nameAt(i);
        }
        value = this.readString();
        if (incremental) table.add(name, value);
      }
      listSize += name.length + value.length + ENTRY_OVERHEAD;
      // HPACK bomb defence: past the limit, keep processing (the table must stay in sync) but
      // stop accumulating fields.
      if (listSize <= limit) fields.push([name, value]);
    }
    cursor.buf = EMPTY;
    if (listSize > limit) throw new HeaderListTooLargeError(listSize, limit);
    return fields;
  }

  /** String Literal (RFC 7541 §5.2) at the cursor. */
  private readString(): string {
    const cursor = CURSOR;
    if (cursor.pos >= cursor.end) throw new CompressionError('truncated header block: string literal expected');
    const huffman = cursor.buf[cursor.pos] & 0x80;
    const length = decodeInteger(cursor, 7);
    const start = cursor.pos;
    if (length > cursor.end - start) throw new CompressionError('truncated header block: string literal is cut short');
    cursor.pos = start + length;
    return huffman ? huffmanDecode(cursor.buf, start, start + length) : decodeLatin1(cursor.buf, start, start + length);
  }
}
