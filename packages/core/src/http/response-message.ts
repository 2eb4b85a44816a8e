/**
 * The Fetch adapters of the low-level response (`ResponseMessage`, client-exchange.ts): a web
 * Response from a message and a message from a web Response, with HTTP trailers carried beside
 * the Response (the Fetch API has no place for them).
 */
import type { HeaderField } from '../frame/types.js';
import type { ResponseMessage } from './client-exchange.js';
import { fieldsToHeaders } from './fields.js';
import { readableOf, type BodyReader } from './incoming-body.js';
import { takeHeldBody } from './fast-response.js';
import { encodeUtf8 } from './utf8.js';

const trailersByResponse = new WeakMap<Response, Promise<Headers>>();
const trailersToSend = new WeakMap<Response, () => Headers | Promise<Headers>>();

/** Trailers of a Response received over HTTP/2 (resolves to empty Headers if there were none). */
export function responseTrailers(response: Response): Promise<Headers> {
  return trailersByResponse.get(response) ?? Promise.resolve(new Headers());
}

/** Make a handler's Response send trailers after its body (gRPC, for one). */
export function withTrailers(response: Response, trailers: () => Headers | Promise<Headers>): Response {
  trailersToSend.set(response, trailers);
  return response;
}

/** The trailers a server should send after this Response's body, if any (`withTrailers`, `carryTrailers`). */
export function trailersToSendOf(response: Response): (() => Headers | Promise<Headers>) | undefined {
  return trailersToSend.get(response);
}

/**
 * Give `to`, a Response made from `from`'s body (a proxy that rewrites the headers), `from`'s
 * trailers: `responseTrailers(to)` resolves to the trailers `from` received, and a server handler
 * returning `to` sends them after its body. A bodyless `to` gets no trailers to send, so a
 * trailers-only response (gRPC errors: one HEADERS frame with END_STREAM) keeps its shape.
 *
 * @example
 * return carryTrailers(upstream, new Response(upstream.body, { status: upstream.status, headers }));
 */
export function carryTrailers(from: Response, to: Response): Response {
  const received = trailersByResponse.get(from);
  if (received) trailersByResponse.set(to, received);
  const toSend = trailersToSend.get(from) ?? (received ? () => received : undefined);
  if (toSend && to.body !== null) trailersToSend.set(to, toSend);
  return to;
}

/**
 * A web Response from a message: the body read as it is pulled, the trailers (after the body's
 * end) available through `responseTrailers` and sent by a server handler that returns it.
 * `finished`, when given, settles once the trailers are final (a ClientExchange's `finished()`).
 */
export function toResponse(message: ResponseMessage, finished?: Promise<void>): Response {
  let body: ReadableStream<Uint8Array> | null = null;
  let end = finished ?? Promise.resolve();
  if (message.body !== null) {
    if (finished) body = readableOf(message.body);
    else {
      // Without the exchange's own signal, the trailers are final when the stream reports the end.
      let ended!: () => void;
      end = new Promise<void>((resolve) => (ended = resolve));
      body = readableOf(message.body, () => ended());
    }
  }
  const response = new Response(body, { status: message.status, headers: fieldsToHeaders(message.fields) });
  const trailers = end.then(() => fieldsToHeaders(message.trailers ?? []));
  trailersByResponse.set(response, trailers);
  if (body !== null) trailersToSend.set(response, () => trailers);
  return response;
}

/** A web Response's fields as a message's: lower-case names, Set-Cookie kept as separate fields. */
export function headersToFields(headers: Headers): HeaderField[] {
  const fields: HeaderField[] = [];
  headers.forEach((value, name) => {
    if (name !== 'set-cookie') fields.push([name, value]);
  });
  for (const cookie of headers.getSetCookie()) fields.push(['set-cookie', cookie]);
  return fields;
}

/** A body that is all here: one chunk, then the end. */
export function bytesBody(bytes: Uint8Array): BodyReader {
  let state: 0 | 1 | 2 = bytes.length > 0 ? 0 : 1;
  return {
    read() {
      if (state === 0) {
        state = 1;
        return bytes;
      }
      state = 2;
      return null;
    },
    get ended() {
      return state !== 0;
    },
    // All of it is here from the start: a writer may send it with its end in one go.
    arrived: true,
    wait: () => Promise.resolve(),
    cancel() {
      state = 2;
    },
  };
}

/**
 * A web stream read as a BodyReader (for relays that take either). `onEnd` runs once the stream
 * ended, before `read` reports the end (a Response's trailers are fetched there).
 */
export function bodyReaderOf(source: ReadableStream<Uint8Array>, onEnd?: () => Promise<void>): BodyReader {
  const reader = source.getReader();
  const queue: Uint8Array[] = [];
  let done = false;
  let failure: unknown;
  let reading: Promise<void> | undefined;
  const fill = (): Promise<void> =>
    (reading ??= (async () => {
      try {
        const { value, done: end } = await reader.read();
        if (end) {
          await onEnd?.();
          done = true;
        } else if (value.byteLength > 0) queue.push(value);
      } catch (error) {
        failure = error ?? new Error('the body failed');
      } finally {
        reading = undefined;
      }
    })());
  return {
    read() {
      if (queue.length > 0) return queue.shift()!;
      if (failure !== undefined) throw failure;
      if (done) return null;
      void fill();
      return undefined;
    },
    get ended() {
      return done && queue.length === 0;
    },
    wait: () => (queue.length > 0 || done || failure !== undefined ? Promise.resolve() : fill()),
    cancel() {
      done = true;
      queue.length = 0;
      reader.cancel().catch(() => {});
    },
  };
}

/**
 * Where the runtime keeps a Response's body source (Node's undici: the string or bytes it was
 * made from, beside the ReadableStream it built of them). Found once on a probe; undefined on
 * runtimes that keep it elsewhere, whose Responses are then read through their stream.
 */
const STATE_SLOT: symbol | undefined = (() => {
  try {
    const probe = new Response('probe');
    const slot = Object.getOwnPropertySymbols(probe).find((s) => s.description === 'state');
    const body = slot && (probe as unknown as Record<symbol, { body?: { source?: unknown; stream?: unknown } }>)[slot].body;
    return body && body.source === 'probe' && body.stream === probe.body ? slot : undefined;
  } catch {
    return undefined;
  }
})();

/** The internal record of Node's web streams: whether the stream was read (`disturbed`) and its reader. */
type StreamRecord = { disturbed: boolean; reader: unknown };

/**
 * Where Node keeps a ReadableStream's record. Taking a body from its source marks the stream
 * read there, which is what `bodyUsed` reports: `cancel()` would do the same through three
 * promises, about 2 µs of a 35 µs request. Found on a probe that checks exactly that (a fresh
 * stream unread and without a reader, a reader seen, the mark making `bodyUsed` true); undefined
 * elsewhere, where the stream is cancelled instead.
 */
const STREAM_RECORD: symbol | undefined = (() => {
  try {
    const probe = new Response('probe');
    const stream = probe.body!;
    const slot = Object.getOwnPropertySymbols(stream).find((s) => s.description === 'kState');
    if (slot === undefined) return undefined;
    const record = (stream as unknown as Record<symbol, StreamRecord>)[slot];
    if (record.disturbed !== false || record.reader !== undefined) return undefined;
    const locked = new Response('probe').body!;
    locked.getReader();
    if ((locked as unknown as Record<symbol, StreamRecord>)[slot].reader === undefined) return undefined;
    record.disturbed = true;
    return probe.bodyUsed ? slot : undefined;
  } catch {
    return undefined;
  }
})();

/** The bytes of a runtime Response made from a string or bytes, read from its source (its body then counts as used); undefined for others. */
function sourceBytes(response: Response): Uint8Array | undefined {
  // Own slots only: a FastResponse answers the runtime's slots through getters that make its runtime Response.
  if (STATE_SLOT === undefined || !Object.hasOwn(response, STATE_SLOT)) return undefined;
  const body = (response as unknown as Record<symbol, { body?: { source?: unknown; stream?: ReadableStream } | null }>)[STATE_SLOT].body;
  const source = body?.source;
  if ((typeof source !== 'string' && !(source instanceof Uint8Array)) || !body!.stream) return undefined;
  const stream = body!.stream;
  if (STREAM_RECORD !== undefined) {
    const record = (stream as unknown as Record<symbol, StreamRecord>)[STREAM_RECORD];
    if (record.disturbed || record.reader !== undefined) return undefined;
    record.disturbed = true;
  } else {
    if (stream.locked || response.bodyUsed) return undefined;
    stream.cancel().catch(() => {});
  }
  return typeof source === 'string' ? encodeUtf8(source) : source;
}

/**
 * A Response's status and headers, and its body's bytes when they are all here: a FastResponse's
 * held body, or a runtime Response made from a string or bytes. `bytes` is undefined when the
 * body is to be read from `response.body` (null when there is none). Taking the bytes uses the body.
 */
export function takeResponse(response: Response): { status: number; headers: Headers; bytes: Uint8Array | null | undefined } {
  const held = takeHeldBody(response);
  if (held) return { status: held.status, headers: held.headers, bytes: held.body };
  return { status: response.status, headers: response.headers, bytes: sourceBytes(response) };
}

/** A message from a web Response: its body read through the Response's own stream (or from its bytes, when they are all here), its trailers (`responseTrailers`) final once the body ended. */
export function fromResponse(response: Response): ResponseMessage {
  if (!trailersByResponse.has(response)) {
    const { status, headers, bytes } = takeResponse(response);
    // All here: no trailers were received with it, so they are final (none) from the start.
    if (bytes !== undefined) return { status, fields: headersToFields(headers), body: bytes === null ? null : bytesBody(bytes), trailers: bytes === null ? undefined : [] };
    if (response.body === null) return { status, fields: headersToFields(headers), body: null, trailers: undefined };
  }
  const message: { status: number; fields: HeaderField[]; body: BodyReader | null; trailers: HeaderField[] | undefined } = { status: response.status, fields: headersToFields(response.headers), body: null, trailers: undefined };
  if (response.body !== null) {
    message.body = bodyReaderOf(response.body, async () => {
      message.trailers = headersToFields(await responseTrailers(response));
    });
  }
  return message;
}
