import type { Duplex, Readable } from 'node:stream';

/** Something node-style that says 'drain' when it can take more and 'close' when it is gone. */
interface Drainable {
  on(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
}

/** Resolves when `target` (a socket, a node:http request or response) can take more ('drain'), or is gone ('close'). */
export function drained(target: Drainable): Promise<void> {
  return new Promise<void>((resolve) => {
    const go = () => {
      target.off('drain', go);
      target.off('close', go);
      resolve();
    };
    target.on('drain', go);
    target.on('close', go);
  });
}

/**
 * Body octets queued on one Node writable before the next chunk waits for 'drain'. Node's 16 KiB
 * high-water mark would send a bulk body one TLS record's worth per write (our HTTP/2 reader hands
 * DATA on record by record); 64 KiB, one DATA frame, lets a turn's chunks leave in one write, and a
 * peer that does not read holds at most this much here, beyond the stream window it is owed.
 */
export const TURN_WRITER_QUEUE_BYTES = 64 * 1024;

/**
 * Bun's node:http ClientRequest stalls a body written under cork while its response streams back
 * (an echo upstream stopped after 124 KiB of 1 MiB, Bun 1.4.5), so under Bun every chunk goes as it comes.
 */
const CORK_HOLDS = typeof (globalThis as { Bun?: unknown }).Bun === 'undefined';

/**
 * What a writer waits for after `target.write` returned `accepted`: nothing while less than
 * {@link TURN_WRITER_QUEUE_BYTES} are queued (or the write was taken), else 'drain'. A writable
 * that does not say what it holds is waited for whenever it refused a write.
 */
export function afterWrite(target: Pick<TurnWritable, 'writableLength' | 'on' | 'off'>, accepted: boolean): Promise<void> | undefined {
  if (accepted) return undefined;
  const queued = target.writableLength;
  return typeof queued === 'number' && queued < TURN_WRITER_QUEUE_BYTES ? undefined : drained(target);
}

/** A socket, a node:http request or response: what {@link TurnWriter} writes to. */
export interface TurnWritable extends Drainable {
  write(chunk: Uint8Array): boolean;
  /** Optional: a writable without cork (some runtimes' node:http) is written chunk by chunk. */
  cork?(): void;
  uncork?(): void;
  /** Optional: without it, every `false` from write waits for 'drain' (Node's 16 KiB mark). */
  readonly writableLength?: number;
}

/**
 * Writes a body to a Node writable so that what one I/O turn brings leaves in one write: the
 * writable is corked from the turn's first write until the turn ends (`setImmediate`), and a
 * writer waits for 'drain' only once {@link TURN_WRITER_QUEUE_BYTES} are queued.
 *
 * @example
 * const out = new TurnWriter(socket);
 * for await (const chunk of body) await out.write(chunk); // undefined (nothing to wait for) or a promise
 * out.release();
 */
export class TurnWriter {
  #held = false;
  #turnEnd: ReturnType<typeof setImmediate> | undefined;
  readonly #release = () => this.release();

  constructor(readonly target: TurnWritable) {}

  /** Cork the writable until the end of this I/O turn (nothing if it is held already). */
  hold(): void {
    if (this.#held || !CORK_HOLDS || typeof this.target.cork !== 'function') return;
    this.#held = true;
    this.target.cork();
    this.#turnEnd = setImmediate(this.#release);
  }

  /** Queue `chunk` within the turn's write; a promise when the caller should wait before the next one. */
  write(chunk: Uint8Array): Promise<void> | undefined {
    this.hold();
    return afterWrite(this.target, this.target.write(chunk));
  }

  /** Send what is held now (before an end, or when the body is done). */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    clearImmediate(this.#turnEnd);
    this.target.uncork?.();
  }
}

/**
 * Copies a tunnel's bytes (an HTTP/2 stream's body) to a socket, waiting for 'drain' so the
 * stream's flow control is the backpressure. The end of the body half-closes the socket (RFC 9113
 * §8.5 for CONNECT); an error or a socket that went away cancels the body and destroys the socket.
 */
export async function pumpToSocket(body: ReadableStream<Uint8Array>, socket: Duplex): Promise<void> {
  const reader = body.getReader();
  try {
    if (!(await copyToWritable(reader, socket))) throw new Error('the upstream connection closed');
    socket.end();
  } catch (error) {
    reader.cancel(error).catch(() => {});
    socket.destroy();
  }
}

/**
 * Copies `reader`'s chunks into `target` through a {@link TurnWriter}. Resolves true at the body's
 * end, false when `target` was destroyed first; rejects with the body's error. In every case what
 * was handed over is released to the writable (the bytes before a failure still go); ending,
 * destroying and cancelling are the caller's.
 */
export async function copyToWritable(reader: ReadableStreamDefaultReader<Uint8Array>, target: TurnWritable & { readonly destroyed: boolean }): Promise<boolean> {
  const out = new TurnWriter(target);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return true;
      if (target.destroyed) return false;
      const full = out.write(value);
      if (full) await full;
    }
  } finally {
    out.release();
  }
}

/** How {@link readableFromSocket} treats its source. */
export interface SocketReadableOptions {
  /** Bytes already read past the HTTP head (node's `head` of an upgrade), delivered first. */
  head?: Uint8Array;
  /** How many chunks may wait for the reader before the socket is paused. */
  highWaterMark: number;
  /** Called on a clean end ('end'), before the stream closes. */
  onEnd?: () => void;
  /** 'close' without 'end': the error to fail the stream with, or undefined to end it cleanly. */
  abruptClose: (hadError: boolean) => Error | undefined;
}

/**
 * A socket's bytes as a web stream. The socket is paused until the stream is read and paused again
 * whenever `highWaterMark` chunks wait, so the far side's flow control is the backpressure.
 */
export function readableFromSocket(source: Readable, options: SocketReadableOptions): ReadableStream<Uint8Array> {
  let finished = false;
  source.pause();
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        if (options.head && options.head.length > 0) controller.enqueue(new Uint8Array(options.head));
        source.on('data', (chunk: Buffer) => {
          if (finished) return;
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 1) <= 0) source.pause();
        });
        source.on('end', () => {
          if (finished) return;
          finished = true;
          options.onEnd?.();
          controller.close();
        });
        source.on('close', (hadError?: boolean) => {
          if (finished) return;
          finished = true;
          const error = options.abruptClose(hadError === true);
          if (error) controller.error(error);
          else controller.close();
        });
        source.on('error', () => {});
      },
      pull() {
        source.resume();
      },
      cancel() {
        finished = true;
        source.destroy();
      },
    },
    new CountQueuingStrategy({ highWaterMark: options.highWaterMark }),
  );
}
