/**
 * The client role's low-level API (`Http2Session.open`, client-exchange.ts): the response as
 * status, fields and a BodyReader whose credit goes back as it is read; trailers; cancel; and the
 * Fetch adapters (`toResponse`, `fromResponse`) built on it.
 */
import { describe, expect, it } from 'vitest';
import { bytesBody, ErrorCode, fromResponse, nextChunk, responseTrailers, StreamResetError, toResponse, withTrailers, type BodyReader, type ServerStream } from '../src/index.js';
import { concatBytes } from '../src/bytes.js';
import { sessionPair } from './support/session-pair.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const URL_ = new URL('https://example.com/x');

/** Reads a BodyReader to the end the way a relay does. */
async function readAll(body: BodyReader): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (let chunk = await nextChunk(body); chunk !== null; chunk = await nextChunk(body)) parts.push(chunk);
  return concatBytes(parts);
}

function streamPair(onStream: (stream: ServerStream) => void) {
  return sessionPair(undefined, { onStream });
}

describe('Http2Session.open (client role, no web objects)', () => {
  it('gives the status, the regular fields as received and the body; the last chunk reports ended', async () => {
    const { client } = streamPair((stream) => {
      stream.respond(201, [['x-one', 'a'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
      void stream.end(enc.encode('hello'));
    });
    const exchange = client.open({ method: 'GET', url: URL_ });
    const response = await exchange.response;
    expect(response.status).toBe(201);
    expect(response.fields).toEqual([['x-one', 'a'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
    const body = response.body!;
    await body.wait();
    expect(dec.decode(body.read()!)).toBe('hello');
    expect(body.ended).toBe(true);
    expect(body.read()).toBe(null);
    expect(response.trailers).toBeUndefined();
  });

  it('a response that ends with its HEADERS, and a HEAD, have a null body', async () => {
    const { client } = streamPair((stream) => {
      if (stream.head.method === 'HEAD') stream.respond(200, { 'content-length': '3' }, { endStream: true });
      else stream.respond(404, {}, { endStream: true });
    });
    const plain = await client.open({ method: 'GET', url: URL_ }).response;
    expect([plain.status, plain.body]).toEqual([404, null]);
    const head = await client.open({ method: 'HEAD', url: URL_ }).response;
    expect([head.status, head.body]).toEqual([200, null]);
  });

  it('a body that ended on the wire and is then cancelled unread leaves the buffer budget (the browser left mid-body)', async () => {
    const { client } = streamPair((stream) => {
      stream.respond(200, {});
      void stream.end(new Uint8Array(40_000).fill(7));
    });
    const exchange = client.open({ method: 'GET', url: URL_ });
    const response = await exchange.response;
    // Everything arrived and the stream is closed, its DATA unread: still counted, as it should be.
    for (let i = 0; i < 30 && !response.body!.arrived; i++) await new Promise((r) => setImmediate(r));
    expect(response.body!.arrived).toBe(true);
    expect(client.connection.bufferedBytes).toBe(40_000);
    // The reader goes away (a broker cancels the exchange when its browser leaves): the octets go too.
    exchange.cancel(new Error('the browser went away'));
    expect(client.connection.bufferedBytes).toBe(0);
  });

  it('returns stream credit only as the body is read (a reader that stops holds the sender at the window)', async () => {
    let size = 0;
    const { client } = streamPair((stream) => {
      stream.respond(200, {});
      size = 2 * client.connection.local.initialWindowSize + 1_000; // more than the stream window holds
      void stream.end(new Uint8Array(size).fill(7));
    });
    const response = await client.open({ method: 'GET', url: URL_ }).response;
    // Let the sender run as far as the credit allows.
    for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
    const held = client.connection.bufferedBytes;
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(client.connection.local.initialWindowSize);
    const bytes = await readAll(response.body!);
    expect(bytes.length).toBe(size);
    expect(client.connection.bufferedBytes).toBe(0);
  });

  it('makes the trailers final by the time the body reports its end', async () => {
    const { client } = streamPair((stream) => {
      stream.respond(200, { 'content-type': 'application/grpc' });
      void stream.write(enc.encode('msg')).then(() => stream.end(undefined, [['grpc-status', '5'], ['grpc-message', 'nope']]));
    });
    const response = await client.open({ method: 'POST', url: URL_ }).response;
    expect(dec.decode(await readAll(response.body!))).toBe('msg');
    expect(response.trailers).toEqual([['grpc-status', '5'], ['grpc-message', 'nope']]);
  });

  it('cancel resets the stream with CANCEL and rejects a pending response with the reason', async () => {
    let reset: StreamResetError | undefined;
    const { client } = streamPair((stream) => {
      stream.onReset = (error) => (reset = error);
    });
    const exchange = client.open({ method: 'GET', url: URL_ });
    await new Promise((r) => setImmediate(r));
    const reason = new Error('the browser left');
    exchange.cancel(reason);
    await expect(exchange.response).rejects.toBe(reason);
    for (let i = 0; i < 5 && !reset; i++) await new Promise((r) => setImmediate(r));
    expect(reset?.errorCode).toBe(ErrorCode.CANCEL);
  });

  it('a body being read fails with the stream reset by the peer', async () => {
    const { client } = streamPair((stream) => {
      stream.respond(200, {});
      void stream.write(enc.encode('part')).then(() => stream.reset(ErrorCode.INTERNAL_ERROR));
    });
    const response = await client.open({ method: 'GET', url: URL_ }).response;
    await expect(readAll(response.body!)).rejects.toBeInstanceOf(StreamResetError);
  });

  it('a malformed response (uppercase field name) resets the stream with PROTOCOL_ERROR (RFC 9113 §8.2)', async () => {
    const { client } = streamPair((stream) => {
      // The engine refuses to send invalid names through `respond`, so the raw connection does.
      (stream as unknown as { connection: { sendHeaders(s: unknown, f: unknown, e: boolean): void }; stream: unknown }).connection.sendHeaders((stream as unknown as { stream: unknown }).stream, [[':status', '200'], ['X-Bad', '1']], true);
    });
    const error = await client.open({ method: 'GET', url: URL_ }).response.catch((e) => e);
    expect(error).toBeInstanceOf(StreamResetError);
    expect((error as StreamResetError).errorCode).toBe(ErrorCode.PROTOCOL_ERROR);
  });
});

describe('Set-Cookie through the Fetch handler', () => {
  it('each Set-Cookie of a handler\'s Response goes out once, as its own field', async () => {
    const headers = new Headers([['set-cookie', 'a=1'], ['set-cookie', 'b=2; Path=/'], ['x-one', '1']]);
    const { client } = sessionPair(() => new Response('ok', { headers }));
    const response = await client.open({ method: 'GET', url: URL_ }).response;
    expect(response.fields.filter(([name]) => name === 'set-cookie')).toEqual([['set-cookie', 'a=1'], ['set-cookie', 'b=2; Path=/']]);
  });
});

describe('Fetch adapters on the message', () => {
  it('toResponse: a web Response with the body and the trailers after it', async () => {
    const { client } = streamPair((stream) => {
      stream.respond(200, { 'x-a': '1' });
      void stream.write(enc.encode('ab')).then(() => stream.end(undefined, [['grpc-status', '0']]));
    });
    const exchange = client.open({ method: 'POST', url: URL_ });
    const response = toResponse(await exchange.response, exchange.finished());
    expect(response.headers.get('x-a')).toBe('1');
    expect(await response.text()).toBe('ab');
    expect((await responseTrailers(response)).get('grpc-status')).toBe('0');
  });

  it('fromResponse: a web Response read as a message, Set-Cookie kept apart, trailers final at the end', async () => {
    const headers = new Headers([['content-type', 'text/plain'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
    const response = withTrailers(new Response('hi there', { status: 418, headers }), () => new Headers({ 'x-t': 'y' }));
    const message = fromResponse(response);
    expect(message.status).toBe(418);
    expect(message.fields).toEqual([['content-type', 'text/plain'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
    expect(dec.decode(await readAll(message.body!))).toBe('hi there');
    expect(message.trailers).toEqual([]);
    const bodyless = fromResponse(new Response(null, { status: 204 }));
    expect(bodyless.body).toBe(null);
  });

  it('bytesBody: one chunk, then the end', () => {
    const body = bytesBody(enc.encode('x'));
    expect(body.ended).toBe(false);
    expect(dec.decode(body.read()!)).toBe('x');
    expect(body.ended).toBe(true);
    expect(body.read()).toBe(null);
    expect(bytesBody(new Uint8Array(0)).read()).toBe(null);
  });
});
