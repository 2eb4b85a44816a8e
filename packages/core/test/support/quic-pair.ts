/**
 * Two in-memory `QuicConnection`s wired back to back (h3/quic.ts): a stream one side opens appears
 * on the other's incoming streams with the QUIC stream id RFC 9000 §2.1 gives it; closing the
 * writable is FIN, aborting it is RESET_STREAM and cancelling the readable is STOP_SENDING, each
 * carrying its application error code (`streamErrorCode`) to the other side. Each direction of a
 * stream buffers at most `streamWindow` octets (QUIC's flow control): a writer beyond it waits.
 * CONNECTION_CLOSE drops what the peer has not read yet. With `finOnQueue`, closing a writable
 * resolves once the FIN is queued behind the data, before the peer read any of it (Deno's
 * QuicSendStream does: measured on 2.9.6), so a close that follows at once loses the tail.
 */
import type { QuicBidirectionalStream, QuicCloseInfo, QuicConnection, QuicReceiveStream, QuicSendStream } from '../../src/h3/quic.js';

/** What a stream's error carries across: the application error code of RESET_STREAM / STOP_SENDING / CONNECTION_CLOSE. */
export class QuicStreamError extends Error {
  constructor(readonly streamErrorCode: number, what: string) {
    super(`${what} (code 0x${streamErrorCode.toString(16)})`);
  }
}

export interface QuicPairOptions {
  /** Octets each direction of a stream holds before its writer waits. Default 64 KiB. */
  streamWindow?: number;
  /** A writable's close resolves when its FIN is queued, not when the peer read it (as Deno). Default false. */
  finOnQueue?: boolean;
}

export interface QuicPair {
  /** The QUIC client (opens streams 0, 4, 8… and 2, 6, 10…). */
  client: InMemoryQuic;
  /** The QUIC server (opens streams 1, 5, 9… and 3, 7, 11…). */
  server: InMemoryQuic;
}

export function quicPair(options: QuicPairOptions = {}): QuicPair {
  const window = options.streamWindow ?? 64 * 1024;
  const client = new InMemoryQuic(0, window, options.finOnQueue ?? false);
  const server = new InMemoryQuic(1, window, options.finOnQueue ?? false);
  client.peer = server;
  server.peer = client;
  return { client, server };
}

interface Direction {
  writable: QuicSendStream;
  readable: QuicReceiveStream;
  fail: (error: Error) => void;
}

/** One direction of a stream: what one side writes, the other reads. */
function direction(id: bigint, window: number, finOnQueue: boolean): Direction {
  if (finOnQueue) return queuedDirection(id, window);
  let control!: TransformStreamDefaultController<Uint8Array>;
  const { writable, readable } = new TransformStream<Uint8Array, Uint8Array>(
    {
      start(controller) {
        control = controller;
      },
      transform(chunk, controller) {
        // A copy, as a network would: the sender may reuse its buffer.
        controller.enqueue(chunk.slice());
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: window }),
    { highWaterMark: 0 },
  );
  Object.defineProperty(writable, 'id', { value: id });
  Object.defineProperty(readable, 'id', { value: id });
  const fail = (error: Error) => {
    try {
      control.error(error);
    } catch {
      // already closed or errored
    }
  };
  return { writable: writable as QuicSendStream, readable: readable as QuicReceiveStream, fail };
}

/**
 * A direction whose sender holds what it wrote in a queue of `window` octets (its writes wait for
 * room) and whose close resolves as soon as the FIN is queued after it: the queue is what the
 * network and the peer's QUIC stack hold, lost when the connection closes.
 */
function queuedDirection(id: bigint, window: number): Direction {
  const queue: Uint8Array[] = [];
  let queued = 0;
  let fin = false;
  let failure: Error | undefined;
  let wakeReader: (() => void) | undefined;
  const wakeWriters: Array<() => void> = [];
  let readController!: ReadableStreamDefaultController<Uint8Array>;
  let writeController!: WritableStreamDefaultController;
  const wake = () => {
    wakeReader?.();
    wakeReader = undefined;
    for (const w of wakeWriters.splice(0)) w();
  };
  const readable = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        readController = controller;
      },
      async pull(controller) {
        while (queue.length === 0 && !fin && !failure) await new Promise<void>((resolve) => (wakeReader = resolve));
        if (failure) return;
        const chunk = queue.shift();
        if (chunk) {
          queued -= chunk.length;
          controller.enqueue(chunk);
          wake();
        } else controller.close();
      },
      cancel(reason) {
        // STOP_SENDING: the sender's writable fails with the code.
        failure = reason instanceof Error ? reason : new Error(String(reason));
        writeController.error(reason);
        wake();
      },
    },
    { highWaterMark: 0 },
  );
  const writable = new WritableStream<Uint8Array>(
    {
      start(controller) {
        writeController = controller;
      },
      async write(chunk) {
        while (queued >= window && !failure) await new Promise<void>((resolve) => wakeWriters.push(resolve));
        if (failure) throw failure;
        queue.push(chunk.slice());
        queued += chunk.length;
        wake();
      },
      close() {
        fin = true;
        wake();
      },
      abort(reason) {
        // RESET_STREAM: the reader fails with the code, whatever was queued is gone.
        fail(reason instanceof Error ? reason : new Error(String(reason)));
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: window }),
  );
  Object.defineProperty(writable, 'id', { value: id });
  Object.defineProperty(readable, 'id', { value: id });
  const fail = (error: Error) => {
    if (failure) return;
    failure = error;
    queue.length = 0;
    queued = 0;
    try {
      readController.error(error);
    } catch {
      // already closed
    }
    try {
      writeController.error(error);
    } catch {
      // already closed
    }
    wake();
  };
  return { writable: writable as QuicSendStream, readable: readable as QuicReceiveStream, fail };
}

export class InMemoryQuic implements QuicConnection {
  peer!: InMemoryQuic;
  readonly incomingBidirectionalStreams: ReadableStream<QuicBidirectionalStream>;
  readonly incomingUnidirectionalStreams: ReadableStream<QuicReceiveStream>;
  readonly closed: Promise<QuicCloseInfo>;
  /** The CONNECTION_CLOSE this side received or sent, once closed. */
  closeInfo: QuicCloseInfo | undefined;
  /** Every stream direction this side opened (the peer keeps its own), to fail them at CONNECTION_CLOSE. */
  private readonly directions: Array<(error: Error) => void> = [];
  private bidiController!: ReadableStreamDefaultController<QuicBidirectionalStream>;
  private uniController!: ReadableStreamDefaultController<QuicReceiveStream>;
  private resolveClosed!: (info: QuicCloseInfo) => void;
  private nextBidi: number;
  private nextUni: number;

  constructor(
    /** 0 for the QUIC client, 1 for the server (RFC 9000 §2.1's low bit). */
    private readonly initiator: 0 | 1,
    private readonly window: number,
    private readonly finOnQueue: boolean,
  ) {
    this.nextBidi = initiator;
    this.nextUni = 2 + initiator;
    this.incomingBidirectionalStreams = new ReadableStream({ start: (c) => void (this.bidiController = c) });
    this.incomingUnidirectionalStreams = new ReadableStream({ start: (c) => void (this.uniController = c) });
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  async createBidirectionalStream(): Promise<QuicBidirectionalStream> {
    if (this.closeInfo) throw new QuicStreamError(this.closeInfo.closeCode, 'the connection is closed');
    const id = BigInt(this.nextBidi);
    this.nextBidi += 4;
    const out = direction(id, this.window, this.finOnQueue);
    const back = direction(id, this.window, this.finOnQueue);
    this.directions.push(out.fail, back.fail);
    this.peer.bidiController.enqueue({ readable: out.readable, writable: back.writable });
    return { readable: back.readable, writable: out.writable };
  }

  async createUnidirectionalStream(): Promise<QuicSendStream> {
    if (this.closeInfo) throw new QuicStreamError(this.closeInfo.closeCode, 'the connection is closed');
    const id = BigInt(this.nextUni);
    this.nextUni += 4;
    const out = direction(id, this.window, this.finOnQueue);
    this.directions.push(out.fail);
    this.peer.uniController.enqueue(out.readable);
    return out.writable;
  }

  close(info: QuicCloseInfo = { closeCode: 0, reason: '' }): void {
    if (this.closeInfo) return;
    this.shut(info);
    this.peer.shut(info);
  }

  private shut(info: QuicCloseInfo): void {
    if (this.closeInfo) return;
    this.closeInfo = info;
    // `closed` settles first, as a runtime reports the CONNECTION_CLOSE before the streams it killed.
    this.resolveClosed(info);
    const error = new QuicStreamError(info.closeCode, `the connection closed: ${info.reason}`);
    for (const fail of this.directions) fail(error);
    try {
      this.bidiController.close();
      this.uniController.close();
    } catch {
      // already closed
    }
  }
}
