/**
 * HTTP/1.1 for browsers on @rhttp/core's RequestParser (RFC 9112), one {@link Http1Connection} per
 * socket. Each request goes through `answerExchange` (browser-exchange.ts) like an HTTP/2 or
 * HTTP/3 one: the head is parsed once into the lower-cased field list the broker takes, the body
 * is a pulled web stream, and the response is written straight to the socket. A short response
 * that has arrived whole (the usual case) leaves in one write: head and body in one buffer.
 *
 * Requests that change protocol are handed to node:http with their bytes unread (`handOff`): an
 * `Upgrade` the listener performs (WebSocket, PTTH) and CONNECT. Any other `Upgrade` is ignored and
 * the request served as the HTTP/1.1 request it also is (RFC 9110 §7.8: a server "MAY ignore a
 * received Upgrade header field"; `curl --http2` sends `Upgrade: h2c`).
 *
 * Bounds, each a named constant: the parser's head and field limits (core); request body bytes
 * held for a slow reader ({@link REQUEST_BODY_BUFFER_BYTES}; then the socket is paused, so TCP
 * holds the browser); pipelined requests wait unread in the socket while one is answered; a head
 * must be complete within {@link HEADERS_TIMEOUT_MS}, and an idle keep-alive connection closes
 * after {@link KEEP_ALIVE_TIMEOUT_MS}.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { Abort } from '@rhttp/broker';
import { CONNECTION_SPECIFIC_FIELDS, contentLengthValue, fieldLine, fieldValue, hasNoContent, Http1Error, httpDate, listsToken, RequestParser, responseHead, type BodyReader, type HeaderField, type Http1RequestHead, type RequestParserHandler, type ResponseMessage } from '@rhttp/core';
import { afterWrite, TurnWriter } from '@rhttp/node/socket-streams';
import { answerExchange, clientAddress, type Answer, type ExchangeInfo } from './browser-exchange.js';
import { ChunksAfter, takeArrived } from './browser-stream.js';
import { closingRefusal } from './closing-response.js';

/** Keep-alive idle time for HTTP/1.1 browser connections (node's default of 5 s is short for browsers behind a proxy). */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** Time to receive a request's head once it has begun; the whole request has no time limit (uploads may be long). */
export const HEADERS_TIMEOUT_MS = 60_000;
/**
 * Request body octets held for a reader (the broker, the agent's window) that has not taken them:
 * past this the socket is paused, so the browser's upload waits in TCP. One socket read (≤ 64 KiB)
 * may land on top of it.
 */
export const REQUEST_BODY_BUFFER_BYTES = 64 * 1024;

/** What an HTTP/1.1 browser connection serves. */
export interface Http1Serving {
  scheme: 'http' | 'https';
  answer: Answer;
  /**
   * For a request node:http serves instead (an upgrade the listener performs, CONNECT): the
   * function that takes over the socket, given the request's bytes and all that followed them,
   * unread. Undefined to serve the request here.
   */
  handOff?: (head: Http1RequestHead) => ((socket: Socket, unread: Buffer) => void) | undefined;
  /** Test seams: the timeouts above. */
  headersTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
}

/** The request body as the broker takes it, pulled: bytes are held up to {@link REQUEST_BODY_BUFFER_BYTES}, then reading pauses. */
class RequestBody {
  readonly #chunks: Uint8Array[] = [];
  #bytes = 0;
  #ended = false;
  #error: Error | undefined;
  #discarding = false;
  #wake: (() => void) | undefined;
  readonly stream: ReadableStream<Uint8Array>;

  constructor(
    readonly connection: Http1Connection,
    countBytes: ((bytes: number) => void) | undefined,
  ) {
    this.stream = new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          while (this.#chunks.length === 0 && !this.#ended && this.#error === undefined) await new Promise<void>((resolve) => (this.#wake = resolve));
          const chunk = this.#chunks.shift();
          if (chunk !== undefined) {
            this.#bytes -= chunk.byteLength;
            if (this.#bytes <= REQUEST_BODY_BUFFER_BYTES) this.connection.bodyTaken();
            countBytes?.(chunk.byteLength);
            controller.enqueue(chunk);
          } else if (this.#error !== undefined) controller.error(this.#error);
          else controller.close();
        },
        cancel: () => this.discard(),
      },
      { highWaterMark: 0 },
    );
  }

  /** Whether reading should pause for this body. */
  get full(): boolean {
    return this.#bytes > REQUEST_BODY_BUFFER_BYTES;
  }

  push(bytes: Uint8Array): void {
    if (this.#discarding || bytes.byteLength === 0) return;
    this.#chunks.push(bytes);
    this.#bytes += bytes.byteLength;
    this.#signal();
  }

  end(): void {
    this.#ended = true;
    this.#signal();
  }

  fail(error: Error): void {
    if (this.#ended) return;
    this.#error = error;
    this.#signal();
  }

  /** Nobody reads the rest: what arrives is dropped as it comes. */
  discard(): void {
    this.#discarding = true;
    this.#chunks.length = 0;
    this.#bytes = 0;
    this.connection.bodyTaken();
  }

  #signal(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

const enum Phase {
  /** Between requests: no octet of the next one yet (ignored CRLFs aside). */
  Idle,
  /** Inside a request head. */
  Head,
  /** Inside a request body. */
  Body,
  /** The request message is complete (its response may still be going out). */
  Done,
}

/** The status a parse failure is answered with (RFC 9112, RFC 9110 §15.5–15.6). */
function refusalStatus(error: Http1Error): number {
  switch (error.code) {
    case 'head_too_large':
      return 431;
    case 'target_too_long':
      return 414;
    case 'unsupported_version':
      return 505;
    case 'unsupported_transfer_coding':
      return 501;
    default:
      return 400;
  }
}

/** Connection-specific fields and Content-Length: the writer chooses the framing of a body it has whole. */
const SKIP_WITH_LENGTH: ReadonlySet<string> = new Set([...CONNECTION_SPECIFIC_FIELDS, 'content-length']);
const CRLF = Buffer.from('\r\n');

/**
 * Content-Length of a response as the origin gave it, read by the HTTP/1.1 parsers' own rule
 * (contentLengthValue: repeated equal values stand for one); undefined when absent or invalid.
 */
function declaredLength(fields: readonly HeaderField[]): number | undefined {
  const value = fieldValue(fields, 'content-length');
  if (value === null) return undefined;
  try {
    return contentLengthValue(value);
  } catch {
    return undefined;
  }
}

/**
 * One browser's HTTP/1.1 connection: requests parsed as they arrive and answered one at a time, in
 * order (a pipelined request waits unread until the one before it is answered).
 */
export class Http1Connection implements RequestParserHandler {
  readonly #parser = new RequestParser(this);
  readonly #address: string;
  #phase = Phase.Idle;
  /** A request is being answered. */
  #busy = false;
  /** No request after the current one: its response says `Connection: close`, then the socket ends. */
  #closing = false;
  #ended = false;
  /** Bytes of a head begun in earlier reads (kept to hand the request over whole). */
  #carry: Buffer[] = [];
  /** Bytes read after a request while its response was going out: the next request(s), unparsed. */
  #backlog: Buffer | undefined;
  #body: RequestBody | undefined;
  #gone: Abort | undefined;
  #handOff: ((socket: Socket, unread: Buffer) => void) | undefined;
  #headersTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #headersTimeoutMs: number;

  constructor(
    readonly socket: Socket,
    readonly serving: Http1Serving,
  ) {
    this.#address = clientAddress(socket.remoteAddress);
    this.#headersTimeoutMs = serving.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onClose);
    socket.on('error', () => socket.destroy());
    // One inactivity timer for the connection's life (node refreshes it on every read and write):
    // it ends a connection only between requests; a long quiet response (SSE) is left alone.
    socket.on('timeout', this.#onTimeout);
    socket.setTimeout(serving.keepAliveTimeoutMs ?? KEEP_ALIVE_TIMEOUT_MS);
  }

  /** Whether a request is being answered (else the connection may be closed without losing one). */
  get busy(): boolean {
    return this.#busy || this.#phase === Phase.Head || this.#phase === Phase.Body;
  }

  /** Starts reading: the bytes read before this connection took the socket (the listener's sniffing) first. */
  begin(initial: Buffer | undefined): void {
    if (initial !== undefined && initial.length > 0) this.#onData(initial);
    this.#resumeReading();
  }

  /** Graceful close: an idle connection ends now; a busy one after its current response; one handed over is no longer ours. */
  close(): void {
    if (this.#handOff !== undefined) return;
    if (this.busy) this.#closing = true;
    else this.socket.destroy();
  }

  // ---------------------------------------------------------------- reading

  readonly #onData = (chunk: Buffer): void => {
    if (this.#ended) return;
    if (this.#backlog !== undefined) {
      // A request is being answered: what follows waits (unparsed, the socket paused) until it is (#parse starts the backlog).
      this.#backlog = Buffer.concat([this.#backlog, chunk]);
      this.socket.pause();
      return;
    }
    this.#parse(chunk);
  };

  #parse(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.#phase === Phase.Done) {
        if (this.#closing && !this.#busy) {
          this.#endConnection();
          return;
        }
        if (this.#busy) {
          this.#backlog = chunk.subarray(i);
          this.socket.pause();
          return;
        }
        this.#parser.reset();
        this.#phase = Phase.Idle;
      }
      const begin = this.#phase === Phase.Idle ? i : this.#phase === Phase.Head ? 0 : -1;
      try {
        i = this.#parser.push(chunk, i);
      } catch (error) {
        this.#refuse(error);
        return;
      }
      if (this.#handOff !== undefined) {
        this.#handOver(Buffer.concat([...this.#carry, chunk.subarray(begin)]));
        return;
      }
      if (this.#phase === Phase.Idle && this.#parser.inHead) this.#phase = Phase.Head;
      if (this.#phase === Phase.Head) {
        // The head continues in a later read: keep its bytes, and give it a deadline.
        this.#carry.push(begin === 0 ? chunk : chunk.subarray(begin));
        this.#headersTimer ??= setTimeout(this.#headersTimedOut, this.#headersTimeoutMs);
      }
      if (this.#ended) return;
    }
    if (this.#phase === Phase.Done && !this.#busy && this.#closing) this.#endConnection();
    else if (this.#body?.full) this.socket.pause();
  }

  onHead(head: Http1RequestHead): void {
    if (this.#headersTimer !== undefined) {
      clearTimeout(this.#headersTimer);
      this.#headersTimer = undefined;
    }
    const handOff = head.body === 'none' ? this.serving.handOff?.(head) : undefined;
    if (handOff !== undefined) {
      this.#handOff = handOff;
      this.#phase = Phase.Done;
      return;
    }
    this.#carry.length = 0;
    this.#phase = Phase.Body;
    if (!head.keepAlive) this.#closing = true;
    if (head.method === 'CONNECT') {
      this.#closing = true;
      this.#writeRefusal(501, 'CONNECT is not served on this listener.');
      return;
    }
    const expect = fieldValue(head.fields, 'expect');
    if (expect !== null) {
      // RFC 9110 §10.1.1: 100-continue is the only expectation; "A server that receives an Expect
      // field value containing a member other than 100-continue MAY respond with a 417".
      if (expect.toLowerCase() !== '100-continue') {
        this.#closing = true;
        this.#writeRefusal(417, `The expectation ${JSON.stringify(expect.slice(0, 100))} is not supported.`);
        return;
      }
      if (head.minorVersion >= 1 && head.body !== 'none') this.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
    }
    // The Fetch API cannot carry a GET or HEAD body: one that comes anyway is read and dropped.
    const withBody = head.body !== 'none' && head.method !== 'GET' && head.method !== 'HEAD';
    this.#body = withBody ? new RequestBody(this, this.serving.answer.requestBytes) : undefined;
    this.#busy = true;
    void this.#serve(head, this.#body);
  }

  onData(bytes: Uint8Array): void {
    this.#body?.push(bytes);
  }

  onEnd(): void {
    if (this.#phase === Phase.Done) return; // a hand-over, or a refusal already written
    this.#phase = Phase.Done;
    this.#body?.end();
    this.#body = undefined;
  }

  /** The body's reader took bytes (or dropped them): reading may go on. */
  bodyTaken(): void {
    this.#resumeReading();
  }

  /** Reading goes on unless a request waits unread, the connection is done, or the current request's body is at its budget. */
  #resumeReading(): void {
    if (this.#backlog === undefined && !this.#ended && !this.#body?.full && this.socket.isPaused()) this.socket.resume();
  }

  readonly #onEnd = (): void => {
    try {
      this.#parser.finish();
    } catch (error) {
      this.#body?.fail(error instanceof Error ? error : new Error(String(error)));
    }
  };

  readonly #onClose = (): void => {
    this.#ended = true;
    if (this.#headersTimer !== undefined) clearTimeout(this.#headersTimer);
    this.#body?.fail(new Error('the browser closed the connection before the request body was complete'));
    this.#gone?.abort(new Error('the browser went away before the response was complete'));
  };

  readonly #onTimeout = (): void => {
    if (!this.busy) this.socket.destroy();
  };

  readonly #headersTimedOut = (): void => {
    this.#headersTimer = undefined;
    if (this.#phase !== Phase.Head || this.#ended) return;
    this.#writeRefusal(408, 'The request head did not arrive in time.');
  };

  /** The request bytes are not HTTP/1.1: answer the refusal, read no more. */
  #refuse(error: unknown): void {
    if (this.#phase === Phase.Body) {
      // Mid-body: the exchange under way (if any) sees its request fail, and the connection ends
      // after its answer; with the answer already out, the connection just ends.
      this.#body?.fail(error instanceof Error ? error : new Error(String(error)));
      this.#closing = true;
      // No more of this request is read: once it is answered the connection ends (#answered).
      this.#phase = Phase.Done;
      this.#stopReading();
      if (!this.#busy) this.socket.destroy();
      return;
    }
    const status = error instanceof Http1Error ? refusalStatus(error) : 400;
    this.#writeRefusal(status, `Bad request: ${error instanceof Error ? error.message : String(error)}.`);
  }

  #stopReading(): void {
    this.#ended = true;
    this.socket.off('data', this.#onData);
    this.socket.pause();
  }

  /** A response of our own that ends the connection (nothing is read after it). */
  #writeRefusal(status: number, text: string): void {
    this.#stopReading();
    this.#phase = Phase.Done;
    // Never while an answer is under way: a new head is read only once the last one was answered.
    this.socket.end(closingRefusal(status, text));
  }

  #handOver(unread: Buffer): void {
    const handOff = this.#handOff!;
    this.#stopReading();
    this.socket.off('end', this.#onEnd);
    this.socket.off('close', this.#onClose);
    this.socket.off('timeout', this.#onTimeout);
    this.socket.setTimeout(0);
    handOff(this.socket, unread);
  }

  /** No request after this one: the socket ends once what was written has gone. */
  #endConnection(): void {
    this.#stopReading();
    this.socket.end();
  }

  // ---------------------------------------------------------------- answering

  async #serve(head: Http1RequestHead, body: RequestBody | undefined): Promise<void> {
    const { answer, scheme } = this.serving;
    const gone = new Abort();
    this.#gone = gone;
    const admitted = answer.admit?.(this.#address);
    const info: ExchangeInfo = { clientAddress: this.#address, scheme, httpVersion: head.minorVersion === 0 ? '1.0' : '1.1', signal: gone };
    try {
      const response = await answerExchange(
        answer,
        {
          method: head.method,
          target: head.target,
          authority: head.host,
          request: (url, origin) => ({ method: head.method, url, origin, headers: head.fields, body: body === undefined ? null : body.stream }),
          discard: () => body?.discard(),
        },
        admitted,
        info,
      );
      if (response !== undefined) await this.#respond(head, response, gone);
    } catch (error) {
      // A response no HTTP/1.1 head can carry (a field with a CR, say): no response rather than a wrong one.
      this.socket.destroy(error instanceof Error ? error : new Error(String(error)));
    } finally {
      if (typeof admitted === 'function') admitted();
      this.#gone = undefined;
      this.#answered();
    }
  }

  /** The response went out (or could not): the next request, or the end of the connection. */
  #answered(): void {
    this.#busy = false;
    if (this.socket.destroyed) return;
    if (this.#phase === Phase.Body) {
      // Answered before the request body ended: the rest is read and dropped (discard resumes reading), then the next request.
      const body = this.#body;
      this.#body = undefined;
      body?.discard();
      return;
    }
    if (this.#closing) {
      this.#endConnection();
      return;
    }
    const backlog = this.#backlog;
    this.#backlog = undefined;
    if (backlog !== undefined) this.#parse(backlog);
    this.#resumeReading();
  }

  /** Writes status, fields and body; destroys the connection when the body fails midway (a truncated body must not look complete). */
  async #respond(head: Http1RequestHead, response: ResponseMessage, gone: Abort): Promise<void> {
    const socket = this.socket;
    const body = response.body;
    if (socket.destroyed || gone.aborted) {
      body?.cancel();
      return;
    }
    const status = response.status;
    const reason = STATUS_CODES[status] ?? '';
    const countBytes = this.serving.answer.responseBytes;
    const extra: string[] = [];
    if (fieldValue(response.fields, 'date') === null) extra.push('date', httpDate());
    const noContent = hasNoContent(head.method, status);
    if (body === null || noContent) {
      body?.cancel();
      // RFC 9110 §8.6: the origin's Content-Length of a HEAD response stands; an empty body says 0,
      // in place of whatever length the origin gave it.
      if (!noContent) extra.push('content-length', '0');
      this.#persistence(head, extra);
      // After each response's last write, a browser that does not read (pipelining all the while)
      // gets its next response only once the socket holds less than TURN_WRITER_QUEUE_BYTES.
      await afterWrite(socket, socket.write(responseHead(status, reason, response.fields, noContent ? CONNECTION_SPECIFIC_FIELDS : SKIP_WITH_LENGTH, extra), 'latin1'));
      return;
    }
    // A body that is here in whole (the usual short response) leaves with its head in one write, its length counted.
    let taken: Uint8Array[] = [];
    if (body.arrived === true) {
      const whole = takeArrived(body);
      if (whole.complete) {
        extra.push('content-length', String(whole.bytes));
        this.#persistence(head, extra);
        const text = responseHead(status, reason, response.fields, SKIP_WITH_LENGTH, extra);
        const out = Buffer.allocUnsafe(text.length + whole.bytes);
        let at = out.write(text, 0, 'latin1');
        for (const chunk of whole.chunks) {
          out.set(chunk, at);
          at += chunk.byteLength;
        }
        if (whole.bytes > 0) countBytes?.(whole.bytes);
        await afterWrite(socket, socket.write(out));
        return;
      }
      taken = whole.chunks;
    }
    await this.#stream(head, response, body, taken, extra, gone);
  }

  /** The Connection field of a response (RFC 9112 §9.6: "A server that sends a "close" connection option MUST initiate a close of the connection"). */
  #persistence(head: Http1RequestHead, extra: string[]): void {
    if (this.#closing) extra.push('connection', 'close');
    else if (head.minorVersion === 0) extra.push('connection', 'keep-alive');
  }

  /** The body as it comes: Content-Length as the origin declared it, else chunked (HTTP/1.0: until close). */
  async #stream(head: Http1RequestHead, response: ResponseMessage, body: BodyReader, taken: Uint8Array[], extra: string[], gone: Abort): Promise<void> {
    const socket = this.socket;
    const countBytes = this.serving.answer.responseBytes;
    const declared = declaredLength(response.fields);
    const chunked = declared === undefined && head.minorVersion >= 1;
    if (chunked) extra.push('transfer-encoding', 'chunked');
    else if (declared === undefined) this.#closing = true; // HTTP/1.0: the body ends with the connection
    this.#persistence(head, extra);
    const out = new TurnWriter(socket);
    // The head goes out in this turn, not with the first chunk: a stream that starts late (SSE) shows its status at once.
    out.write(Buffer.from(responseHead(response.status, STATUS_CODES[response.status] ?? '', response.fields, declared === undefined ? SKIP_WITH_LENGTH : CONNECTION_SPECIFIC_FIELDS, extra), 'latin1'));
    const onAbort = () => body.cancel();
    gone.addEventListener('abort', onAbort);
    let sent = 0;
    const chunks = new ChunksAfter(taken, body);
    try {
      for (;;) {
        const next = chunks.next();
        const chunk = next instanceof Promise ? await next : next;
        if (chunk === null) break;
        if (socket.destroyed) {
          body.cancel();
          return;
        }
        if (chunk.byteLength === 0) continue;
        sent += chunk.byteLength;
        if (declared !== undefined && sent > declared) throw new Error(`the response body is longer than its Content-Length (${declared})`);
        countBytes?.(chunk.byteLength);
        if (chunked) {
          out.write(Buffer.from(`${chunk.byteLength.toString(16)}\r\n`, 'latin1'));
          out.write(chunk);
          const full = out.write(CRLF);
          if (full) await full;
        } else {
          const full = out.write(chunk);
          if (full) await full;
        }
      }
      if (declared !== undefined && sent !== declared) throw new Error(`the response body ended short of its Content-Length (${sent} of ${declared})`);
      if (chunked) out.write(Buffer.from(`0\r\n${trailerLines(head, response.trailers)}\r\n`, 'latin1'));
      out.release();
      // What is still queued past the budget goes before the next response (the browser may not read).
      await afterWrite(socket, false);
    } catch (error) {
      out.release();
      if (gone.aborted || socket.destroyed) return;
      // The origin's body failed midway: closing before the last chunk shows the browser it is incomplete.
      body.cancel();
      socket.destroy(error instanceof Error ? error : new Error(String(error)));
    } finally {
      gone.removeEventListener('abort', onAbort);
    }
  }
}


/**
 * The origin's trailers for the last chunk (gRPC's status), only when the browser said `TE:
 * trailers` (RFC 9110 §6.5.1); connection-specific ones and any that cannot be written are left out.
 */
function trailerLines(head: Http1RequestHead, trailers: readonly HeaderField[] | undefined): string {
  if (trailers === undefined || trailers.length === 0 || !listsToken(fieldValue(head.fields, 'te'), 'trailers')) return '';
  let lines = '';
  for (const [name, value] of trailers) {
    if (CONNECTION_SPECIFIC_FIELDS.has(name)) continue;
    try {
      lines += fieldLine(name, value);
    } catch {
      // A field no HTTP/1.1 line can carry: the body is complete, drop it rather than the response.
    }
  }
  return lines;
}

/** Serves HTTP/1.1 on `socket`, starting with `initial` (bytes the listener read to tell HTTP/1.1 from HTTP/2). */
export function serveHttp1(socket: Socket, serving: Http1Serving, initial?: Buffer): Http1Connection {
  const connection = new Http1Connection(socket, serving);
  connection.begin(initial);
  return connection;
}

