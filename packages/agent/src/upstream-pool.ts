/**
 * The agent's HTTP/1.1 client toward its upstream, over node:net / node:tls sockets (Node, Bun and
 * Deno alike), with @rhttp/core's sans-I/O codec (`requestHead`, `ResponseParser`) doing the
 * bytes. A keep-alive pool per upstream: an exchange takes an idle socket or dials one, writes the
 * request head (and, through {@link TurnWriter}, its body), and hands the response on as its head,
 * then its body one socket read at a time. No node:http objects, no stream per message and one
 * sweep timer per upstream for the headers timeout instead of a timer per request.
 *
 * @example
 * const pool = new UpstreamPool({ tls: false, host: '127.0.0.1', port: 3000 }, { headersTimeoutMs: 100_000 });
 * const exchange = pool.exchange('GET', '/', ['host', 'app.example'], false);
 * const response = await exchange.response; // rejects when the upstream could not be reached
 * exchange.attach({ data: (chunk, last) => …, end: () => …, abort: (error) => … });
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { concatBytes, IdTable, ResponseParser, requestHead, type Http1ResponseHead } from '@rhttp/core';
import type { TurnWritable } from '@rhttp/node/socket-streams';
import { ReadBuffers } from './read-buffers.js';

/** Where the upstream listens. */
export interface UpstreamAddress {
  /** https: TLS (certificates checked as node:https does). */
  tls: boolean;
  /** Host name or IP address (an IPv6 literal without brackets). */
  host: string;
  port: number;
}

/** Options of {@link UpstreamPool}. */
export interface UpstreamPoolOptions {
  /** Time allowed for the response head once the request is sent. */
  headersTimeoutMs: number;
  /** Idle keep-alive sockets kept (the rest are closed once their response ends). */
  maxFreeSockets?: number;
  /** Certificates (PEM) to trust for an https upstream instead of the default CAs (a private CA). */
  ca?: string | string[];
}

/** Where a response body goes, set by {@link UpstreamExchange.attach}. */
export interface ResponseBodySink {
  /** Body bytes: everything one socket read brought; `last` when the body ends with them. */
  data(chunk: Uint8Array, last: boolean): void;
  /** The body ended (after data without `last`, or with no data at all). */
  end(): void;
  /** The body was cut short: the connection closed or failed before its end. */
  abort(error: Error): void;
}

/** The upstream sent no response headers within the allowed time. */
export class UpstreamTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no response headers within ${timeoutMs} ms`);
  }
}

/** Idle sockets kept per upstream by default (see upstream.ts for the figure the agent uses). */
const DEFAULT_MAX_FREE_SOCKETS = 256;
/** Longest period of the headers-timeout sweep: a 100 s timeout fires within about a second of its due time. */
const MAX_SWEEP_MS = 1000;
/** Shortest period of the sweep, for the short timeouts of tests. */
const MIN_SWEEP_MS = 5;

/** "socket hang up": the connection closed before any response (node:http's error, code ECONNRESET). */
function hangUp(): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error('socket hang up');
  error.code = 'ECONNRESET';
  return error;
}

const CHUNK_END = '\r\n';
const LAST_CHUNK = '0\r\n\r\n';

/** One socket to the upstream, and the exchange it carries (none while idle). */
class Connection {
  exchange: UpstreamExchange | undefined;
  idle = false;

  /**
   * `reads`: the read buffers of a plain TCP socket, made before it (its `onread`), which deliver
   * to `onBytes`; without them (TLS) the socket's 'data' events do.
   */
  constructor(
    readonly socket: net.Socket,
    readonly pool: UpstreamPool,
    readonly reads?: ReadBuffers,
  ) {
    socket.setNoDelay?.(true);
    if (reads === undefined) socket.on('data', (bytes: Uint8Array) => this.onBytes(bytes));
    socket.on('end', () => {
      if (this.exchange) this.exchange.onEof();
      this.gone();
    });
    socket.on('error', (error: Error) => this.gone(error));
    socket.on('close', () => this.gone());
  }

  onBytes(bytes: Uint8Array): void {
    if (this.exchange) this.exchange.onBytes(bytes);
    else this.gone(); // bytes nobody asked for: the socket cannot be trusted
  }

  /** The socket is closed or closing: its exchange (if any) fails, an idle one leaves the pool. */
  gone(error?: Error): void {
    const exchange = this.exchange;
    this.exchange = undefined;
    if (this.idle) this.pool.forget(this);
    this.socket.destroy();
    exchange?.onSocketGone(error ?? hangUp());
  }
}

/**
 * One request and its response on a pooled socket. It is the request body's writable (for
 * {@link TurnWriter}: write/cork/'drain'), and the response: `response` resolves with the final
 * head, the body goes to the sink given to `attach`.
 */
export class UpstreamExchange implements TurnWritable {
  /** Resolves with this exchange once the final response head arrived; rejects when there is none. */
  readonly response: Promise<UpstreamExchange>;
  /** The final response head (set when `response` resolves). */
  head: Http1ResponseHead | undefined;
  /** When the headers timeout fires (ms since the epoch), while waiting for the head. */
  deadline = 0;
  /** This exchange's key among the pool's exchanges waiting for a head (0: not waiting). */
  waitingId = 0;
  /** Called once when the exchange is over (the response ended, or it failed or was destroyed). */
  onFinished: (() => void) | undefined;
  /** Where the response goes, for its credit: the socket reads no more than that at once (read-buffers.ts). */
  creditOf: { readonly sendCredit: number | undefined } | undefined;
  #connection: Connection | undefined;
  readonly #parser: ResponseParser;
  #resolve!: (exchange: UpstreamExchange) => void;
  #reject!: (error: Error) => void;
  #sink: ResponseBodySink | undefined;
  #pending: Uint8Array[] = [];
  #requestEnded = false;
  #responseEnded = false;
  #endDelivered = false;
  #failure: Error | undefined;
  #destroyed = false;
  #finishedAlready = false;

  constructor(
    readonly pool: UpstreamPool,
    connection: Connection,
    method: string,
    /** The socket carried an exchange before: a failure before any answer may be a stale keep-alive socket. */
    readonly reused: boolean,
    /** The request body is sent with the chunked transfer coding (RFC 9112 §7.1). */
    readonly chunked: boolean,
  ) {
    this.#connection = connection;
    this.response = new Promise<UpstreamExchange>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#parser = new ResponseParser(method, {
      onHead: (head) => {
        this.head = head;
        this.pool.unwatch(this);
        this.#resolve(this);
      },
      onData: (bytes) => this.#pending.push(bytes),
      onEnd: () => {
        this.#responseEnded = true;
      },
    });
  }

  /** The exchange is over (`onFinished` was called, or would be now). */
  get finished(): boolean {
    return this.#finishedAlready;
  }

  /** The exchange failed or was destroyed: writes are ignored and the socket is gone. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Where the response body goes; bytes already read are handed over at once. */
  attach(sink: ResponseBodySink): void {
    this.#sink = sink;
    if (this.#failure) {
      if (!this.#responseEnded) sink.abort(this.#failure);
      return;
    }
    this.#deliver();
  }

  /** The body is not wanted (HEAD, 204, 304, 205): it is read and dropped, keeping the socket reusable. */
  discard(): void {
    this.#pending = [];
    this.attach({ data: noop, end: noop, abort: noop });
  }

  /** Stop reading the upstream socket (backpressure toward the upstream). */
  pause(): void {
    this.#connection?.socket.pause();
  }

  resume(): void {
    this.#connection?.socket.resume();
  }

  /** Cancel: the socket is closed (never reused), a pending `response` rejects. */
  destroy(error?: Error): void {
    this.#fail(error ?? new Error('the upstream request was cancelled'));
  }

  // ---- the request body (TurnWritable)

  write(chunk: Uint8Array): boolean {
    const socket = this.#connection?.socket;
    if (this.#destroyed || socket === undefined) return true;
    if (!this.chunked) return socket.write(chunk);
    // A zero-size chunk would be the last-chunk (RFC 9112 §7.1): an empty piece is not sent.
    if (chunk.length === 0) return true;
    socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    socket.write(chunk);
    return socket.write(CHUNK_END, 'latin1');
  }

  /** The request body is complete. */
  end(): void {
    if (this.#destroyed || this.#requestEnded) return;
    this.#requestEnded = true;
    if (this.chunked) this.#connection?.socket.write(LAST_CHUNK, 'latin1');
    if (this.#responseEnded) this.#complete();
  }

  cork(): void {
    this.#connection?.socket.cork?.();
  }

  uncork(): void {
    this.#connection?.socket.uncork?.();
  }

  get writableLength(): number {
    return this.#connection?.socket.writableLength ?? 0;
  }

  on(event: 'drain' | 'close', listener: () => void): this {
    const socket = this.#connection?.socket;
    if (socket) socket.on(event, listener);
    else if (event === 'close') queueMicrotask(listener);
    return this;
  }

  off(event: 'drain' | 'close', listener: () => void): this {
    this.#connection?.socket.off(event, listener);
    return this;
  }

  // ---- from the connection

  /** @internal Bytes read from the socket. */
  onBytes(bytes: Uint8Array): void {
    try {
      this.#parser.push(bytes);
    } catch (error) {
      this.#fail(error as Error);
      return;
    }
    this.#afterRead();
  }

  /** @internal The upstream closed its side: a body read until close ends here. */
  onEof(): void {
    if (this.#responseEnded || this.#destroyed) return;
    if (!this.#parser.started) {
      this.#fail(hangUp());
      return;
    }
    try {
      this.#parser.finish();
    } catch (error) {
      this.#fail(error as Error);
      return;
    }
    this.#afterRead();
  }

  /** @internal The socket closed or failed. */
  onSocketGone(error: Error): void {
    if (this.#responseEnded) return;
    this.#fail(this.head === undefined ? error : new Error('the upstream closed the connection in the middle of the response'));
  }

  #afterRead(): void {
    this.#deliver();
    if (this.#responseEnded) this.#complete();
  }

  /** Hands what one read brought to the sink: one chunk, marked last when the body ended with it. */
  #deliver(): void {
    const sink = this.#sink;
    if (sink === undefined) return;
    const pending = this.#pending;
    if (pending.length > 0) {
      this.#pending = [];
      const chunk = concatBytes(pending);
      const last = this.#responseEnded;
      if (last) this.#endDelivered = true;
      sink.data(chunk, last);
    } else if (this.#responseEnded && !this.#endDelivered) {
      this.#endDelivered = true;
      sink.end();
    }
  }

  /** The response is complete: the socket goes back to the pool if both messages are done and it may persist. */
  #complete(): void {
    const connection = this.#connection;
    if (connection === undefined) return;
    this.#connection = undefined;
    connection.exchange = undefined;
    if (this.#requestEnded && this.#parser.keepAlive && !this.#destroyed) {
      connection.socket.resume();
      this.pool.release(connection);
    } else {
      // The upstream answered before the request body was sent, or will not keep the connection.
      this.#destroyed = !this.#requestEnded;
      connection.socket.destroy();
    }
    this.#finished();
  }

  #fail(error: Error): void {
    if (this.#failure || this.#responseEnded) return;
    this.#failure = error;
    this.#destroyed = true;
    this.pool.unwatch(this);
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection) {
      connection.exchange = undefined;
      connection.socket.destroy();
    }
    if (this.head === undefined) this.#reject(error);
    else this.#sink?.abort(error);
    this.#finished();
  }

  #finished(): void {
    this.#finishedAlready = true;
    const onFinished = this.onFinished;
    this.onFinished = undefined;
    onFinished?.();
  }
}

function noop(): void {}

/** Keep-alive sockets to one upstream, and the headers-timeout sweep of its exchanges. */
export class UpstreamPool {
  readonly #free: Connection[] = [];
  /** Exchanges waiting for their head, by `waitingId`: an IdTable, not a Set (@rhttp/core id-table.ts says why). */
  readonly #waiting = new IdTable<UpstreamExchange>();
  #lastWaitingId = 0;
  #sweep: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  readonly #maxFree: number;
  readonly #headersTimeoutMs: number;
  readonly #sweepMs: number;
  /** TLS server name: the host, unless it is an IP address (RFC 6066 §3: literal addresses are not sent). */
  readonly #servername: string | undefined;
  readonly #ca: string | string[] | undefined;

  constructor(
    readonly address: UpstreamAddress,
    options: UpstreamPoolOptions,
  ) {
    this.#maxFree = options.maxFreeSockets ?? DEFAULT_MAX_FREE_SOCKETS;
    this.#headersTimeoutMs = options.headersTimeoutMs;
    this.#sweepMs = Math.max(MIN_SWEEP_MS, Math.min(MAX_SWEEP_MS, Math.floor(options.headersTimeoutMs / 10)));
    this.#servername = net.isIP(address.host) === 0 ? address.host : undefined;
    this.#ca = options.ca;
  }

  /**
   * Sends a request head on an idle socket or a new one. `fields` is flat (`[name, value, …]`);
   * with `withBody` the caller writes the body to the exchange and ends it (chunked unless
   * `fields` has a Content-Length). Throws (synchronously) a head that cannot be written.
   */
  exchange(method: string, target: string, fields: readonly string[], withBody: boolean): UpstreamExchange {
    // The framing fields go on a copy: the caller's list is sent again as it is on a retry.
    let framed = fields;
    let chunked = false;
    if (withBody) {
      if (!hasField(fields, 'content-length')) {
        framed = [...fields, 'transfer-encoding', 'chunked'];
        chunked = true;
      }
    } else if (!NO_BODY_BY_DEFAULT.has(method) && !hasField(fields, 'content-length')) {
      // As node:http: a POST, PUT or PATCH without a body says so (RFC 9112 §6.3: else the upstream would wait for one).
      framed = [...fields, 'content-length', '0'];
    }
    const head = requestHead(method, target, framed);
    let connection: Connection | undefined;
    while ((connection = this.#free.pop()) !== undefined) {
      if (!connection.socket.destroyed) break;
    }
    const reused = connection !== undefined;
    if (connection === undefined) connection = this.#connect();
    connection.idle = false;
    const exchange = new UpstreamExchange(this, connection, method, reused, chunked);
    connection.exchange = exchange;
    connection.socket.write(head, 'latin1');
    if (!withBody) exchange.end();
    this.#watch(exchange);
    return exchange;
  }

  /** @internal A socket whose exchange is over and that may carry another. */
  release(connection: Connection): void {
    if (this.#closed || this.#free.length >= this.#maxFree || connection.socket.destroyed) {
      connection.socket.destroy();
      return;
    }
    connection.idle = true;
    connection.reads?.idle();
    this.#free.push(connection);
  }

  /** @internal An idle socket that closed. */
  forget(connection: Connection): void {
    connection.idle = false;
    const at = this.#free.indexOf(connection);
    if (at !== -1) this.#free.splice(at, 1);
  }

  /** @internal The exchange has its head (or failed): no more headers timeout. */
  unwatch(exchange: UpstreamExchange): void {
    // The sweep stops itself once it finds nothing to watch: stopping it here would make and clear
    // a timer per request whenever requests come one at a time.
    if (exchange.waitingId === 0) return;
    this.#waiting.delete(exchange.waitingId);
    exchange.waitingId = 0;
  }

  /** Closes the idle sockets; sockets in use close when their exchange ends. */
  close(): void {
    this.#closed = true;
    for (const connection of this.#free.splice(0)) {
      connection.idle = false;
      connection.socket.destroy();
    }
  }

  #watch(exchange: UpstreamExchange): void {
    if (exchange.head !== undefined || exchange.destroyed) return;
    exchange.deadline = Date.now() + this.#headersTimeoutMs;
    // Ids run from 1 to 2^32 - 1 and wrap; an exchange waits seconds, so a wrapped id is long free.
    this.#lastWaitingId = this.#lastWaitingId === 0xffff_ffff ? 1 : this.#lastWaitingId + 1;
    exchange.waitingId = this.#lastWaitingId;
    this.#waiting.set(exchange.waitingId, exchange);
    if (this.#sweep !== undefined) return;
    this.#sweep = setInterval(() => this.#expire(), this.#sweepMs);
    (this.#sweep as { unref?: () => void }).unref?.();
  }

  #expire(): void {
    if (this.#waiting.size === 0) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
      return;
    }
    const now = Date.now();
    for (const exchange of this.#waiting.values()) {
      if (exchange.deadline <= now) exchange.destroy(new UpstreamTimeoutError(this.#headersTimeoutMs));
    }
  }

  #connect(): Connection {
    const { host, port } = this.address;
    if (this.address.tls) return new Connection(tls.connect({ host, port, servername: this.#servername, ALPNProtocols: ['http/1.1'], ...(this.#ca === undefined ? {} : { ca: this.#ca }) }), this);
    let connection: Connection | undefined;
    const reads = new ReadBuffers(
      (bytes) => connection!.onBytes(bytes),
      () => connection?.exchange?.creditOf?.sendCredit, // the first buffer is asked for while the socket is made
    );
    connection = new Connection(net.connect({ host, port, onread: reads.onread }), this, reads);
    return connection;
  }
}

/** Methods node:http sends without a body framing when none is given (its `useChunkedEncodingByDefault` is false for them). */
const NO_BODY_BY_DEFAULT = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

function hasField(fields: readonly string[], name: string): boolean {
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i].length === name.length && fields[i].toLowerCase() === name) return true;
  }
  return false;
}
