/**
 * The incremental frame reader: bytes in (split anywhere), whole frames out, with field blocks
 * (HEADERS/PUSH_PROMISE + CONTINUATION) assembled into one frame. It enforces what can be judged
 * from the byte stream alone (frame size, CONTINUATION sequencing and flood limits) and leaves
 * stream state to the connection.
 *
 * Zero copy: a frame that lies within one pushed chunk is decoded from a view of that chunk, so
 * `push` takes ownership of the chunk: the caller must not modify it afterwards. A frame that
 * spans chunks is copied into a fresh buffer of its own, except DATA with `dataInPieces`: then it
 * is handed out as it arrives, a view of each chunk's share (see `FrameReaderOptions`). The reader
 * never writes into a buffer a returned frame points into.
 *
 * @example
 * const reader = new FrameReader();
 * for (const frame of reader.push(bytesFromSocket)) handleFrame(frame); // any split of the bytes
 */
import { ConnectionError, ErrorCode, StreamError } from '../errors.js';
import { checkDataHeader } from '../frame/data.js';
import { checkMaxFrameSize } from '../frame/frame-header.js';
import { checkPadFits } from '../frame/padding.js';
import { decodeFrame } from '../frame/index.js';
import {
  DEFAULT_MAX_FRAME_SIZE,
  Flag,
  FRAME_HEADER_LENGTH,
  type Frame,
  type FrameHeader,
  FrameType,
  frameTypeName,
  type HeadersFrame,
  type PushPromiseFrame,
} from '../frame/types.js';
import { concatBytes } from '../bytes.js';

/**
 * CONTINUATION frames allowed after one HEADERS/PUSH_PROMISE. A legitimate sender needs one per
 * max-frame-size of field block (16 for 256 KiB at the minimum 16 KiB); tiny or empty
 * CONTINUATIONs only serve a flood (CVE-2024-27316 and kin), so 32 leaves headroom and no more.
 */
export const DEFAULT_MAX_CONTINUATION_FRAMES = 32;
/**
 * Octets of one field block (payload lengths of HEADERS/PUSH_PROMISE and its CONTINUATIONs,
 * padding included) buffered before it can be decoded. 256 KiB is 4x the largest header list
 * common servers accept (64 KiB), yet bounds the memory a peer can pin per connection.
 */
export const DEFAULT_MAX_HEADER_BLOCK_BYTES = 256 * 1024;

/** Limits of a `FrameReader`. */
export interface FrameReaderOptions {
  /** Our SETTINGS_MAX_FRAME_SIZE in force; larger frames are a FRAME_SIZE_ERROR. Default 16384. */
  maxFrameSize?: number;
  /** Bound on a field block's octets; exceeding it is ENHANCE_YOUR_CALM. */
  maxHeaderBlockBytes?: number;
  /** Bound on CONTINUATION frames per field block; exceeding it is ENHANCE_YOUR_CALM. */
  maxContinuationFrames?: number;
  /**
   * Hand out a DATA frame that spans pushed chunks as several `DataFrame`s, one per chunk's share,
   * as the octets arrive, instead of copying it whole once complete. Over TLS a 64 KiB frame spans
   * five records, so this saves a copy of every body octet and delivers the body sooner. Each
   * piece's `flowControlledLength` counts its own wire octets (the Pad Length octet with the
   * first, the padding with the last), so the pieces add up to the frame's; only the last piece
   * carries END_STREAM; `padLength` is left undefined. Default false: one frame, one `DataFrame`.
   */
  dataInPieces?: boolean;
}

/** A DATA frame (the reader's current header) being handed out in pieces. */
interface DataInPieces {
  /** The Pad Length octet is yet to be read (PADDED). */
  padPending: boolean;
  /** Content octets not yet handed out. */
  content: number;
  /** Padding octets after the content. */
  padding: number;
  /** Wire octets read but not yet counted in a piece (the Pad Length octet). */
  uncounted: number;
}

/** A HEADERS or PUSH_PROMISE whose field block is still arriving in CONTINUATION frames. */
interface OpenFieldBlock {
  first: HeadersFrame | PushPromiseFrame;
  fragments: Uint8Array[];
  fragmentBytes: number;
  /** Payload octets counted against `maxHeaderBlockBytes`, padding included. */
  wireBytes: number;
  continuations: number;
}

/** Incremental HTTP/2 frame reader; see the module comment. */
export class FrameReader {
  readonly #maxFrameSize: number;
  readonly #maxHeaderBlockBytes: number;
  readonly #maxContinuationFrames: number;
  readonly #dataInPieces: boolean;

  /** Unread chunks; `#chunks[#head]` is read from `#offset`. */
  #chunks: Uint8Array[] = [];
  #head = 0;
  #offset = 0;
  /** Unread octets across all chunks. */
  #buffered = 0;
  /** Header of the frame whose payload is awaited, if any. */
  #header: FrameHeader | undefined;
  #block: OpenFieldBlock | undefined;
  /** The DATA frame being handed out in pieces (`dataInPieces`), if any. */
  #pieces: DataInPieces | undefined;
  /** Once a connection error was thrown, the byte stream is unusable: every later push rethrows. */
  #failure: unknown;
  /** A stream error met after other frames of a push, thrown by the next push. */
  #pendingStreamError: StreamError | undefined;

  constructor(options: FrameReaderOptions = {}) {
    const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    checkMaxFrameSize(maxFrameSize);
    this.#maxFrameSize = maxFrameSize;
    this.#maxHeaderBlockBytes = options.maxHeaderBlockBytes ?? DEFAULT_MAX_HEADER_BLOCK_BYTES;
    this.#maxContinuationFrames = options.maxContinuationFrames ?? DEFAULT_MAX_CONTINUATION_FRAMES;
    this.#dataInPieces = options.dataInPieces ?? false;
  }

  /** True when no partial frame or field block is buffered (and no stream error is held back). */
  get idle(): boolean {
    return this.#buffered === 0 && this.#header === undefined && this.#block === undefined && this.#pendingStreamError === undefined;
  }

  /**
   * True when a `StreamError` was met after other frames of the last `push`: those frames were
   * returned, and the next `push` (an empty chunk will do) throws the error.
   */
  get hasPendingError(): boolean {
    return this.#pendingStreamError !== undefined;
  }

  /**
   * Feeds bytes split at any boundary; returns the frames completed so far, in order.
   *
   * Errors: a `ConnectionError` kills the reader (every later push rethrows it). A `StreamError`
   * concerns one whole frame, already consumed: it ends the batch, the bytes after that frame stay
   * buffered, and reading resumes with the next push. So that no frame is lost, a `StreamError`
   * met after other frames is held back: push returns those frames, `hasPendingError` becomes
   * true, and the next push throws it. A connection reads like this:
   *
   * ```ts
   * for (let chunk = bytes; ; chunk = new Uint8Array(0)) {
   *   try {
   *     for (const frame of reader.push(chunk)) onFrame(frame);
   *     if (!reader.hasPendingError) break;
   *   } catch (e) {
   *     if (!(e instanceof StreamError)) throw e; // ConnectionError: GOAWAY
   *     resetStream(e.streamId, e.errorCode);
   *   }
   * }
   * ```
   */
  push(chunk: Uint8Array): Frame[] {
    if (this.#failure !== undefined) throw this.#failure;
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const pending = this.#pendingStreamError;
    if (pending !== undefined) {
      this.#pendingStreamError = undefined;
      throw pending;
    }
    const frames: Frame[] = [];
    try {
      for (;;) {
        let header = this.#header;
        if (header === undefined) {
          if (this.#buffered < FRAME_HEADER_LENGTH) break;
          header = this.#readHeader();
          this.#checkHeader(header);
          this.#header = header;
          if (this.#dataInPieces && header.type === FrameType.DATA && !this.#headHolds(header.length)) {
            checkDataHeader(header);
            const padded = (header.flags & Flag.PADDED) !== 0;
            this.#pieces = { padPending: padded, content: padded ? 0 : header.length, padding: 0, uncounted: 0 };
          }
        }
        if (this.#pieces !== undefined) {
          if (!this.#takePieces(header, this.#pieces, frames)) break;
          this.#pieces = undefined;
          this.#header = undefined;
          continue;
        }
        if (this.#buffered < header.length) break;
        const payload = this.#take(header.length);
        this.#header = undefined;
        const frame = this.#assemble(header, decodeFrame(header, payload));
        if (frame !== undefined) frames.push(frame);
      }
    } catch (error) {
      if (!(error instanceof StreamError)) {
        this.#fail(error);
        throw error;
      }
      this.#compact();
      if (frames.length === 0) throw error;
      this.#pendingStreamError = error;
      return frames;
    }
    this.#compact();
    return frames;
  }

  /** True when the head chunk holds the next `n` octets (so a frame of `n` octets is a view of it). */
  #headHolds(n: number): boolean {
    return n === 0 || (this.#buffered >= n && this.#chunks[this.#head].length - this.#offset >= n);
  }

  /**
   * Hands out what has arrived of a DATA frame, a view per chunk; true once the frame is whole.
   * The Pad Length is checked as soon as it arrives, as `decodeData` checks it.
   */
  #takePieces(header: FrameHeader, p: DataInPieces, frames: Frame[]): boolean {
    if (p.padPending) {
      if (this.#buffered < 1) return false;
      const padLength = this.#chunks[this.#head][this.#offset];
      this.#advance(1);
      checkPadFits(header, padLength, header.length, 1);
      p.padPending = false;
      p.padding = padLength;
      p.content = header.length - 1 - padLength;
      p.uncounted = 1;
    }
    const endStream = (header.flags & Flag.END_STREAM) !== 0;
    while (p.content > 0 && this.#buffered > 0) {
      const chunk = this.#chunks[this.#head];
      const n = Math.min(chunk.length - this.#offset, p.content);
      const data = chunk.subarray(this.#offset, this.#offset + n);
      this.#advance(n);
      p.content -= n;
      const last = p.content === 0 && p.padding === 0;
      frames.push({ kind: 'data', streamId: header.streamId, endStream: last && endStream, data, padLength: undefined, flowControlledLength: n + p.uncounted });
      p.uncounted = 0;
      if (last) return true;
    }
    if (p.content > 0 || this.#buffered < p.padding) return false;
    this.#skip(p.padding);
    frames.push({ kind: 'data', streamId: header.streamId, endStream, data: EMPTY, padLength: undefined, flowControlledLength: p.padding + p.uncounted });
    return true;
  }

  /** Consumes `n` buffered octets without reading them (padding). */
  #skip(n: number): void {
    while (n > 0) {
      const count = Math.min(this.#chunks[this.#head].length - this.#offset, n);
      this.#advance(count);
      n -= count;
    }
  }

  #fail(error: unknown): void {
    this.#failure = error;
    this.#chunks = [];
    this.#head = 0;
    this.#offset = 0;
    this.#buffered = 0;
    this.#header = undefined;
    this.#block = undefined;
    this.#pieces = undefined;
  }

  /** Checks made as soon as a header arrives, before its payload is buffered. */
  #checkHeader(header: FrameHeader): void {
    // RFC 9113 §4.2: an endpoint MUST send an error code of FRAME_SIZE_ERROR if a frame exceeds the
    // size defined in SETTINGS_MAX_FRAME_SIZE (a connection error: the frame cannot be skipped safely).
    if (header.length > this.#maxFrameSize) {
      throw new ConnectionError(
        ErrorCode.FRAME_SIZE_ERROR,
        `${frameTypeName(header.type)} frame of ${header.length} octets exceeds SETTINGS_MAX_FRAME_SIZE ${this.#maxFrameSize}`,
      );
    }
    const block = this.#block;
    if (block !== undefined) {
      // RFC 9113 §6.10: a HEADERS/PUSH_PROMISE without END_HEADERS MUST be followed by a
      // CONTINUATION frame for the same stream; a receiver MUST treat the receipt of any other type
      // of frame or a frame on a different stream as a connection error of type PROTOCOL_ERROR.
      if (header.type !== FrameType.CONTINUATION || header.streamId !== block.first.streamId) {
        throw new ConnectionError(
          ErrorCode.PROTOCOL_ERROR,
          `${frameTypeName(header.type)} on stream ${header.streamId} inside the field block of stream ${block.first.streamId}`,
        );
      }
      // Flood limits, counted before the payload is buffered; empty CONTINUATIONs count too.
      if (block.continuations + 1 > this.#maxContinuationFrames) {
        throw new ConnectionError(
          ErrorCode.ENHANCE_YOUR_CALM,
          `more than ${this.#maxContinuationFrames} CONTINUATION frames in one field block`,
        );
      }
      if (block.wireBytes + header.length > this.#maxHeaderBlockBytes) {
        throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `field block larger than ${this.#maxHeaderBlockBytes} octets`);
      }
      block.continuations++;
      block.wireBytes += header.length;
    } else if (header.type === FrameType.CONTINUATION) {
      // RFC 9113 §6.10: a CONTINUATION frame MUST be preceded by a HEADERS, PUSH_PROMISE or
      // CONTINUATION frame without END_HEADERS; otherwise a connection error of type PROTOCOL_ERROR.
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `CONTINUATION on stream ${header.streamId} without an open field block`);
    } else if (
      (header.type === FrameType.HEADERS || header.type === FrameType.PUSH_PROMISE) &&
      header.length > this.#maxHeaderBlockBytes
    ) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `field block larger than ${this.#maxHeaderBlockBytes} octets`);
    }
  }

  /** Holds field blocks until END_HEADERS; returns the frame to hand out, if any. */
  #assemble(header: FrameHeader, frame: Frame): Frame | undefined {
    switch (frame.kind) {
      case 'headers':
      case 'push-promise':
        if (frame.endHeaders) return frame;
        this.#block = { first: frame, fragments: [frame.fragment], fragmentBytes: frame.fragment.length, wireBytes: header.length, continuations: 0 };
        return undefined;
      case 'continuation': {
        const block = this.#block!; // #checkHeader guarantees an open block on this stream.
        if (frame.fragment.length > 0) {
          block.fragments.push(frame.fragment);
          block.fragmentBytes += frame.fragment.length;
        }
        if (!frame.endHeaders) return undefined;
        this.#block = undefined;
        return { ...block.first, endHeaders: true, fragment: concatBytes(block.fragments, block.fragmentBytes) };
      }
      default:
        return frame;
    }
  }

  /** Reads the 9-octet header, from the head chunk when it holds it whole. */
  #readHeader(): FrameHeader {
    const chunk = this.#chunks[this.#head];
    let bytes: Uint8Array;
    let at: number;
    if (chunk.length - this.#offset >= FRAME_HEADER_LENGTH) {
      bytes = chunk;
      at = this.#offset;
      this.#advance(FRAME_HEADER_LENGTH);
    } else {
      bytes = HEADER_SCRATCH;
      at = 0;
      this.#copyOut(bytes, FRAME_HEADER_LENGTH);
    }
    return {
      length: (bytes[at] << 16) | (bytes[at + 1] << 8) | bytes[at + 2],
      type: bytes[at + 3],
      flags: bytes[at + 4],
      // RFC 9113 §4.1: the reserved bit MUST be ignored when receiving.
      streamId: ((bytes[at + 5] & 0x7f) << 24) | (bytes[at + 6] << 16) | (bytes[at + 7] << 8) | bytes[at + 8],
    };
  }

  /** Takes `n` buffered octets: a view when one chunk holds them, else a fresh copy. */
  #take(n: number): Uint8Array {
    if (n === 0) return EMPTY;
    const chunk = this.#chunks[this.#head];
    if (chunk.length - this.#offset >= n) {
      const view = chunk.subarray(this.#offset, this.#offset + n);
      this.#advance(n);
      return view;
    }
    const out = new Uint8Array(n);
    this.#copyOut(out, n);
    return out;
  }

  /** Consumes `n` octets of the head chunk (which holds at least `n`). */
  #advance(n: number): void {
    this.#offset += n;
    this.#buffered -= n;
    if (this.#offset === this.#chunks[this.#head].length) {
      this.#head++;
      this.#offset = 0;
    }
  }

  /** Copies the next `n` octets, spanning chunks, into `out` and consumes them. */
  #copyOut(out: Uint8Array, n: number): void {
    let written = 0;
    while (written < n) {
      const chunk = this.#chunks[this.#head];
      const available = chunk.length - this.#offset;
      const count = Math.min(available, n - written);
      out.set(count === chunk.length ? chunk : chunk.subarray(this.#offset, this.#offset + count), written);
      written += count;
      this.#offset += count;
      if (this.#offset === chunk.length) {
        this.#head++;
        this.#offset = 0;
      }
    }
    this.#buffered -= n;
  }

  /** Drops consumed chunks (references only; nothing is copied). */
  #compact(): void {
    if (this.#head === 0) return;
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
    } else {
      this.#chunks = this.#chunks.slice(this.#head);
    }
    this.#head = 0;
  }
}

const EMPTY = new Uint8Array(0);
/** A frame header split across chunks is copied here and decoded at once: one buffer serves every reader. */
const HEADER_SCRATCH = new Uint8Array(FRAME_HEADER_LENGTH);

