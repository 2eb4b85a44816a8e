/**
 * Forwarding to a local upstream over HTTP/1.1 with our own client (upstream-pool.ts: node:net /
 * node:tls sockets and @rhttp/core's HTTP/1.1 codec; not `fetch`, which would decompress gzip
 * bodies and follow redirects, and a proxy must do neither; not node:http, whose per-request
 * objects and streams cost the agent more CPU than the forwarding itself). Bodies
 * stream both ways without buffering: the response head goes on as soon as the upstream's headers
 * arrive, and each body chunk is handed on as it comes (Server-Sent Events arrive event by event).
 *
 * Two entry points share the forwarding rules: `serve(stream)`, the agent's hot path, from an
 * HTTP/2 ServerStream straight to DATA frames with no Request or Response made; and
 * `fetch(request)`, the Fetch-shaped handler (ingress rules, WebSockets, `--handler` peers).
 *
 * @example
 * const upstream = new HttpUpstream('http://127.0.0.1:3000');
 * connectSocket(socket, { role: 'server', onStream: (stream) => void upstream.serve(stream) });
 * const response = await upstream.fetch(new Request('https://app.example.com/'));
 */
import { STATUS_CODES } from 'node:http';
import { connectionOptions, ErrorCode, hasNoContent, Http1Error, isHopByHop, stripHopByHopFields, unbracketHost, type HeaderField, type ServerStream, type StreamInfo } from '@rhttp/core';
import { UpstreamPool, UpstreamTimeoutError, type UpstreamExchange } from './upstream-pool.js';
import { openWebSocketUpstream } from './websocket-upstream.js';
import { TurnWriter } from '@rhttp/node/socket-streams';

/** How long the upstream may take to send its response headers (the body may take longer). Cloudflare's proxy allows 100 s. */
export const DEFAULT_UPSTREAM_HEADERS_TIMEOUT_MS = 100_000;
/**
 * Idle keep-alive sockets kept per upstream host: a burst as wide as the streams one browser
 * connection may open (100) on each of two agent connections, so that its sockets are reused
 * rather than closed and dialled again (64 closed a third of them after every burst of h2load
 * -c 10 -m 10: connect/close showed in the agent's profile); bounded so a quiet agent holds few descriptors.
 */
const MAX_FREE_UPSTREAM_SOCKETS = 256;
/**
 * Bytes the Fetch path's response body holds ahead of its reader before the upstream socket is
 * paused: one socket read. (`serve` holds no queue of its own: at most two chunks in the engine, see relayResponse.)
 */
const RESPONSE_BUFFERED_BYTES = 64 * 1024;

/** Methods safe to send again when a reused keep-alive socket turned out to be closed. */
const RETRYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Options of {@link HttpUpstream}. */
export interface HttpUpstreamOptions {
  /** Time allowed for the upstream's response headers; then the answer is 504. */
  headersTimeoutMs?: number;
}

/** Counts what one exchange of `serve` carried (the agent's metrics). */
export interface ExchangeMeter {
  /** The status answered, including the 502/504 answers made here. */
  status(code: number): void;
  /** Request body octets sent to the upstream. */
  requestBody?(octets: number): void;
  /** Response body octets handed to the HTTP/2 stream. */
  responseBody?(octets: number): void;
}

/** An HTTP/1.1 upstream that requests are forwarded to; `fetch` has the shape of an rhttp handler. */
export class HttpUpstream {
  /** The upstream's base URL, e.g. `http://127.0.0.1:3000` (a path in it prefixes every request path). */
  readonly base: URL;
  private readonly pool: UpstreamPool;
  private readonly headersTimeoutMs: number;
  private readonly basePath: string;
  /** The host to connect to, without an IPv6 literal's brackets. */
  private readonly hostname: string;

  constructor(base: string | URL, options: HttpUpstreamOptions = {}) {
    this.base = new URL(base);
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new TypeError(`the upstream must be an http:// or https:// URL, got ${JSON.stringify(String(base))}`);
    }
    if (this.base.search || this.base.hash) throw new TypeError(`the upstream URL ${this.base.href} must not have a query or fragment`);
    this.basePath = this.base.pathname.replace(/\/+$/, '');
    this.hostname = unbracketHost(this.base.hostname);
    this.headersTimeoutMs = options.headersTimeoutMs ?? DEFAULT_UPSTREAM_HEADERS_TIMEOUT_MS;
    const tls = this.base.protocol === 'https:';
    const port = this.base.port ? Number(this.base.port) : tls ? 443 : 80;
    this.pool = new UpstreamPool({ tls, host: this.hostname, port }, { headersTimeoutMs: this.headersTimeoutMs, maxFreeSockets: MAX_FREE_UPSTREAM_SOCKETS });
  }

  /** The upstream as shown in messages (no trailing slash). */
  get label(): string {
    return this.base.origin + this.basePath;
  }

  /**
   * Forward one request stream, the agent's hot path: its head becomes the upstream request, the
   * upstream's response goes back as HEADERS and DATA frames, and no Request, Response or web
   * stream is made. The response body is read from the upstream only as fast as the HTTP/2 stream
   * takes it: the socket is paused while chunks wait for flow-control credit, so at most two
   * chunks per stream are held whatever the browser does (relayResponse). Same forwarding rules as `fetch`;
   * a reset stream destroys the upstream request. Resolves when the exchange is over, never
   * rejects. Not for CONNECT (tunnels go through `fetch` or the CONNECT relay).
   */
  serve(stream: ServerStream, meter?: ExchangeMeter): Promise<void> {
    const { method, path, fields, authority } = stream.head;
    // GET and HEAD bodies are not forwarded (as on the Fetch path); their credit goes straight back.
    const withBody = !stream.received && method !== 'GET' && method !== 'HEAD';
    if (!stream.received && !withBody) stream.discard();
    let current: UpstreamExchange | undefined;
    stream.onReset = (error) => current?.destroy(error);
    return new Promise<void>((done) => {
      // The raw :path as received, under the upstream's prefix ("*" of OPTIONS * goes as it is).
      const target = path.charCodeAt(0) === 0x2f /* / */ ? this.basePath + path : path;
      this.send(method, target, forwardedRequestFields(fields, authority), withBody ? (exchange) => pumpBody(stream, exchange, meter) : undefined, !withBody, (exchange) => (current = exchange)).then(
        (exchange) => relayResponse(stream, exchange, method, meter, done),
        (error) => {
          answerFailure(stream, this.describeFailure(error), meter);
          done();
        },
      );
    });
  }

  /**
   * Forward one request. The `Host` field is the request's original authority (the origin's host),
   * not the upstream's address; `X-Forwarded-*` fields pass through. Never rejects: a failure to
   * reach the upstream is a 502 (504 on timeout) with a plain-text body saying what happened.
   */
  async fetch(request: Request, info?: Pick<StreamInfo, 'head'>): Promise<Response> {
    const url = new URL(request.url);
    // The raw :path as received (URL parsing would normalize dot segments and escapes).
    const rawPath = info?.head.path && info.head.path.startsWith('/') ? info.head.path : url.pathname + url.search;
    const authority = info?.head.authority || url.host;
    // RFC 8441: an extended CONNECT for a WebSocket becomes an HTTP/1.1 Upgrade to the upstream.
    if (info?.head.method === 'CONNECT' && info.head.protocol === 'websocket') {
      return openWebSocketUpstream(this.base, this.basePath + rawPath, authority, request, { handshakeTimeoutMs: this.headersTimeoutMs });
    }
    const headers = forwardedRequestFields(request.headers, authority);
    const body = request.body && request.method !== 'GET' && request.method !== 'HEAD' ? request.body : null;
    const signal = request.signal;
    let current: UpstreamExchange | undefined;
    const onAbort = () => current?.destroy(signal.reason instanceof Error ? signal.reason : new Error('the request was cancelled'));
    try {
      signal.throwIfAborted();
      signal.addEventListener('abort', onAbort, { once: true });
      const exchange = await this.send(request.method, this.basePath + rawPath, headers, body ? (ex) => pumpBody(body, ex) : undefined, body === null, (ex) => (current = ex));
      if (exchange.finished) signal.removeEventListener('abort', onAbort);
      else exchange.onFinished = () => signal.removeEventListener('abort', onAbort);
      return toResponse(exchange, request.method);
    } catch (error) {
      signal.removeEventListener('abort', onAbort);
      return plainError(this.describeFailure(error));
    }
  }

  /** Close idle upstream sockets (in-flight requests finish). */
  close(): void {
    this.pool.close();
  }

  /**
   * One upstream request; resolves with the exchange once its response head arrived. `sendBody`
   * writes and ends the body (none: the request ends with its head). `watch` hears each exchange
   * made (a retry makes a second), for cancellation. A request without a body is sent again,
   * once, when a reused keep-alive socket turned out to be closed and the method is safe to repeat.
   */
  private send(
    method: string,
    path: string,
    headers: string[],
    sendBody: ((exchange: UpstreamExchange) => void) | undefined,
    mayRetry: boolean,
    watch: (exchange: UpstreamExchange) => void,
  ): Promise<UpstreamExchange> {
    let exchange: UpstreamExchange;
    try {
      exchange = this.pool.exchange(method, path, headers, sendBody !== undefined);
    } catch (error) {
      return Promise.reject(error);
    }
    watch(exchange);
    if (sendBody) sendBody(exchange);
    if (!mayRetry) return exchange.response;
    return exchange.response.catch((error: NodeJS.ErrnoException) => {
      if (exchange.reused && error?.code === 'ECONNRESET' && RETRYABLE_METHODS.has(method)) {
        // The upstream closed an idle keep-alive socket just as we reused it: try a fresh one, once.
        return this.send(method, path, headers, sendBody, false, watch);
      }
      throw error;
    });
  }

  /** What to answer when the upstream could not be reached or did not answer (RFC 9209 error types). */
  private describeFailure(error: unknown): Failure {
    const e = error as NodeJS.ErrnoException;
    const at = `the upstream at ${this.label}`;
    if (e instanceof UpstreamTimeoutError) {
      return { status: 504, proxyError: 'connection_timeout', message: `${at} did not answer within ${Math.round(e.timeoutMs / 1000)} s` };
    }
    if (e instanceof Http1Error) {
      // RFC 9209 §2.3: the upstream's response could not be read as HTTP/1.1.
      const proxyError = e.code === 'head_too_large' ? 'http_response_header_section_size' : e.code === 'incomplete_message' ? 'http_response_incomplete' : 'http_protocol_error';
      return { status: 502, proxyError, message: `${at} sent a response that cannot be read: ${e.message}` };
    }
    switch (e?.code) {
      case 'ECONNREFUSED':
        return { status: 502, proxyError: 'connection_refused', message: `${at} refused the connection (is the app running?)` };
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return { status: 502, proxyError: 'dns_error', message: `${at} could not be found: the name ${this.base.hostname} does not resolve` };
      case 'ECONNRESET':
        return { status: 502, proxyError: 'connection_terminated', message: `${at} closed the connection without answering` };
      case 'ETIMEDOUT':
        return { status: 504, proxyError: 'connection_timeout', message: `${at} did not accept the connection in time` };
      default:
        return { status: 502, proxyError: 'proxy_internal_error', message: `${at} could not be reached: ${e?.message ?? String(error)}` };
    }
  }
}

/** An answer made here when the upstream failed: status, RFC 9209 error type, plain sentence. */
interface Failure {
  status: number;
  proxyError: string;
  message: string;
}

/** The fields of an answer made here: plain text with a Proxy-Status field (RFC 9209) naming this agent. */
function failureFields(failure: Failure): Record<string, string> {
  return { 'content-type': 'text/plain; charset=utf-8', 'proxy-status': `rhttp-agent; error=${failure.proxyError}` };
}

function failureText(failure: Failure): string {
  return `${failure.status} ${STATUS_CODES[failure.status]}: ${failure.message}\n`;
}

function plainError(failure: Failure): Response {
  return new Response(failureText(failure), { status: failure.status, headers: failureFields(failure) });
}

/** Answer a stream with a failure (nothing happens if the stream is gone). */
function answerFailure(stream: ServerStream, failure: Failure, meter: ExchangeMeter | undefined): void {
  meter?.status(failure.status);
  if (stream.status !== 0) {
    // The head went out already: only a reset can say the body is incomplete.
    stream.reset(ErrorCode.CANCEL);
    return;
  }
  try {
    stream.respond(failure.status, failureFields(failure));
  } catch {
    return;
  }
  stream.end(new TextEncoder().encode(failureText(failure))).catch(noop);
}

function noop(): void {}

/**
 * The request fields to send upstream, flat (`[name, value, …]`) as requestHead takes them: the
 * end-to-end fields (pseudo-header and hop-by-hop fields dropped), and `Host` set to the original
 * authority. HTTP/2 cookie crumbs are joined with "; " (RFC 9113 §8.2.3: a proxy forwarding to
 * HTTP/1.1 MUST concatenate them into one field).
 */
function forwardedRequestFields(incoming: Iterable<readonly [string, string]>, authority: string): string[] {
  const listed = connectionOptions(incoming);
  const out: string[] = ['host', authority];
  let cookie: string | undefined;
  for (const [name, value] of incoming) {
    // Trailer too: request trailers are not passed on to an HTTP/1.1 upstream.
    if (name.charCodeAt(0) === 0x3a /* : */ || name === 'host' || name === 'trailer' || isHopByHop(name, value, listed, 'http/1.1')) continue;
    if (name === 'cookie') cookie = cookie === undefined ? value : `${cookie}; ${value}`;
    else out.push(name, value);
  }
  if (cookie !== undefined) out.push('cookie', cookie);
  return out;
}

/**
 * The upstream response's end-to-end fields, names in lower case: hop-by-hop ones dropped, and
 * `Trailer`, since this relay does not pass HTTP/1.1 trailers on (it would announce fields that
 * never come).
 */
function responseFields(raw: string[]): HeaderField[] {
  const fields: HeaderField[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (name !== 'trailer') fields.push([name, raw[i + 1]]);
  }
  stripHopByHopFields(fields);
  return fields;
}

/** A status HTTP/2 cannot carry as a final response (interim 1xx are skipped by the parser; 101 and 600+ come here). */
function unforwardableStatus(status: number): Failure | undefined {
  if (status >= 200 && status <= 599) return undefined;
  return { status: 502, proxyError: 'http_protocol_error', message: `the upstream answered with status ${status}, which cannot be forwarded` };
}

function toResponse(exchange: UpstreamExchange, method: string): Response {
  const head = exchange.head!;
  const status = head.status;
  const refused = unforwardableStatus(status);
  if (refused) {
    exchange.destroy();
    return plainError(refused);
  }
  const headers = new Headers();
  for (const [name, value] of responseFields(head.rawFields)) {
    try {
      headers.append(name, value);
    } catch {
      // A field value the Fetch API refuses (e.g. a stray control character) is dropped, not fatal.
    }
  }
  if (hasNoContent(method, status)) {
    exchange.discard();
    return new Response(null, { status, statusText: head.reason, headers });
  }
  // HTTP/1.1 response trailers are dropped (rare from apps); gRPC, which needs them, will use the h2c upstream.
  return new Response(readableFrom(exchange), { status, statusText: head.reason, headers });
}

/**
 * The upstream's response onto the stream: HEADERS, then each body chunk as DATA. On HTTP/2 the
 * next chunk is read while the last one's write is unsettled, and the upstream socket is paused
 * once two are (a write settles at once within the windows and the engine's per-stream queue, so a
 * flowing body costs no pause and resume per chunk); on HTTP/3 it is paused until each write
 * settles. The bytes held for one stream are at most two socket reads, each no larger than the
 * stream's credit when it was made (at least 16 KiB), however many streams stall. The last chunk
 * carries END_STREAM, and a short response (head and body in one socket read) goes out as
 * HEADERS and one DATA frame in one write. HTTP/1.1 trailers are dropped.
 */
function relayResponse(stream: ServerStream, exchange: UpstreamExchange, method: string, meter: ExchangeMeter | undefined, done: () => void): void {
  const response = exchange.head!;
  const status = response.status;
  const refused = unforwardableStatus(status);
  if (refused) {
    exchange.destroy();
    answerFailure(stream, refused, meter);
    done();
    return;
  }
  const fields = responseFields(response.rawFields);
  let finished = false;
  /** Body writes not yet settled, and whether the upstream socket is paused until they are. */
  let unsettled = 0;
  let paused = false;
  const finish = () => {
    if (!stream.received && stream.status !== 0) {
      // RFC 9113 §8.1: after a complete response, a server MAY ask the client to stop sending the
      // request with RST_STREAM NO_ERROR; the upstream has answered and reads no more of it.
      stream.reset(ErrorCode.NO_ERROR);
    }
    done();
  };
  const fail = () => {
    finished = true;
    exchange.destroy();
    done();
  };
  const head = (endStream: boolean): boolean => {
    if (stream.status !== 0) return true;
    try {
      stream.respond(status, fields, { endStream });
    } catch {
      // A field HTTP/2 cannot carry (the HTTP/1.1 parser lets few through): the answer is a 502.
      finished = true;
      exchange.destroy();
      answerFailure(stream, { status: 502, proxyError: 'http_response_header_invalid', message: 'the upstream sent a header field that HTTP/2 cannot carry' }, meter);
      done();
      return false;
    }
    meter?.status(status);
    return true;
  };
  if (hasNoContent(method, status)) {
    exchange.discard();
    if (head(true)) done();
    return;
  }
  // Each socket read takes no more than the stream's credit (read-buffers.ts).
  exchange.creditOf = stream;
  exchange.attach({
    data(chunk, last) {
      if (finished) return;
      meter?.responseBody?.(chunk.length);
      if (!head(false)) return;
      if (last) {
        // The whole response has been read and this is its last chunk: it carries END_STREAM.
        finished = true;
        stream.end(chunk).then(finish, fail);
        return;
      }
      // The upstream is read no further than the stream takes: one chunk ahead of an unsettled
      // write where the engine bounds what it accepts (HTTP/2), none where it does not (HTTP/3).
      unsettled++;
      if (unsettled > 1 || !stream.writesBounded) {
        paused = true;
        exchange.pause();
      }
      stream.write(chunk).then(() => {
        unsettled--;
        if (paused && unsettled === 0 && !finished) {
          paused = false;
          exchange.resume();
        }
      }, fail);
    },
    end() {
      if (finished) return;
      finished = true;
      if (stream.status === 0) {
        // No body at all: the HEADERS frame ends the stream.
        if (head(true)) finish();
        return;
      }
      stream.end().then(finish, fail);
    },
    abort() {
      if (finished) return;
      // The upstream closed the connection before the end of the body: a plain END_STREAM would make it look complete.
      finished = true;
      stream.reset(ErrorCode.CANCEL);
      done();
    },
  });
  // The head goes out now even if no body comes yet (Server-Sent Events); the bytes read with the
  // head were handed over by attach, and a complete short response went out with its head.
  if (!finished && stream.status === 0) head(false);
}

/** The response body as a web stream, pausing the upstream socket while the reader is behind. */
function readableFrom(exchange: UpstreamExchange): ReadableStream<Uint8Array> {
  let finished = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        exchange.attach({
          data(chunk, last) {
            if (finished) return;
            controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
            if (last) {
              finished = true;
              controller.close();
              return;
            }
            if ((controller.desiredSize ?? 1) <= 0) exchange.pause();
          },
          end() {
            if (finished) return;
            finished = true;
            controller.close();
          },
          abort() {
            if (finished) return;
            finished = true;
            controller.error(new Error('the upstream closed the connection in the middle of the response'));
          },
        });
      },
      pull() {
        exchange.resume();
      },
      cancel() {
        finished = true;
        exchange.destroy();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: RESPONSE_BUFFERED_BYTES }),
  );
}

/**
 * Copy a request body to the upstream: a browser stream's (each chunk's credit goes back to the
 * browser as it is taken) or a Fetch Request's. The next chunk is taken only once the upstream
 * socket drained, so the browser sends no faster than the upstream reads. A failure on either
 * side destroys the upstream request (leaving the loop cancels a web stream).
 */
async function pumpBody(chunks: AsyncIterable<Uint8Array>, req: UpstreamExchange, meter?: ExchangeMeter): Promise<void> {
  const out = new TurnWriter(req);
  try {
    for await (const chunk of chunks) {
      if (req.destroyed) throw new Error('the upstream request ended');
      meter?.requestBody?.(chunk.length);
      const full = out.write(chunk);
      if (full) await full;
    }
    out.release();
    req.end();
  } catch (error) {
    out.release();
    req.destroy(error instanceof Error ? error : new Error(String(error)));
  }
}

