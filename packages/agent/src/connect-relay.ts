/**
 * The agent's end of transport proxying (draft-bt-httpbis-reverse-http-01 §3.1): a plain CONNECT
 * (RFC 9113 §8.5) arriving on the reversed session for a destination in our Origin Set opens a
 * TCP connection to the upstream and relays bytes both ways. Whatever runs inside (usually TLS
 * from the browser, end to end to the upstream) is never looked at.
 *
 * Mapping: `CONNECT host:port` is served when `https://host:port` (or `http://host:port`) is
 * covered by one of our origins; the TCP connection then goes to the **upstream's** host and port
 * (`--upstream https://127.0.0.1:8443` → 127.0.0.1:8443), never to the name in the request, so a
 * CONNECT cannot reach anything the agent was not told to serve.
 *
 * @example
 * const relay = new ConnectRelay(['https://app.example.com'], { host: '127.0.0.1', port: 8443 });
 * // in a handler, for info.head.method === 'CONNECT' && !info.head.protocol:
 * return relay.open(request, info);
 */
import type * as net from 'node:net';
import { originCovers, parseAuthority, parseOrigin, unbracketHost, type Origin, type StreamInfo } from '@rhttp/core';
import { pumpToSocket, readableFromSocket } from '@rhttp/node/socket-streams';
import { dialTcp } from './dial.js';

/** TCP connect budget toward the upstream; the browser's proxy client is waiting for the 200. */
export const DEFAULT_RELAY_CONNECT_TIMEOUT_MS = 10_000;
/** Chunks read from the upstream socket ahead of the HTTP/2 stream before the socket is paused. */
const RELAY_BUFFERED_CHUNKS = 16;

/** Where relayed connections go. */
export interface RelayTarget {
  host: string;
  port: number;
}

/** True for a plain CONNECT (not an RFC 8441 extended CONNECT, which has `:protocol`). */
export function isPlainConnect(info: Pick<StreamInfo, 'head'> | undefined): boolean {
  return info?.head.method === 'CONNECT' && !info.head.protocol;
}

/** The upstream's TCP address for relayed connections: host and port of an http/https/h2c URL. */
export function relayTargetOf(upstream: URL): RelayTarget {
  const defaults: Record<string, number> = { 'http:': 80, 'https:': 443 };
  const port = upstream.port ? Number(upstream.port) : defaults[upstream.protocol];
  if (!port) throw new TypeError(`the upstream ${upstream.href} has no port to relay CONNECT tunnels to`);
  return { host: unbracketHost(upstream.hostname), port };
}

/** Opens CONNECT tunnels to one upstream, for destinations in an Origin Set. */
export class ConnectRelay {
  private readonly origins: Origin[];

  constructor(origins: readonly string[], private readonly target: RelayTarget, private readonly connectTimeoutMs = DEFAULT_RELAY_CONNECT_TIMEOUT_MS) {
    this.origins = origins.map((o) => parseOrigin(o));
  }

  /** Is `authority` (`host:port`) a destination we serve? */
  serves(authority: string): boolean {
    let destination: { host: string; port: number };
    try {
      destination = parseAuthority(authority, 'https');
    } catch {
      return false;
    }
    return this.origins.some((o) => originCovers(o, { scheme: 'https', ...destination }) || originCovers(o, { scheme: 'http', ...destination }));
  }

  /**
   * Answer a CONNECT: 200 and the relayed bytes as the body, or 403 (not our destination) / 502
   * (the upstream refused) with Proxy-Status (RFC 9209). Never rejects.
   */
  async open(request: Request, info: Pick<StreamInfo, 'head'>): Promise<Response> {
    const authority = info.head.authority;
    if (!this.serves(authority)) {
      request.body?.cancel().catch(() => {});
      return refusal(403, 'http_request_denied', `${authority} is not in this agent's origin set`);
    }
    let socket: net.Socket;
    try {
      socket = await this.dial();
    } catch (error) {
      request.body?.cancel().catch(() => {});
      const e = error as NodeJS.ErrnoException;
      const code = e.code === 'ECONNREFUSED' ? 'connection_refused' : e.code === 'ETIMEDOUT' ? 'connection_timeout' : 'destination_unavailable';
      return refusal(502, code, `the upstream at ${this.target.host}:${this.target.port} could not be reached: ${e.message}`);
    }
    if (request.body) void pumpToSocket(request.body, socket);
    else socket.end();
    return new Response(readableFromSocket(socket, { highWaterMark: RELAY_BUFFERED_CHUNKS, abruptClose: (hadError) => (hadError ? new Error('the upstream connection failed') : undefined) }), { status: 200 });
  }

  private dial(): Promise<net.Socket> {
    return dialTcp(this.target.host, this.target.port, this.connectTimeoutMs);
  }
}

function refusal(status: number, proxyError: string, message: string): Response {
  return new Response(`${status}: ${message}\n`, {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'proxy-status': `rhttp-agent; error=${proxyError}` },
  });
}


