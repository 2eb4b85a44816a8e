/**
 * One browser HTTP/2 stream (an @rhttp/core ServerStream on a browser listener) to and from the
 * web streams the broker takes: the request body as a ReadableStream whose flow-control credit
 * goes back to the browser only as the broker reads it, and a Response written back with
 * `respond` / `write` / `end`, awaiting each write (the stream's window and the socket's buffer)
 * so nothing is read from the agent faster than the browser takes it. Used by the ordinary
 * exchange (browser-exchange.ts), WebSockets (websocket-upgrade.ts) and CONNECT (connect-proxy.ts).
 */
import { CONNECTION_SPECIFIC_FIELDS, ErrorCode, responseTrailers, type HeaderField, type ServerStream } from '@rhttp/core';


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

/** Reads and drops the rest of a request body, returning its credit (a GET's stray body, a refused request's). */
export async function discardBody(stream: ServerStream): Promise<void> {
  try {
    for await (const _ of stream);
  } catch {
    // A reset stream has nothing more to discard.
  }
}

/** A Response's header fields for `respond`: connection-specific ones dropped, Set-Cookie kept as separate fields. */
export function responseFields(headers: Headers, skip?: ReadonlySet<string>): HeaderField[] {
  const fields: HeaderField[] = [];
  headers.forEach((value, name) => {
    // RFC 9113 §8.2.2 forbids connection-specific fields in HTTP/2 (the broker strips hop-by-hop ones already).
    if (name === 'set-cookie' || CONNECTION_SPECIFIC_FIELDS.has(name) || skip?.has(name)) return;
    // RFC 9113 §8.2.2: te, if present, may only be "trailers".
    if (name === 'te' && value !== 'trailers') return;
    fields.push([name, value]);
  });
  if (!skip?.has('set-cookie')) for (const cookie of headers.getSetCookie()) fields.push(['set-cookie', cookie]);
  return fields;
}

/**
 * Writes `body` to the stream's DATA frames after its HEADERS went out: one write in flight while
 * the next chunk is read (so END_STREAM can ride on the last DATA frame), each awaited before the
 * next (backpressure). Ends with `trailers` when given. A body that fails midway, or a write the
 * stream refuses, resets the stream (`failure`, INTERNAL_ERROR by default) so a truncated body
 * never looks complete; `signal` aborting cancels the body. Resolves true when the body ended cleanly.
 */
export async function writeBody(
  stream: ServerStream,
  body: ReadableStream<Uint8Array>,
  options: { signal?: AbortSignal; countBytes?: (bytes: number) => void; trailers?: () => Promise<HeaderField[] | undefined>; failure?: number } = {},
): Promise<boolean> {
  const reader = body.getReader();
  const { signal, countBytes } = options;
  const onAbort = () => {
    reader.cancel(signal?.reason).catch(() => {});
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  let sent: Promise<void> | undefined;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (value.byteLength === 0) continue;
      if (sent) await sent;
      countBytes?.(value.byteLength);
      sent = stream.write(value);
    }
    if (sent) await sent;
    const trailers = options.trailers ? await options.trailers() : undefined;
    await stream.end(undefined, trailers !== undefined && trailers.length > 0 ? trailers : undefined);
    return true;
  } catch {
    reader.cancel().catch(() => {});
    // The agent's body failed midway (or the browser reset the stream, which makes reset() a no-op).
    if (!signal?.aborted) stream.reset(options.failure ?? ErrorCode.INTERNAL_ERROR);
    return false;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** The trailers of a Response received from the reversed session (gRPC's status), as fields to send. */
export async function trailerFields(response: Response): Promise<HeaderField[]> {
  return responseFields(await responseTrailers(response));
}
