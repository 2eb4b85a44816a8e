/**
 * The streaming HTTP/3 frame reader of one stream: bytes in (split anywhere), frames out. DATA
 * payloads are not buffered: each arriving piece comes out at once as an `H3DataFrame` (so one
 * DATA frame on the wire may come out as several), which is what lets a request body stream
 * through a bounded receive budget. Every other frame is buffered whole, within a per-frame
 * size budget: a known frame over it is H3_EXCESSIVE_LOAD (RFC 9114 §10.5: an endpoint MAY
 * limit frame sizes), an unknown one over it is skipped without being buffered.
 *
 * @example
 * const reader = new H3FrameReader({ maxFrameBytes: (type) => (type === H3FrameType.HEADERS ? 65536 : 16384) });
 * for (const frame of reader.push(chunk)) handle(frame);
 * if (fin && !reader.atFrameBoundary) throw ... // §7.1: a stream ending inside a frame is H3_FRAME_ERROR
 */
import { concatBytes } from '../bytes.js';
import { ConnectionError } from '../errors.js';
import { H3ErrorCode } from './error-codes.js';
import { decodeH3Frame, isKnownH3FrameType } from './frame/index.js';
import { type H3Frame, H3FrameType, h3FrameTypeName, HTTP2_ONLY_FRAME_TYPES } from './frame/types.js';
import { readVarint } from './varint.js';

/**
 * Octets of one non-DATA frame buffered before it is decoded, by default. SETTINGS, GOAWAY and
 * the push frames are a few dozen octets; ORIGIN lists rarely pass a few KiB. The HEADERS budget
 * is the field section limit, given by the connection.
 */
export const DEFAULT_MAX_H3_FRAME_BYTES = 16 * 1024;

export interface H3FrameReaderOptions {
  /** The payload budget of a frame of `type` (DATA is never buffered and has none). */
  maxFrameBytes?: (type: number) => number;
}

const EMPTY = new Uint8Array(0);

export class H3FrameReader {
  private readonly maxFrameBytes: (type: number) => number;
  /** Octets of a frame header that arrived split (at most 16). */
  private partialHeader: Uint8Array = EMPTY;
  private type = -1;
  /** Payload octets of the current frame still to come. */
  private remaining = 0;
  /** The current non-DATA frame's payload, filled as it arrives (undefined while skipping). */
  private body: Uint8Array | undefined;
  private bodyAt = 0;
  private skipping = false;

  constructor(options: H3FrameReaderOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? (() => DEFAULT_MAX_H3_FRAME_BYTES);
  }

  /** True between frames: a stream may end here (RFC 9114 §7.1). */
  get atFrameBoundary(): boolean {
    return this.type === -1 && this.partialHeader.length === 0;
  }

  /** The frames (and DATA pieces) `chunk` completes, in order. Throws ConnectionError for invalid frames. */
  push(chunk: Uint8Array): H3Frame[] {
    const out: H3Frame[] = [];
    let at = 0;
    if (this.partialHeader.length > 0) {
      chunk = concatBytes([this.partialHeader, chunk]);
      this.partialHeader = EMPTY;
    }
    while (at < chunk.length) {
      if (this.type === -1) {
        const type = readVarint(chunk, at);
        const length = type && readVarint(chunk, type.next);
        if (type === undefined || length === undefined) {
          this.partialHeader = chunk.slice(at);
          break;
        }
        at = length.next;
        this.begin(type.value, length.value, out);
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - at);
      const piece = chunk.subarray(at, at + take);
      at += take;
      this.remaining -= take;
      if (this.type === H3FrameType.DATA) {
        if (take > 0) out.push({ kind: 'data', data: piece });
      } else if (this.body) {
        this.body.set(piece, this.bodyAt);
        this.bodyAt += take;
      }
      if (this.remaining === 0) this.complete(out);
    }
    return out;
  }

  private begin(type: number, length: number, out: H3Frame[]): void {
    this.type = type;
    this.remaining = length;
    this.bodyAt = 0;
    this.skipping = false;
    this.body = undefined;
    if (type === H3FrameType.DATA) {
      // An empty DATA frame still comes out once (the connection counts them, and checks its place).
      if (length === 0) out.push({ kind: 'data', data: EMPTY });
    } else {
      // §7.2.8: an HTTP/2-only frame type is refused as soon as its header is read.
      if (HTTP2_ONLY_FRAME_TYPES.has(type)) decodeH3Frame(type, EMPTY);
      const budget = this.maxFrameBytes(type);
      if (length > budget) {
        // §9: an unknown type is ignored; one too large to bother with is skipped unread.
        if (isKnownH3FrameType(type)) throw new ConnectionError(H3ErrorCode.H3_EXCESSIVE_LOAD, `${h3FrameTypeName(type)} frame of ${length} octets exceeds the ${budget}-octet budget`);
        this.skipping = true;
      } else this.body = new Uint8Array(length);
    }
    if (length === 0) this.complete(out);
  }

  private complete(out: H3Frame[]): void {
    const type = this.type;
    const body = this.body;
    this.type = -1;
    this.body = undefined;
    if (type === H3FrameType.DATA) return;
    if (this.skipping) {
      this.skipping = false;
      return;
    }
    out.push(decodeH3Frame(type, body ?? EMPTY));
  }
}
