import { ErrorCode, StreamResetError } from '../errors.js';
import type { PortStream, StreamPort } from './stream-port.js';
import { malformed } from './fields.js';

/**
 * A body received on one stream, read chunk by chunk without web streams: what a proxy relays
 * from one hop to the next. Each chunk's flow-control credit goes back to the sender as it is
 * read, so a reader that stops holds the sender at the stream window, and nobody else.
 *
 * @example
 * for (;;) {
 *   const chunk = body.read();             // throws if the stream was reset
 *   if (chunk === undefined) { await body.wait(); continue; }
 *   if (chunk === null) break;             // the end
 *   await out.write(chunk);                // the next hop took it: read on
 * }
 */
export interface BodyReader {
  /**
   * The next chunk if one is here (its credit goes back now), `null` once the body ended and
   * everything was read, `undefined` when nothing is here yet. Throws the stream's error if it
   * died before the end.
   */
  read(): Uint8Array | null | undefined;
  /** True once the end arrived and nothing is left to read: the chunk just read was the last. */
  readonly ended: boolean;
  /**
   * True once the whole body has arrived (its end included, no failure): what is left to read is
   * all here, so a reader may take it at once. Undefined when the reader cannot tell.
   */
  readonly arrived?: boolean;
  /** Resolves when `read` has something new to say (a chunk, the end, or the error). */
  wait(): Promise<void>;
  /** Nobody will read the rest: it is dropped (its credit goes back) and, unless the body ended, the stream is reset with CANCEL. */
  cancel(): void;
}

/** The next chunk of `body` (null at its end): at once when one is here, else once it arrives. Throws the body's failure. */
export function nextChunk(body: BodyReader): Uint8Array | null | Promise<Uint8Array | null> {
  const chunk = body.read();
  if (chunk !== undefined) return chunk;
  return body.wait().then(() => nextChunk(body));
}

/**
 * A body as a ReadableStream, pulled: each chunk's credit goes back as the stream's reader takes
 * it. `onEnd` hears the end, the failure or the cancel.
 */
export function readableOf(body: BodyReader, onEnd?: () => void): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let chunk: Uint8Array | null;
        try {
          const next = nextChunk(body);
          chunk = next instanceof Promise ? await next : next;
        } catch (error) {
          onEnd?.();
          throw error;
        }
        if (chunk !== null) return controller.enqueue(chunk);
        onEnd?.();
        controller.close();
      },
      cancel() {
        body.cancel();
        onEnd?.();
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Lets a stream's reset stop its body pump: one listener, no AbortSignal (costly to make per
 * stream in Node 20, where every AbortSignal is made transferable).
 */
export class PumpControl {
  aborted = false;
  private reason: unknown;
  private onAbort: ((reason: unknown) => void) | undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.onAbort?.(reason);
  }

  /** Set (or clear, with undefined) the one listener; called at once if already aborted. */
  listen(fn: ((reason: unknown) => void) | undefined): void {
    this.onAbort = fn;
    if (fn && this.aborted) fn(this.reason);
  }
}

/**
 * A received body whose flow-control credit is returned only as it is read, through
 * {@link BodyReader} or as a ReadableStream (`readable`, made on first use): a slow consumer slows
 * the sender, and memory stays bounded by the stream window.
 */
export class IncomingBody implements BodyReader {
  private readonly queue: Uint8Array[] = [];
  private readableStream: ReadableStream<Uint8Array> | undefined;
  private waiting: (() => void) | undefined;
  private done = false;
  private failure: unknown;
  private stream: PortStream | undefined;
  private expected = -1;
  private received = 0;
  private discarding = false;
  /** What cancelling the body does to the stream besides discarding; default: reset it with CANCEL. */
  onCancel: (() => void) | undefined;
  /** Called once when the body ended (END_STREAM) or failed; for trailers that wait on it. */
  onFinish: (() => void) | undefined;

  constructor(private readonly connection: StreamPort) {}

  /** Made on first use: most GET requests never read a body, and a ReadableStream is costly to make. */
  get readable(): ReadableStream<Uint8Array> {
    return (this.readableStream ??= readableOf(this));
  }

  read(): Uint8Array | null | undefined {
    if (this.queue.length > 0) {
      const chunk = this.queue.shift()!;
      if (this.stream) this.connection.consume(this.stream, chunk.length);
      return chunk;
    }
    if (this.failure !== undefined) throw this.failure;
    return this.done ? null : undefined;
  }

  /** True once the body ended or failed: nothing more will arrive. */
  get settled(): boolean {
    return this.done || this.failure !== undefined;
  }

  get ended(): boolean {
    return this.done && this.queue.length === 0 && this.failure === undefined;
  }

  get arrived(): boolean {
    return this.done && this.failure === undefined;
  }

  wait(): Promise<void> {
    if (this.queue.length > 0 || this.failure !== undefined || this.done) return Promise.resolve();
    return new Promise((resolve) => (this.waiting = resolve));
  }

  cancel(): void {
    this.discard();
    if (!this.stream || this.stream.state === 'closed' || this.done) return;
    if (this.onCancel) this.onCancel();
    else this.connection.resetStream(this.stream, ErrorCode.CANCEL);
    // Whoever still waits on this body hears that it will not end.
    if (!this.settled) this.fail(new StreamResetError(this.stream.id, ErrorCode.CANCEL, 'local', 'the body was cancelled'));
  }

  attach(stream: PortStream): void {
    this.stream = stream;
  }

  /** Content-Length, when present, must match the DATA received (RFC 9113 §8.1.1). */
  expectLength(value: string | null | undefined, noContent: boolean): void {
    if (noContent || value === null || value === undefined) return;
    const n = Number(value);
    if (Number.isSafeInteger(n) && n >= 0) this.expected = n;
  }

  push(stream: PortStream, data: Uint8Array, end: boolean): void {
    this.received += data.length;
    if (this.expected >= 0 && (this.received > this.expected || (end && this.received !== this.expected))) {
      throw malformed(stream.id, `content-length ${this.expected} does not match the ${this.received} octets of DATA`);
    }
    if (this.discarding) this.connection.consume(stream, data.length);
    else if (data.length > 0) this.queue.push(data);
    if (end) this.finish();
    this.wake();
  }

  end(streamId: number): void {
    if (this.expected >= 0 && this.received !== this.expected && !this.discarding) {
      throw malformed(streamId, `content-length ${this.expected} but ${this.received} octets of DATA`);
    }
    this.finish();
    this.wake();
  }

  fail(error: unknown): void {
    if (this.done && this.queue.length === 0) return;
    this.failure = error;
    // The body is incomplete either way: unread chunks go now, not when (or if) the reader comes back.
    this.dropQueued();
    this.finish();
    this.wake();
  }

  /** Nobody will read: return credit for everything, now and later. */
  discard(): void {
    this.discarding = true;
    this.dropQueued();
  }

  /**
   * Drops the unread chunks and gives their octets back to the connection: its buffer budget (a
   * stream that ended on the wire keeps them counted until they are read, so a body dropped
   * unread without this held them there for good) and, while the peer may still send, the
   * stream's credit. A reset stream's were written off already (consume takes no more than is left).
   */
  private dropQueued(): void {
    let octets = 0;
    for (const c of this.queue) octets += c.length;
    this.queue.length = 0;
    if (this.stream && octets > 0) this.connection.consume(this.stream, octets);
  }

  private finish(): void {
    if (this.failure === undefined) this.done = true;
    const f = this.onFinish;
    this.onFinish = undefined;
    f?.();
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }
}
