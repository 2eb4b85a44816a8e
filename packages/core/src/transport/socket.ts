import { Http2Session, type Http2SessionOptions } from '../http/session.js';
import { BulkCounter } from './bulk-allocator.js';

/**
 * The part of a Node-style socket (node:net / node:tls, also in Bun and Deno's Node layer) that
 * the session needs. Typed structurally so @rhttp/core imports no runtime module.
 */
export interface NodeStyleSocket {
  write(chunk: Uint8Array): boolean;
  cork(): void;
  uncork(): void;
  end(): void;
  destroy(error?: Error): void;
  setNoDelay?(noDelay?: boolean): unknown;
  on(event: 'data', listener: (chunk: Uint8Array) => void): unknown;
  on(event: 'drain', listener: () => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** Node's, Bun's and Deno's `setImmediate`: runs after the I/O callbacks of the current turn. */
const setImmediateOf = (globalThis as { setImmediate?: (task: () => void) => unknown }).setImmediate;
/** Flushes wait for the end of the I/O turn: the responses to every request read in this turn (from any connection) leave in one write per socket. */
const flushAtTurnEnd = setImmediateOf ? (flush: () => void): void => void setImmediateOf(flush) : undefined;

/** Run an HTTP/2 session over a connected Node-style socket (already past TLS and ALPN). */
export function connectSocket(socket: NodeStyleSocket, options: Http2SessionOptions): Http2Session {
  // HTTP/2 batches its own writes; Nagle's algorithm would only add delayed-ACK stalls (40 ms
  // each), which over TLS cut bulk throughput fifty-fold in our measurements.
  socket.setNoDelay?.(true);
  let ended = false;
  const bulk = new BulkCounter();
  const session = new Http2Session(
    {
      write(chunk) {
        bulk.add(chunk.length);
        return socket.write(chunk);
      },
      writev(chunks) {
        // One writev for the frames of one flush.
        socket.cork();
        let ok = true;
        for (const c of chunks) {
          bulk.add(c.length);
          ok = socket.write(c);
        }
        socket.uncork();
        return ok;
      },
      close(error) {
        if (ended) return;
        ended = true;
        if (error) setTimeout(() => socket.destroy(), 50).unref?.();
        socket.end();
      },
      scheduleFlush: flushAtTurnEnd,
    },
    options,
  );
  socket.on('data', (chunk) => {
    bulk.add(chunk.length);
    session.receive(chunk);
  });
  socket.on('drain', () => session.resume());
  socket.on('end', () => session.receiveEnd());
  socket.on('close', () => session.receiveEnd());
  socket.on('error', (error) => session.receiveEnd(error));
  return session;
}
