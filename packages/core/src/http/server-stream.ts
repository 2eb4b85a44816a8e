import { ErrorCode, Http2UsageError, localReset, StreamResetError, type Http2Error } from '../errors.js';
import type { HeaderField } from '../frame/types.js';
import type { Connection, Stream, StreamListener } from '../proto/connection.js';
import type { PortStream, StreamPort } from './stream-port.js';
import { CONNECTION_SPECIFIC_FIELDS, checkTrailerFields, LOWER_CASE_TOKEN, malformed, requestFieldHeaders, type RequestFieldsHead } from './fields.js';
import { concatBytes } from '../bytes.js';

/** What a server stream's request said: its pseudo-header fields and the raw field block. */
export type ServerStreamHead = RequestFieldsHead;

/** Fields to send: `[name, value]` pairs, or a record (one field per name). */
export type OutgoingFields = HeaderField[] | Record<string, string>;

const EMPTY = new Uint8Array(0);
/** The most request-body octets one read of the iterator joins from several received chunks (a single larger chunk passes as it is). */
export const TAKE_JOIN_BYTES = 256 * 1024;
const noop = () => {};

/**
 * One request on the server role's low-level API (the counterpart of node:http2's `stream`
 * event): the request's head as received, its body as an async iterator (or `bytes()`), and
 * `respond` / `write` / `end` to answer. No Request, Response, Headers or ReadableStream is made
 * unless asked for. Flow-control credit for the request body goes back to the peer only as the
 * body is taken (each chunk the iterator yields, or everything once `bytes()` is called), so a
 * consumer that does not read holds the sender at the stream window.
 *
 * Both engines make them: HTTP/2 (`Http2Session`) and HTTP/3 (`Http3Session`, the same class
 * over an HTTP/3 request stream, stream-port.ts), so one handler serves both. `reset(code)`
 * takes HTTP/2's ErrorCode either way (HTTP/3 sends its counterpart, h3/error-codes.ts).
 *
 * @example
 * const session = connectSocket(socket, {
 *   role: 'server',
 *   onStream: async (stream) => {
 *     const body = await stream.bytes();
 *     stream.respond(200, { 'content-type': stream.header('content-type') ?? 'text/plain' });
 *     stream.end(body.length > 0 ? body : new TextEncoder().encode('ok'));
 *   },
 * });
 */
export class ServerStream {
  /** The request's pseudo-header fields and raw, validated field block. */
  readonly head: ServerStreamHead;
  /** Called once if the stream dies before both sides ended it (peer RST_STREAM, our reset, the connection closing). */
  onReset: ((error: StreamResetError) => void) | undefined = undefined;
  /** The request's trailers once they arrived (validated; no pseudo-header fields). */
  trailers: HeaderField[] | undefined = undefined;
  /** True once the whole request body has arrived (END_STREAM). */
  received = false;
  /** The status sent with `respond` (0 until a final response was sent). */
  status = 0;

  private readonly connection: StreamPort;
  private readonly stream: PortStream;
  private queue: Uint8Array[] | undefined;
  private waiting: ((error?: unknown) => void) | undefined;
  private collecting = false;
  /** Set by `discard()`: DATA is dropped as it arrives, its credit going back at once. */
  private discarding = false;
  private failure: StreamResetError | undefined;
  private receivedOctets = 0;
  private ended = false;
  private closedPromise: Promise<StreamResetError | undefined> | undefined;
  private resolveClosed: ((error: StreamResetError | undefined) => void) | undefined;
  private finished = false;
  private finishError: StreamResetError | undefined;

  /** Made by Http2Session and Http3Session for each request stream; not for applications. */
  constructor(connection: StreamPort, stream: PortStream, head: ServerStreamHead, endStream: boolean) {
    this.connection = connection;
    this.stream = stream;
    this.head = head;
    if (endStream) this.endBody();
  }

  /** The stream id. */
  get id(): number {
    return this.stream.id;
  }

  /**
   * True when `write` resolves at once only for bytes the engine holds within the peer's windows
   * and a bounded per-stream queue (HTTP/2): a relay may then read its next chunk before the last
   * write settled, holding at most one more. False on HTTP/3, where a write can settle before QUIC
   * took the bytes, so a relay should wait for each write.
   */
  get writesBounded(): boolean {
    return this.connection.writesBounded === true;
  }

  /**
   * Octets the peer's flow-control windows let this stream send now beyond what it has written and
   * not yet sent (HTTP/2; 0 while the connection's transport is full). Undefined where the engine
   * does not know (HTTP/3). A relay reads its source no further than this.
   */
  get sendCredit(): number | undefined {
    return this.connection.sendCredit?.(this.stream);
  }

  /** The first value of a request field (name in lower case), found by a scan of the raw block. */
  header(name: string): string | undefined {
    const fields = this.head.fields;
    for (let i = 0; i < fields.length; i++) if (fields[i][0] === name) return fields[i][1];
    return undefined;
  }

  /** The request's regular fields as a Headers object, made on each call (cookie crumbs joined, RFC 9113 §8.2.3). */
  headers(): Headers {
    return requestFieldHeaders(this.head.fields);
  }

  /** Resolves when the stream is finished: undefined when both sides ended it, the reset otherwise. */
  get closed(): Promise<StreamResetError | undefined> {
    if (this.finished && !this.closedPromise) return Promise.resolve(this.finishError);
    return (this.closedPromise ??= new Promise((resolve) => (this.resolveClosed = resolve)));
  }

  // ---------------------------------------------------------------- request body

  /**
   * The request body as it arrives: each chunk is what was received since the last one (DATA
   * payloads joined up to {@link TAKE_JOIN_BYTES}), and its flow-control credit goes back as it is yielded.
   * Rejects with the StreamResetError if the stream dies before the body ended.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    for (;;) {
      const chunk = this.take();
      if (chunk !== undefined) {
        yield chunk;
        continue;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return;
      await new Promise<void>((resolve, reject) => (this.waiting = (error) => (error === undefined ? resolve() : reject(error))));
    }
  }

  /**
   * The whole request body in one buffer (empty when there was none). Everything received is
   * taken from now on, so its credit goes back at once: use the iterator to bound memory.
   */
  bytes(): Promise<Uint8Array> {
    if (this.failure) return Promise.reject(this.failure);
    this.collecting = true;
    if (this.ended) {
      this.release(this.queue);
      return Promise.resolve(this.drain());
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      this.waiting = (error) => (error === undefined ? resolve(this.drain()) : reject(error));
      this.release(this.queue);
    });
  }

  /**
   * Drops the rest of the request body: what is queued now and whatever arrives later, its
   * credit going back at once. For a request answered without its body (a GET's stray DATA, a
   * refused request); nothing is made for it, unlike draining the iterator.
   */
  discard(): void {
    this.discarding = true;
    const queue = this.queue;
    this.queue = undefined;
    this.release(queue);
  }

  /**
   * Take what has arrived, up to {@link TAKE_JOIN_BYTES} joined into one chunk, and return its
   * credit. A relay writes each chunk it takes on, and on a VM a write that wakes the next hop
   * costs tens of µs: DATA frames of 16 KiB (what browsers and curl send) taken one by one made
   * the intermediary write to the agent more often than it read from the browser.
   */
  private take(): Uint8Array | undefined {
    const queue = this.queue;
    if (queue === undefined || queue.length === 0) return undefined;
    let count = 1;
    let octets = queue[0].length;
    while (count < queue.length && octets + queue[count].length <= TAKE_JOIN_BYTES) octets += queue[count++].length;
    const chunk = count === 1 ? queue.shift()! : concatBytes(queue.splice(0, count));
    this.credit(octets);
    return chunk;
  }

  /** All queued chunks joined (credit was returned as they arrived while collecting). */
  private drain(): Uint8Array {
    const queue = this.queue;
    this.queue = undefined;
    if (queue === undefined || queue.length === 0) return EMPTY;
    return concatBytes(queue);
  }

  private release(chunks: Uint8Array[] | undefined): void {
    if (!chunks) return;
    let octets = 0;
    for (const c of chunks) octets += c.length;
    this.credit(octets);
  }

  /**
   * Return credit for octets the application took. Once the connection closed the stream it
   * has released whatever was left unconsumed, and giving it again would over-credit the
   * connection window.
   */
  private credit(octets: number): void {
    const unconsumed = this.stream.unconsumed;
    if (octets > 0 && unconsumed > 0) this.connection.consume(this.stream, Math.min(octets, unconsumed));
  }

  private endBody(): void {
    const expected = this.head.contentLength;
    // RFC 9113 §8.1.1: a request whose content-length does not equal the sum of its DATA payload lengths is malformed.
    if (expected >= 0 && this.receivedOctets !== expected) throw malformed(this.stream.id, `content-length ${expected} but ${this.receivedOctets} octets of DATA`);
    this.ended = true;
    this.received = true;
    this.wake();
    this.finishIfClosed();
  }

  private wake(error?: unknown): void {
    const w = this.waiting;
    if (w === undefined) return;
    if (error === undefined && !this.ended && this.collecting) return;
    this.waiting = undefined;
    w(error);
  }

  // ---------------------------------------------------------------- StreamListener (called by the connection)

  /** @internal The connection delivered a header block (trailers). */
  receiveHeaders(fields: HeaderField[], endStream: boolean): void {
    try {
      // RFC 9113 §8.1: a second header block on a request is trailers and MUST end the stream.
      if (!endStream) throw malformed(this.stream.id, 'trailers without END_STREAM');
      checkTrailerFields(this.stream.id, fields);
      this.trailers = fields;
      this.endBody();
    } catch (error) {
      this.connection.resetStream(this.stream, ErrorCode.PROTOCOL_ERROR, localReset(this.stream.id, ErrorCode.PROTOCOL_ERROR, error));
    }
  }

  /** @internal The connection delivered DATA. */
  receiveData(data: Uint8Array, endStream: boolean): void {
    this.receivedOctets += data.length;
    const expected = this.head.contentLength;
    if (expected >= 0 && this.receivedOctets > expected) {
      // RFC 9113 §8.1.1: more DATA than content-length makes the request malformed.
      this.connection.resetStream(this.stream, ErrorCode.PROTOCOL_ERROR, new StreamResetError(this.stream.id, ErrorCode.PROTOCOL_ERROR, 'local', `malformed message: content-length ${expected} but more DATA (RFC 9113 §8.1.1)`));
      return;
    }
    if (data.length > 0 && this.discarding) {
      this.credit(data.length);
    } else if (data.length > 0) {
      (this.queue ??= []).push(data);
      // Collected bodies are taken as they arrive: their credit goes back now.
      if (this.collecting) this.credit(data.length);
    }
    if (endStream) {
      try {
        this.endBody();
      } catch (error) {
        this.connection.resetStream(this.stream, ErrorCode.PROTOCOL_ERROR, localReset(this.stream.id, ErrorCode.PROTOCOL_ERROR, error));
      }
      return;
    }
    this.wake();
  }

  /** @internal The connection closed the stream abnormally. */
  receiveReset(error: Http2Error): void {
    const reset = error instanceof StreamResetError ? error : new StreamResetError(this.stream.id, ErrorCode.CANCEL, 'connection', error.message, false, { cause: error });
    if (!this.ended || (this.queue !== undefined && this.queue.length > 0)) this.failure = reset;
    this.queue = undefined;
    this.wake(this.failure);
    this.finish(reset);
    this.onReset?.(reset);
  }

  /** The connection closed the stream normally (both sides ended). */
  private finish(error: StreamResetError | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.finishError = error;
    this.resolveClosed?.(error);
  }

  // ---------------------------------------------------------------- response

  /**
   * Send the response's HEADERS. A 1xx status (not 101, RFC 9113 §8.1) is informational and may
   * be followed by more; the final status (200–599) once. `endStream` ends the response with
   * this HEADERS frame (no body). Throws Http2UsageError for an invalid status or field.
   */
  respond(status: number, fields?: OutgoingFields, options?: { endStream?: boolean }): void {
    if (!Number.isInteger(status) || status < 100 || status > 599) throw new Http2UsageError(`invalid status ${status}: must be an integer from 100 to 599`);
    // RFC 9113 §8.1: HTTP/2 removes support for the 101 (Switching Protocols) informational status code.
    if (status === 101) throw new Http2UsageError('101 Switching Protocols does not exist in HTTP/2 (RFC 9113 §8.1); use extended CONNECT');
    if (this.status !== 0) throw new Http2UsageError(`stream ${this.stream.id}: the response headers were already sent`);
    const endStream = options?.endStream === true;
    const informational = status < 200;
    if (informational && endStream) throw new Http2UsageError('an informational (1xx) response cannot end the stream');
    const block = checkedFields([[':status', String(status)]], fields, false);
    if (this.stream.state === 'closed') return; // reset meanwhile: onReset/closed tell
    this.connection.sendHeaders(this.stream, block, endStream);
    if (!informational) this.status = status;
    if (endStream) this.finishIfClosed();
  }

  /**
   * Send a chunk of the response body. Resolves once the engine took it: at once while it fits
   * both flow-control windows, a small per-stream queue and a writable transport, else once sent.
   * Await it for backpressure. Rejects (StreamResetError) if the stream died; a reset after an
   * accepted write shows on the next write or end, and through `closed`.
   */
  write(chunk: Uint8Array): Promise<void> {
    if (this.status === 0) return Promise.reject(new Http2UsageError(`stream ${this.stream.id}: respond() before write()`));
    const sent = this.connection.sendData(this.stream, chunk);
    sent.catch(noop); // a caller that does not await still hears of a reset through onReset/closed
    return sent;
  }

  /**
   * End the response: an optional last chunk, then END_STREAM, or trailers after it. A response
   * made of `respond()` then `end(body)` in the same tick goes out as HEADERS and one DATA frame
   * with END_STREAM, in one transport write. Resolves once handed to the transport.
   */
  end(chunk?: Uint8Array, trailers?: OutgoingFields): Promise<void> {
    if (this.status === 0) return Promise.reject(new Http2UsageError(`stream ${this.stream.id}: respond() before end()`));
    let trailerBlock: HeaderField[] | undefined;
    try {
      trailerBlock = trailers === undefined ? undefined : checkedFields([], trailers, true);
    } catch (error) {
      return Promise.reject(error);
    }
    if (trailerBlock !== undefined && trailerBlock.length === 0) trailerBlock = undefined;
    if (trailerBlock && (chunk === undefined || chunk.length === 0) && this.stream.pending.length === 0 && this.stream.state !== 'closed') {
      // Nothing queued: the trailers go as the last HEADERS frame, without an empty DATA frame.
      try {
        this.connection.sendHeaders(this.stream, trailerBlock, true);
      } catch (error) {
        return Promise.reject(error);
      }
      this.finishIfClosed();
      return Promise.resolve();
    }
    const sent = this.connection.sendData(this.stream, chunk ?? EMPTY, true, trailerBlock);
    sent.then(() => this.finishIfClosed(), noop);
    return sent;
  }

  /** Reset the stream (RST_STREAM with `code`, CANCEL by default). */
  reset(code: number = ErrorCode.CANCEL): void {
    if (this.stream.state === 'closed') return;
    this.connection.resetStream(this.stream, code);
  }

  /** @internal Settle `closed` once the connection closed the stream normally. */
  finishIfClosed(): void {
    if (this.stream.state === 'closed') this.finish(undefined);
  }
}

/**
 * Outgoing fields checked and lower-cased: valid tokens and values (RFC 9113 §8.2), no
 * pseudo-header fields (only we add `:status`), no connection-specific fields (§8.2.2), `te`
 * only as "trailers". Throws Http2UsageError.
 */
function checkedFields(out: HeaderField[], fields: OutgoingFields | undefined, trailers: boolean): HeaderField[] {
  if (fields === undefined) return out;
  if (Array.isArray(fields)) {
    for (let i = 0; i < fields.length; i++) out.push(checkedField(fields[i][0], fields[i][1], trailers));
  } else {
    for (const name in fields) out.push(checkedField(name, fields[name], trailers));
  }
  return out;
}

function checkedField(name: string, value: string, trailers: boolean): HeaderField {
  if (typeof value !== 'string') value = String(value);
  if (!LOWER_CASE_TOKEN.test(name)) {
    const lower = name.toLowerCase();
    if (name.charCodeAt(0) === 0x3a) throw new Http2UsageError(`pseudo-header ${name} cannot be set${trailers ? ' in trailers' : ''}: pass the status to respond()`);
    if (!LOWER_CASE_TOKEN.test(lower)) throw new Http2UsageError(`invalid field name ${JSON.stringify(name)}`);
    name = lower;
  }
  // RFC 9113 §8.2.1: a field value MUST NOT contain NUL, CR or LF, nor start or end with whitespace.
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) throw new Http2UsageError(`invalid value for field ${name}: NUL, CR or LF`);
  }
  if (value.length > 0) {
    const first = value.charCodeAt(0);
    const last = value.charCodeAt(value.length - 1);
    if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) throw new Http2UsageError(`invalid value for field ${name}: leading or trailing whitespace`);
  }
  // RFC 9113 §8.2.2: an endpoint MUST NOT generate an HTTP/2 message containing connection-specific header fields.
  if (CONNECTION_SPECIFIC_FIELDS.has(name)) throw new Http2UsageError(`connection-specific field ${name} is not allowed in HTTP/2 (RFC 9113 §8.2.2)`);
  if (name === 'te' && value !== 'trailers') throw new Http2UsageError('te may only be "trailers" in HTTP/2 (RFC 9113 §8.2.2)');
  return [name, value];
}

/** The connection's listener for a ServerStream (kept apart: the stream's own `onReset` is the application's callback). */
class ServerStreamListener implements StreamListener {
  constructor(private readonly target: ServerStream) {}
  onHeaders(fields: HeaderField[], endStream: boolean): void {
    this.target.receiveHeaders(fields, endStream);
  }
  onData(data: Uint8Array, endStream: boolean): void {
    this.target.receiveData(data, endStream);
  }
  onReset(error: Http2Error): void {
    this.target.receiveReset(error);
  }
}

/** Http2Session's side: a validated request stream becomes a ServerStream listening on it. */
export function attachServerStream(connection: Connection, stream: Stream, head: ServerStreamHead, endStream: boolean): ServerStream {
  const serverStream = new ServerStream(connection, stream, head, endStream);
  stream.listener = new ServerStreamListener(serverStream);
  return serverStream;
}
