import { ConnectionError, ErrorCode, StreamResetError } from '../errors.js';
import { encodeFrameHeader } from '../frame/index.js';
import { FRAME_HEADER_LENGTH, FrameType, Flag, type HeaderField } from '../frame/types.js';
import { concatBytes } from '../bytes.js';
import { DEFAULT_INITIAL_WINDOW_SIZE, FlowWindow } from './flow-control.js';
import type { Limits } from './limits.js';
import type { PendingWrite, Stream } from './stream.js';

/**
 * Octets of one stream's DATA the scheduler takes at once: a write that fits (with what the stream
 * has queued) within this, both send windows and a writable transport resolves at once instead of
 * once framed, so a pump that awaits each write keeps reading while its DATA waits for the flush
 * at the end of the I/O turn. 64 KiB is one of our DATA frames; beyond it (or the windows) a write
 * waits for the peer or the transport as before, so nothing is buffered past the peer's credit.
 */
export const STREAM_QUEUE_BYTES = 64 * 1024;
/** Microtasks a scheduled flush waits: 3 lets END_STREAM join a short body's DATA frame (measured: 1 and 2 do not). */
const FLUSH_MICROTASK_HOPS = 3;
/** DATA octets moved per flush, so one flush does not monopolise the event loop. */
export const FLUSH_BUDGET_BYTES = 256 * 1024;
/**
 * Chunks shorter than this are copied together before the write: a flush of many small responses
 * is hundreds of frame headers and short payloads, and one buffer costs the transport far less
 * than hundreds (each write is an object and a syscall iovec). Longer payloads go as they are.
 */
const COALESCE_BELOW = 4_096;

const noop = (): void => {};

/** What the scheduler needs from its connection. */
export interface SendHost {
  /** Where the bytes go; `false` from a write means the transport's buffer is full. */
  readonly sink: { write(chunk: Uint8Array): boolean | void; writev?(chunks: Uint8Array[]): boolean | void };
  now(): number;
  setTimer(fn: () => void, ms: number): () => void;
  /** The connection is closed: only a final flush still writes. */
  isClosed(): boolean;
  /** The peer's SETTINGS_MAX_FRAME_SIZE. */
  maxFrameSize(): number;
  /** The stream is still active (its remaining writes may go on). */
  isActive(stream: Stream): boolean;
  /** The last DATA frame of `write` was queued: send its trailers or END_STREAM. */
  writeSent(stream: Stream, write: PendingWrite): void;
  /** Reset `stream` with RST_STREAM and tell its listener `error`. */
  resetStream(stream: Stream, errorCode: number, error: StreamResetError): void;
}

export interface SendSchedulerOptions {
  /** The transport's end-of-I/O-turn hook (`ConnectionSink.scheduleFlush`). */
  deferFlush?: (flush: () => void) => void;
  /** `stallTimeoutMs`: how long DATA may wait on a zero window; `maxQueuedControlFrames`: ACKs queued while the peer does not read. */
  limits: Pick<Limits, 'stallTimeoutMs' | 'maxQueuedControlFrames'>;
}

/**
 * The outbound side of a connection: frames queued for the transport, each stream's DATA waiting
 * for flow-control credit, round-robin across streams (RFC 9113 §5.3.2 leaves the order to us),
 * the connection's send window (§6.9.1), when a flush runs, and the zero-window stall timer.
 */
export class SendScheduler {
  /** The connection-level send window (§6.9.1), grown by WINDOW_UPDATE on stream 0. */
  readonly connectionWindow = new FlowWindow(DEFAULT_INITIAL_WINDOW_SIZE);
  private out: Uint8Array[] = [];
  /** Which output `out` is: bumped whenever it starts over, so a stream's `headersAt` from an earlier one is stale. */
  private output = 0;
  /** DATA framed for streams whose header block is in `out`, by that block's index: written right behind it. */
  private dataAfter: Map<number, Uint8Array[]> | undefined;
  /** Streams with pending DATA, in the order they get their next frame. */
  private readonly dataOrder: Stream[] = [];
  private writable = true;
  /** DATA octets queued on every stream and not yet framed. */
  private queuedBytes = 0;
  private queuedControl = 0;
  private flushScheduled = false;
  private hopsScheduled = false;
  private stallTimer: (() => void) | undefined;
  private readonly scheduledFlush = () => {
    this.flushScheduled = false;
    this.flush();
  };

  constructor(
    private readonly host: SendHost,
    private readonly options: SendSchedulerOptions,
  ) {}

  /** Queue an encoded frame (or the preface) for the next flush. */
  emit(bytes: Uint8Array): void {
    this.out.push(bytes);
  }

  /**
   * Queue `stream`'s encoded header block. A block that leaves the stream open (a request's or a
   * response's HEADERS, or a 1xx) is where the stream's DATA framed before this output is written
   * goes: right behind it, not behind every other stream's HEADERS. A peer then reads a short
   * response whole in the same record instead of its HEADERS in one and its DATA in a later one.
   * Header blocks themselves keep their order (HPACK's dynamic table depends on it).
   */
  emitHeaders(stream: Stream, block: Uint8Array, endStream: boolean): void {
    this.out.push(block);
    if (endStream) return;
    stream.headersAt = this.out.length - 1;
    stream.headersOutput = this.output;
  }

  /** Where DATA framed now for `stream` goes: behind its header block when that is in `out`, else at the end. */
  private dataTarget(stream: Stream): Uint8Array[] {
    if (stream.headersOutput !== this.output) return this.out;
    const after = (this.dataAfter ??= new Map());
    let list = after.get(stream.headersAt);
    if (list === undefined) after.set(stream.headersAt, (list = []));
    return list;
  }

  /** `out` with each stream's DATA behind its header block ({@link emitHeaders}). */
  private interleaved(): Uint8Array[] {
    const after = this.dataAfter;
    if (after === undefined) return this.out;
    this.dataAfter = undefined;
    const out: Uint8Array[] = [];
    for (let i = 0; i < this.out.length; i++) {
      out.push(this.out[i]);
      const data = after.get(i);
      if (data !== undefined) for (const chunk of data) out.push(chunk);
    }
    return out;
  }

  /** A control frame answering the peer (SETTINGS or PING ACK) is about to be queued. */
  controlFrameQueued(): void {
    if (this.writable) return;
    // SETTINGS/PING flood: the peer makes us queue acks while it does not read its socket.
    if (++this.queuedControl > this.options.limits.maxQueuedControlFrames) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `more than ${this.options.limits.maxQueuedControlFrames} control frames queued while the peer is not reading`);
    }
  }

  /** The transport drained: write again. */
  resume(): void {
    this.writable = true;
    this.queuedControl = 0;
    this.flush();
  }

  /**
   * Queue DATA (and END_STREAM, or trailers after it) on `stream`; resolves once its last frame
   * was handed to the transport, or, when it does not end the stream, at once if it is accepted
   * (see {@link STREAM_QUEUE_BYTES}): then a later failure of the stream reaches the writer
   * through its next write or end.
   */
  queue(stream: Stream, data: Uint8Array, end: boolean, trailers: HeaderField[] | undefined): Promise<void> {
    const last = stream.pending.length > 0 ? stream.pending[stream.pending.length - 1] : undefined;
    if (last && data.length === 0 && end && !trailers && !last.end && !last.trailers) {
      // END_STREAM alone, behind DATA that has not gone out yet: it rides on that DATA's last
      // frame instead of costing an empty frame of its own.
      last.end = true;
      return new Promise((resolve, reject) => {
        const { resolve: resolveLast, reject: rejectLast } = last;
        last.resolve = () => {
          resolveLast();
          resolve();
        };
        last.reject = (e) => {
          rejectLast(e);
          reject(e);
        };
      });
    }
    if (stream.pending.length === 0) this.dataOrder.push(stream);
    const write: PendingWrite = { data, offset: 0, end: end && !trailers, trailers, resolve: noop, reject: noop };
    stream.pending.push(write);
    stream.queued += data.length;
    this.queuedBytes += data.length;
    // Not flushed here: frames queued in the same tick (many streams' responses, or a bulk body's
    // chunks as they arrive) go out in one write.
    this.scheduleFlush();
    // A write that ends the stream (END_STREAM or trailers) resolves only once sent: its promise is
    // how a stream learns it closed.
    if (!end && !trailers && this.writable && stream.queued <= Math.min(STREAM_QUEUE_BYTES, stream.sendWindow.available) && this.queuedBytes <= this.connectionWindow.available) {
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      write.resolve = resolve;
      write.reject = reject;
    });
  }

  /**
   * Octets `stream` could send now beyond what it has queued: what both flow-control windows allow,
   * 0 while the transport is full. A relay sizes its reads by it (the agent's upstream reads).
   */
  credit(stream: Stream): number {
    if (!this.writable) return 0;
    return Math.max(0, Math.min(stream.sendWindow.available - stream.queued, this.connectionWindow.available - this.queuedBytes));
  }

  /** The stream closed: its pending writes fail with `error` and it leaves the rotation. */
  drop(stream: Stream, error: Error | undefined): void {
    this.queuedBytes -= stream.queued;
    stream.queued = 0;
    for (const p of stream.pending.splice(0)) p.reject(error ?? new StreamResetError(stream.id, ErrorCode.STREAM_CLOSED, 'local', 'stream closed'));
    const at = this.dataOrder.indexOf(stream);
    if (at >= 0) this.dataOrder.splice(at, 1);
  }

  /** Flush at the end of the transport's I/O turn, or (a transport that says nothing) after a few microtask hops. */
  scheduleFlush(): void {
    if (this.options.deferFlush) {
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      this.options.deferFlush(this.scheduledFlush);
      return;
    }
    if (this.hopsScheduled) return;
    this.hopsScheduled = true;
    // A few microtask hops, not one: a body pump that just queued its last chunk learns that its
    // source is done a few hops later (a Response's string body closes one hop after its chunk),
    // and its END_STREAM then rides on that chunk's DATA frame instead of an empty frame of its
    // own. Responses queued meanwhile share the write as well. Still within the same task.
    const hop = (n: number) => {
      if (n > 0) return queueMicrotask(() => hop(n - 1));
      this.hopsScheduled = false;
      this.flush();
    };
    hop(FLUSH_MICROTASK_HOPS);
  }

  /** Move DATA into the output as windows allow, then hand everything to the sink. `final`: the connection is closing; write what is queued, nothing more. */
  flush(final = false): void {
    if (!final && this.host.isClosed()) return;
    if (!final && this.writable) this.scheduleData();
    if (this.out.length === 0) return;
    const all = this.interleaved();
    const chunks = all.length > 1 ? coalesce(all) : all;
    this.out = [];
    this.output++;
    const sink = this.host.sink;
    let ok: boolean | void;
    if (chunks.length === 1) ok = sink.write(chunks[0]);
    else if (sink.writev) ok = sink.writev(chunks);
    else ok = sink.write(concatBytes(chunks));
    if (ok === false) this.writable = false;
  }

  /** The connection closed: stop the stall timer. */
  stop(): void {
    this.stallTimer?.();
    this.stallTimer = undefined;
  }

  /** Drop what is queued and not yet written. */
  discard(): void {
    this.out = [];
    this.dataAfter = undefined;
    this.output++;
  }

  /** Round-robin DATA across streams with pending writes, within both windows and the frame size. */
  private scheduleData(): void {
    const maxFrame = this.host.maxFrameSize();
    let budget = FLUSH_BUDGET_BYTES;
    let progressed = true;
    while (this.dataOrder.length > 0 && budget > 0 && progressed) {
      progressed = false;
      const round = this.dataOrder.length;
      for (let i = 0; i < round && this.dataOrder.length > 0; i++) {
        const stream = this.dataOrder.shift()!;
        const write = stream.pending[0];
        if (!write) continue;
        const remaining = write.data.length - write.offset;
        // §6.9.1: a sender MUST NOT send a flow-controlled frame with a length that exceeds the
        // space available in either of the flow-control windows advertised by the receiver.
        const size = Math.min(remaining, maxFrame, this.connectionWindow.available, stream.sendWindow.available);
        if (size === 0 && remaining > 0) {
          if (stream.stalledSince === 0) stream.stalledSince = this.host.now();
          this.armStallTimer();
          this.dataOrder.push(stream);
          continue;
        }
        stream.stalledSince = 0;
        const last = size === remaining;
        const endStream = last && write.end;
        // An empty write that neither ends the stream nor carries octets (trailers queued behind
        // DATA) needs no frame of its own.
        if (size > 0 || endStream) {
          const header = new Uint8Array(FRAME_HEADER_LENGTH);
          encodeFrameHeader({ length: size, type: FrameType.DATA, flags: endStream ? Flag.END_STREAM : 0, streamId: stream.id }, header);
          const target = this.dataTarget(stream);
          target.push(header);
          if (size > 0) target.push(write.data.subarray(write.offset, write.offset + size));
        }
        write.offset += size;
        stream.queued -= size;
        this.queuedBytes -= size;
        this.connectionWindow.consume(size);
        stream.sendWindow.consume(size);
        budget -= size + FRAME_HEADER_LENGTH;
        progressed = true;
        if (last) {
          stream.pending.shift();
          this.host.writeSent(stream, write);
          write.resolve();
        }
        if (stream.pending.length > 0 && this.host.isActive(stream)) this.dataOrder.push(stream);
      }
    }
    if (this.dataOrder.length > 0 && budget <= 0) this.scheduleFlush();
  }

  private armStallTimer(): void {
    if (this.stallTimer) return;
    const limits = this.options.limits;
    this.stallTimer = this.host.setTimer(() => {
      this.stallTimer = undefined;
      const now = this.host.now();
      for (const stream of [...this.dataOrder]) {
        if (stream.stalledSince > 0 && now - stream.stalledSince >= limits.stallTimeoutMs) {
          // Keeping a window closed is not a protocol violation (RFC 9113 §6.9 lets a receiver
          // withhold credit), so FLOW_CONTROL_ERROR would be wrong: we give up with CANCEL.
          this.host.resetStream(stream, ErrorCode.CANCEL, new StreamResetError(stream.id, ErrorCode.CANCEL, 'local', `the peer kept the flow-control window closed for ${limits.stallTimeoutMs} ms`));
        }
      }
      if (this.dataOrder.some((s) => s.stalledSince > 0)) this.armStallTimer();
      this.flush();
    }, limits.stallTimeoutMs);
  }
}

/** Join runs of short chunks into one buffer each; long chunks pass through uncopied. */
export function coalesce(chunks: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let runStart = 0;
  let runBytes = 0;
  const closeRun = (end: number) => {
    if (end - runStart === 1) out.push(chunks[runStart]);
    else if (end > runStart) {
      const joined = new Uint8Array(runBytes);
      let at = 0;
      for (let i = runStart; i < end; i++) {
        joined.set(chunks[i], at);
        at += chunks[i].length;
      }
      out.push(joined);
    }
  };
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i];
    if (c.length < COALESCE_BELOW) {
      runBytes += c.length;
      continue;
    }
    closeRun(i);
    out.push(c);
    runStart = i + 1;
    runBytes = 0;
  }
  closeRun(chunks.length);
  return out;
}
