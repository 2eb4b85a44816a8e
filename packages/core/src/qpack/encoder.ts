/**
 * QPACK encoder (RFC 9204 §2.1, §4.3–§4.5): one per HTTP/3 connection.
 *
 * Strategy, correctness first:
 * - static exact matches are one octet; credentials (DEFAULT_NEVER_INDEX, fields the peer sent
 *   with the N bit) are literals with the N bit and never enter the table;
 * - other fields are inserted when they are worth reusing: the second time they are seen (the
 *   first for connection constants such as `:authority`), not per-message values
 *   (PER_MESSAGE_NAMES), not long `:path`s, not larger than a quarter of the table, and only when
 *   room can be made by evicting acknowledged entries no unacknowledged section references
 *   (§2.1.1); entries about to be evicted are duplicated rather than referenced (§2.1.1.1);
 * - a section references a dynamic entry the decoder has acknowledged, or any entry when the
 *   stream may block: it already is blocked, or fewer than the peer's
 *   SETTINGS_QPACK_BLOCKED_STREAMS streams are (§2.1.2). Otherwise it sends a literal, and an
 *   entry inserted for it serves later sections once acknowledged.
 *
 * Sections use Base = Required Insert Count, so every dynamic reference is a relative index.
 */
import { Http2UsageError } from '../errors.js';
import type { HeaderField } from '../frame/types.js';
import { DEFAULT_NEVER_INDEX, NEVER_INDEX_COOKIE_BELOW } from '../hpack/encoder.js';
import { ENTRY_OVERHEAD, QpackDynamicTable } from './dynamic-table.js';
import { QpackError, QpackErrorCode } from './errors.js';
import { isNeverIndexed } from './never-indexed.js';
import { ByteWriter, integerAvailable, readInteger, type QpackCursor } from './primitives.js';
import { DEFAULT_QPACK_MAX_TABLE_CAPACITY } from './settings.js';
import { STATIC_NAMES } from './static-table.js';

const { DECODER_STREAM_ERROR } = QpackErrorCode;

export interface QpackEncoderOptions {
  /**
   * Our own cap on the dynamic table we use (octets); the effective capacity is min(this, the
   * peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY). 0 = never use the dynamic table. Default
   * DEFAULT_QPACK_MAX_TABLE_CAPACITY.
   */
  maxTableCapacity?: number;
}

const NEVER_INDEX_NAMES: ReadonlySet<string> = new Set(DEFAULT_NEVER_INDEX);

/**
 * Fields whose values change with every message (sizes, dates, validators, trace ids): inserting
 * them would only evict entries that do get reused.
 */
const PER_MESSAGE_NAMES: ReadonlySet<string> = new Set([
  'age',
  'content-length',
  'content-range',
  'date',
  'etag',
  'expires',
  'if-modified-since',
  'if-none-match',
  'if-range',
  'last-modified',
  'range',
  'request-id',
  'sentry-trace',
  'traceparent',
  'tracestate',
  'x-amz-cf-id',
  'x-amzn-trace-id',
  'x-b3-spanid',
  'x-b3-traceid',
  'x-request-id',
]);

/** Fields that usually keep their value for a whole connection: inserted the first time they are seen. */
const CONNECTION_CONSTANT_NAMES: ReadonlySet<string> = new Set([':authority', 'user-agent', 'accept-encoding', 'accept-language', 'cookie', 'server']);

/** A `:path` longer than this is taken for a one-off (query strings, ids) and not inserted. */
const MAX_INSERTED_PATH = 32;
/** An entry larger than capacity / this is not inserted: it would evict too many others. */
const MAX_ENTRY_SHARE = 4;
/**
 * The oldest entries filling capacity / this are not referenced by new sections (the draining
 * zone, RFC 9204 §2.1.1.1), so that inserting rarely finds its way blocked by references.
 */
const DRAINING_SHARE = 4;
/**
 * Unacknowledged sections we track per stream (a HEADERS, 1xx responses, trailers): a peer that
 * never acknowledges costs us this much per stream, after which sections there go static-only.
 */
const MAX_OUTSTANDING_PER_STREAM = 8;
/**
 * Streams with unacknowledged sections we track: a peer that never acknowledges would otherwise
 * grow the map by one per stream; past this, new sections stop referencing the table.
 */
const MAX_OUTSTANDING_STREAMS = 1024;

function checkLatin1(name: string, value: string): void {
  for (const s of [name, value]) {
    for (let i = 0; i < s.length; i++) {
      if (s.charCodeAt(i) > 0xff) throw new Http2UsageError(`field ${JSON.stringify(name)} has a non-Latin-1 character at ${i}`);
    }
  }
}

/** A sent section with a non-zero Required Insert Count, until acknowledged or cancelled. */
interface OutstandingSection {
  requiredInsertCount: number;
  /** Smallest absolute index it references: no entry from there on may be evicted (§2.1.1). */
  minReference: number;
}

/** One field line of the section being built. */
const LINE_STATIC = 0;
const LINE_DYNAMIC = 1;
const LINE_STATIC_NAME = 2;
const LINE_DYNAMIC_NAME = 3;
const LINE_LITERAL = 4;

interface Line {
  kind: number;
  /** Static index or absolute dynamic index. */
  index: number;
  name: string;
  value: string;
  never: boolean;
}

const EMPTY = new Uint8Array(0);

/**
 * Encodes field sections, and the encoder-stream instructions they need.
 *
 * ```ts
 * const encoder = new QpackEncoder();
 * encoder.applyPeerSettings(4096, 16);
 * const headers = encoder.encode(0, [[':method', 'GET'], [':path', '/']]);
 * const instructions = encoder.takeEncoderStream(); // write before `headers`
 * ```
 */
export class QpackEncoder {
  private readonly cap: number;
  private settingsApplied = false;
  /** The peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY: what Required Insert Count is encoded against (§4.5.1.1). */
  private maxEntries = 0;
  private peerMaxBlockedStreams = 0;
  /** The capacity we use: min(cap, the peer's maximum). */
  private capacity = 0;
  private capacitySent = false;
  private readonly table = new QpackDynamicTable();
  /** Newest absolute index of each field in the table, by name then value. */
  private readonly fieldIndex = new Map<string, Map<string, number>>();
  /** Newest absolute index of each name in the table. */
  private readonly nameIndex = new Map<string, number>();
  /** Known Received Count (§2.1.4): inserts the decoder has acknowledged. */
  private knownReceivedCount = 0;
  private readonly outstanding = new Map<number, OutstandingSection[]>();
  /** Fields seen once and not inserted, oldest first (see seenBefore). */
  private readonly history = new Set<string>();
  private readonly encoderStream = new ByteWriter(64);
  private readonly section = new ByteWriter(256);
  private pending: Uint8Array = EMPTY;
  private readonly cursor: QpackCursor = { buf: EMPTY, pos: 0, end: 0 };

  constructor(options: QpackEncoderOptions = {}) {
    this.cap = options.maxTableCapacity ?? DEFAULT_QPACK_MAX_TABLE_CAPACITY;
  }

  /**
   * The peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY and SETTINGS_QPACK_BLOCKED_STREAMS. Until called
   * the encoder uses the static table only. HTTP/3 SETTINGS arrive once; later calls only
   * update the blocked-stream allowance.
   */
  applyPeerSettings(maxTableCapacity: number, maxBlockedStreams: number): void {
    this.peerMaxBlockedStreams = maxBlockedStreams;
    if (this.settingsApplied) return;
    this.settingsApplied = true;
    this.maxEntries = Math.floor(maxTableCapacity / ENTRY_OVERHEAD);
    this.capacity = Math.min(this.cap, maxTableCapacity);
    // Our copy takes the capacity now; the decoder's when the first insert is preceded by Set
    // Dynamic Table Capacity, and nothing is inserted before that.
    this.table.setCapacity(this.capacity);
  }

  /** Entries in our copy of the dynamic table, oldest first. For tests and debugging. */
  tableEntries(): HeaderField[] {
    return this.table.entries();
  }

  /** Insert Count and Known Received Count, for tests and debugging. */
  get insertCount(): number {
    return this.table.inserted;
  }
  get acknowledgedInsertCount(): number {
    return this.knownReceivedCount;
  }

  /** Streams whose unacknowledged sections may be blocked at the decoder (§2.1.2). */
  get blockedStreams(): number {
    let n = 0;
    for (const sections of this.outstanding.values()) if (this.isBlocking(sections)) n++;
    return n;
  }

  /**
   * One field section for `streamId` (a HEADERS frame's payload). May queue encoder-stream
   * instructions (takeEncoderStream), which must be written before or with it. Names must be
   * lower-case, names and values Latin-1 (Http2UsageError otherwise, with nothing written).
   */
  encode(streamId: number, fields: readonly HeaderField[]): Uint8Array {
    // Checked before anything is written: a bad field must not leave half an instruction on the
    // encoder stream.
    for (const [name, value] of fields) checkLatin1(name, value);
    const sections = this.outstanding.get(streamId);
    const useTable =
      this.maxEntries > 0 &&
      this.capacity > 0 &&
      (sections === undefined ? this.outstanding.size < MAX_OUTSTANDING_STREAMS : sections.length < MAX_OUTSTANDING_PER_STREAM);
    // RFC 9204 §2.1.2: an encoder MUST limit the number of streams that could become blocked to
    // the value of SETTINGS_QPACK_BLOCKED_STREAMS at all times.
    const mayBlock = useTable && ((sections !== undefined && this.isBlocking(sections)) || this.blockedStreams < this.peerMaxBlockedStreams);
    const lines: Line[] = [];
    let maxReference = -1;
    let minReference = Infinity;
    for (const field of fields) {
      const [name, value] = field;
      const line: Line = { kind: LINE_LITERAL, index: 0, name, value, never: false };
      lines.push(line);
      const stat = STATIC_NAMES.get(name);
      line.never = isNeverIndexed(field) || (NEVER_INDEX_NAMES.has(name) && (name !== 'cookie' || value.length < NEVER_INDEX_COOKIE_BELOW));
      if (!line.never && stat !== undefined) {
        const index = stat.values.get(value);
        if (index !== undefined) {
          line.kind = LINE_STATIC;
          line.index = index;
          continue;
        }
      }
      if (useTable && !line.never) {
        let abs = this.fieldIndex.get(name)?.get(value);
        if (abs !== undefined && abs < this.drainingIndex()) {
          // §2.1.1.1: rather than pin an entry close to eviction, duplicate it and use the copy.
          if (this.makeRoom(name.length + value.length + ENTRY_OVERHEAD, Math.min(minReference, abs))) abs = this.duplicate(abs);
        }
        if (abs === undefined && this.worthInserting(name, value) && this.makeRoom(name.length + value.length + ENTRY_OVERHEAD, minReference)) {
          abs = this.insert(name, value, stat?.index);
        }
        if (abs !== undefined && (abs < this.knownReceivedCount || mayBlock)) {
          line.kind = LINE_DYNAMIC;
          line.index = abs;
          if (abs > maxReference) maxReference = abs;
          if (abs < minReference) minReference = abs;
          continue;
        }
      }
      if (stat !== undefined) {
        line.kind = LINE_STATIC_NAME;
        line.index = stat.index;
        continue;
      }
      if (useTable) {
        const abs = this.nameIndex.get(name);
        if (abs !== undefined && abs >= this.drainingIndex() && (abs < this.knownReceivedCount || mayBlock)) {
          line.kind = LINE_DYNAMIC_NAME;
          line.index = abs;
          if (abs > maxReference) maxReference = abs;
          if (abs < minReference) minReference = abs;
        }
      }
    }

    const requiredInsertCount = maxReference + 1;
    const out = this.section;
    if (requiredInsertCount === 0) {
      out.integer(0, 8, 0x00);
      out.integer(0, 7, 0x00);
    } else {
      // RFC 9204 §4.5.1.1: EncodedInsertCount = (ReqInsertCount mod (2 * MaxEntries)) + 1.
      out.integer((requiredInsertCount % (2 * this.maxEntries)) + 1, 8, 0x00);
      // Base = Required Insert Count: sign 0, Delta Base 0 (§4.5.1.2).
      out.integer(0, 7, 0x00);
      const record = { requiredInsertCount, minReference };
      if (sections === undefined) this.outstanding.set(streamId, [record]);
      else sections.push(record);
    }
    const base = requiredInsertCount;
    for (const line of lines) {
      switch (line.kind) {
        case LINE_STATIC:
          // Indexed Field Line, static (§4.5.2): 1 1 Index(6).
          out.integer(line.index, 6, 0xc0);
          break;
        case LINE_DYNAMIC:
          // Indexed Field Line, dynamic (§4.5.2): 1 0 Index(6), relative to Base.
          out.integer(base - 1 - line.index, 6, 0x80);
          break;
        case LINE_STATIC_NAME:
          // Literal Field Line with Name Reference, static (§4.5.4): 0 1 N 1 NameIndex(4).
          out.integer(line.index, 4, line.never ? 0x70 : 0x50);
          out.string(line.value, 7, 0x00);
          break;
        case LINE_DYNAMIC_NAME:
          // Literal Field Line with Name Reference, dynamic (§4.5.4): 0 1 N 0 NameIndex(4).
          out.integer(base - 1 - line.index, 4, line.never ? 0x60 : 0x40);
          out.string(line.value, 7, 0x00);
          break;
        default:
          // Literal Field Line with Literal Name (§4.5.6): 0 0 1 N H NameLen(3).
          out.string(line.name, 3, line.never ? 0x30 : 0x20);
          out.string(line.value, 7, 0x00);
      }
    }
    return out.take();
  }

  /** Octets to write on our encoder stream, if any (then cleared). */
  takeEncoderStream(): Uint8Array | undefined {
    return this.encoderStream.pos > 0 ? this.encoderStream.take() : undefined;
  }

  /** Octets of the peer's decoder stream (any chunking). Throws QpackError DECODER_STREAM_ERROR. */
  receiveDecoderStream(bytes: Uint8Array): void {
    let buf = bytes;
    if (this.pending.length > 0) {
      buf = new Uint8Array(this.pending.length + bytes.length);
      buf.set(this.pending);
      buf.set(bytes, this.pending.length);
    }
    const cursor = this.cursor;
    cursor.buf = buf;
    cursor.pos = 0;
    cursor.end = buf.length;
    try {
      while (cursor.pos < cursor.end) {
        const b = buf[cursor.pos];
        const prefix = b & 0x80 ? 7 : 6;
        if (!integerAvailable(cursor, prefix)) break;
        const n = readInteger(cursor, prefix, DECODER_STREAM_ERROR);
        if (b & 0x80) this.sectionAcknowledged(n);
        else if (b & 0x40) this.outstanding.delete(n); // Stream Cancellation (§4.4.2)
        else this.insertCountIncrement(n);
      }
      this.pending = cursor.pos < cursor.end ? buf.slice(cursor.pos) : EMPTY;
    } finally {
      cursor.buf = EMPTY;
    }
  }

  /** Section Acknowledgment (§4.4.1): the stream's oldest unacknowledged section was decoded. */
  private sectionAcknowledged(streamId: number): void {
    const sections = this.outstanding.get(streamId);
    // RFC 9204 §4.4.1: if an encoder receives a Section Acknowledgment instruction referring to
    // a stream on which every encoded field section with a non-zero Required Insert Count has
    // already been acknowledged, this MUST be treated as a connection error of type
    // QPACK_DECODER_STREAM_ERROR.
    if (sections === undefined) {
      throw new QpackError(DECODER_STREAM_ERROR, `Section Acknowledgment for stream ${streamId}, which has no unacknowledged section`);
    }
    const section = sections.shift()!;
    if (sections.length === 0) this.outstanding.delete(streamId);
    // §2.1.4: the decoder has received every insert the section needed.
    if (section.requiredInsertCount > this.knownReceivedCount) this.knownReceivedCount = section.requiredInsertCount;
  }

  /** Insert Count Increment (§4.4.3). */
  private insertCountIncrement(increment: number): void {
    // RFC 9204 §4.4.3: an encoder that receives an Insert Count Increment instruction with an
    // Increment of 0, or one that increases the Known Received Count beyond what the encoder has
    // sent, MUST treat this as a connection error of type QPACK_DECODER_STREAM_ERROR.
    if (increment === 0 || this.knownReceivedCount + increment > this.table.inserted) {
      throw new QpackError(DECODER_STREAM_ERROR, `Insert Count Increment of ${increment} with ${this.knownReceivedCount} of ${this.table.inserted} inserts acknowledged`);
    }
    this.knownReceivedCount += increment;
  }

  private isBlocking(sections: OutstandingSection[]): boolean {
    for (const s of sections) if (s.requiredInsertCount > this.knownReceivedCount) return true;
    return false;
  }

  private worthInserting(name: string, value: string): boolean {
    if (PER_MESSAGE_NAMES.has(name)) return false;
    if (name === ':path' && value.length > MAX_INSERTED_PATH) return false;
    if ((name.length + value.length + ENTRY_OVERHEAD) * MAX_ENTRY_SHARE > this.capacity) return false;
    return CONNECTION_CONSTANT_NAMES.has(name) || this.seenBefore(name, value);
  }

  /**
   * Whether the field was among the last ones sent without being inserted: a field is inserted
   * the second time it is seen, so one-off values do not push reused entries out.
   */
  private seenBefore(name: string, value: string): boolean {
    const key = `${name}\0${value}`;
    if (this.history.has(key)) {
      this.history.delete(key);
      return true;
    }
    this.history.add(key);
    // Remember about as many fields as the table can hold, twice over.
    if (this.history.size > 2 * this.maxEntries) this.history.delete(this.history.values().next().value!);
    return false;
  }

  /**
   * Evicts what an entry of `size` octets needs, if that is allowed. RFC 9204 §2.1.1: the
   * encoder MUST NOT cause a dynamic table entry to be evicted unless that entry is evictable,
   * and if the entries that would be evicted are not evictable, it MUST NOT insert (duplicates
   * included). `sectionMin` is the smallest entry the section being built references.
   */
  private makeRoom(size: number, sectionMin: number): boolean {
    const table = this.table;
    if (size > this.capacity) return false;
    const bound = table.evictionBoundFor(size);
    if (bound === table.dropped) return true;
    // RFC 9204 §2.1.1: a dynamic table entry cannot be evicted immediately after insertion, even
    // if it has never been referenced; once its insertion has been acknowledged and no
    // unacknowledged representation references it, it becomes evictable.
    if (bound > this.knownReceivedCount || bound > sectionMin) return false;
    for (const sections of this.outstanding.values()) {
      for (const s of sections) if (bound > s.minReference) return false;
    }
    for (let abs = table.dropped; abs < bound; abs++) this.forget(abs);
    table.evict(size);
    return true;
  }

  /**
   * The draining index (RFC 9204 §2.1.1.1): entries below it are the ones that would have to go
   * to keep capacity / DRAINING_SHARE free. New sections avoid referencing them, so that their
   * references run out and they can be evicted.
   */
  private drainingIndex(): number {
    return this.table.evictionBoundFor(Math.floor(this.capacity / DRAINING_SHARE));
  }

  /** Writes a Duplicate of entry `abs` (room has been made). Returns the copy's absolute index. */
  private duplicate(abs: number): number {
    // Duplicate (§4.3.4): 0 0 0 relative Index(5).
    this.encoderStream.integer(this.table.inserted - 1 - abs, 5, 0x00);
    const name = this.table.nameAt(abs);
    const value = this.table.valueAt(abs);
    return this.add(name, value);
  }

  /** Drops an entry about to be evicted from the lookup maps (unless a newer copy replaced it). */
  private forget(abs: number): void {
    const name = this.table.nameAt(abs);
    const values = this.fieldIndex.get(name);
    const value = this.table.valueAt(abs);
    if (values?.get(value) === abs) {
      values.delete(value);
      if (values.size === 0) this.fieldIndex.delete(name);
    }
    if (this.nameIndex.get(name) === abs) this.nameIndex.delete(name);
  }

  /** Writes the insert instruction and adds the entry (room has been made). Returns its absolute index. */
  private insert(name: string, value: string, staticNameIndex: number | undefined): number {
    const out = this.encoderStream;
    if (!this.capacitySent) {
      // Set Dynamic Table Capacity (§4.3.1): 0 0 1 Capacity(5). The table starts at 0 (§3.2.3).
      out.integer(this.capacity, 5, 0x20);
      this.capacitySent = true;
    }
    const dynamicName = this.nameIndex.get(name);
    if (staticNameIndex !== undefined) {
      // Insert with Name Reference, static (§4.3.2): 1 1 NameIndex(6), value.
      out.integer(staticNameIndex, 6, 0xc0);
    } else if (dynamicName !== undefined && this.table.has(dynamicName)) {
      // Insert with Name Reference, dynamic (§4.3.2): 1 0 relative NameIndex(6), value. The
      // decoder reads the name before this insert may evict its entry.
      out.integer(this.table.inserted - 1 - dynamicName, 6, 0x80);
    } else {
      // Insert with Literal Name (§4.3.3): 0 1 H NameLen(5), name, value.
      out.string(name, 5, 0x40);
    }
    out.string(value, 7, 0x00);
    return this.add(name, value);
  }

  /** Adds an entry to our copy of the table and the lookup maps. */
  private add(name: string, value: string): number {
    const abs = this.table.insert(name, value);
    let values = this.fieldIndex.get(name);
    if (values === undefined) this.fieldIndex.set(name, (values = new Map()));
    values.set(value, abs);
    this.nameIndex.set(name, abs);
    return abs;
  }
}
