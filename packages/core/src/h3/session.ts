/**
 * An HTTP/3 session: the HTTP layer over `H3Connection`, with the same exchange types as HTTP/2's
 * `Http2Session`. In the server role each request is a `ServerStream` (`onStream`), the very class
 * HTTP/2 hands out, so the agent's upstream and the intermediary's listeners serve both engines.
 * In the client role `open(request)` gives a `ClientExchange` (`response: Promise<ResponseMessage>`,
 * `cancel`), whose body is a `BodyReader` that releases the stream's receive budget as it is read;
 * `fetch` is the Fetch adapter over it. The broker reads `openStreams`, `maxConcurrentStreams`,
 * `draining`, `isClosed`, `closed`, `goaway` and `onSlotFree` as it does off Http2Session.
 *
 * @example
 * // Browser side of the intermediary: QUIC server, HTTP/3 server.
 * const session = connectQuic(quic, { role: 'server', onStream: (stream) => serve(stream) });
 * // The broker's side of h3-reverse: QUIC server, HTTP/3 client.
 * const agent = connectQuic(quic, { role: 'client', quicRole: 'server', onSlotFree: () => broker.wake() });
 * const exchange = agent.open({ method: 'GET', url: new URL('https://app.example.com/') });
 * const response = await exchange.response;
 */
import { ErrorCode, type Http2Error, Http2UsageError, SessionClosedError } from '../errors.js';
import type { HeaderField } from '../frame/types.js';
import { ClientExchange } from '../http/client-exchange.js';
import { malformed, requestFields, requestHeadFields, type RequestFieldsHead } from '../http/fields.js';
import { ServerStream } from '../http/server-stream.js';
import { SlotWaiters } from '../http/slot-waiters.js';
import { FetchExchange, pumpBody, requestOfFetch, requestOn, type ClientRequest, type Handler, type SessionCallbacks } from '../http/session.js';
import type { StreamListener } from '../proto/stream.js';
import { H3Connection, type H3ConnectionOptions, type H3RequestStream, type H3Transport } from './connection.js';
import { H3ErrorCode } from './error-codes.js';

export interface Http3SessionOptions extends H3ConnectionOptions, SessionCallbacks<Http3Session> {
  /** The peer sent GOAWAY: a stream id from a server, a push id from a client (RFC 9114 §5.2). */
  onGoaway?(id: number): void;
  /** A control-stream frame of a type HTTP/3 does not define (RFC 9114 §9): rhttp's in-band authentication rides on these. */
  onExtensionFrame?(type: number, payload: Uint8Array): void;
  /** connectQuic: how long a graceful close after we wrote last waits for the peer to close first. Default QUIC_CLOSE_LINGER_MS (connect-quic.ts). */
  closeLingerMs?: number;
}

export class Http3Session {
  readonly connection: H3Connection;
  /**
   * Resolves when the session is finished (with the error that ended it, if any) and the QUIC
   * connection under it closed: after a graceful close that lingers for the peer (connect-quic.ts),
   * only then may the process exit without cutting off what we sent last. `onClose` comes with it.
   */
  readonly closed: Promise<Http2Error | undefined>;
  /** Resolves once the peer's SETTINGS arrived (extended CONNECT needs them); rejects if the session closes first. */
  readonly ready: Promise<void>;
  private readonly options: Http3SessionOptions;
  private readonly slots = new SlotWaiters(
    () => this.connection,
    () => new SessionClosedError('the HTTP/3 connection is shutting down (GOAWAY)', H3ErrorCode.H3_NO_ERROR, true),
    () => this.options.onSlotFree?.(),
  );

  /** Made by `connectQuic` (connect-quic.ts), or with any H3Transport (tests). */
  constructor(transport: H3Transport, options: Http3SessionOptions) {
    this.options = options;
    let resolveClosed!: (error: Http2Error | undefined) => void;
    this.closed = new Promise((resolve) => (resolveClosed = resolve));
    let settled = false;
    let resolveReady!: () => void;
    let rejectReady!: (error: unknown) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    this.ready.catch(() => {});
    this.connection = new H3Connection(transport, options, {
      onRequest: (stream, fields) => this.onRequest(stream, fields),
      onSettings: () => {
        settled = true;
        resolveReady();
        this.slots.wake();
      },
      onOrigin: (origins, added) => options.onOrigin?.(origins, added),
      onGoaway: (id) => {
        options.onGoaway?.(id);
        this.slots.wake();
      },
      onStreamClosed: () => this.slots.wake(),
      onExtensionFrame: (type, payload) => options.onExtensionFrame?.(type, payload),
      onClose: (error) => {
        if (!settled) rejectReady(error ?? new SessionClosedError('the HTTP/3 connection closed before SETTINGS'));
        this.slots.wake();
        const done = () => {
          options.onClose?.(error);
          resolveClosed(error);
        };
        if (transport.closed) void transport.closed.then(done, done);
        else done();
      },
    });
  }

  get role(): 'client' | 'server' {
    return this.connection.role;
  }
  get openStreams(): number {
    return this.connection.openStreams;
  }
  /** Requests this session opens at once (client role): its own limit, as HTTP/3 has no SETTINGS for it (QUIC's MAX_STREAMS holds the rest). */
  get maxConcurrentStreams(): number {
    return this.connection.limits.maxConcurrentStreams;
  }
  get draining(): boolean {
    return this.connection.draining;
  }
  get isClosed(): boolean {
    return this.connection.isClosed;
  }
  /** Round-trip time: HTTP/3 has no PING, and the QUIC APIs we run on do not tell theirs. */
  get rttMs(): number | undefined {
    return undefined;
  }
  /** The Origin Set the peer announced with ORIGIN frames (client role). */
  get peerOrigins(): readonly string[] {
    return this.connection.peerOrigins;
  }
  /** Received DATA octets not yet taken by the application, over all streams. */
  get bufferedBytes(): number {
    return this.connection.bufferedBytes;
  }
  /** Graceful shutdown (RFC 9114 §5.2). `errorCode` is HTTP/2's ErrorCode or an HTTP/3 code; other than NO_ERROR it closes at once. */
  goaway(errorCode: number = ErrorCode.NO_ERROR, reason = ''): void {
    this.connection.goaway(errorCode, reason);
  }
  close(errorCode: number = H3ErrorCode.H3_NO_ERROR, reason = ''): void {
    this.connection.close(errorCode, reason);
  }
  /** Sends an extension frame (RFC 9114 §9) on our control stream; the peer's `onExtensionFrame` hears it, others ignore it. */
  sendExtensionFrame(type: number, payload: Uint8Array): void {
    this.connection.sendExtensionFrame(type, payload);
  }

  // ---------------------------------------------------------------- client role

  /**
   * Client role, lowest level: opens a request stream now and sends the request (client-exchange.ts).
   * Throws when no request can open now (GOAWAY, the session closed: the error's `retryable` tells
   * whether the request may go elsewhere). With method CONNECT, `body` is the tunnel's bytes.
   */
  open(init: { method: string; url: URL; headers?: Headers | readonly HeaderField[]; body?: ReadableStream<Uint8Array> | null; protocol?: string }): ClientExchange {
    this.checkClient(init.protocol);
    const fields = requestFields(init.method, init.url, init.headers ?? [], init.protocol);
    const body = init.body ?? null;
    const exchange = new ClientExchange(this.connection, init.method);
    const stream = this.connection.openRequest(fields, body === null && init.method !== 'CONNECT', exchange);
    exchange.attach(stream);
    if (body) {
      // RFC 9114 §4.1: stopped with H3_NO_ERROR after a complete response, the body is not read further.
      stream.onStopped = () => exchange.pump.abort(new SessionClosedError('the server stopped the request body after its response (H3_NO_ERROR)', H3ErrorCode.H3_NO_ERROR));
      void pumpBody(this.connection, stream, body, undefined, exchange.pump);
    }
    return exchange;
  }

  /** Client role: a request as a web Response; also CONNECT and extended CONNECT (`protocol`, RFC 9220). */
  async request(init: ClientRequest): Promise<{ response: Response; streamId: number }> {
    this.checkClient(init.protocol);
    return requestOn(this.slots, (i) => this.open(i), init);
  }

  /** Client role: the Fetch API. */
  async fetch(input: Request | string | URL, init?: RequestInit): Promise<Response> {
    return (await this.request(requestOfFetch(input, init))).response;
  }

  private checkClient(protocol: string | undefined): void {
    if (this.connection.role !== 'client') throw new Http2UsageError('requests need the client role; this session is the HTTP/3 server');
    // RFC 9220 §3: a client MUST NOT send :protocol before the server's SETTINGS_ENABLE_CONNECT_PROTOCOL = 1.
    if (protocol && !this.connection.peerSettings?.enableConnectProtocol) {
      throw new Http2UsageError('the peer did not enable extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 9220); await session.ready first');
    }
  }

  // ---------------------------------------------------------------- server role

  private onRequest(stream: H3RequestStream, fields: HeaderField[]): void {
    const { onStream, handler } = this.options;
    if (!onStream && !handler) return; // no listener: the connection refuses it (H3_REQUEST_REJECTED)
    let head: RequestFieldsHead;
    try {
      head = requestHeadFields(stream.id, fields, this.options.enableConnectProtocol !== false);
      // RFC 9114 §4.3.1: a request whose scheme has a mandatory authority (http, https) MUST contain :authority or Host.
      if ((head.scheme === 'http' || head.scheme === 'https') && !fields.some(([name]) => name === ':authority' || name === 'host')) {
        throw malformed(stream.id, 'neither :authority nor host (RFC 9114 §4.3.1)');
      }
    } catch (error) {
      // RFC 9114 §4.1.2: a malformed request is a stream error of type H3_MESSAGE_ERROR; it never reaches the application.
      stream.listener = IGNORING_LISTENER;
      this.connection.resetStream(stream, H3ErrorCode.H3_MESSAGE_ERROR, error as Http2Error);
      return;
    }
    if (!onStream) return this.answerWithHandler(handler!, stream, head);
    const serverStream = new ServerStream(this.connection, stream, head, false);
    stream.listener = {
      onHeaders: (trailers, endStream) => serverStream.receiveHeaders(trailers, endStream),
      onData: (data, endStream) => serverStream.receiveData(data, endStream),
      onReset: (error) => serverStream.receiveReset(error),
    };
    // HTTP/3 writes asynchronously: the response's last frame may go out after `respond`/`end` returned.
    stream.onClosed = () => serverStream.finishIfClosed();
    let declined: boolean;
    try {
      declined = onStream(serverStream, this) === false;
    } catch (error) {
      this.options.onError?.(error);
      if (stream.state !== 'closed') this.connection.resetStream(stream, H3ErrorCode.H3_INTERNAL_ERROR);
      return;
    }
    if (!declined || stream.state === 'closed') return;
    // Declined synchronously, so no frame reached the ServerStream: the Fetch path takes the stream over, or it is refused as not processed.
    if (handler) this.answerWithHandler(handler, stream, head);
    else this.connection.resetStream(stream, H3ErrorCode.H3_REQUEST_REJECTED);
  }

  /** The Fetch adapter (Http2Session's own): a Request for `handler`, its Response sent back. */
  private answerWithHandler(handler: Handler, stream: H3RequestStream, head: RequestFieldsHead): void {
    const exchange = new FetchExchange(this, this.connection, this.options.onError, stream, head, false);
    if (exchange.request) void exchange.respond(handler);
  }
}

/** Listens to a stream that is being reset as malformed: nothing more to hear. */
const IGNORING_LISTENER: StreamListener = { onHeaders() {}, onData() {}, onReset() {} };

