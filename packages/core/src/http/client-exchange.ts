import { ErrorCode, localReset, StreamResetError } from '../errors.js';
import type { HeaderField } from '../frame/types.js';
import type { StreamListener } from '../proto/connection.js';
import type { PortStream, StreamPort } from './stream-port.js';
import { checkTrailerFields, hasNoContent, malformed, responseHeadFields } from './fields.js';
import { IncomingBody, PumpControl, type BodyReader } from './incoming-body.js';

/**
 * A response as a proxy relays it, with no web objects: the status, the fields as received, the
 * body chunk by chunk ({@link BodyReader}), and the trailers once the body ended. The client
 * role's low-level API gives one ({@link ClientExchange}); `toResponse` / `fromResponse`
 * (response-message.ts) turn it into a web Response and back.
 */
export interface ResponseMessage {
  readonly status: number;
  /** Regular fields (lower-case names, no pseudo-header fields); the receiver may rewrite them in place. */
  readonly fields: HeaderField[];
  /** Null when the response has no content (it ended with its HEADERS, or a HEAD/204/304). */
  readonly body: BodyReader | null;
  /** The trailers, once they arrived (after the body's last chunk was read, they are final). */
  readonly trailers: HeaderField[] | undefined;
}

/** A response received on a ClientExchange: `trailers` is filled in when they arrive. */
class ReceivedResponse implements ResponseMessage {
  trailers: HeaderField[] | undefined = undefined;
  constructor(
    readonly status: number,
    readonly fields: HeaderField[],
    readonly body: IncomingBody | null,
  ) {}
}

/**
 * One request on the client role's low-level API (`Http2Session.open`), the counterpart of the
 * server role's ServerStream: `response` settles at the final response's HEADERS, the body is
 * read through its BodyReader with credit returned as it is read, and `cancel` resets the stream.
 * No Request, Response, Headers, ReadableStream or AbortSignal is made.
 *
 * @example
 * const exchange = session.open({ method: 'GET', url: new URL('https://app.example.com/') });
 * const response = await exchange.response;
 * for (let c = response.body?.read(); c !== null && response.body; c = response.body.read()) {
 *   if (c === undefined) await response.body.wait();
 *   else console.log(c.length);
 * }
 */
export class ClientExchange implements StreamListener {
  /** Resolves at the final response's HEADERS; rejects if the stream is reset or the connection closes first. */
  readonly response: Promise<ResponseMessage>;
  /** Made by Http2Session; stops the request body's pump when the stream dies. */
  readonly pump = new PumpControl();
  private stream!: PortStream;
  private readonly body: IncomingBody;
  private received: ReceivedResponse | undefined;
  private settled = false;
  private resolveResponse!: (response: ResponseMessage) => void;
  private rejectResponse!: (error: unknown) => void;

  /** Made by `Http2Session.open`; not for applications. */
  constructor(
    private readonly connection: StreamPort,
    private readonly method: string,
  ) {
    this.body = new IncomingBody(connection);
    this.response = new Promise((resolve, reject) => {
      this.resolveResponse = resolve;
      this.rejectResponse = reject;
    });
    // A caller that never awaits the response (it cancelled first) must not see an unhandled rejection.
    this.response.catch(() => {});
  }

  /** Binds the stream once `openStream` made it (the stream's listener is this exchange). */
  attach(stream: PortStream): void {
    this.stream = stream;
    this.body.attach(stream);
  }

  get streamId(): number {
    return this.stream.id;
  }

  /**
   * Stops the exchange: the stream is reset with CANCEL, `response` rejects with `reason` if it has
   * not settled, and a body being read fails with it. A finished stream is left alone.
   */
  cancel(reason?: unknown): void {
    const error = reason ?? new StreamResetError(this.stream.id, ErrorCode.CANCEL, 'local', 'cancelled');
    this.fail(error);
    if (this.stream.state !== 'closed') this.connection.resetStream(this.stream, ErrorCode.CANCEL);
  }

  /** Resolves when the response body ended or failed (at once when it has none): for adapters that wait on trailers. */
  finished(): Promise<void> {
    if (this.body.settled || this.received?.body === null) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.body.onFinish;
      this.body.onFinish = () => {
        previous?.();
        resolve();
      };
    });
  }

  onHeaders(fields: HeaderField[], endStream: boolean): void {
    const stream = this.stream;
    try {
      if (this.received) {
        // RFC 9113 §8.1: trailers MUST carry END_STREAM.
        if (!endStream) throw malformed(stream.id, 'trailers without END_STREAM');
        checkTrailerFields(stream.id, fields);
        this.received.trailers = fields;
        this.body.end(stream.id);
        return;
      }
      const head = responseHeadFields(stream.id, fields);
      if (head.status < 200) {
        // §8.1: informational (1xx) responses precede the final one; 101 is not allowed in HTTP/2.
        if (head.status === 101) throw malformed(stream.id, '101 Switching Protocols in HTTP/2');
        if (endStream) throw malformed(stream.id, 'informational response with END_STREAM');
        return;
      }
      const noContent = hasNoContent(this.method, head.status);
      this.body.expectLength(head.contentLength, noContent);
      // A response that ends with its HEADERS has no body: forwarded, it stays one HEADERS frame
      // with END_STREAM (a gRPC trailers-only response must not grow a DATA frame).
      this.received = new ReceivedResponse(head.status, head.fields, noContent || endStream ? null : this.body);
      if (noContent) this.body.discard();
      if (endStream) this.body.end(stream.id);
      this.settled = true;
      this.resolveResponse(this.received);
    } catch (error) {
      this.malformed(error);
    }
  }

  onData(data: Uint8Array, endStream: boolean): void {
    if (!this.received) {
      this.connection.consume(this.stream, data.length);
      this.connection.resetStream(this.stream, ErrorCode.PROTOCOL_ERROR, new StreamResetError(this.stream.id, ErrorCode.PROTOCOL_ERROR, 'local', 'DATA before response headers'));
      return;
    }
    try {
      this.body.push(this.stream, data, endStream);
    } catch (error) {
      this.malformed(error);
    }
  }

  onReset(error: StreamResetError): void {
    this.fail(error);
  }

  private fail(error: unknown): void {
    this.body.fail(error);
    this.pump.abort(error);
    if (!this.settled) {
      this.settled = true;
      this.rejectResponse(error);
    }
  }

  private malformed(error: unknown): void {
    this.connection.resetStream(this.stream, ErrorCode.PROTOCOL_ERROR, localReset(this.stream.id, ErrorCode.PROTOCOL_ERROR, error));
  }
}
