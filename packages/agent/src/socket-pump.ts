import type { Duplex } from 'node:stream';

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
        await new Promise<void>((resolve) => {
          const go = () => {
            socket.off('drain', go);
            socket.off('close', go);
            resolve();
          };
          socket.on('drain', go);
          socket.on('close', go);
        });
      }
    }
    socket.end();
  } catch (error) {
    reader.cancel(error).catch(() => {});
    socket.destroy();
  }
}
