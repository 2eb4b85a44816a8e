/**
 * rhttp's in-band reset extension (h3/in-band-reset.ts), over a QUIC API that cannot reset a
 * stream: as on Deno 2.9, aborting a writer sends a FIN and cancelling a reader tells the peer
 * nothing. Without the extension a response cut off at a frame boundary would read as complete.
 */
import { describe, expect, it } from 'vitest';
import { connectQuic, type Http3Session, type Http3SessionOptions } from '../src/h3/index.js';
import type { QuicBidirectionalStream, QuicConnection } from '../src/h3/quic.js';
import { RHTTP_RESET_STREAM_FRAME, RHTTP_STOP_SENDING_FRAME, SETTINGS_RHTTP_IN_BAND_RESET, decodeInBandPayload, encodeInBandStopSending } from '../src/h3/in-band-reset.js';
import { ErrorCode } from '../src/errors.js';
import { H3ErrorCode } from '../src/h3/error-codes.js';
import type { ServerStream } from '../src/http/server-stream.js';
import { quicPair } from './support/quic-pair.js';
import { readAll } from './support/h3-pair.js';

/** A stream whose writer's abort is a FIN and whose reader's cancel stays local (Deno 2.9.6, measured). */
function withoutResets(bidi: QuicBidirectionalStream): QuicBidirectionalStream {
  const writer = bidi.writable.getWriter();
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) => writer.write(chunk),
    close: () => writer.close(),
    abort: () => writer.close().catch(() => {}),
  });
  const reader = bidi.readable.getReader();
  const readable = new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      const { value, done } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: () => reader.releaseLock(),
  });
  return { readable, writable };
}

/** The QUIC connection as such an API shows it. */
function resetless(quic: QuicConnection): QuicConnection {
  return {
    createBidirectionalStream: async (options) => withoutResets(await quic.createBidirectionalStream(options)),
    createUnidirectionalStream: () => quic.createUnidirectionalStream(),
    incomingBidirectionalStreams: quic.incomingBidirectionalStreams.pipeThrough(new TransformStream({ transform: (bidi, c) => c.enqueue(withoutResets(bidi)) })),
    incomingUnidirectionalStreams: quic.incomingUnidirectionalStreams,
    close: (info) => quic.close(info),
    closed: quic.closed,
  };
}

function pair(server: Partial<Http3SessionOptions>, client: Partial<Http3SessionOptions> = {}): { client: Http3Session; server: Http3Session } {
  const quic = quicPair();
  // h3-reverse's arrangement: the QUIC client is the HTTP/3 server.
  return {
    server: connectQuic(resetless(quic.client), { role: 'server', quicRole: 'client', ...server }),
    client: connectQuic(resetless(quic.server), { role: 'client', quicRole: 'server', ...client }),
  };
}

describe('in-band resets (SETTINGS_RHTTP_IN_BAND_RESET, RHTTP_RESET_STREAM, RHTTP_STOP_SENDING)', () => {
  it('the ids are extension values: not reserved (0x1f * N + 0x21), and the payloads decode exactly', () => {
    for (const v of [SETTINGS_RHTTP_IN_BAND_RESET, RHTTP_RESET_STREAM_FRAME, RHTTP_STOP_SENDING_FRAME]) expect((v - 0x21) % 0x1f).not.toBe(0);
    expect(decodeInBandPayload(encodeInBandStopSending(1_000_001, 0x10c), 2)).toEqual([1_000_001, 0x10c]);
    expect(decodeInBandPayload(new Uint8Array([0x05, 0x06]), 1)).toBeUndefined();
  });

  it('a response the server resets mid-body reaches the client as a reset, not as a complete body', async () => {
    const { client } = pair({
      onStream: (stream) => {
        stream.respond(200, {});
        void stream.write(new Uint8Array(1000).fill(1)).then(() => stream.reset(ErrorCode.INTERNAL_ERROR));
      },
    });
    await client.ready;
    const response = await client.open({ method: 'GET', url: new URL('https://app.example.com/') }).response;
    await expect(readAll(response.body)).rejects.toMatchObject({ name: 'StreamResetError', by: 'peer', errorCode: H3ErrorCode.H3_INTERNAL_ERROR });
    client.close();
  });

  it('a client that cancels a GET (its sending half already finished) stops the server: its ServerStream hears the reset', async () => {
    let served!: ServerStream;
    let heard!: (error: unknown) => void;
    const reset = new Promise((resolve) => (heard = resolve));
    const { client } = pair({
      onStream: (stream) => {
        served = stream;
        stream.onReset = (error) => heard(error);
        stream.respond(200, {});
        void stream.write(new Uint8Array(10));
      },
    });
    await client.ready;
    const exchange = client.open({ method: 'GET', url: new URL('https://app.example.com/slow') });
    await exchange.response;
    exchange.cancel(new Error('the browser left'));
    expect(await reset).toMatchObject({ errorCode: expect.any(Number) });
    expect(served.head.path).toBe('/slow');
    client.close();
  });

  it('RHTTP_STOP_SENDING (on the control stream, unordered with the data) applies only after the data the peer already sent was delivered', async () => {
    const BODY = 100_000;
    let received = 0;
    let readError: unknown;
    let reset: unknown;
    let serverGot!: () => void;
    const gotRequest = new Promise<void>((resolve) => (serverGot = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const { client } = pair({
      onStream: (stream) => {
        stream.onReset = (error) => (reset = error);
        stream.respond(200, {});
        serverGot();
        // Reads nothing until the client has cancelled: the request body waits in the stream's buffer.
        void released
          .then(async () => {
            for await (const chunk of stream) received += chunk.length;
          })
          .catch((error: unknown) => (readError = error))
          .finally(done);
      },
    });
    await client.ready;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(BODY).fill(7));
        controller.close();
      },
    });
    const exchange = client.open({ method: 'POST', url: new URL('https://app.example.com/upload'), body });
    await exchange.response;
    await gotRequest;
    // Let the body and its FIN go out, then stop reading the response: STOP_SENDING goes in band.
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    exchange.cancel(new Error('the browser left'));
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    release();
    await finished;
    expect({ received, readError }).toEqual({ received: BODY, readError: undefined });
    expect(reset).toBeDefined();
    client.close();
  });

  it('negotiated: when one side does not offer it, a reset is left to QUIC, which here cannot carry it (the body reads as ended)', async () => {
    const { client } = pair(
      {
        onStream: (stream) => {
          stream.respond(200, {});
          void stream.write(new Uint8Array(1000).fill(1)).then(() => stream.reset(ErrorCode.INTERNAL_ERROR));
        },
      },
      { inBandReset: false },
    );
    await client.ready;
    expect(client.connection.peerSettings?.inBandReset).toBe(true);
    const response = await client.open({ method: 'GET', url: new URL('https://app.example.com/') }).response;
    // What the extension exists for: without it, this QUIC API turns the reset into a FIN.
    expect((await readAll(response.body)).length).toBe(1000);
    client.close();
  });
});

describe('a QUIC API that cannot reset streams, and a peer without in-band resets (a browser)', () => {
  it('quicResetsStreams: false — a response abandoned midway closes the connection (H3_INTERNAL_ERROR) instead of ending as if complete', async () => {
    const { client } = pair(
      {
        quicResetsStreams: false,
        onStream: (stream) => {
          stream.respond(200, {});
          void stream.write(new Uint8Array(1000).fill(1)).then(() => stream.reset(ErrorCode.INTERNAL_ERROR));
        },
      },
      { inBandReset: false },
    );
    await client.ready;
    const response = await client.open({ method: 'GET', url: new URL('https://app.example.com/') }).response;
    await expect(readAll(response.body)).rejects.toThrow();
    expect(await client.closed).toMatchObject({ name: 'ConnectionError', errorCode: H3ErrorCode.H3_INTERNAL_ERROR });
  });

  it('a reset before anything was sent stays a stream reset (the peer sees no response, not a complete one)', async () => {
    const { client, server } = pair(
      {
        quicResetsStreams: false,
        onStream: (stream) => stream.reset(ErrorCode.REFUSED_STREAM),
      },
      { inBandReset: false },
    );
    await client.ready;
    await expect(client.open({ method: 'GET', url: new URL('https://app.example.com/') }).response).rejects.toThrow();
    expect(server.isClosed).toBe(false);
    client.close();
  });
});
