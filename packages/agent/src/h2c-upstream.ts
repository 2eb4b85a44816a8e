/**
 * Forwarding to a local upstream over cleartext HTTP/2 with prior knowledge (`h2c://host:port`,
 * RFC 9113 §3.3), with our own engine in the client role: one pooled session, opened on the first
 * request and again after it fails. Bodies stream both ways, `te: trailers` goes through, and the
 * upstream's trailers come back on the Response (`withTrailers`), so gRPC works end to end.
 * gRPC-Web requests (`application/grpc-web…`) are translated to gRPC here, where the trailers are
 * (grpc-web.ts), so any intermediary carries them as ordinary HTTP.
 *
 * @example
 * const upstream = new H2cUpstream('h2c://127.0.0.1:50051');
 * const response = await upstream.fetch(request, info);   // trailers: responseTrailers(response)
 */
import { carryTrailers, connectSocket, responseTrailers, stripHopByHop, unbracketHost, type Http2Session, type StreamInfo } from '@rhttp/core';
import { DEFAULT_UPSTREAM_HEADERS_TIMEOUT_MS } from './upstream.js';
import { grpcWebModeOf, toGrpcRequest, toGrpcWebResponse } from './grpc-web.js';
import { dialTcp } from './dial.js';

/** TCP connect budget for the upstream; a local app that does not accept within this is down. */
export const DEFAULT_UPSTREAM_CONNECT_TIMEOUT_MS = 10_000;

/** Options of {@link H2cUpstream}. */
export interface H2cUpstreamOptions {
  /** Time allowed for the upstream's response headers; then the answer is 504. */
  headersTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** An HTTP/2 (h2c) upstream; `fetch` has the shape of an rhttp handler. */
export class H2cUpstream {
  /** `h2c://host:port` as given (a path prefixes every request path). */
  readonly base: URL;
  private readonly basePath: string;
  private readonly headersTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private session: Promise<Http2Session> | undefined;
  private closed = false;

  constructor(base: string | URL, options: H2cUpstreamOptions = {}) {
    this.base = new URL(base);
    if (this.base.protocol !== 'h2c:') throw new TypeError(`the upstream must be an h2c:// URL, got ${JSON.stringify(String(base))}`);
    if (!this.base.hostname || !this.base.port) throw new TypeError(`the h2c upstream needs a host and a port, e.g. h2c://127.0.0.1:50051, got ${this.base.href}`);
    if (this.base.search || this.base.hash) throw new TypeError(`the upstream URL ${this.base.href} must not have a query or fragment`);
    this.basePath = this.base.pathname.replace(/\/+$/, '');
    this.headersTimeoutMs = options.headersTimeoutMs ?? DEFAULT_UPSTREAM_HEADERS_TIMEOUT_MS;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_UPSTREAM_CONNECT_TIMEOUT_MS;
  }

  /** The upstream as shown in messages. */
  get label(): string {
    return `h2c://${this.base.host}${this.basePath}`;
  }

  /**
   * Forward one request. `:authority` is the request's original authority (the origin's host).
   * Never rejects: a failure to reach the upstream is a 502 (504 on timeout) with a plain-text body.
   */
  async fetch(request: Request, info?: Pick<StreamInfo, 'head'>): Promise<Response> {
    const url = new URL(request.url);
    const rawPath = info?.head.path && info.head.path.startsWith('/') ? info.head.path : url.pathname + url.search;
    const authority = info?.head.authority || url.host;
    // `:authority` carries the authority (RFC 9113 §8.3.1), so Host goes too; gRPC's `TE: trailers` stays.
    const headers = new Headers(request.headers);
    headers.delete('host');
    stripHopByHop(headers);
    let body = request.body && request.method !== 'GET' && request.method !== 'HEAD' ? request.body : null;
    const grpcWeb = grpcWebModeOf(request.headers);
    const grpcRequest = grpcWeb && toGrpcRequest(headers, body, grpcWeb);
    if (grpcRequest) body = grpcRequest.body;
    let session: Http2Session;
    try {
      session = await this.connect();
    } catch (error) {
      return this.errorResponse(error);
    }
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new UpstreamTimeoutError(this.headersTimeoutMs)), this.headersTimeoutMs);
    const signal = AbortSignal.any([request.signal, timeout.signal]);
    try {
      // h2c is cleartext: `:scheme` is http whatever the browser used (X-Forwarded-Proto tells the app).
      const requestUrl = new URL(`http://${authority}`);
      const full = this.basePath + rawPath;
      const q = full.indexOf('?');
      requestUrl.pathname = q < 0 ? full : full.slice(0, q);
      requestUrl.search = q < 0 ? '' : full.slice(q);
      const { response } = await session.request({ method: request.method, url: requestUrl, headers, body, signal });
      // The body and trailers arrive later; the header timeout no longer applies.
      clearTimeout(timer);
      if (grpcWeb) return toGrpcWebResponse(response, responseTrailers(response), grpcWeb);
      if (response.body === null) return response;
      return carryTrailers(response, new Response(response.body, { status: response.status, statusText: response.statusText, headers: response.headers }));
    } catch (error) {
      if (request.signal.aborted) throw request.signal.reason;
      // The browser's base64 was broken: its request, not the upstream, is at fault (Envoy answers 400 too).
      const invalid = grpcRequest?.invalid();
      if (invalid) return plainError(400, 'http_request_error', `bad gRPC-Web request: ${invalid.message}`);
      return this.errorResponse(timeout.signal.aborted ? timeout.signal.reason : error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Close the pooled session (in-flight streams are cut). */
  close(): void {
    this.closed = true;
    const current = this.session;
    this.session = undefined;
    current?.then((s) => s.close(), () => {});
  }

  /** The pooled session, dialled again when the previous one closed or is draining (GOAWAY). */
  private async connect(): Promise<Http2Session> {
    if (this.closed) throw new Error('the upstream was closed');
    if (this.session) {
      try {
        const s = await this.session;
        if (!s.isClosed && !s.draining) return s;
      } catch {
        // The last attempt failed: try again now.
      }
    }
    const attempt = this.dial();
    this.session = attempt;
    attempt.catch(() => {
      if (this.session === attempt) this.session = undefined;
    });
    return attempt;
  }

  private dial(): Promise<Http2Session> {
    return dialTcp(unbracketHost(this.base.hostname), Number(this.base.port), this.connectTimeoutMs).then((socket) => {
      socket.on('error', () => {}); // the session sees transport errors through its close
      // RFC 9113 §3.3: prior knowledge — the client preface goes out at once, no Upgrade dance.
      return connectSocket(socket, { role: 'client' });
    });
  }

  private errorResponse(error: unknown): Response {
    const e = error as NodeJS.ErrnoException;
    const at = `the h2c upstream at ${this.label}`;
    if (e instanceof UpstreamTimeoutError) return plainError(504, 'connection_timeout', `${at} did not answer within ${Math.round(e.timeoutMs / 1000)} s`);
    switch (e?.code) {
      case 'ECONNREFUSED':
        return plainError(502, 'connection_refused', `${at} refused the connection (is the app running?)`);
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return plainError(502, 'dns_error', `${at} could not be found: the name ${this.base.hostname} does not resolve`);
      case 'ETIMEDOUT':
        return plainError(504, 'connection_timeout', `${at} did not accept the connection in time`);
      default:
        return plainError(502, 'proxy_internal_error', `${at} failed: ${e?.message ?? String(error)}`);
    }
  }
}

/** The upstream sent no response headers within the allowed time. */
class UpstreamTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no response headers within ${timeoutMs} ms`);
  }
}

/** A plain-text error answer with a Proxy-Status field (RFC 9209) naming this agent. */
function plainError(status: number, proxyError: string, message: string): Response {
  return new Response(`${status}: ${message}\n`, {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'proxy-status': `rhttp-agent; error=${proxyError}` },
  });
}
