/**
 * QPACK decoder (RFC 9204 §2.2, §4.3–§4.5): one per HTTP/3 connection. It reads field sections
 * from request and push streams and the peer's encoder stream, and writes our decoder stream.
 */
import type { HeaderField } from '../frame/types.js';
import { QpackDynamicTable, ENTRY_OVERHEAD } from './dynamic-table.js';
import { H3ErrorCode } from '../h3/error-codes.js';
import { FieldSectionTooLargeError, QpackError, QpackErrorCode } from './errors.js';
import { markNeverIndexed } from './never-indexed.js';
import {
  ByteWriter,
  huffmanMinDecodedLength,
  integerAvailable,
  peekStringLength,
  readInteger,
  readString,
  type QpackCursor,
} from './primitives.js';
import { QPACK_STATIC_TABLE } from './static-table.js';

const { DECOMPRESSION_FAILED, ENCODER_STREAM_ERROR } = QpackErrorCode;

export interface QpackDecoderOptions {
  /** Our SETTINGS_QPACK_MAX_TABLE_CAPACITY: the most the encoder may set the table's capacity to. */
  maxTableCapacity: number;
  /** Our SETTINGS_QPACK_BLOCKED_STREAMS: streams that may wait on inserts at once. */
  maxBlockedStreams: number;
  /** Bound on a decoded field section (RFC 9114 §4.2.2 size: name + value + 32 per field). */
  maxFieldSectionSize: number;
}

/** A section waiting for inserts (its prefix already read). */
interface BlockedSection {
  requiredInsertCount: number;
  base: number;
  section: Uint8Array;
  /** Offset of the first field line. */
  start: number;
}

const EMPTY = new Uint8Array(0);

/**
 * Sections kept behind a blocked one on the same stream: a message has its header section,
 * trailers and a few 1xx responses; more waiting is a peer piling memory on us.
 */
const MAX_SECTIONS_PER_BLOCKED_STREAM = 8;

/**
 * Decodes QPACK field sections.
 *
 * ```ts
 * const decoder = new QpackDecoder({ maxTableCapacity: 4096, maxBlockedStreams: 16, maxFieldSectionSize: 65536 });
 * decoder.decode(0, Uint8Array.of(0x00, 0x00, 0xd1, 0xd7)); // [[':method','GET'], [':scheme','https']]
 * ```
 */
export class QpackDecoder {
  /** Called, in order per stream, with sections that became decodable after encoder-stream input. */
  onUnblocked: ((streamId: number, fields: HeaderField[]) => void) | undefined = undefined;
  /**
   * Called instead of onUnblocked when a section that was blocked decodes to more than
   * maxFieldSectionSize: a stream error (see FieldSectionTooLargeError). Without it, that section
   * is dropped silently.
   */
  onUnblockedError: ((streamId: number, error: FieldSectionTooLargeError) => void) | undefined = undefined;

  private readonly table = new QpackDynamicTable();
  private readonly maxTableCapacity: number;
  private readonly maxEntries: number;
  private readonly maxBlockedStreams: number;
  private readonly maxFieldSectionSize: number;
  /** Per blocked stream, its sections in arrival order (only the first can be blocked by itself). */
  private readonly blocked = new Map<number, BlockedSection[]>();
  /** The peer's Known Received Count as we have told it (Section Acknowledgments and Insert Count Increments sent). */
  private knownReceivedCount = 0;
  /** Octets of an encoder-stream instruction not yet complete. */
  private pending: Uint8Array = EMPTY;
  private readonly decoderStream = new ByteWriter(16);
  /** Cursors: a section may be decoded while an encoder-stream chunk is being read. */
  private readonly sectionCursor: QpackCursor = { buf: EMPTY, pos: 0, end: 0 };
  private readonly streamCursor: QpackCursor = { buf: EMPTY, pos: 0, end: 0 };

  constructor(options: QpackDecoderOptions) {
    this.maxTableCapacity = options.maxTableCapacity;
    // RFC 9204 §4.5.1.1: MaxEntries = floor(MaxTableCapacity / 32).
    this.maxEntries = Math.floor(options.maxTableCapacity / ENTRY_OVERHEAD);
    this.maxBlockedStreams = options.maxBlockedStreams;
    this.maxFieldSectionSize = options.maxFieldSectionSize;
  }

  /** Insert Count: entries the encoder stream has inserted so far. */
  get insertCount(): number {
    return this.table.inserted;
  }

  /** Streams with a section waiting for inserts. */
  get blockedStreams(): number {
    return this.blocked.size;
  }

  /** Dynamic table entries, oldest first. For tests and debugging. */
  tableEntries(): HeaderField[] {
    return this.table.entries();
  }

  /** Current dynamic table capacity and size in octets. */
  get tableCapacity(): number {
    return this.table.capacity;
  }
  get tableSize(): number {
    return this.table.size;
  }

  /**
   * Decodes one field section (a HEADERS frame's payload) of `streamId`. Returns the fields, or
   * `undefined` when the section must wait for inserts (or for an earlier blocked section of the
   * same stream): it is kept and handed to onUnblocked later. Throws QpackError
   * (DECOMPRESSION_FAILED, a connection error) on malformed input or too many blocked streams,
   * and FieldSectionTooLargeError (a stream error) when the fields exceed maxFieldSectionSize.
   */
  decode(streamId: number, section: Uint8Array): HeaderField[] | undefined {
    const cursor = this.sectionCursor;
    cursor.buf = section;
    cursor.pos = 0;
    cursor.end = section.length;
    const requiredInsertCount = this.decodeRequiredInsertCount(readInteger(cursor, 8, DECOMPRESSION_FAILED));
    if (cursor.pos >= cursor.end) throw new QpackError(DECOMPRESSION_FAILED, 'field section prefix is cut short');
    const negative = (section[cursor.pos] & 0x80) !== 0;
    const deltaBase = readInteger(cursor, 7, DECOMPRESSION_FAILED);
    let base: number;
    if (negative) {
      // RFC 9204 §4.5.1.2: Base = ReqInsertCount - DeltaBase - 1; a negative Base cannot be
      // produced by a conformant encoder (§4.5.1.1: such values MUST be treated as
      // QPACK_DECOMPRESSION_FAILED).
      if (deltaBase >= requiredInsertCount) {
        throw new QpackError(DECOMPRESSION_FAILED, `Base is negative (Required Insert Count ${requiredInsertCount}, Delta Base -${deltaBase + 1})`);
      }
      base = requiredInsertCount - deltaBase - 1;
    } else {
      base = requiredInsertCount + deltaBase;
    }
    const start = cursor.pos;
    cursor.buf = EMPTY;

    const queue = this.blocked.get(streamId);
    if (queue !== undefined) {
      // An earlier section of this stream is blocked: this one is delivered after it.
      if (queue.length >= MAX_SECTIONS_PER_BLOCKED_STREAM) {
        throw new QpackError(H3ErrorCode.H3_EXCESSIVE_LOAD, `stream ${streamId} has ${queue.length} field sections waiting on inserts`);
      }
      queue.push({ requiredInsertCount, base, section: section.slice(), start });
      return undefined;
    }
    if (requiredInsertCount > this.table.inserted) {
      // RFC 9204 §2.1.2: if a decoder encounters more blocked streams than it promised to
      // support, it MUST treat this as a connection error of type QPACK_DECOMPRESSION_FAILED.
      if (this.blocked.size >= this.maxBlockedStreams) {
        throw new QpackError(DECOMPRESSION_FAILED, `stream ${streamId} would be blocked stream ${this.blocked.size + 1}, above the limit of ${this.maxBlockedStreams}`);
      }
      this.blocked.set(streamId, [{ requiredInsertCount, base, section: section.slice(), start }]);
      return undefined;
    }
    return this.decodeFieldLines(streamId, section, start, requiredInsertCount, base);
  }

  /**
   * Reads octets of the peer's encoder stream (any chunking; a partial instruction is kept).
   * Throws QpackError ENCODER_STREAM_ERROR on a malformed instruction, and DECOMPRESSION_FAILED if
   * a section it unblocks is malformed. The inserts are acknowledged by the next takeDecoderStream.
   */
  receiveEncoderStream(bytes: Uint8Array): void {
    let buf = bytes;
    if (this.pending.length > 0) {
      buf = new Uint8Array(this.pending.length + bytes.length);
      buf.set(this.pending);
      buf.set(bytes, this.pending.length);
    }
    const cursor = this.streamCursor;
    cursor.buf = buf;
    cursor.pos = 0;
    cursor.end = buf.length;
    const ready: [number, HeaderField[] | FieldSectionTooLargeError][] = [];
    while (cursor.pos < cursor.end) {
      const start = cursor.pos;
      const inserted = this.table.inserted;
      if (!this.readInstruction(cursor)) {
        cursor.pos = start;
        break;
      }
      if (this.blocked.size > 0 && this.table.inserted !== inserted) this.unblock(ready);
    }
    this.pending = cursor.pos < cursor.end ? buf.slice(cursor.pos) : EMPTY;
    cursor.buf = EMPTY;
    for (const [streamId, result] of ready) {
      if (result instanceof FieldSectionTooLargeError) this.onUnblockedError?.(streamId, result);
      else this.onUnblocked?.(streamId, result);
    }
  }

  /**
   * `streamId` was reset or its reading abandoned before its field sections were decoded: drops
   * any blocked section and queues a Stream Cancellation (RFC 9204 §4.4.2).
   */
  cancelStream(streamId: number): void {
    this.blocked.delete(streamId);
    // RFC 9204 §4.4.2: a decoder with a maximum dynamic table capacity equal to zero MAY omit
    // sending Stream Cancellations, because the encoder cannot have any dynamic table references.
    if (this.maxTableCapacity > 0) this.decoderStream.integer(streamId, 6, 0x40);
  }

  /**
   * Octets to write on our decoder stream, if any (then cleared). Inserts received and not yet
   * covered by a Section Acknowledgment are acknowledged here with one Insert Count Increment,
   * so call it after each receiveEncoderStream/decode.
   */
  takeDecoderStream(): Uint8Array | undefined {
    // RFC 9204 §4.4.3: the Insert Count Increment tells the encoder of inserts it cannot infer
    // from Section Acknowledgments; an increment of zero is never sent.
    if (this.table.inserted > this.knownReceivedCount) {
      this.decoderStream.integer(this.table.inserted - this.knownReceivedCount, 6, 0x00);
      this.knownReceivedCount = this.table.inserted;
    }
    return this.decoderStream.pos > 0 ? this.decoderStream.take() : undefined;
  }

  /** Required Insert Count from its encoded form (RFC 9204 §4.5.1.1). */
  private decodeRequiredInsertCount(encoded: number): number {
    if (encoded === 0) return 0;
    const fullRange = 2 * this.maxEntries;
    // RFC 9204 §4.5.1.1: if the decoder encounters a value of EncodedInsertCount that could not
    // have been produced by a conformant encoder, it MUST treat this as a connection error of
    // type QPACK_DECOMPRESSION_FAILED.
    if (encoded > fullRange) throw new QpackError(DECOMPRESSION_FAILED, `encoded Required Insert Count ${encoded} exceeds ${fullRange}`);
    const maxValue = this.table.inserted + this.maxEntries;
    const maxWrapped = Math.floor(maxValue / fullRange) * fullRange;
    let count = maxWrapped + encoded - 1;
    if (count > maxValue) {
      if (count <= fullRange) throw new QpackError(DECOMPRESSION_FAILED, `encoded Required Insert Count ${encoded} is impossible`);
      count -= fullRange;
    }
    if (count === 0) throw new QpackError(DECOMPRESSION_FAILED, `encoded Required Insert Count ${encoded} means 0`);
    return count;
  }

  /** Decodes the blocked sections the table now satisfies, in order per stream, into `ready`. */
  private unblock(ready: [number, HeaderField[] | FieldSectionTooLargeError][]): void {
    for (const [streamId, queue] of this.blocked) {
      while (queue.length > 0 && queue[0].requiredInsertCount <= this.table.inserted) {
        const { section, start, requiredInsertCount, base } = queue.shift()!;
        try {
          ready.push([streamId, this.decodeFieldLines(streamId, section, start, requiredInsertCount, base)]);
        } catch (e) {
          if (e instanceof FieldSectionTooLargeError) ready.push([streamId, e]);
          else throw e;
        }
      }
      if (queue.length === 0) this.blocked.delete(streamId);
    }
  }

  /** The field lines after a section's prefix (RFC 9204 §4.5.2–§4.5.6). */
  private decodeFieldLines(streamId: number, section: Uint8Array, start: number, requiredInsertCount: number, base: number): HeaderField[] {
    const cursor = this.sectionCursor;
    cursor.buf = section;
    cursor.pos = start;
    cursor.end = section.length;
    const table = this.table;
    const fields: HeaderField[] = [];
    const limit = this.maxFieldSectionSize;
    let size = 0;
    try {
      while (cursor.pos < cursor.end) {
        const b = section[cursor.pos];
        let name: string;
        let value: string;
        let never = false;
        if (b & 0x80) {
          // Indexed Field Line (§4.5.2): 1 T Index(6).
          const index = readInteger(cursor, 6, DECOMPRESSION_FAILED);
          if (b & 0x40) {
            [name, value] = staticEntry(index);
          } else {
            const abs = this.relative(base, index, requiredInsertCount);
            name = table.nameAt(abs);
            value = table.valueAt(abs);
          }
        } else if (b & 0x40) {
          // Literal Field Line with Name Reference (§4.5.4): 0 1 N T NameIndex(4), value.
          never = (b & 0x20) !== 0;
          const index = readInteger(cursor, 4, DECOMPRESSION_FAILED);
          name = b & 0x10 ? staticEntry(index)[0] : table.nameAt(this.relative(base, index, requiredInsertCount));
          value = readString(cursor, 7, DECOMPRESSION_FAILED);
        } else if (b & 0x20) {
          // Literal Field Line with Literal Name (§4.5.6): 0 0 1 N H NameLen(3), name, value.
          never = (b & 0x10) !== 0;
          name = readString(cursor, 3, DECOMPRESSION_FAILED);
          value = readString(cursor, 7, DECOMPRESSION_FAILED);
        } else if (b & 0x10) {
          // Indexed Field Line with Post-Base Index (§4.5.3): 0 0 0 1 Index(4).
          const abs = this.postBase(base, readInteger(cursor, 4, DECOMPRESSION_FAILED), requiredInsertCount);
          name = table.nameAt(abs);
          value = table.valueAt(abs);
        } else {
          // Literal Field Line with Post-Base Name Reference (§4.5.5): 0 0 0 0 N NameIndex(3), value.
          never = (b & 0x08) !== 0;
          name = table.nameAt(this.postBase(base, readInteger(cursor, 3, DECOMPRESSION_FAILED), requiredInsertCount));
          value = readString(cursor, 7, DECOMPRESSION_FAILED);
        }
        size += name.length + value.length + ENTRY_OVERHEAD;
        // Past the limit, keep reading (the section must still be validated and acknowledged)
        // but stop accumulating fields.
        if (size <= limit) {
          const field: HeaderField = [name, value];
          fields.push(never ? markNeverIndexed(field) : field);
        }
      }
    } finally {
      cursor.buf = EMPTY;
    }
    // RFC 9204 §2.2.1: a Required Insert Count larger than expected MAY be treated as
    // QPACK_DECOMPRESSION_FAILED. Not done: it costs the peer a blocked-stream slot at most, and
    // smaller than expected is already caught by checkReference.
    if (requiredInsertCount > 0) {
      // RFC 9204 §4.4.1: after processing a field section whose declared Required Insert Count
      // is not zero, the decoder emits a Section Acknowledgment instruction.
      this.decoderStream.integer(streamId, 7, 0x80);
      if (requiredInsertCount > this.knownReceivedCount) this.knownReceivedCount = requiredInsertCount;
    }
    if (size > limit) throw new FieldSectionTooLargeError(streamId, size, limit);
    return fields;
  }

  /** Absolute index of relative index `index` in a field section (RFC 9204 §3.2.5), checked. */
  private relative(base: number, index: number, requiredInsertCount: number): number {
    const abs = base - 1 - index;
    this.checkReference(abs, requiredInsertCount);
    return abs;
  }

  /** Absolute index of post-base index `index` (RFC 9204 §3.2.6), checked. */
  private postBase(base: number, index: number, requiredInsertCount: number): number {
    const abs = base + index;
    this.checkReference(abs, requiredInsertCount);
    return abs;
  }

  private checkReference(abs: number, requiredInsertCount: number): void {
    // RFC 9204 §2.2.3: if the decoder encounters a reference in a field line representation to
    // a dynamic table entry that has already been evicted or that has an absolute index greater
    // than or equal to the declared Required Insert Count, it MUST treat this as a connection
    // error of type QPACK_DECOMPRESSION_FAILED.
    if (abs < 0 || abs >= requiredInsertCount) {
      throw new QpackError(DECOMPRESSION_FAILED, `dynamic reference to absolute index ${abs}, not below the Required Insert Count ${requiredInsertCount}`);
    }
    if (!this.table.has(abs)) throw new QpackError(DECOMPRESSION_FAILED, `dynamic reference to evicted entry ${abs}`);
  }

  /**
   * Reads one encoder instruction (RFC 9204 §4.3) at the cursor and applies it. Returns false,
   * having changed nothing, when the instruction is not all there yet.
   */
  private readInstruction(cursor: QpackCursor): boolean {
    const table = this.table;
    const b = cursor.buf[cursor.pos];
    if (b & 0x80) {
      // Insert with Name Reference (§4.3.2): 1 T NameIndex(6), value.
      if (!integerAvailable(cursor, 6)) return false;
      const index = readInteger(cursor, 6, ENCODER_STREAM_ERROR);
      if (this.stringEnd(cursor, 7) < 0) return false;
      let name: string;
      if (b & 0x40) {
        if (index >= QPACK_STATIC_TABLE.length) throw new QpackError(ENCODER_STREAM_ERROR, `static table index ${index} is out of range`);
        name = QPACK_STATIC_TABLE[index][0];
      } else {
        name = table.nameAt(this.encoderRelative(index));
      }
      // The name is read before the insertion may evict its entry (§3.2.2, §4.3.2).
      this.insert(name, readString(cursor, 7, ENCODER_STREAM_ERROR));
    } else if (b & 0x40) {
      // Insert with Literal Name (§4.3.3): 0 1 H NameLen(5), name, value. Both strings must be
      // there before either is decoded, so that a slow trickle does not decode the name again
      // for every chunk.
      const start = cursor.pos;
      const nameEnd = this.stringEnd(cursor, 5);
      if (nameEnd < 0) return false;
      cursor.pos = nameEnd;
      const valueEnd = this.stringEnd(cursor, 7);
      cursor.pos = start;
      if (valueEnd < 0) return false;
      const name = readString(cursor, 5, ENCODER_STREAM_ERROR);
      this.insert(name, readString(cursor, 7, ENCODER_STREAM_ERROR));
    } else if (b & 0x20) {
      // Set Dynamic Table Capacity (§4.3.1): 0 0 1 Capacity(5).
      if (!integerAvailable(cursor, 5)) return false;
      const capacity = readInteger(cursor, 5, ENCODER_STREAM_ERROR);
      // RFC 9204 §4.3.1: the decoder MUST treat a new dynamic table capacity value that exceeds
      // this limit (SETTINGS_QPACK_MAX_TABLE_CAPACITY) as a connection error of type
      // QPACK_ENCODER_STREAM_ERROR.
      if (capacity > this.maxTableCapacity) {
        throw new QpackError(ENCODER_STREAM_ERROR, `dynamic table capacity ${capacity} exceeds our maximum of ${this.maxTableCapacity}`);
      }
      table.setCapacity(capacity);
    } else {
      // Duplicate (§4.3.4): 0 0 0 Index(5).
      if (!integerAvailable(cursor, 5)) return false;
      const abs = this.encoderRelative(readInteger(cursor, 5, ENCODER_STREAM_ERROR));
      this.insert(table.nameAt(abs), table.valueAt(abs));
    }
    return true;
  }

  /**
   * Where the string literal at the cursor ends, or -1 if it is not all there yet. Rejects at
   * once, before its octets arrive, a string that could not fit in the table: that also bounds
   * what `pending` holds.
   */
  private stringEnd(cursor: QpackCursor, prefixBits: number): number {
    const peek = peekStringLength(cursor, prefixBits, ENCODER_STREAM_ERROR);
    if (peek === undefined) return -1;
    const decodedAtLeast = peek.huffman ? huffmanMinDecodedLength(peek.length) : peek.length;
    if (decodedAtLeast + ENTRY_OVERHEAD > this.table.capacity) {
      // RFC 9204 §3.2.2: the decoder MUST treat an attempt to add an entry larger than the
      // dynamic table capacity as a connection error of type QPACK_ENCODER_STREAM_ERROR.
      throw new QpackError(ENCODER_STREAM_ERROR, `string of ${decodedAtLeast}+ octets cannot fit a table of capacity ${this.table.capacity}`);
    }
    const end = peek.headerEnd + peek.length;
    return end <= cursor.end ? end : -1;
  }

  /** Absolute index of an encoder instruction's relative index (RFC 9204 §3.2.5), checked. */
  private encoderRelative(index: number): number {
    const abs = this.table.inserted - 1 - index;
    // RFC 9204 §4.3: a reference to an entry that is not in the dynamic table (never inserted,
    // or evicted) cannot be interpreted; §6: that is QPACK_ENCODER_STREAM_ERROR.
    if (!this.table.has(abs)) throw new QpackError(ENCODER_STREAM_ERROR, `encoder instruction refers to relative index ${index}, not in the table`);
    return abs;
  }

  private insert(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    // RFC 9204 §3.2.2: it is an error if the encoder attempts to add an entry that is larger than
    // the dynamic table capacity; the decoder MUST treat this as a connection error of type
    // QPACK_ENCODER_STREAM_ERROR.
    if (size > this.table.capacity) {
      throw new QpackError(ENCODER_STREAM_ERROR, `entry of ${size} octets exceeds the table capacity of ${this.table.capacity}`);
    }
    this.table.insert(name, value);
  }
}

function staticEntry(index: number): HeaderField {
  // RFC 9204 §3.1 / §2.2.3: a static index beyond the table is an invalid reference,
  // QPACK_DECOMPRESSION_FAILED.
  if (index >= QPACK_STATIC_TABLE.length) throw new QpackError(DECOMPRESSION_FAILED, `static table index ${index} is out of range`);
  return QPACK_STATIC_TABLE[index];
}
