/**
 * Transport proxying (draft-bt-httpbis-reverse-http-01 §3.1): a browser or proxy client sends
 * `CONNECT host:port` (HTTP/1.1, RFC 9110 §9.3.6; or HTTP/2, RFC 9113 §8.5) to the intermediary;
 * when host:port is in the Origin Set of some agent, the CONNECT goes down that agent's reversed
 * session and the agent relays bytes to its upstream. Any other destination is refused with 403:
 * the intermediary never becomes an open proxy.
 *
 * @example
 * const proxy = new ConnectProxy({ servedOrigins: () => intermediary.servedOrigins(), tunnel: (r, info) => registry.tunnel(r, PLAIN_CONNECT, info) });
 * http1Server.on('connect', (req, socket, head) => proxy.http1(req, socket, head));
 * // on an @rhttp/core HTTP/2 session: onStream: (stream) => stream.head.method === 'CONNECT' && void proxy.http2(stream, clientAddress)
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { bodyReaderOf, ErrorCode, originCovers, parseAuthority, parseOrigin, type Origin, type ServerStream } from '@rhttp/core';
import type { DispatchInfo } from '@rhttp/broker';
import { clientAddressOf } from './browser-exchange.js';
import { responseFields, streamBody, writeBody } from './browser-stream.js';
import { closingResponse } from './closing-response.js';
import { copyToWritable } from '@rhttp/node/socket-streams';

/** The broker's `tunnel()` protocol for a plain CONNECT: no `:protocol` pseudo-header (RFC 9113 §8.5). */
export const PLAIN_CONNECT = '';
/** Name in our own Proxy-Status members (RFC 9209). */
const PROXY_NAME = 'rhttp';
/** Bytes of a refused CONNECT's explanation we read from the agent before closing: a sentence, not a download. */
const MAX_REFUSAL_BODY = 4_096;

/** What {@link ConnectProxy} needs from the intermediary. */
export interface ConnectProxyOptions {
  /** Origins served right now (union of authorized sessions' Origin Sets). */
  servedOrigins(): readonly string[];
  /** Sends the CONNECT (a POST-like Request to `https://host:port/`) over a session serving it. */
  tunnel(request: Request, info: DispatchInfo): Promise<Response>;
}

/** Answers CONNECT requests from HTTP/1.1 and HTTP/2 clients. */
export class ConnectProxy {
  constructor(private readonly options: ConnectProxyOptions) {}

  /**
   * The origin a CONNECT destination stands for, when an agent serves it: `https://host:port`
   * first (the usual case, TLS end to end inside the tunnel), else `http://host:port`.
   */
  destination(authority: string): URL | undefined {
    let target: { host: string; port: number };
    try {
      target = parseAuthority(authority, 'https');
    } catch {
      return undefined;
    }
    const served: Origin[] = [];
    for (const text of this.options.servedOrigins()) {
      try {
        served.push(parseOrigin(text));
      } catch {
        // Not an origin we can match; the broker would not route to it either.
      }
    }
    for (const scheme of ['https', 'http'] as const) {
      if (served.some((o) => originCovers(o, { scheme, ...target }))) return new URL(`${scheme}://${target.host}:${target.port}/`);
    }
    return undefined;
  }

  /** node:http's `'connect'` event: `req.url` is the authority-form target (RFC 9112 §3.2.3). */
  async http1(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => {});
    const controller = new AbortController();
    socket.once('close', () => controller.abort(new Error('the client closed the tunnel')));
    const authority = req.url ?? '';
    const url = this.destination(authority);
    if (!url) {
      writeHttp1Refusal(socket, refusal(403, 'http_request_denied', `${authority} is not an origin served here; this is not an open proxy`));
      return;
    }
    const body = bodyFromSocket(socket, head);
    const userAgent = req.headers['user-agent'];
    const response = await this.send(url, typeof userAgent === 'string' ? userAgent : undefined, body, '1.1', clientAddressOf(req), controller.signal);
    if (!response) return;
    if (response.status < 200 || response.status >= 300) {
      writeHttp1Refusal(socket, response);
      return;
    }
    // RFC 9110 §9.3.6: a 2xx means the tunnel is open; the connection is the tunnel from here on.
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    await pipeToWritable(response.body, socket, () => socket.end());
  }

  /**
   * A plain CONNECT stream on an HTTP/2 browser session (RFC 9113 §8.5): `:authority` is the
   * destination; DATA frames both ways are the tunnel, with the stream's flow control as backpressure.
   */
  async http2(stream: ServerStream, clientAddress: string): Promise<void> {
    const controller = new AbortController();
    stream.onReset = () => controller.abort(new Error('the client closed the tunnel'));
    const authority = stream.head.authority;
    const url = this.destination(authority);
    if (!url) {
      await writeHttp2Response(stream, refusal(403, 'http_request_denied', `${authority} is not an origin served here; this is not an open proxy`));
      return;
    }
    const response = await this.send(url, stream.header('user-agent'), streamBody(stream), '2', clientAddress, controller.signal);
    if (!response) return;
    if (response.status < 200 || response.status >= 300) {
      await writeHttp2Response(stream, response);
      return;
    }
    stream.respond(200);
    if (response.body === null) await stream.end().catch(() => {});
    else await writeBody(stream, bodyReaderOf(response.body), { signal: controller.signal, failure: ErrorCode.CANCEL });
  }

  /** Dispatch through the broker; undefined when the client left meanwhile. */
  private async send(url: URL, userAgent: string | undefined, body: ReadableStream<Uint8Array>, httpVersion: '1.1' | '2', clientAddress: string, signal: AbortSignal): Promise<Response | undefined> {
    // Nothing of the CONNECT's own fields is forwarded but User-Agent (Proxy-Authorization is addressed to us, RFC 9110 §11.7.2).
    const headers = new Headers();
    if (userAgent !== undefined) headers.set('user-agent', userAgent);
    const request = new Request(url, { method: 'POST', headers, body, signal, duplex: 'half', redirect: 'manual' } as RequestInit);
    try {
      return await this.options.tunnel(request, { clientAddress, scheme: 'http', httpVersion, signal });
    } catch (error) {
      if (signal.aborted) return undefined;
      return refusal(502, 'proxy_internal_error', error instanceof Error ? error.message : String(error));
    }
  }
}

function refusal(status: number, error: string, details: string): Response {
  return new Response(`${status} ${STATUS_CODES[status] ?? ''}: ${details}\n`, {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'proxy-status': `${PROXY_NAME}; error=${error}; details=${JSON.stringify(details)}` },
  });
}

async function limitedText(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_REFUSAL_BODY) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch {
    // A body that fails is a shorter explanation.
  } finally {
    reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, MAX_REFUSAL_BODY).toString('utf8');
}

/** A refusal on a raw HTTP/1.1 socket, then close (the tunnel never opened). */
async function writeHttp1Refusal(socket: Duplex, response: Response): Promise<void> {
  const text = await limitedText(response);
  socket.end(closingResponse(response.status, text, [...response.headers]));
}

/** A refusal on an HTTP/2 CONNECT stream: the tunnel never opened. */
async function writeHttp2Response(stream: ServerStream, response: Response): Promise<void> {
  const text = await limitedText(response);
  try {
    stream.respond(response.status, responseFields(response.headers, new Set(['content-length'])));
    await stream.end(new TextEncoder().encode(text));
  } catch {
    stream.reset(ErrorCode.INTERNAL_ERROR);
  }
}

/** The client's bytes as a web stream: what node read past the CONNECT line first, then the socket (paused while the agent is behind). */
function bodyFromSocket(socket: Duplex, head: Buffer): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (head.length > 0) controller.enqueue(new Uint8Array(head));
      socket.on('data', (chunk: Buffer) => {
        controller.enqueue(new Uint8Array(chunk));
        if ((controller.desiredSize ?? 1) <= 0) socket.pause();
      });
      socket.once('end', () => {
        try {
          controller.close();
        } catch {
          // already closed or errored
        }
      });
      socket.once('close', () => {
        try {
          controller.close();
        } catch {
          // already closed
        }
      });
    },
    pull() {
      socket.resume();
    },
    cancel() {
      socket.destroy();
    },
  });
}

/** Copies the agent's bytes to the client, honouring 'drain'; `end` when the agent's side ends. */
async function pipeToWritable(body: ReadableStream<Uint8Array> | null, out: Duplex, end: () => void): Promise<void> {
  if (!body) {
    end();
    return;
  }
  const reader = body.getReader();
  try {
    if (await copyToWritable(reader, out)) end();
  } catch {
    reader.cancel().catch(() => {});
    out.destroy();
  }
}
