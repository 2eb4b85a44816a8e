/**
 * One browser request/response, the same rules on every listener: the URL from the listener's
 * scheme and the authority, the per-client admission, routing, the answer, byte counts. Two
 * front ends share them (`answerExchange`): HTTP/1.1 on core's RequestParser (http1-server.ts) and
 * @rhttp/core's ServerStream for HTTP/2 and HTTP/3 (`serveStream`, browser-stream.ts). Both stream: the
 * request body is read as the origin consumes it, each response chunk is written as it arrives
 * (Server-Sent Events arrive event by event), and a response body that fails midway resets the
 * browser's stream (or closes its HTTP/1.1 connection) so the failure is visible rather than a
 * truncated success.
 */
import type { IncomingMessage } from 'node:http';
import { bytesBody, ErrorCode, hasNoContent, type HeaderField, type ResponseMessage, type ServerStream } from '@rhttp/core';
import { Abort, requestOrigin, type AbortSignalLike, type ForwardRequest, type ParsedOrigin } from '@rhttp/broker';
import { setAltSvc } from './alt-svc.js';
import { streamBody, writeBody } from './browser-stream.js';

/** What the answering function learns besides the Request. */
export interface ExchangeInfo {
  /** The browser's IP address (IPv4-mapped IPv6 shown as IPv4), empty when unknown. */
  clientAddress: string;
  scheme: 'http' | 'https';
  httpVersion: '1.0' | '1.1' | '2' | '3';
  /** Aborts when the browser goes away before the response is complete (an `Abort`, not a web AbortSignal: one is made per exchange). */
  signal: AbortSignalLike;
  /** The authority the browser asked for (Host / :authority), kept for X-Forwarded-Host and Forwarded when routing rewrote the URL. */
  host?: string;
}

/**
 * Answers one request; should not reject except when `info.signal` aborted. The optional
 * properties are hooks the exchange calls on its hot path, so that the answering side needs no
 * second Request or extra stream layer of its own.
 */
export type Answer = ((request: ListenerRequest, info: ExchangeInfo) => Promise<ResponseMessage>) & ExchangeHooks;

/**
 * A browser request as a listener hands it on: the URL and its origin parsed (and routed) once,
 * here, and read as those objects by every later hop; no web Request is built for it (the broker
 * takes this shape).
 */
export interface ListenerRequest extends ForwardRequest {
  readonly url: URL;
  /** `requestOrigin(url)`, as routing found it (undefined only when the URL has no http or https origin). */
  readonly origin: ParsedOrigin | undefined;
}

/** A URL as routing chose it, with its origin (`requestOrigin(url)`), parsed once for every later hop. */
export interface RoutedUrl {
  readonly url: URL;
  readonly origin: ParsedOrigin | undefined;
}

/** Optional hooks of an {@link Answer}. */
export interface ExchangeHooks {
  /**
   * Chooses the URL the request is built with (e.g. the cleartext listener standing in for https
   * origins) and returns it with its origin, which routing parses anyway; called once per request.
   * Without it the URL is used as is and its origin parsed here.
   */
  route?: (url: URL, scheme: 'http' | 'https') => RoutedUrl;
  /** Called with the size of each request body chunk read from the browser. */
  requestBytes?: (bytes: number) => void;
  /** Called with the size of each response body chunk written to the browser. */
  responseBytes?: (bytes: number) => void;
  /**
   * Admission of one exchange from `clientAddress`: returns the release to call when the exchange
   * ends, or the response that refuses it (a per-client budget).
   */
  admit?: (clientAddress: string) => (() => void) | ResponseMessage;
  /**
   * The `Alt-Svc` field value to send with this exchange's response (alt-svc.ts decides which
   * listeners advertise what), or undefined for none. Replaces any the origin sent.
   */
  alternatives?: (info: ExchangeInfo) => string | undefined;
}

/** Characters that cannot appear in an authority we forward (they would change the URL's meaning). */
const BAD_AUTHORITY = /[\s/\\?#@]/;

/** An error answered to the browser directly, before anything reached the broker. */
function plainResponse(status: number, text: string): ResponseMessage {
  return { status, fields: [['content-type', 'text/plain; charset=utf-8'], ['cache-control', 'no-store']], body: bytesBody(new TextEncoder().encode(`${text}\n`)), trailers: undefined };
}

/** A socket's peer address without the IPv4-mapped prefix: the browser's address. */
export function clientAddress(remoteAddress: string | undefined): string {
  const address = remoteAddress ?? '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** The address of the browser that sent a node:http request. */
export function clientAddressOf(req: IncomingMessage): string {
  return clientAddress(req.socket?.remoteAddress);
}

/**
 * Builds the URL from the listener's scheme and `authority` (`:authority` on HTTP/2 and HTTP/3,
 * `Host` on HTTP/1.1) and the request target, or the absolute-form target (RFC 9112 §3.2.2: then Host is
 * ignored). Returns a string saying what is wrong instead when the request cannot be addressed.
 */
export function requestUrl(target: string, authority: string | undefined, scheme: 'http' | 'https'): URL | string {
  if (/^https?:\/\//i.test(target)) {
    try {
      const absolute = new URL(target);
      return new URL(`${scheme}://${absolute.host}${absolute.pathname}${absolute.search}`);
    } catch {
      return `the request target ${JSON.stringify(target.slice(0, 100))} is not a valid URL`;
    }
  }
  if (!target.startsWith('/')) return `the request target ${JSON.stringify(target.slice(0, 100))} is not supported here (origin-form "/path" expected)`;
  if (authority === undefined || authority === '') return 'the request has no Host header (or :authority), so it cannot be routed to an origin';
  if (BAD_AUTHORITY.test(authority)) return `the Host ${JSON.stringify(authority.slice(0, 100))} is not a valid authority`;
  try {
    return new URL(`${scheme}://${authority}${target}`);
  } catch {
    return `the Host ${JSON.stringify(authority.slice(0, 100))} or the target is not valid`;
  }
}

/** An HTTP/2 or HTTP/3 request's regular fields as received (the block after its pseudo-header fields), read as they are. */
function requestFieldList(stream: ServerStream): readonly HeaderField[] {
  const fields = stream.head.fields;
  let first = 0;
  while (first < fields.length && fields[first][0].charCodeAt(0) === 0x3a /* : */) first++;
  return first === 0 ? fields : fields.slice(first);
}

/** The authority of an HTTP/2 or HTTP/3 request as the browser sent it: `:authority`, else `Host` (RFC 9113 §8.3.1, RFC 9114 §4.3.1); undefined when neither. */
export function streamAuthority(stream: ServerStream): string | undefined {
  return stream.header(':authority') ?? stream.header('host');
}

/** One request as every front end hands it to {@link answerExchange}. */
export interface ExchangeSource {
  method: string;
  /** The request target (HTTP/1.1) or `:path` (HTTP/2, HTTP/3). */
  target: string;
  /** `Host` or `:authority`; undefined when the browser sent none. */
  authority: string | undefined;
  /** Builds the request (with its body) for the routed URL and its origin; called at most once. */
  request(url: URL, origin: ParsedOrigin | undefined): ListenerRequest;
  /** Drops the request body: the exchange is answered without it reaching the broker. */
  discard(): void;
}

/**
 * The rules every listener shares: a refused admission answers as it is, an unaddressable request
 * gets 400, the URL is routed (`answer.route`), the Request built once and answered; an answer that
 * fails becomes 502. Whatever the answer, it carries the listener's alternative services
 * (`answer.alternatives`, alt-svc.ts). Undefined when the browser left meanwhile (nobody to answer).
 */
export async function answerExchange(answer: Answer, source: ExchangeSource, admitted: (() => void) | ResponseMessage | undefined, info: ExchangeInfo): Promise<ResponseMessage | undefined> {
  let response: ResponseMessage;
  const url = admitted === undefined || typeof admitted === 'function' ? requestUrl(source.target, source.authority, info.scheme) : undefined;
  if (url === undefined || typeof url === 'string') {
    source.discard();
    response = url === undefined ? (admitted as ResponseMessage) : plainResponse(400, `Bad request: ${url}.`);
  } else {
    info.host = url.host;
    try {
      // The origin is parsed once, here or by routing, and carried with the request to the broker.
      const routed = answer.route?.(url, info.scheme) ?? { url, origin: requestOrigin(url) };
      response = await answer(source.request(routed.url, routed.origin), info);
    } catch (error) {
      if (info.signal.aborted) return undefined; // the browser left; nobody to answer
      response = plainResponse(502, `Bad gateway: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const alternatives = answer.alternatives?.(info);
  if (alternatives !== undefined) setAltSvc(response.fields, alternatives);
  return response;
}

// ------------------------------------------------------------------ HTTP/2 and HTTP/3 on @rhttp/core

/**
 * Serves one HTTP/2 or HTTP/3 exchange on a ServerStream (both engines hand out the same class): the same rules as HTTP/1.1's, with the
 * response written by `respond` / `write` / `end` (browser-stream.ts). The browser resetting the
 * stream aborts the exchange's signal, so the broker cancels the reversed stream. `headersEnded`
 * is `stream.received` as `onStream` saw it: whether the HEADERS frame itself ended the request
 * (END_STREAM), since a whole body may have arrived by the time the exchange is dispatched.
 * Never throws.
 */
export async function serveStream(stream: ServerStream, headersEnded: boolean, scheme: 'http' | 'https', answer: Answer, address: string, httpVersion: '2' | '3' = '2'): Promise<void> {
  const browserGone = new Abort();
  stream.onReset = (error) => browserGone.abort(error);
  const { method } = stream.head;
  // The Fetch API cannot carry a GET or HEAD body; without END_STREAM on HEADERS, one may follow.
  const withBody = !headersEnded && method !== 'GET' && method !== 'HEAD';
  const admitted = answer.admit?.(address);
  if (typeof admitted === 'function') void stream.closed.then(admitted);
  let bodyCancelled = false;
  const info: ExchangeInfo = { clientAddress: address, scheme, httpVersion, signal: browserGone };
  const response = await answerExchange(
    answer,
    {
      method,
      target: stream.head.path,
      authority: streamAuthority(stream),
      request(url, origin) {
        if (!withBody) stream.discard();
        const body = withBody ? streamBody(stream, answer.requestBytes, () => (bodyCancelled = true)) : null;
        return { method, url, origin, headers: requestFieldList(stream), body };
      },
      discard: () => stream.discard(),
    },
    admitted,
    info,
  );
  if (!response) return;
  await respondTo(stream, method, response, browserGone, answer.responseBytes);
  // RFC 9113 §8.1: a server that answered before the request was complete, and will not read the
  // rest, asks the client to stop with RST_STREAM(NO_ERROR) after its response (RFC 9114 §4.1:
  // on HTTP/3, STOP_SENDING with H3_NO_ERROR; core maps the code and sends no RESET_STREAM after the FIN).
  if (bodyCancelled && !stream.received) stream.reset(ErrorCode.NO_ERROR);
}

/**
 * Writes a response to a ServerStream. HEAD, 204/205/304 and bodiless answers (a gRPC
 * trailers-only response) go as one HEADERS frame with END_STREAM; otherwise HEADERS at once
 * (a late-starting body such as SSE shows its status), the body with backpressure, then the
 * trailers the agent sent (gRPC's status). A body that fails midway resets the stream.
 */
async function respondTo(stream: ServerStream, method: string, response: ResponseMessage, signal: AbortSignalLike, countBytes?: (bytes: number) => void): Promise<void> {
  const body = response.body;
  if (signal.aborted) {
    body?.cancel();
    return;
  }
  const bodyless = body === null || hasNoContent(method, response.status);
  try {
    stream.respond(response.status, response.fields, bodyless ? { endStream: true } : undefined);
  } catch {
    // A field HTTP/2 or HTTP/3 cannot carry: no response at all rather than a wrong one.
    body?.cancel();
    stream.reset(ErrorCode.INTERNAL_ERROR);
    return;
  }
  if (bodyless) {
    body?.cancel();
    return;
  }
  await writeBody(stream, body, { signal, countBytes, trailers: () => response.trailers });
}
