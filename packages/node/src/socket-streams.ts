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
 * Copies a tunnel's bytes (an HTTP/2 stream's body) to a socket, waiting for 'drain' so the
 * stream's flow control is the backpressure. The end of the body half-closes the socket (RFC 9113
 * §8.5 for CONNECT); an error or a socket that went away cancels the body and destroys the socket.
 */
export async function pumpToSocket(body: ReadableStream<Uint8Array>, socket: Duplex): Promise<void> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (socket.destroyed) throw new Error('the upstream connection closed');
      if (!socket.write(value)) {
        await drained(socket);
      }
    }
    socket.end();
  } catch (error) {
    reader.cancel(error).catch(() => {});
    socket.destroy();
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
