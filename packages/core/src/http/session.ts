import { ErrorCode, Http2Error, Http2UsageError, SessionClosedError, StreamError, StreamResetError } from '../errors.js';
import type { GoawayFrame, HeaderField } from '../frame/types.js';
import { Connection, type ConnectionOptions, type ConnectionSink, type Stream, type StreamListener } from '../proto/connection.js';
import { IncomingRequest } from './incoming-request.js';
import { hasNoContent, malformed, outgoingFields, requestFields, requestHead, requestHeadFields, responseHead, trailerHeaders, type RequestHead } from './fields.js';
import { attachServerStream, type ServerStream, type ServerStreamHead } from './server-stream.js';

/** Information a server handler gets besides the Request. */
export interface StreamInfo {
  streamId: number;
  session: Http2Session;
  /** The request's pseudo-headers as received (e.g. `protocol` for extended CONNECT). */
  head: RequestHead;
}

/** A server handler: the Fetch API shape, as in Workers, Deno.serve, Bun.serve and Hono. */
export type Handler = (request: Request, info: StreamInfo) => Response | Promise<Response>;

export interface Http2SessionOptions extends ConnectionOptions {
  /** Server role: answers every request. */
  handler?: Handler;
  /**
   * Server role, low level (the counterpart of node:http2's `stream` event): each valid request
   * as a ServerStream, without Request/Response objects. Used instead of `handler` when given;
   * returning `false` (at once, from `stream.head`, before reading anything) leaves this request
   * to `handler` instead, so a server can take its hot path on streams and the rest as Fetch.
   * A throw answers nothing: the stream is reset with INTERNAL_ERROR and `onError` hears it.
   */
  onStream?: (stream: ServerStream, session: Http2Session) => void | false;
  /** Client role: the peer's ORIGIN frame arrived (RFC 8336). */
  onOrigin?(origins: readonly string[], added: readonly string[]): void;
  onGoaway?(frame: GoawayFrame): void;
  onClose?(error: Http2Error | undefined): void;
  /**
   * Client role: whether a new stream may open could have changed (a stream closed, the peer's
   * SETTINGS, GOAWAY, or the close), for a scheduler waiting on SETTINGS_MAX_CONCURRENT_STREAMS.
   */
  onSlotFree?(): void;
  /** The peer sent a PING; its opaque data (reverse/admission.ts gives one a meaning). */
  onPing?(opaque: Uint8Array): void;
  /** Server role: a handler threw or a stream failed; for logging. */
  onError?(error: unknown): void;
}

/** Methods whose requests the Fetch API refuses to give a body. */
const BODYLESS_METHODS = new Set(['GET', 'HEAD']);

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
  private readonly slotWaiters: Array<() => void> = [];
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
        this.wakeSlotWaiters();
      },
      onClose: (error) => {
        this.wakeSlotWaiters();
        options.onClose?.(error);
        resolveClosed(error);
      },
      onStreamClosed: () => this.wakeSlotWaiters(),
      onRemoteSettings: () => this.wakeSlotWaiters(),
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
    return this.connection.closed;
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
    const request = input instanceof Request && !init ? input : new Request(input, init);
    const url = new URL(request.url);
    const body = request.body && !BODYLESS_METHODS.has(request.method) ? request.body : null;
    const { response } = await this.request({ method: request.method, url, headers: request.headers, body, signal: request.signal });
    return response;
  }

  /**
   * Client role, lower level than `fetch`: also does CONNECT and extended CONNECT (RFC 8441,
   * `protocol`), which the Fetch API's Request cannot express. For those, `response.body` and
   * `body` are the two directions of the tunnel.
   */
  async request(init: { method: string; url: URL; headers?: Headers; body?: ReadableStream<Uint8Array> | null; signal?: AbortSignal | null; protocol?: string }): Promise<{ response: Response; streamId: number }> {
    if (this.connection.role !== 'client') throw new Http2UsageError('fetch() needs the client role; this session is the HTTP/2 server');
    if (init.protocol && !this.connection.remote.enableConnectProtocol) {
      throw new Http2UsageError('the peer did not enable extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441)');
    }
    init.signal?.throwIfAborted();
    // Re-checked right before opening: another request may have taken the slot meanwhile.
    while (!this.connection.canOpenStream) await this.waitForSlot(init.signal ?? undefined);
    const fields = requestFields(init.method, init.url, init.headers ?? new Headers(), init.protocol);
    const tunnel = init.method === 'CONNECT';
    const body = init.body ?? null;
    return new Promise((resolve, reject) => {
      const incoming = new IncomingBody(this.connection);
      let settled = false;
      let response: Response | undefined;
      let trailersResolve: ((h: Headers) => void) | undefined;
      const bodyAbort = new PumpControl();
      const listener: StreamListener = {
        onHeaders: (received, endStream) => {
          try {
            if (!response) {
              const head = responseHead(stream.id, received);
              if (head.status < 200) {
                // §8.1: informational (1xx) responses precede the final one; 101 is not allowed in HTTP/2.
                if (head.status === 101) throw malformed(stream.id, '101 Switching Protocols in HTTP/2');
                if (endStream) throw malformed(stream.id, 'informational response with END_STREAM');
                return;
              }
              const nullBody = hasNoContent(init.method, head.status);
              incoming.expectLength(head.headers.get('content-length'), init.method === 'HEAD' || head.status === 304);
              const trailers = new Promise<Headers>((r) => (trailersResolve = r));
              // A response that ends with its HEADERS gets a null body: forwarded, it stays one HEADERS
              // frame with END_STREAM (a gRPC trailers-only response must not grow a DATA frame).
              response = new Response(nullBody || endStream ? null : incoming.readable, { status: head.status, headers: head.headers });
              if (nullBody) incoming.discard();
              trailersByResponse.set(response, trailers);
              if (endStream) {
                incoming.end(stream.id);
                trailersResolve?.(new Headers());
              }
              settled = true;
              resolve({ response, streamId: stream.id });
              return;
            }
            // §8.1: trailers MUST carry END_STREAM.
            if (!endStream) throw malformed(stream.id, 'trailers without END_STREAM');
            trailersResolve?.(trailerHeaders(stream.id, received));
            incoming.end(stream.id);
          } catch (error) {
            this.connection.resetStream(stream, ErrorCode.PROTOCOL_ERROR, error instanceof StreamError ? new StreamResetError(stream.id, ErrorCode.PROTOCOL_ERROR, 'local', error.message) : undefined);
          }
        },
        onData: (data, endStream) => {
          if (!response) {
            this.connection.consume(stream, data.length);
            this.connection.resetStream(stream, ErrorCode.PROTOCOL_ERROR, new StreamResetError(stream.id, ErrorCode.PROTOCOL_ERROR, 'local', 'DATA before response headers'));
            return;
          }
          try {
            incoming.push(stream, data, endStream);
            if (endStream) trailersResolve?.(new Headers());
          } catch (error) {
            this.connection.resetStream(stream, ErrorCode.PROTOCOL_ERROR, error instanceof StreamError ? new StreamResetError(stream.id, ErrorCode.PROTOCOL_ERROR, 'local', error.message) : undefined);
          }
        },
        onReset: (error) => {
          incoming.fail(error);
          bodyAbort.abort(error);
          trailersResolve?.(new Headers());
          if (!settled) {
            settled = true;
            reject(error);
          }
          init.signal?.removeEventListener('abort', onAbort);
        },
      };
      const onAbort = () => {
        const reason = init.signal?.reason ?? new DOMException('aborted', 'AbortError');
        if (!settled) {
          settled = true;
          reject(reason);
        }
        incoming.fail(reason);
        this.connection.resetStream(stream, ErrorCode.CANCEL);
      };
      let stream: Stream;
      try {
        stream = this.connection.openStream(fields, body === null && !tunnel, listener);
      } catch (error) {
        reject(error);
        return;
      }
      incoming.attach(stream);
      init.signal?.addEventListener('abort', onAbort, { once: true });
      if (body) void this.pumpBody(stream, body, undefined, bodyAbort);
    });
  }

  /** Send a ReadableStream as DATA frames, waiting on flow control and the transport. */
  private async pumpBody(stream: Stream, body: ReadableStream<Uint8Array>, trailers?: () => Headers | Promise<Headers>, control?: PumpControl): Promise<void> {
    const reader = body.getReader();
    const cancel = (reason: unknown) => {
      reader.cancel(reason).catch(() => {});
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
        sent = this.connection.sendData(stream, value instanceof Uint8Array ? value : new Uint8Array(value as ArrayBuffer));
        sent.catch(() => {}); // awaited above or below; a reset also reaches the catch through them
      }
      if (control?.aborted) return;
      if (trailers) {
        if (sent) await sent;
        const fields = outgoingFields([], await trailers(), false);
        if (fields.length > 0) {
          this.connection.sendHeaders(stream, fields, true);
          return;
        }
      }
      await this.connection.sendData(stream, EMPTY, true);
    } catch (error) {
      cancel(error);
      if (stream.state !== 'closed') this.connection.resetStream(stream, ErrorCode.CANCEL, new StreamResetError(stream.id, ErrorCode.CANCEL, 'local', `the body could not be read: ${(error as Error)?.message}`));
    } finally {
      control?.listen(undefined);
    }
  }

  private waitForSlot(signal?: AbortSignal): Promise<void> {
    const c = this.connection;
    if (c.canOpenStream) return Promise.resolve();
    if (c.draining) {
      return Promise.reject(c.closeError ?? new SessionClosedError('the connection is shutting down (GOAWAY)', ErrorCode.NO_ERROR, true));
    }
    return new Promise((resolve, reject) => {
      const check = () => {
        if (c.canOpenStream) resolve();
        else if (c.draining) reject(c.closeError ?? new SessionClosedError('the connection is shutting down (GOAWAY)', ErrorCode.NO_ERROR, true));
        else if (signal?.aborted) reject(signal.reason);
        else this.slotWaiters.push(check);
      };
      this.slotWaiters.push(check);
    });
  }

  private wakeSlotWaiters(): void {
    const waiters = this.slotWaiters.splice(0);
    for (const w of waiters) w();
    this.options.onSlotFree?.();
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

  /** The Fetch adapter: a Request for `handler`, its Response sent back. */
  private onFetchRequest(stream: Stream, fields: HeaderField[], endStream: boolean): void {
    const handler = this.options.handler;
    if (!handler) {
      // No listener → the connection refuses the stream; one onStream declined already has a listener, so refuse it here.
      if (this.options.onStream) this.connection.resetStream(stream, ErrorCode.REFUSED_STREAM);
      return;
    }
    let head: RequestHead;
    try {
      head = requestHead(stream.id, fields, this.connection.local.enableConnectProtocol);
    } catch (error) {
      stream.listener = IGNORING_LISTENER;
      this.connection.resetStream(stream, ErrorCode.PROTOCOL_ERROR, new StreamResetError(stream.id, ErrorCode.PROTOCOL_ERROR, 'local', (error as Error).message));
      return;
    }
    const incoming = new IncomingBody(this.connection);
    incoming.attach(stream);
    incoming.expectLength(head.headers.get('content-length'), false);
    const control = new PumpControl();
    let request: IncomingRequest | undefined;
    let responded = false;
    // RFC 9113 §8.1: a server can send a complete response before the client sends the entire request,
    // then ask it to stop with RST_STREAM(NO_ERROR). A handler (or upstream) that stops reading the
    // request body before answering (a gRPC trailers-only error, a 413) must not lose its answer to a
    // CANCEL sent first: the rest of the body is discarded and the reset waits for the response's end.
    let responseEnded = false;
    let requestCancelled = false;
    const stopRequest = () => {
      if (stream.state !== 'closed') this.connection.resetStream(stream, ErrorCode.NO_ERROR);
    };
    incoming.onCancel = () => {
      requestCancelled = true;
      if (responseEnded) stopRequest();
    };
    stream.listener = {
      onHeaders: (received, end) => {
        try {
          // §8.1: a second header block on a request is trailers and MUST end the stream.
          if (!end) throw malformed(stream.id, 'trailers without END_STREAM');
          trailerHeaders(stream.id, received);
          incoming.end(stream.id);
        } catch (error) {
          this.connection.resetStream(stream, ErrorCode.PROTOCOL_ERROR, new StreamResetError(stream.id, ErrorCode.PROTOCOL_ERROR, 'local', (error as Error).message));
        }
      },
      onData: (data, end) => {
        try {
          incoming.push(stream, data, end);
        } catch (error) {
          this.connection.resetStream(stream, ErrorCode.PROTOCOL_ERROR, new StreamResetError(stream.id, ErrorCode.PROTOCOL_ERROR, 'local', (error as Error).message));
        }
      },
      onReset: (error) => {
        incoming.fail(error);
        control.abort(error);
        request?.abortWith(error);
      },
    };
    if (endStream) incoming.end(stream.id);
    const tunnel = head.method === 'CONNECT';
    const hasBody = !endStream && (tunnel || !BODYLESS_METHODS.has(head.method));
    if (!hasBody && !endStream) incoming.discard();
    try {
      const url = tunnel && !head.protocol ? `https://${head.authority}/` : `${head.scheme}://${head.authority}${head.path}`;
      // Its signal is made on first use and aborted from onReset (incoming-request.ts).
      request = new IncomingRequest(url, {
        // The Fetch API refuses CONNECT; handlers see tunnels as POST-like requests and read `info.head`.
        method: tunnel ? 'POST' : head.method,
        headers: head.headers,
        body: hasBody ? incoming.readable : null,
        duplex: 'half',
      } as RequestInit);
    } catch (error) {
      this.connection.resetStream(stream, ErrorCode.PROTOCOL_ERROR, new StreamResetError(stream.id, ErrorCode.PROTOCOL_ERROR, 'local', `request rejected: ${(error as Error).message}`));
      return;
    }
    const req = request;
    const respond = async () => {
      let response: Response;
      try {
        response = await handler(req, { streamId: stream.id, session: this, head });
        if (!(response instanceof Response)) throw new TypeError('the handler did not return a Response');
      } catch (error) {
        this.options.onError?.(error);
        if (stream.state === 'closed') return;
        response = new Response('internal error in the origin handler\n', { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' } });
      }
      if (stream.state === 'closed') {
        response.body?.cancel().catch(() => {});
        return;
      }
      responded = true;
      const fields = outgoingFields([[':status', String(response.status)]], response.headers, false);
      const body = response.body && !hasNoContent(head.method, response.status) ? response.body : null;
      const trailers = trailersToSend.get(response);
      try {
        this.connection.sendHeaders(stream, fields, body === null && !trailers);
      } catch (error) {
        this.options.onError?.(error);
        return;
      }
      if (body) await this.pumpBody(stream, body, trailers, control);
      else if (trailers) {
        const t = outgoingFields([], await trailers(), false);
        this.connection.sendHeaders(stream, t, true);
      } else response.body?.cancel().catch(() => {});
      responseEnded = true;
      if (requestCancelled) stopRequest();
    };
    respond().catch((error) => {
      this.options.onError?.(error);
      if (!responded && stream.state !== 'closed') this.connection.resetStream(stream, ErrorCode.INTERNAL_ERROR);
    });
  }
}

const EMPTY = new Uint8Array(0);

/** Listens to a stream that is being reset as malformed: nothing more to hear. */
const IGNORING_LISTENER: StreamListener = { onHeaders() {}, onData() {}, onReset() {} };

/**
 * Lets a stream's reset stop its body pump: one listener, no AbortSignal (costly to make per
 * stream in Node 20, where every AbortSignal is made transferable).
 */
class PumpControl {
  aborted = false;
  private reason: unknown;
  private onAbort: ((reason: unknown) => void) | undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.onAbort?.(reason);
  }

  /** Set (or clear, with undefined) the one listener; called at once if already aborted. */
  listen(fn: ((reason: unknown) => void) | undefined): void {
    this.onAbort = fn;
    if (fn && this.aborted) fn(this.reason);
  }
}

/**
 * A received body as a ReadableStream whose flow-control credit is returned only as the reader
 * takes chunks: a slow consumer slows the sender, and memory stays bounded by the stream window.
 */
class IncomingBody {
  private readonly queue: Uint8Array[] = [];
  private readableStream: ReadableStream<Uint8Array> | undefined;
  private waiting: (() => void) | undefined;
  private done = false;
  private failure: unknown;
  private stream: Stream | undefined;
  private expected = -1;
  private received = 0;
  private discarding = false;
  /** What cancelling the readable does to the stream besides discarding; default: reset it with CANCEL. */
  onCancel: (() => void) | undefined;

  constructor(private readonly connection: Connection) {}

  /** Made on first use: most GET requests never read a body, and a ReadableStream is costly to make. */
  get readable(): ReadableStream<Uint8Array> {
    return (this.readableStream ??= new ReadableStream<Uint8Array>(
      {
        pull: (controller) => {
          if (this.deliver(controller)) return;
          return new Promise<void>((resolve) => {
            this.waiting = () => {
              this.deliver(controller);
              resolve();
            };
          });
        },
        cancel: () => {
          this.discard();
          if (!this.stream || this.stream.state === 'closed' || this.done) return;
          if (this.onCancel) this.onCancel();
          else this.connection.resetStream(this.stream, ErrorCode.CANCEL);
        },
      },
      { highWaterMark: 0 },
    ));
  }

  /** Hand the reader one chunk (returning its credit), the end, or the error; false when there is nothing yet. */
  private deliver(controller: ReadableStreamDefaultController<Uint8Array>): boolean {
    if (this.queue.length > 0) {
      const chunk = this.queue.shift()!;
      controller.enqueue(chunk);
      if (this.stream) this.connection.consume(this.stream, chunk.length);
      return true;
    }
    if (this.failure !== undefined) {
      controller.error(this.failure);
      return true;
    }
    if (this.done) {
      controller.close();
      return true;
    }
    return false;
  }

  attach(stream: Stream): void {
    this.stream = stream;
  }

  /** Content-Length, when present, must match the DATA received (RFC 9113 §8.1.1). */
  expectLength(value: string | null, noContent: boolean): void {
    if (noContent || value === null) return;
    const n = Number(value);
    if (Number.isSafeInteger(n) && n >= 0) this.expected = n;
  }

  push(stream: Stream, data: Uint8Array, end: boolean): void {
    this.received += data.length;
    if (this.expected >= 0 && (this.received > this.expected || (end && this.received !== this.expected))) {
      throw malformed(stream.id, `content-length ${this.expected} does not match the ${this.received} octets of DATA`);
    }
    if (this.discarding) this.connection.consume(stream, data.length);
    else if (data.length > 0) this.queue.push(data);
    if (end) this.done = true;
    this.wake();
  }

  end(streamId: number): void {
    if (this.expected >= 0 && this.received !== this.expected && !this.discarding) {
      throw malformed(streamId, `content-length ${this.expected} but ${this.received} octets of DATA`);
    }
    this.done = true;
    this.wake();
  }

  fail(error: unknown): void {
    if (this.done && this.queue.length === 0) return;
    this.failure = error;
    // The body is incomplete either way: unread chunks go now, not when (or if) the reader comes back.
    this.queue.length = 0;
    this.wake();
  }

  /** Nobody will read: return credit for everything, now and later. */
  discard(): void {
    this.discarding = true;
    let octets = 0;
    for (const c of this.queue.splice(0)) octets += c.length;
    if (this.stream && octets > 0) this.connection.consume(this.stream, octets);
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }
}
