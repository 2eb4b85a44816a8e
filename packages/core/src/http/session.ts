import { ErrorCode, Http2Error, Http2UsageError, SessionClosedError, StreamError, StreamResetError } from '../errors.js';
import type { GoawayFrame, HeaderField } from '../frame/types.js';
import { Connection, type ConnectionOptions, type ConnectionSink, type Stream, type StreamListener } from '../proto/connection.js';
import type { KeepAliveOptions } from '../proto/ping.js';
import { serverRequest, type IncomingRequest, type ServerRequest } from './incoming-request.js';
import { ClientExchange } from './client-exchange.js';
import { takeResponse, toResponse, trailersToSendOf } from './response-message.js';
import { IncomingBody, PumpControl } from './incoming-body.js';
import { checkTrailerFields, hasNoContent, malformed, outgoingFields, requestFields, requestHeadFields, type RequestFieldsHead, type RequestHead } from './fields.js';
import { attachServerStream, type ServerStream, type ServerStreamHead } from './server-stream.js';
import type { PortStream, StreamPort } from './stream-port.js';
import { SlotWaiters } from './slot-waiters.js';
import type { Http3Session } from '../h3/session.js';

/** Information a server handler gets besides the Request. */
export interface StreamInfo {
  streamId: number;
  /** The session the request came on: an Http2Session, or an Http3Session (h3/session.ts). */
  session: Http2Session | Http3Session;
  /** The request's pseudo-headers as received (e.g. `protocol` for extended CONNECT). */
  head: RequestHead;
}

/** A server handler: the Fetch API shape, as in Workers, Deno.serve, Bun.serve and Hono. */
export type Handler = (request: Request, info: StreamInfo) => Response | Promise<Response>;

/** The callbacks both engines' sessions take: Http2Session here, Http3Session (h3/session.ts). */
export interface SessionCallbacks<Session> {
  /** Server role: answers every request (those `onStream` leaves, when it is given). */
  handler?: Handler;
  /**
   * Server role, low level (the counterpart of node:http2's `stream` event): each valid request
   * as a ServerStream, without Request/Response objects. Used instead of `handler` when given;
   * returning `false` (at once, from `stream.head`, before reading anything) leaves this request
   * to `handler` instead (without one, it is refused as not processed: REFUSED_STREAM /
   * H3_REQUEST_REJECTED), so a server can take its hot path on streams and the rest as Fetch.
   * A throw answers nothing: the stream is reset (INTERNAL_ERROR) and `onError` hears it.
   */
  onStream?: (stream: ServerStream, session: Session) => void | false;
  /** Client role: the peer's ORIGIN frame arrived (RFC 8336, RFC 9412); `origins` is the whole set so far. */
  onOrigin?(origins: readonly string[], added: readonly string[]): void;
  onClose?(error: Http2Error | undefined): void;
  /**
   * Client role: whether a new stream may open could have changed (a stream closed, the peer's
   * SETTINGS, GOAWAY, or the close), for a scheduler waiting for a free slot.
   */
  onSlotFree?(): void;
  /** Server role: a handler threw or a stream failed; for logging. */
  onError?(error: unknown): void;
}

export interface Http2SessionOptions extends ConnectionOptions, SessionCallbacks<Http2Session> {
  onGoaway?(frame: GoawayFrame): void;
  /** The peer sent a PING; its opaque data (reverse/admission.ts gives one a meaning). */
  onPing?(opaque: Uint8Array): void;
}

/** Methods whose requests the Fetch API refuses to give a body. */
const BODYLESS_METHODS = new Set(['GET', 'HEAD']);

/**
 * An HTTP/2 session with the Fetch API on top of the sans-I/O `Connection`: `fetch()` in the
 * client role, a `handler` in the server role. Bytes go in with `receive()` and out through the
 * sink; any transport works (TLS socket, WebSocket, test pipe).
 *
 * @example
 * const session = new Http2Session({ write: (b) => socket.write(b), close: () => socket.end() }, { role: 'client' });
 * socket.on('data', (b) => session.receive(b));
 * const response = await session.fetch('https://app.example.com/');
 */
export class Http2Session {
  readonly connection: Connection;
  private readonly options: Http2SessionOptions;
  private readonly slots = new SlotWaiters(
    () => this.connection,
    () => new SessionClosedError('the connection is shutting down (GOAWAY)', ErrorCode.NO_ERROR, true),
    () => this.options.onSlotFree?.(),
  );
  /** Resolves when the session is finished (with the error that ended it, if any). */
  readonly closed: Promise<Http2Error | undefined>;

  constructor(sink: ConnectionSink, options: Http2SessionOptions) {
    this.options = options;
    let resolveClosed!: (e: Http2Error | undefined) => void;
    this.closed = new Promise((r) => (resolveClosed = r));
    this.connection = new Connection(sink, options, {
      onStream: (stream, fields, endStream) => this.onRequest(stream, fields, endStream),
      onOrigin: (origins, added) => options.onOrigin?.(origins, added),
      onGoaway: (frame) => {
        options.onGoaway?.(frame);
        this.slots.wake();
      },
      onClose: (error) => {
        this.slots.wake();
        options.onClose?.(error);
        resolveClosed(error);
      },
      onStreamClosed: () => this.slots.wake(),
      onRemoteSettings: () => this.slots.wake(),
      onPing: options.onPing && ((opaque) => options.onPing!(opaque)),
    });
  }

  receive(chunk: Uint8Array): void {
    this.connection.receive(chunk);
  }
  receiveEnd(error?: Error): void {
    this.connection.receiveEnd(error);
  }
  resume(): void {
    this.connection.resume();
  }

  get role() {
    return this.connection.role;
  }
  get openStreams(): number {
    return this.connection.openStreams;
  }
  /** The peer's SETTINGS_MAX_CONCURRENT_STREAMS (Infinity until it says otherwise). */
  get maxConcurrentStreams(): number {
    return this.connection.remote.maxConcurrentStreams;
  }
  get draining(): boolean {
    return this.connection.draining;
  }
  get isClosed(): boolean {
    return this.connection.isClosed;
  }
  /** The Origin Set the peer announced with ORIGIN frames. */
  get peerOrigins(): readonly string[] {
    return this.connection.peerOrigins;
  }
  get rttMs(): number | undefined {
    return this.connection.rttMs;
  }
  ping(opaque?: Uint8Array): Promise<number> {
    return this.connection.ping(opaque);
  }
  /**
   * PINGs the peer every `options.intervalMs` until the session closes; a PING unanswered for
   * `options.timeoutMs` calls `options.onTimeout`. Returns the function that stops it.
   *
   * @example
   * session.keepAlive({ intervalMs: 30_000, timeoutMs: 10_000, onTimeout: () => socket.destroy() });
   */
  keepAlive(options: KeepAliveOptions): () => void {
    return this.connection.keepAlive(options);
  }
  goaway(errorCode: number = ErrorCode.NO_ERROR, debug = ''): void {
    this.connection.goaway(errorCode, debug);
  }
  close(error?: Http2Error): void {
    this.connection.close(error);
  }

  /**
   * Client role: send a request on a new stream and resolve with the response once its headers
   * arrive; the body streams in afterwards with flow control tied to reading it.
   */
  async fetch(input: Request | string | URL, init?: RequestInit): Promise<Response> {
    return (await this.request(requestOfFetch(input, init))).response;
  }

  /**
   * Client role, lower level than `fetch`: also does CONNECT and extended CONNECT (RFC 8441,
   * `protocol`), which the Fetch API's Request cannot express. For those, `response.body` and
   * `body` are the two directions of the tunnel.
   */
  async request(init: ClientRequest): Promise<{ response: Response; streamId: number }> {
    this.checkClient(init.protocol);
    return requestOn(this.slots, (i) => this.open(i), init);
  }

  /**
   * Client role, lowest level: opens a stream now and sends the request, with no web objects on
   * the response side (client-exchange.ts). Throws when no stream can open now (the peer's
   * SETTINGS_MAX_CONCURRENT_STREAMS is reached, GOAWAY, or the session closed: then the error's
   * `retryable` says whether the request may go elsewhere). `body` is sent as DATA frames; with
   * method CONNECT it is the tunnel's bytes toward the peer.
   */
  open(init: { method: string; url: URL; headers?: Headers | readonly HeaderField[]; body?: ReadableStream<Uint8Array> | null; protocol?: string }): ClientExchange {
    this.checkClient(init.protocol);
    const fields = requestFields(init.method, init.url, init.headers ?? [], init.protocol);
    const body = init.body ?? null;
    const exchange = new ClientExchange(this.connection, init.method);
    const stream = this.connection.openStream(fields, body === null && init.method !== 'CONNECT', exchange);
    exchange.attach(stream);
    if (body) void this.pumpBody(stream, body, undefined, exchange.pump);
    return exchange;
  }

  private checkClient(protocol: string | undefined): void {
    if (this.connection.role !== 'client') throw new Http2UsageError('fetch() needs the client role; this session is the HTTP/2 server');
    if (protocol && !this.connection.remote.enableConnectProtocol) {
      throw new Http2UsageError('the peer did not enable extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441)');
    }
  }

  /** Send a ReadableStream as DATA frames, waiting on flow control and the transport. */
  private pumpBody(stream: Stream, body: ReadableStream<Uint8Array>, trailers?: () => Headers | Promise<Headers>, control?: PumpControl): Promise<void> {
    return pumpBody(this.connection, stream, body, trailers, control);
  }

  // ---------------------------------------------------------------- server role

  /** The low-level server API: a checked request becomes a ServerStream (server-stream.ts). */
  private onServerStream(onStream: NonNullable<Http2SessionOptions['onStream']>, stream: Stream, fields: HeaderField[], endStream: boolean): void {
    let serverStream: ServerStream;
    try {
      const head: ServerStreamHead = requestHeadFields(stream.id, fields, this.connection.local.enableConnectProtocol);
      serverStream = attachServerStream(this.connection, stream, head, endStream);
    } catch (error) {
      // RFC 9113 §8.1.1: malformed requests are stream errors of type PROTOCOL_ERROR; they never reach the application.
      stream.listener = IGNORING_LISTENER;
      this.connection.resetStream(stream, ErrorCode.PROTOCOL_ERROR, new StreamResetError(stream.id, ErrorCode.PROTOCOL_ERROR, 'local', (error as Error).message));
      return;
    }
    let declined: boolean;
    try {
      declined = onStream(serverStream, this) === false;
    } catch (error) {
      this.options.onError?.(error);
      if (stream.state !== 'closed') this.connection.resetStream(stream, ErrorCode.INTERNAL_ERROR);
      return;
    }
    // Declined synchronously, so no frame reached the ServerStream: the Fetch path takes the stream over.
    if (declined) this.onFetchRequest(stream, fields, endStream);
  }

  private onRequest(stream: Stream, fields: HeaderField[], endStream: boolean): void {
    if (this.options.onStream) return this.onServerStream(this.options.onStream, stream, fields, endStream);
    this.onFetchRequest(stream, fields, endStream);
  }

  /** The Fetch adapter: a Request for `handler`, its Response sent back (FetchExchange). */
  private onFetchRequest(stream: Stream, fields: HeaderField[], endStream: boolean): void {
    const handler = this.options.handler;
    if (!handler) {
      // No listener → the connection refuses the stream; one onStream declined already has a listener, so refuse it here.
      if (this.options.onStream) this.connection.resetStream(stream, ErrorCode.REFUSED_STREAM);
      return;
    }
    let head: RequestFieldsHead;
    try {
      // The same checks as the stream API, without a Headers object: the Request's own gets the fields once.
      head = requestHeadFields(stream.id, fields, this.connection.local.enableConnectProtocol);
    } catch (error) {
      stream.listener = IGNORING_LISTENER;
      this.connection.resetStream(stream, ErrorCode.PROTOCOL_ERROR, new StreamResetError(stream.id, ErrorCode.PROTOCOL_ERROR, 'local', (error as Error).message));
      return;
    }
    const exchange = new FetchExchange(this, this.connection, this.options.onError, stream, head, endStream);
    if (exchange.request) void exchange.respond(handler);
  }
}

/** A request for the client role's `request()` (either engine's session). */
export interface ClientRequest {
  method: string;
  url: URL;
  headers?: Headers;
  body?: ReadableStream<Uint8Array> | null;
  signal?: AbortSignal | null;
  protocol?: string;
}

/** The Fetch API's arguments as a {@link ClientRequest}: GET and HEAD carry no body. */
export function requestOfFetch(input: Request | string | URL, init?: RequestInit): ClientRequest {
  const request = input instanceof Request && !init ? input : new Request(input, init);
  const body = request.body && !BODYLESS_METHODS.has(request.method) ? request.body : null;
  return { method: request.method, url: new URL(request.url), headers: request.headers, body, signal: request.signal };
}

/**
 * `request()` for either engine: waits for a free slot, opens the exchange, ties `signal` to it,
 * and gives the response as a web Response once its HEADERS arrived.
 */
export async function requestOn(slots: SlotWaiters, open: (init: ClientRequest) => ClientExchange, init: ClientRequest): Promise<{ response: Response; streamId: number }> {
  init.signal?.throwIfAborted();
  // Re-checked right before opening: another request may have taken the slot meanwhile.
  while (!slots.open) await slots.wait(init.signal ?? undefined);
  const exchange = open(init);
  // Settles when the body ended or the exchange failed (a reset before the response included).
  const finished = exchange.finished();
  const signal = init.signal;
  if (signal) {
    const onAbort = () => exchange.cancel(signal.reason ?? new DOMException('aborted', 'AbortError'));
    signal.addEventListener('abort', onAbort, { once: true });
    void finished.then(() => signal.removeEventListener('abort', onAbort));
  }
  const message = await exchange.response;
  return { response: toResponse(message, finished), streamId: exchange.streamId };
}

/**
 * One request on the server role's Fetch path, for either engine (the StreamPort, stream-port.ts):
 * the stream's listener, the Request the handler gets and the Response it returns, sent back. One
 * object per request rather than a closure per callback: after undici's own objects, allocation
 * is most of what this adapter costs.
 */
export class FetchExchange implements StreamListener {
  /** The Request given to the handler; undefined when the runtime refused to make it (the stream was reset). */
  readonly request: ServerRequest | IncomingRequest | undefined;
  private readonly info: StreamInfo | undefined;
  private readonly incoming: IncomingBody;
  private readonly control = new PumpControl();
  private readonly method: string;
  private responded = false;
  // RFC 9113 §8.1: a server can send a complete response before the client sends the entire request,
  // then ask it to stop with RST_STREAM(NO_ERROR). A handler (or upstream) that stops reading the
  // request body before answering (a gRPC trailers-only error, a 413) must not lose its answer to a
  // CANCEL sent first: the rest of the body is discarded and the reset waits for the response's end.
  private responseEnded = false;
  private requestCancelled = false;

  constructor(
    session: Http2Session | Http3Session,
    private readonly connection: StreamPort,
    private readonly onError: ((error: unknown) => void) | undefined,
    private readonly stream: PortStream & { listener: StreamListener | undefined },
    head: RequestFieldsHead,
    endStream: boolean,
  ) {
    this.method = head.method;
    const incoming = (this.incoming = new IncomingBody(connection));
    incoming.attach(stream);
    if (head.contentLength >= 0) incoming.expectLength(String(head.contentLength), false);
    incoming.onCancel = () => {
      this.requestCancelled = true;
      if (this.responseEnded) this.stopRequest();
    };
    stream.listener = this;
    if (endStream) incoming.end(stream.id);
    const tunnel = head.method === 'CONNECT';
    const hasBody = !endStream && (tunnel || !BODYLESS_METHODS.has(head.method));
    if (!hasBody && !endStream) incoming.discard();
    try {
      const url = tunnel && !head.protocol ? `https://${head.authority}/` : `${head.scheme}://${head.authority}${head.path}`;
      // A ServerRequest unless the runtime's Request would rewrite or refuse the method or URL
      // (incoming-request.ts); its signal is made on first use and aborted from onReset.
      // The Fetch API refuses CONNECT; handlers see tunnels as POST-like requests and read `info.head`.
      const request = serverRequest(tunnel ? 'POST' : head.method, url, head.fields, hasBody ? incoming : null);
      this.request = request;
      this.info = { streamId: stream.id, session, head: new FetchRequestHead(head, request) };
    } catch (error) {
      connection.resetStream(stream, ErrorCode.PROTOCOL_ERROR, new StreamResetError(stream.id, ErrorCode.PROTOCOL_ERROR, 'local', `request rejected: ${(error as Error).message}`));
    }
  }

  onHeaders(received: HeaderField[], end: boolean): void {
    try {
      // §8.1: a second header block on a request is trailers and MUST end the stream.
      if (!end) throw malformed(this.stream.id, 'trailers without END_STREAM');
      checkTrailerFields(this.stream.id, received);
      this.incoming.end(this.stream.id);
    } catch (error) {
      this.connection.resetStream(this.stream, ErrorCode.PROTOCOL_ERROR, new StreamResetError(this.stream.id, ErrorCode.PROTOCOL_ERROR, 'local', (error as Error).message));
    }
  }

  onData(data: Uint8Array, end: boolean): void {
    try {
      this.incoming.push(this.stream, data, end);
    } catch (error) {
      this.connection.resetStream(this.stream, ErrorCode.PROTOCOL_ERROR, new StreamResetError(this.stream.id, ErrorCode.PROTOCOL_ERROR, 'local', (error as Error).message));
    }
  }

  onReset(error: Http2Error): void {
    this.incoming.fail(error);
    this.control.abort(error);
    this.request?.abortWith(error);
  }

  private stopRequest(): void {
    if (this.stream.state !== 'closed') this.connection.resetStream(this.stream, ErrorCode.NO_ERROR);
  }

  /** Run the handler and send its Response; never rejects (failures go to `onError`). */
  async respond(handler: Handler): Promise<void> {
    const stream = this.stream;
    try {
      let response: Response;
      try {
        response = await handler(this.request as unknown as Request, this.info!);
        if (!(response instanceof Response)) throw new TypeError('the handler did not return a Response');
      } catch (error) {
        this.onError?.(error);
        if (stream.state === 'closed') return;
        response = new Response('internal error in the origin handler\n', { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' } });
      }
      if (stream.state === 'closed') {
        response.body?.cancel().catch(noop);
        return;
      }
      this.responded = true;
      // A body that is all here (a FastResponse's, or one made from a string or bytes) is sent
      // from its bytes, without reading the Response's web stream.
      const { status, headers, bytes } = takeResponse(response);
      const fields = outgoingFields([[':status', String(status)]], headers, false);
      const noContent = hasNoContent(this.method, status);
      const body = bytes === undefined && response.body !== null && !noContent ? response.body : null;
      const held = bytes && !noContent ? bytes : null;
      const trailers = trailersToSendOf(response);
      try {
        this.connection.sendHeaders(stream, fields, body === null && held === null && !trailers);
      } catch (error) {
        this.onError?.(error);
        return;
      }
      if (held) await sendBytes(this.connection, stream, held, trailers);
      else if (body) await pumpBody(this.connection, stream, body, trailers, this.control);
      else if (trailers) {
        const t = outgoingFields([], await trailers(), false);
        this.connection.sendHeaders(stream, t, true);
      } else if (bytes === undefined) response.body?.cancel().catch(noop);
      this.responseEnded = true;
      if (this.requestCancelled) this.stopRequest();
    } catch (error) {
      this.onError?.(error);
      if (!this.responded && stream.state !== 'closed') this.connection.resetStream(stream, ErrorCode.INTERNAL_ERROR);
    }
  }
}

/**
 * `info.head` of a Fetch request: the pseudo-header values, and `headers`, the Request's own, made
 * when someone first reads either. A class, so that the getter is not made per request as an
 * object literal's would be.
 */
class FetchRequestHead implements RequestHead {
  readonly method: string;
  readonly scheme: string;
  readonly authority: string;
  readonly path: string;
  readonly protocol: string | undefined;
  readonly #request: ServerRequest | IncomingRequest;

  constructor(head: RequestFieldsHead, request: ServerRequest | IncomingRequest) {
    this.method = head.method;
    this.scheme = head.scheme;
    this.authority = head.authority;
    this.path = head.path;
    this.protocol = head.protocol;
    this.#request = request;
  }

  get headers(): Headers {
    return this.#request.headers;
  }
}

/** Send a body that is all here as DATA frames, then the trailers if any (either engine's). */
async function sendBytes(connection: StreamPort, stream: PortStream, bytes: Uint8Array, trailers?: () => Headers | Promise<Headers>): Promise<void> {
  try {
    if (trailers) {
      if (bytes.length > 0) await connection.sendData(stream, bytes);
      const fields = outgoingFields([], await trailers(), false);
      if (fields.length > 0) {
        connection.sendHeaders(stream, fields, true);
        return;
      }
      await connection.sendData(stream, EMPTY, true);
      return;
    }
    await connection.sendData(stream, bytes, true);
  } catch (error) {
    if (stream.state !== 'closed') connection.resetStream(stream, ErrorCode.CANCEL, new StreamResetError(stream.id, ErrorCode.CANCEL, 'local', `the body could not be sent: ${(error as Error)?.message}`));
  }
}

/** Send a ReadableStream as DATA frames, waiting on flow control and the transport (either engine's, stream-port.ts). */
export async function pumpBody(connection: StreamPort, stream: PortStream, body: ReadableStream<Uint8Array>, trailers?: () => Headers | Promise<Headers>, control?: PumpControl): Promise<void> {
  let reader: ReadableStreamDefaultReader<Uint8Array>;
  try {
    reader = body.getReader();
  } catch (error) {
    // A body someone else is reading (locked): the stream cannot end well, so it ends now.
    unreadable(connection, stream, error);
    return;
  }
  const cancel = (reason: unknown) => {
    reader.cancel(reason).catch(noop);
  };
  // A reset stream releases the body's source at once: an idle one (Server-Sent Events, a slow
  // upload) would otherwise hold its reader, and whatever produces it, forever.
  control?.listen(cancel);
  try {
    // Each chunk is queued as soon as it is read (Server-Sent Events must not wait for the next
    // one). The next read overlaps its sending, one chunk ahead at most, so that END_STREAM can
    // ride on the last chunk's DATA frame when the body ends before that frame went out.
    let sent: Promise<void> | undefined;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (!value || value.length === 0) continue;
      if (sent) await sent;
      sent = connection.sendData(stream, value instanceof Uint8Array ? value : new Uint8Array(value as ArrayBuffer));
      sent.catch(noop); // awaited above or below; a reset also reaches the catch through them
    }
    if (control?.aborted) return;
    if (trailers) {
      if (sent) await sent;
      const fields = outgoingFields([], await trailers(), false);
      if (fields.length > 0) {
        connection.sendHeaders(stream, fields, true);
        return;
      }
    }
    await connection.sendData(stream, EMPTY, true);
  } catch (error) {
    cancel(error);
    unreadable(connection, stream, error);
  } finally {
    control?.listen(undefined);
  }
}

/** A response body failed to be read: its stream is reset (CANCEL), unless it is already closed. */
function unreadable(connection: StreamPort, stream: PortStream, error: unknown): void {
  if (stream.state !== 'closed') connection.resetStream(stream, ErrorCode.CANCEL, new StreamResetError(stream.id, ErrorCode.CANCEL, 'local', `the body could not be read: ${(error as Error)?.message}`));
}

const noop = () => {};

const EMPTY = new Uint8Array(0);

/** Listens to a stream that is being reset as malformed: nothing more to hear. */
const IGNORING_LISTENER: StreamListener = { onHeaders() {}, onData() {}, onReset() {} };

