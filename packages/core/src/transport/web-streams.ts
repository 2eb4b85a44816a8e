import { Http2Session, type Http2SessionOptions } from '../http/session.js';

/** A byte duplex as Web Streams: what a WebSocket adapter, a TCP socket in Deno/workerd, or a test pipe gives. */
export interface ByteDuplex {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}

/**
 * Run an HTTP/2 session over a Web Streams byte duplex. The writer's desiredSize is the
 * transport's backpressure: when it is full the session stops scheduling DATA until `ready`.
 */
export function connectWebStreams(duplex: ByteDuplex, options: Http2SessionOptions): Http2Session {
  const writer = duplex.writable.getWriter();
  let closed = false;
  const session = new Http2Session(
    {
      write(chunk) {
        writer.write(chunk).catch((error) => session.receiveEnd(error));
        if ((writer.desiredSize ?? 1) > 0) return true;
        writer.ready.then(() => session.resume(), () => {});
        return false;
      },
      close() {
        if (closed) return;
        closed = true;
        writer.close().catch(() => {});
        reader.cancel().catch(() => {});
      },
    },
    options,
  );
  const reader = duplex.readable.getReader();
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        session.receive(value);
      }
      session.receiveEnd();
    } catch (error) {
      session.receiveEnd(error as Error);
    }
  })();
  return session;
}
