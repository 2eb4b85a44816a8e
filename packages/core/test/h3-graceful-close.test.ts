/**
 * A graceful close must not cut off what we sent last. QUIC abandons stream data the peer has not
 * acknowledged when CONNECTION_CLOSE goes out, and Deno's stream close resolves once the FIN is
 * queued (quic-pair.ts `finOnQueue` models both): so after a drained GOAWAY, or close(H3_NO_ERROR),
 * the side that wrote last lets the peer close first, for at most its linger (connect-quic.ts);
 * the side that read last closes at once, and an error closes at once.
 */
import { describe, expect, it } from 'vitest';
import type { ServerStream } from '../src/http/server-stream.js';
import { H3ErrorCode } from '../src/h3/index.js';
import { h3Pair, readAll } from './support/h3-pair.js';
import { until } from './support/until.js';

/** A response larger than what the QUIC pair and the client hold together (three windows), so the client must read to let it finish. */
const BODY_BYTES = 256 * 1024;
const WINDOW = 16 * 1024;
/** What the client leaves unread until the server is done: less than the three windows that can hold it. */
const TAIL_BYTES = 2 * WINDOW;

type Body = { read(): Uint8Array | null | undefined; wait(): Promise<void> };

/** Reads `body` until at least `n` octets came (or it ended). */
async function readAtLeast(body: Body, n: number, into: Uint8Array[]): Promise<void> {
  let got = into.reduce((sum, c) => sum + c.length, 0);
  while (got < n) {
    const chunk = body.read();
    if (chunk === null) return;
    if (chunk === undefined) await body.wait();
    else {
      into.push(chunk);
      got += chunk.length;
    }
  }
}

function joined(chunks: Uint8Array[]): Buffer {
  return Buffer.concat(chunks.map((c) => Buffer.from(c)));
}

function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 7 + (i >> 10)) & 0xff;
  return out;
}

/** Writes of this size keep what the QUIC pair queues close to its window. */
const PIECE_BYTES = 4 * 1024;

const sendBody = (body: Uint8Array) => async (stream: ServerStream) => {
  await stream.bytes();
  stream.respond(200, { 'content-length': String(body.length) });
  for (let at = 0; at < body.length; at += PIECE_BYTES) await stream.write(body.subarray(at, at + PIECE_BYTES));
  await stream.end();
};

describe('a graceful close lets the peer read what we sent last', () => {
  for (const reversed of [false, true]) {
    const arrangement = reversed ? ' (reversed, as h3-reverse)' : '';
    it(`a drained GOAWAY: the last response arrives whole though the server is done with it before the client read its tail${arrangement}`, async () => {
      const body = pattern(BODY_BYTES);
      const { client, server, serverQuic } = h3Pair({
        reversed,
        streamWindow: WINDOW,
        finOnQueue: true,
        // The linger is the peer's to end here: a test must not race a timer.
        server: { onStream: (s) => void sendBody(body)(s), closeLingerMs: 60_000 },
        client: { limits: { streamBufferBytes: WINDOW } },
      });
      const exchange = client.open({ method: 'GET', url: new URL('https://a.example/big') });
      const response = await exchange.response;
      server.goaway();
      const chunks: Uint8Array[] = [];
      await readAtLeast(response.body!, BODY_BYTES - TAIL_BYTES, chunks);
      // The server's HTTP/3 connection is finished (its FIN handed over) while the tail still waits
      // in QUIC for the client: closing the QUIC connection now would drop it.
      await until(() => server.isClosed);
      expect(serverQuic.closeInfo).toBeUndefined();
      chunks.push(await readAll(response.body));
      const received = joined(chunks);
      expect(received.length).toBe(BODY_BYTES);
      expect(received.equals(Buffer.from(body))).toBe(true);
      // The client read last: it closed, and the server's QUIC connection closed with it.
      expect(await client.closed).toBeUndefined();
      expect(await server.closed).toBeUndefined();
      expect(serverQuic.closeInfo).toMatchObject({ closeCode: H3ErrorCode.H3_NO_ERROR });
    });
  }

  it('close(H3_NO_ERROR) right after a response was handed over: it arrives whole, then the client closes', async () => {
    const body = pattern(BODY_BYTES);
    let handedOver!: () => void;
    const done = new Promise<void>((resolve) => (handedOver = resolve));
    const { client, server, serverQuic } = h3Pair({
      streamWindow: WINDOW,
      finOnQueue: true,
      server: {
        onStream: async (s) => {
          await sendBody(body)(s);
          await s.closed;
          handedOver();
        },
        closeLingerMs: 60_000,
      },
      client: { limits: { streamBufferBytes: WINDOW } },
    });
    const response = await client.open({ method: 'GET', url: new URL('https://a.example/big') }).response;
    const chunks: Uint8Array[] = [];
    await readAtLeast(response.body!, BODY_BYTES - TAIL_BYTES, chunks);
    await done;
    server.close();
    expect(serverQuic.closeInfo).toBeUndefined();
    chunks.push(await readAll(response.body));
    const received = joined(chunks);
    expect(received.length).toBe(BODY_BYTES);
    expect(received.equals(Buffer.from(body))).toBe(true);
    client.close();
    expect(await server.closed).toBeUndefined();
  });

  it('the side that read last closes at once: a client drained by GOAWAY after its last response sends CONNECTION_CLOSE itself', async () => {
    const { client, server, clientQuic } = h3Pair({
      server: { onStream: (s) => void sendBody(pattern(1024))(s), closeLingerMs: 60_000 },
      client: { closeLingerMs: 60_000 },
    });
    const response = await client.open({ method: 'GET', url: new URL('https://a.example/') }).response;
    expect((await readAll(response.body)).length).toBe(1024);
    server.goaway();
    expect(await client.closed).toBeUndefined();
    expect(await server.closed).toBeUndefined();
    // It was the client's CONNECTION_CLOSE (the server's says 'drained' too, but lingered for this one).
    expect(clientQuic.closeInfo).toMatchObject({ closeCode: H3ErrorCode.H3_NO_ERROR, reason: 'drained' });
  });

  it('past the linger the side that wrote last closes by itself when the peer never does', async () => {
    const body = pattern(BODY_BYTES);
    const { client, server, serverQuic } = h3Pair({
      streamWindow: WINDOW,
      finOnQueue: true,
      server: { onStream: (s) => void sendBody(body)(s), closeLingerMs: 0 },
      client: { limits: { streamBufferBytes: WINDOW } },
    });
    const response = await client.open({ method: 'GET', url: new URL('https://a.example/big') }).response;
    server.goaway();
    await readAtLeast(response.body!, BODY_BYTES - TAIL_BYTES, []);
    // The client reads no more: the server's linger ends it.
    expect(await server.closed).toBeUndefined();
    expect(serverQuic.closeInfo).toMatchObject({ closeCode: H3ErrorCode.H3_NO_ERROR, reason: 'drained' });
    expect(await client.closed).toBeUndefined();
    expect(response.status).toBe(200);
  });

  it('an error close does not linger', async () => {
    const { server, serverQuic } = h3Pair({ server: { closeLingerMs: 60_000 } });
    server.close(H3ErrorCode.H3_INTERNAL_ERROR, 'bye');
    expect(serverQuic.closeInfo).toMatchObject({ closeCode: H3ErrorCode.H3_INTERNAL_ERROR, reason: 'bye' });
    expect(await server.closed).toMatchObject({ errorCode: H3ErrorCode.H3_INTERNAL_ERROR });
  });
});
