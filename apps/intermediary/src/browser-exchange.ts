/**
 * One browser request/response on a node:http or node:http2 listener, turned into a web
 * `Request` and answered with a web `Response`, both streaming: the request body is read as the
 * origin consumes it, each response chunk is written as it arrives (Server-Sent Events arrive
 * event by event), and a response body that fails midway destroys the browser's stream so the
 * failure is visible rather than a truncated success.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Http2ServerResponse, type Http2ServerRequest } from 'node:http2';
import { Readable } from 'node:stream';
import { responseTrailers } from '@rhttp/core';

/** What the answering function learns besides the Request. */
export interface ExchangeInfo {
  /** The browser's IP address (IPv4-mapped IPv6 shown as IPv4), empty when unknown. */
  clientAddress: string;
  scheme: 'http' | 'https';
  httpVersion: '1.0' | '1.1' | '2';
  /** Aborts when the browser goes away before the response is complete (the Request's own `signal` does not). */
  signal: AbortSignal;
  /** The authority the browser asked for (Host / :authority), kept for X-Forwarded-Host and Forwarded when routing rewrote the URL. */
  host?: string;
}

/**
 * Answers one request; should not reject except when `info.signal` aborted. The optional
 * properties are hooks the exchange calls on its hot path, so that the answering side needs no
 * second Request or extra stream layer of its own.
 */
export type Answer = ((request: Request, info: ExchangeInfo) => Promise<Response>) & ExchangeHooks;

/** Optional hooks of an {@link Answer}. */
export interface ExchangeHooks {
  /** Chooses the URL the Request is built with (e.g. the cleartext listener standing in for https origins); called once per request. */
  route?: (url: URL, scheme: 'http' | 'https') => URL;
  /** Called with the size of each request body chunk read from the browser. */
  requestBytes?: (bytes: number) => void;
  /** Called with the size of each response body chunk written to the browser. */
  responseBytes?: (bytes: number) => void;
  /**
   * Admission of one exchange from `clientAddress`: returns the release to call when the exchange
   * ends, or a Response that refuses it (a per-client budget).
   */
  admit?: (clientAddress: string) => (() => void) | Response;
}

type NodeRequest = IncomingMessage | Http2ServerRequest;
type NodeResponse = ServerResponse | Http2ServerResponse;

/**
 * Connection-specific fields: RFC 9113 §8.2.2 forbids them in HTTP/2 (node:http2 throws on
 * them) and node:http manages its own framing. The broker strips hop-by-hop fields already;
 * this is the last line of defence at the socket.
 */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
/** Statuses whose responses never have content (RFC 9110 §6.4.1). */
const NULL_BODY_STATUSES = new Set([204, 205, 304]);
/** Characters that cannot appear in an authority we forward (they would change the URL's meaning). */
const BAD_AUTHORITY = /[\s/\\?#@]/;

/** An error answered to the browser directly, before anything reached the broker. */
function plainResponse(status: number, text: string): Response {
  return new Response(`${text}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });
}

/** The browser's address without the IPv4-mapped prefix. */
export function clientAddressOf(req: NodeRequest): string {
  const address = req.socket?.remoteAddress ?? '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * Builds the URL from the listener's scheme and `:authority` (HTTP/2) or `Host` (HTTP/1.1), or
 * the absolute-form target (RFC 9112 §3.2.2: then Host is ignored). Returns a string saying
 * what is wrong instead when the request cannot be addressed.
 */
export function requestUrl(req: NodeRequest, scheme: 'http' | 'https'): URL | string {
  const target = req.url ?? '';
  const headers = req.headers as Record<string, string | string[] | undefined>;
  if (/^https?:\/\//i.test(target)) {
    try {
      const absolute = new URL(target);
      return new URL(`${scheme}://${absolute.host}${absolute.pathname}${absolute.search}`);
    } catch {
      return `the request target ${JSON.stringify(target.slice(0, 100))} is not a valid URL`;
    }
  }
  if (!target.startsWith('/')) return `the request target ${JSON.stringify(target.slice(0, 100))} is not supported here (origin-form "/path" expected)`;
  const authority = first(headers[':authority']) ?? first(headers.host);
  if (authority === undefined || authority === '') return 'the request has no Host header (or :authority), so it cannot be routed to an origin';
  if (BAD_AUTHORITY.test(authority)) return `the Host ${JSON.stringify(authority.slice(0, 100))} is not a valid authority`;
  try {
    return new URL(`${scheme}://${authority}${target}`);
  } catch {
    return `the Host ${JSON.stringify(authority.slice(0, 100))} or the target is not valid`;
  }
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** True when the browser sends (or may send) a request body. */
function hasBody(req: NodeRequest, http2: boolean): boolean {
  if (http2) return !(req as Http2ServerRequest).stream.endAfterHeaders;
  const h = req.headers;
  return h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
}

/**
 * Converts the node request to a web Request (streaming body). With `signal`, the Request's own
 * signal follows it; without, the Request has none of its own that aborts (cheaper: undici ties
 * a followed signal to the Request with listeners and a finalizer) and the caller tells of the
 * browser leaving some other way (ExchangeInfo.signal).
 */
export function toWebRequest(req: NodeRequest, url: URL, signal?: AbortSignal, countBytes?: (bytes: number) => void): Request {
  const http2 = req.httpVersionMajor === 2;
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i];
    if (name.startsWith(':')) continue; // HTTP/2 pseudo-header fields are not header fields
    try {
      headers.append(name, raw[i + 1]);
    } catch {
      // A field the Fetch API cannot hold (node already rejected anything invalid on the wire).
    }
  }
  const method = req.method ?? 'GET';
  const bodyless = method === 'GET' || method === 'HEAD' || !hasBody(req, http2);
  if (bodyless) req.resume(); // the Fetch API cannot carry a GET body; let node discard it
  const body = bodyless ? null : (Readable.toWeb(req as Readable) as unknown as ReadableStream<Uint8Array>);
  // Counted on node's side: a second 'data' listener sees every chunk, no extra stream layer.
  if (body && countBytes) req.on('data', (chunk: Buffer) => countBytes(chunk.byteLength));
  const init = { method, headers, body, duplex: 'half', redirect: 'manual' } as RequestInit;
  if (signal) init.signal = signal;
  return new Request(url, init);
}

/** Waits until `res` can take more data, or is gone. */
function drained(res: NodeResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Node-style header object from a Response's headers (Set-Cookie kept as separate lines). */
function nodeHeaders(headers: Headers): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  headers.forEach((value, name) => {
    if (name === 'set-cookie' || CONNECTION_SPECIFIC.has(name)) return;
    out[name] = value;
  });
  const cookies = headers.getSetCookie();
  if (cookies.length > 0) out['set-cookie'] = cookies;
  return out;
}

/**
 * Passes the origin's trailers (gRPC's status) on: HTTP/2 browsers always get them; HTTP/1.1 ones
 * only when they said `TE: trailers` (RFC 9110 §6.5.1) and the body is chunked (node drops them
 * otherwise).
 */
function addTrailers(req: NodeRequest, res: NodeResponse, trailers: Headers): void {
  const fields: Record<string, string> = {};
  let any = false;
  trailers.forEach((value, name) => {
    if (CONNECTION_SPECIFIC.has(name)) return;
    fields[name] = value;
    any = true;
  });
  if (!any || res.destroyed) return;
  if (req.httpVersionMajor !== 2) {
    const te = (req.headers.te ?? '').toString().toLowerCase();
    if (!te.split(',').some((t) => t.trim().split(';')[0] === 'trailers')) return;
  }
  try {
    res.addTrailers(fields);
  } catch {
    // A field node refuses in trailers: the body is complete, drop them rather than the response.
  }
}

/**
 * Serves one exchange: builds the Request, asks `answer`, writes the Response back streaming.
 * Never throws; failures end in an error status or a destroyed stream.
 */
export async function serveExchange(req: NodeRequest, res: NodeResponse, scheme: 'http' | 'https', answer: Answer): Promise<void> {
  const controller = new AbortController();
  const clientAddress = clientAddressOf(req);
  const admitted = answer.admit?.(clientAddress);
  res.once('close', () => {
    if (typeof admitted === 'function') admitted();
    if (!res.writableFinished) controller.abort(new Error('the browser went away before the response was complete'));
  });
  const httpVersion = req.httpVersionMajor === 2 ? '2' : req.httpVersion === '1.0' ? '1.0' : '1.1';
  if (httpVersion === '2') {
    // Rapid Reset (CVE-2023-44487): a stream reset in the same read as its HEADERS must never
    // reach an agent. node reports the reset within the I/O turn that read it; one turn later we know.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if ((req as Http2ServerRequest).aborted || controller.signal.aborted) {
      req.resume();
      return;
    }
  }
  let response: Response;
  const url = requestUrl(req, scheme);
  if (admitted instanceof Response) {
    req.resume();
    response = admitted;
  } else if (typeof url === 'string') {
    req.resume();
    response = plainResponse(400, `Bad request: ${url}.`);
  } else {
    try {
      // The browser leaving is told by info.signal: the Request gets no signal to follow.
      const request = toWebRequest(req, answer.route ? answer.route(url, scheme) : url, undefined, answer.requestBytes);
      response = await answer(request, { clientAddress, scheme, httpVersion, signal: controller.signal, host: url.host });
    } catch (error) {
      if (controller.signal.aborted) return; // the browser left; nobody to answer
      response = plainResponse(502, `Bad gateway: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  await writeResponse(req, res, response, controller.signal, answer.responseBytes);
}

/** Writes status, headers and the streaming body; destroys the browser's stream if the body fails. */
async function writeResponse(req: NodeRequest, res: NodeResponse, response: Response, signal: AbortSignal, countBytes?: (bytes: number) => void): Promise<void> {
  const body = response.body;
  if (res.destroyed || signal.aborted) {
    await body?.cancel().catch(() => {});
    return;
  }
  const bodyless = body === null || req.method === 'HEAD' || NULL_BODY_STATUSES.has(response.status);
  try {
    if (bodyless) {
      // Status and fields go out with end(): on HTTP/2 one HEADERS frame with END_STREAM, the shape
      // of a gRPC trailers-only response (writeHead would send HEADERS at once, then an empty DATA).
      res.statusCode = response.status;
      for (const [name, value] of Object.entries(nodeHeaders(response.headers))) res.setHeader(name, value);
    } else {
      (res as ServerResponse).writeHead(response.status, nodeHeaders(response.headers));
    }
  } catch (error) {
    await body?.cancel().catch(() => {});
    res.destroy(error instanceof Error ? error : new Error(String(error)));
    return;
  }
  if (bodyless) {
    await body?.cancel().catch(() => {});
    res.end();
    return;
  }
  // Headers go out now, not with the first chunk: a stream that starts late (SSE) shows its status
  // at once. (node:http2's writeHead already sends HEADERS.)
  if (!(res instanceof Http2ServerResponse)) res.flushHeaders();
  const reader = body.getReader();
  const onAbort = () => {
    reader.cancel(signal.reason).catch(() => {});
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (res.destroyed) return;
      countBytes?.(value.byteLength);
      if (!(res as ServerResponse).write(value)) await drained(res);
    }
    addTrailers(req, res, await responseTrailers(response));
    res.end();
  } catch (error) {
    if (signal.aborted || res.destroyed) return;
    // The origin's body failed midway: a plain end() would look like a complete response. Destroying
    // resets the HTTP/2 stream (RST_STREAM) or closes the HTTP/1.1 connection before the last chunk.
    res.destroy(error instanceof Error ? error : new Error(String(error)));
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
