/**
 * One browser HTTP/2 or HTTP/3 stream (an @rhttp/core ServerStream on a browser listener) to and from the
 * shapes the broker takes: the request body as a ReadableStream whose flow-control credit goes
 * back to the browser only as the broker reads it, and a response message written back with
 * `respond` / `write` / `end`, awaiting each write (the stream's window and the socket's buffer)
 * so nothing is read from the agent faster than the browser takes it. Used by the ordinary
 * exchange (browser-exchange.ts), WebSockets (websocket-upgrade.ts) and CONNECT (connect-proxy.ts).
 */
import type { AbortSignalLike } from '@rhttp/broker';
import { concatBytes, CONNECTION_SPECIFIC_FIELDS, ErrorCode, headersToFields, nextChunk, type BodyReader, type HeaderField, type ServerStream } from '@rhttp/core';


/**
 * The request body as a web stream, pulled: each chunk's credit goes back to the browser as the
 * reader takes it, so a stalled agent holds the browser at the stream window. `countBytes` hears
 * each chunk's size. Cancelling it discards the rest of the body (its credit goes back) and calls
 * `onCancel`.
 */
export function streamBody(stream: ServerStream, countBytes?: (bytes: number) => void, onCancel?: () => void): ReadableStream<Uint8Array> {
  const chunks = stream[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { value, done } = await chunks.next();
        if (done) {
          controller.close();
          return;
        }
        countBytes?.(value.byteLength);
        controller.enqueue(value);
      },
      cancel() {
        onCancel?.();
        // Same iterator (a second one would take the stream's one waiting slot): drain what is left.
        void (async () => {
          try {
            while (!(await chunks.next()).done);
          } catch {
            // A reset stream has nothing more to discard.
          }
        })();
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * A web Response's fields for `respond` (a tunnel's answer, connect-proxy.ts and
 * websocket-upgrade.ts): Set-Cookie kept as separate fields, connection-specific ones dropped
 * (RFC 9113 §8.2.2 forbids them in HTTP/2), a TE other than "trailers" dropped, and any name in
 * `skip` left out. A broker's message needs none of this: its fields were rewritten by the broker
 * and its trailers checked by the engine as they arrived.
 */
export function responseFields(headers: Headers, skip?: ReadonlySet<string>): HeaderField[] {
  return headersToFields(headers).filter(([name, value]) => !CONNECTION_SPECIFIC_FIELDS.has(name) && !skip?.has(name) && (name !== 'te' || value === 'trailers'));
}

/**
 * Writes `body` to the stream's DATA frames after its HEADERS went out, each chunk awaited before
 * the next is taken (the stream's window and the socket's buffer: backpressure reaches the agent,
 * whose credit goes back only as chunks are read here). The last chunk carries END_STREAM, or the
 * `trailers` when there are any. A body that fails midway, or a write the stream refuses, resets
 * the stream (`failure`, INTERNAL_ERROR by default) so a truncated body never looks complete;
 * `signal` aborting cancels the body. Resolves true when the body ended cleanly.
 */
export function writeBody(stream: ServerStream, body: BodyReader, options: WriteBodyOptions = {}): Promise<boolean> {
  // A short response whose end has arrived (often in pieces: a DATA frame split across TLS
  // records) leaves whole, with its end and trailers, in one call: no loop, listener or awaits.
  // Only a body already here in whole is taken at once, so nothing is held beyond the stream window.
  if (body.arrived === true) {
    let taken: ArrivedBody;
    try {
      taken = takeArrived(body);
    } catch {
      return Promise.resolve(failed(stream, body, options));
    }
    if (taken.complete) {
      const { chunks, bytes } = taken;
      if (bytes > 0) options.countBytes?.(bytes);
      const whole = chunks.length === 0 ? undefined : chunks.length === 1 ? chunks[0] : concatBytes(chunks, bytes);
      return stream.end(whole, trailersOf(options)).then(
        () => true,
        () => failed(stream, body, options),
      );
    }
    // Longer than that: written chunk by chunk, from what was taken.
    return writeChunks(stream, body, options, taken.chunks);
  }
  return writeChunks(stream, body, options, []);
}

/**
 * A body that has arrived in whole, up to this many bytes, is sent as one (joined when it came in
 * pieces): the pieces of one short response are copied once rather than written one by one.
 */
const WHOLE_BODY_BYTES = 64 * 1024;

/** What {@link takeArrived} took. */
export interface ArrivedBody {
  chunks: Uint8Array[];
  bytes: number;
  /** All of the body: its end was reached within {@link WHOLE_BODY_BYTES}. */
  complete: boolean;
}

/**
 * Reads what has arrived of `body` (call it when `body.arrived`): all of it (`complete`) when it is
 * at most {@link WHOLE_BODY_BYTES}, else what was taken up to passing that bound, for the writer to
 * go on from ({@link ChunksAfter}). Throws the body's failure.
 */
export function takeArrived(body: BodyReader): ArrivedBody {
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for (;;) {
    const chunk = body.read();
    if (chunk === null) return { chunks, bytes, complete: true };
    if (chunk === undefined) return { chunks, bytes, complete: false };
    if (chunk.byteLength === 0) continue;
    chunks.push(chunk);
    bytes += chunk.byteLength;
    if (bytes > WHOLE_BODY_BYTES) return { chunks, bytes, complete: false };
  }
}

/** The rest of a body after the chunks already taken from it ({@link takeArrived}): those first, then each as it comes. */
export class ChunksAfter {
  #k = 0;
  constructor(
    readonly taken: readonly Uint8Array[],
    readonly body: BodyReader,
  ) {}

  /** The next chunk, null at the end; throws the body's failure. */
  next(): Uint8Array | null | Promise<Uint8Array | null> {
    return this.#k < this.taken.length ? this.taken[this.#k++] : nextChunk(this.body);
  }

  /** The chunk just returned was the body's last (nothing taken is left, and the body has ended). */
  get last(): boolean {
    return this.#k >= this.taken.length && this.body.ended;
  }
}

/** Options of {@link writeBody}. */
interface WriteBodyOptions {
  signal?: AbortSignalLike;
  countBytes?: (bytes: number) => void;
  trailers?: () => HeaderField[] | undefined;
  failure?: number;
}

/** The trailers to send, or undefined when there are none. */
function trailersOf(options: WriteBodyOptions): HeaderField[] | undefined {
  const fields = options.trailers?.();
  return fields !== undefined && fields.length > 0 ? fields : undefined;
}

/**
 * The body failed midway (or the browser reset the stream, which makes reset() a no-op): reset
 * the stream so that a truncated body never looks complete. Resolves false.
 */
function failed(stream: ServerStream, body: BodyReader, options: WriteBodyOptions): boolean {
  body.cancel();
  if (!options.signal?.aborted) stream.reset(options.failure ?? ErrorCode.INTERNAL_ERROR);
  return false;
}

/** {@link writeBody}'s loop: first the chunks already taken (`here`), then the rest as it comes. */
async function writeChunks(stream: ServerStream, body: BodyReader, options: WriteBodyOptions, here: Uint8Array[]): Promise<boolean> {
  const { signal, countBytes } = options;
  const onAbort = () => body.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  let sent: Promise<void> | undefined;
  const chunks = new ChunksAfter(here, body);
  try {
    for (;;) {
      const next = chunks.next();
      const chunk = next instanceof Promise ? await next : next;
      if (chunk === null) break;
      if (chunk.byteLength === 0) continue;
      if (sent) await sent;
      countBytes?.(chunk.byteLength);
      // The last chunk carries END_STREAM (and the trailers).
      if (chunks.last) {
        await stream.end(chunk, trailersOf(options));
        return true;
      }
      sent = stream.write(chunk);
    }
    if (sent) await sent;
    await stream.end(undefined, trailersOf(options));
    return true;
  } catch {
    return failed(stream, body, options);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
