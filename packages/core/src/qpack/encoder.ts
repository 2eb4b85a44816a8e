/**
 * QPACK encoder (RFC 9204 §2.1, §4.3–§4.5): one per HTTP/3 connection.
 */
import type { HeaderField } from '../frame/types.js';
import { DEFAULT_NEVER_INDEX, NEVER_INDEX_COOKIE_BELOW } from '../hpack/encoder.js';
import { ENTRY_OVERHEAD } from './dynamic-table.js';
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
  private peerMaxTableCapacity = 0;
  private peerMaxBlockedStreams = 0;
  private readonly encoderStream = new ByteWriter(64);
  private readonly section = new ByteWriter(256);
  private pending: Uint8Array = EMPTY;
  private readonly cursor: QpackCursor = { buf: EMPTY, pos: 0, end: 0 };

  constructor(options: QpackEncoderOptions = {}) {
    this.cap = options.maxTableCapacity ?? DEFAULT_QPACK_MAX_TABLE_CAPACITY;
  }

  /** The peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY and SETTINGS_QPACK_BLOCKED_STREAMS (until called: static table only). */
  applyPeerSettings(maxTableCapacity: number, maxBlockedStreams: number): void {
    this.peerMaxTableCapacity = maxTableCapacity;
    this.peerMaxBlockedStreams = maxBlockedStreams;
  }

  /**
   * One field section for `streamId` (a HEADERS frame's payload). May queue encoder-stream
   * instructions (takeEncoderStream), which must be written before or with it. Names must be
   * lower-case and names and values Latin-1 (Http2UsageError otherwise).
   */
  encode(streamId: number, fields: readonly HeaderField[]): Uint8Array {
    void streamId;
    const out = this.section;
    // Required Insert Count 0, Base 0 (RFC 9204 §4.5.1).
    out.integer(0, 8, 0x00);
    out.integer(0, 7, 0x00);
    for (const field of fields) {
      const [name, value] = field;
      const stat = STATIC_NAMES.get(name);
      const never = isNeverIndexed(field) || (NEVER_INDEX_NAMES.has(name) && (name !== 'cookie' || value.length < NEVER_INDEX_COOKIE_BELOW));
      if (stat !== undefined) {
        const index = stat.values.get(value);
        if (index !== undefined) {
          // Indexed Field Line, static (§4.5.2): 1 1 Index(6).
          out.integer(index, 6, 0xc0);
          continue;
        }
        // Literal Field Line with Name Reference, static (§4.5.4): 0 1 N 1 NameIndex(4).
        out.integer(stat.index, 4, never ? 0x70 : 0x50);
        out.string(value, 7, 0x00);
        continue;
      }
      // Literal Field Line with Literal Name (§4.5.6): 0 0 1 N H NameLen(3).
      out.string(name, 3, never ? 0x30 : 0x20);
      out.string(value, 7, 0x00);
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
    while (cursor.pos < cursor.end) {
      const b = buf[cursor.pos];
      const prefix = b & 0x80 ? 7 : 6;
      if (!integerAvailable(cursor, prefix)) break;
      const n = readInteger(cursor, prefix, DECODER_STREAM_ERROR);
      if (b & 0x80) this.sectionAcknowledged(n);
      else if (b & 0x40) this.streamCancelled(n);
      else this.insertCountIncrement(n);
    }
    this.pending = cursor.pos < cursor.end ? buf.slice(cursor.pos) : EMPTY;
    cursor.buf = EMPTY;
  }

  private sectionAcknowledged(streamId: number): void {
    // RFC 9204 §4.4.1: if an encoder receives a Section Acknowledgment instruction referring to
    // a stream on which every encoded field section with a non-zero Required Insert Count has
    // already been acknowledged, this MUST be treated as a connection error of type
    // QPACK_DECODER_STREAM_ERROR.
    throw new QpackError(DECODER_STREAM_ERROR, `Section Acknowledgment for stream ${streamId}, which has no unacknowledged section`);
  }

  private streamCancelled(streamId: number): void {
    void streamId;
  }

  private insertCountIncrement(increment: number): void {
    // RFC 9204 §4.4.3: an encoder that receives an Insert Count Increment instruction with an
    // Increment of 0, or one that increases the Known Received Count beyond what it has sent,
    // MUST treat this as a connection error of type QPACK_DECODER_STREAM_ERROR.
    throw new QpackError(DECODER_STREAM_ERROR, `Insert Count Increment of ${increment} beyond the 0 entries sent`);
  }
}
void ENTRY_OVERHEAD;
