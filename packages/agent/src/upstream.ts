/**
 * Forwarding to a local upstream over HTTP/1.1 with `node:http` / `node:https` (not `fetch`:
 * fetch would decompress gzip bodies and follow redirects, and a proxy must do neither). Bodies
 * stream both ways without buffering: the Response is returned as soon as the upstream's headers
 * arrive, and each body chunk is handed on as it comes (Server-Sent Events arrive event by event).
 *
 * @example
 * const upstream = new HttpUpstream('http://127.0.0.1:3000');
 * const response = await upstream.fetch(new Request('https://app.example.com/'));
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { StreamInfo } from '@rhttp/core';
import { openWebSocketUpstream } from './websocket-upstream.js';

/** How long the upstream may take to send its response headers (the body may take longer). Cloudflare's proxy allows 100 s. */
export const DEFAULT_UPSTREAM_HEADERS_TIMEOUT_MS = 100_000;
/** Idle keep-alive sockets kept per upstream host: enough for bursts, bounded so a quiet agent holds few descriptors. */
const MAX_FREE_UPSTREAM_SOCKETS = 64;
/** Body chunks buffered ahead of the HTTP/2 side before the upstream socket is paused. */
const RESPONSE_BUFFERED_CHUNKS = 16;

/**
 * Hop-by-hop fields (RFC 9110 §7.6.1), plus `proxy-connection` and `keep-alive` that old clients
 * send: they describe one connection and a proxy MUST NOT forward them.
 */
const HOP_BY_HOP_FIELDS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authenticate', 'proxy-authorization']);
/** Methods safe to send again when a reused keep-alive socket turned out to be closed. */
const RETRYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Options of {@link HttpUpstream}. */
export interface HttpUpstreamOptions {
  /** Time allowed for the upstream's response headers; then the answer is 504. */
  headersTimeoutMs?: number;
  /** A `node:http(s)` Agent of your own; by default a keep-alive agent is made. */
  agent?: http.Agent;
}

/** An HTTP/1.1 upstream that requests are forwarded to; `fetch` has the shape of an rhttp handler. */
export class HttpUpstream {
  /** The upstream's base URL, e.g. `http://127.0.0.1:3000` (a path in it prefixes every request path). */
  readonly base: URL;
  private readonly agent: http.Agent;
  private readonly headersTimeoutMs: number;
  private readonly basePath: string;

  constructor(base: string | URL, options: HttpUpstreamOptions = {}) {
    this.base = new URL(base);
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new TypeError(`the upstream must be an http:// or https:// URL, got ${JSON.stringify(String(base))}`);
    }
    if (this.base.search || this.base.hash) throw new TypeError(`the upstream URL ${this.base.href} must not have a query or fragment`);
    this.basePath = this.base.pathname.replace(/\/+$/, '');
    this.headersTimeoutMs = options.headersTimeoutMs ?? DEFAULT_UPSTREAM_HEADERS_TIMEOUT_MS;
    const AgentClass = this.base.protocol === 'https:' ? https.Agent : http.Agent;
    this.agent = options.agent ?? new AgentClass({ keepAlive: true, maxFreeSockets: MAX_FREE_UPSTREAM_SOCKETS });
  }

  /** The upstream as shown in messages (no trailing slash). */
  get label(): string {
    return this.base.origin + this.basePath;
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
    const headers = requestHeaders(request.headers, authority);
    const body = request.body && request.method !== 'GET' && request.method !== 'HEAD' ? request.body : null;
    try {
      return await this.send(request, this.basePath + rawPath, headers, body, true);
    } catch (error) {
      return this.errorResponse(error);
    }
  }

  /** Close idle upstream sockets (in-flight requests finish). */
  close(): void {
    this.agent.destroy();
  }

  private send(request: Request, path: string, headers: http.OutgoingHttpHeaders, body: ReadableStream<Uint8Array> | null, mayRetry: boolean): Promise<Response> {
    const mod = this.base.protocol === 'https:' ? https : http;
    return new Promise<Response>((resolve, reject) => {
      const signal = request.signal;
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      let settled = false;
      const req = mod.request({
        protocol: this.base.protocol,
        hostname: this.base.hostname.replace(/^\[|\]$/g, ''),
        port: this.base.port || undefined,
        method: request.method,
        path,
        headers,
        agent: this.agent,
        servername: this.base.hostname,
      });
      const headersTimer = setTimeout(() => {
        req.destroy(new UpstreamTimeoutError(this.headersTimeoutMs));
      }, this.headersTimeoutMs);
      const onAbort = () => req.destroy(signal.reason instanceof Error ? signal.reason : new Error('the request was cancelled'));
      signal.addEventListener('abort', onAbort, { once: true });
      const done = () => {
        clearTimeout(headersTimer);
      };
      req.on('error', (error: NodeJS.ErrnoException) => {
        done();
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (mayRetry && req.reusedSocket && error.code === 'ECONNRESET' && RETRYABLE_METHODS.has(request.method)) {
          // The upstream closed an idle keep-alive socket just as we reused it: try a fresh one, once.
          resolve(this.send(request, path, headers, body, false));
          return;
        }
        reject(error);
      });
      req.on('response', (res) => {
        done();
        settled = true;
        res.on('close', () => signal.removeEventListener('abort', onAbort));
        resolve(toResponse(res, request.method));
      });
      if (body) void pumpRequestBody(body, req);
      else req.end();
    });
  }

  private errorResponse(error: unknown): Response {
    const e = error as NodeJS.ErrnoException;
    const at = `the upstream at ${this.label}`;
    if (e instanceof UpstreamTimeoutError) {
      return plainError(504, 'connection_timeout', `${at} did not answer within ${Math.round(e.timeoutMs / 1000)} s`);
    }
    switch (e?.code) {
      case 'ECONNREFUSED':
        return plainError(502, 'connection_refused', `${at} refused the connection (is the app running?)`);
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return plainError(502, 'dns_error', `${at} could not be found: the name ${this.base.hostname} does not resolve`);
      case 'ECONNRESET':
        return plainError(502, 'connection_terminated', `${at} closed the connection without answering`);
      case 'ETIMEDOUT':
        return plainError(504, 'connection_timeout', `${at} did not accept the connection in time`);
      default:
        return plainError(502, 'proxy_internal_error', `${at} could not be reached: ${e?.message ?? String(error)}`);
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
  return new Response(`${status} ${http.STATUS_CODES[status]}: ${message}\n`, {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'proxy-status': `rhttp-agent; error=${proxyError}` },
  });
}

/** Fields named in `Connection` are hop-by-hop too (RFC 9110 §7.6.1). */
function connectionOptions(value: string | null | undefined): Set<string> {
  const names = new Set<string>();
  if (value) for (const n of value.split(',')) if (n.trim()) names.add(n.trim().toLowerCase());
  return names;
}

function requestHeaders(incoming: Headers, authority: string): http.OutgoingHttpHeaders {
  const dropped = connectionOptions(incoming.get('connection'));
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of incoming) {
    if (HOP_BY_HOP_FIELDS.has(name) || dropped.has(name) || name === 'host') continue;
    out[name] = value;
  }
  out.host = authority;
  return out;
}

/** Statuses whose responses never have content (RFC 9110 §6.4.1), which `new Response` refuses a body for. */
const NULL_BODY_STATUSES = new Set([204, 205, 304]);

function toResponse(res: http.IncomingMessage, method: string): Response {
  const status = res.statusCode ?? 502;
  if (status < 200 || status > 599) {
    res.destroy();
    return plainError(502, 'http_protocol_error', `the upstream answered with status ${status}, which cannot be forwarded`);
  }
  const raw = res.rawHeaders;
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === 'connection') connection = (connection ? connection + ',' : '') + raw[i + 1];
  const dropped = connectionOptions(connection);
  const headers = new Headers();
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (HOP_BY_HOP_FIELDS.has(name) || dropped.has(name)) continue;
    try {
      headers.append(name, raw[i + 1]);
    } catch {
      // A field value the Fetch API refuses (e.g. a stray control character) is dropped, not fatal.
    }
  }
  const nullBody = method === 'HEAD' || NULL_BODY_STATUSES.has(status);
  if (nullBody) {
    res.resume();
    return new Response(null, { status, statusText: res.statusMessage, headers });
  }
  // HTTP/1.1 response trailers are dropped (rare from apps); gRPC, which needs them, will use the h2c upstream.
  return new Response(readableFrom(res), { status, statusText: res.statusMessage, headers });
}

/** The response body as a web stream, pausing the upstream socket while the HTTP/2 side is behind. */
function readableFrom(res: http.IncomingMessage): ReadableStream<Uint8Array> {
  let finished = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        res.on('data', (chunk: Buffer) => {
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 1) <= 0) res.pause();
        });
        res.on('end', () => {
          finished = true;
          controller.close();
        });
        res.on('error', (error) => {
          if (finished) return;
          finished = true;
          controller.error(error);
        });
        res.on('close', () => {
          if (finished) return;
          finished = true;
          controller.error(new Error('the upstream closed the connection in the middle of the response'));
        });
      },
      pull() {
        res.resume();
      },
      cancel() {
        finished = true;
        res.destroy();
      },
    },
    new CountQueuingStrategy({ highWaterMark: RESPONSE_BUFFERED_CHUNKS }),
  );
}

/** Copy the request body to the upstream, waiting for 'drain' so a fast browser cannot fill our memory. */
async function pumpRequestBody(body: ReadableStream<Uint8Array>, req: http.ClientRequest): Promise<void> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (req.destroyed) throw new Error('the upstream request ended');
      if (!req.write(value)) {
        await new Promise<void>((resolve) => {
          const go = () => {
            req.off('drain', go);
            req.off('close', go);
            resolve();
          };
          req.on('drain', go);
          req.on('close', go);
        });
      }
    }
    req.end();
  } catch (error) {
    reader.cancel(error).catch(() => {});
    req.destroy(error instanceof Error ? error : new Error(String(error)));
  }
}
