/**
 * Test pieces: a dev PKI, a minimal agent (TLS `h2-reverse` + our engine in the SERVER role), a real
 * started Agent, and browser clients over HTTP/1.1 (node:http) and h2c/h2 (node:http2).
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { connectSocket, type Handler, type Http2Session } from '@rhttp/core';
import { Agent } from '../../../packages/agent/src/agent.js';
import { createDevCa, issueCertificate, type IssuedCertificate } from '../../../packages/node/src/certs.js';
import type { IntermediaryOptions } from '../src/intermediary.js';

export interface Pki {
  ca: IssuedCertificate;
  intermediary: IssuedCertificate;
  /** Origin certificate for app.example.com (and *.app.example.com), chained to `ca`. */
  origin: IssuedCertificate;
}

export async function makePki(): Promise<Pki> {
  const ca = await createDevCa({ commonName: 'Intermediary Test CA', days: 30 });
  // The https listener announces (RFC 8336 ORIGIN) only origins its certificate covers.
  const intermediary = await issueCertificate(ca, { dnsNames: ['localhost', 'app.example.com', '*.app.example.com'], ipAddresses: ['127.0.0.1'] });
  const origin = await issueCertificate(ca, { dnsNames: ['app.example.com', '*.app.example.com'], extendedKeyUsage: ['serverAuth'] });
  return { ca, intermediary, origin };
}

export interface TestAgent {
  socket: TLSSocket;
  session: Http2Session;
  /** The GOAWAY the intermediary sent, if any, with its debug data decoded. */
  goaway: Promise<{ errorCode: number; debug: string }>;
  /** Resolves when the reversed session is finished. */
  closed: Promise<unknown>;
}

/** A minimal agent: TLS with ALPN h2-reverse and a client certificate, our engine as HTTP/2 server. */
export function connectAgent(opts: {
  port: number;
  caPem: string;
  cert?: Pick<IssuedCertificate, 'chainPem' | 'keyPem'>;
  origins: string[];
  handler: Handler;
  alpn?: string[];
}): Promise<TestAgent> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port: opts.port,
      servername: 'localhost',
      ca: opts.caPem,
      ALPNProtocols: opts.alpn ?? ['h2-reverse'],
      ...(opts.cert ? { cert: opts.cert.chainPem, key: opts.cert.keyPem } : {}),
    });
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      let goawayResolve!: (g: { errorCode: number; debug: string }) => void;
      const goaway = new Promise<{ errorCode: number; debug: string }>((r) => (goawayResolve = r));
      const session = connectSocket(socket, {
        role: 'server',
        origins: opts.origins,
        handler: opts.handler,
        onGoaway: (frame) => goawayResolve({ errorCode: frame.errorCode, debug: new TextDecoder().decode(frame.debugData) }),
      });
      socket.on('error', () => {});
      resolve({ socket, session, goaway, closed: session.closed });
    });
  });
}

/** Polls (no fixed sleeps) until `check` is true. */
export async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Polls until `value` holds still for `quietMs` and returns it. For counters that stop growing
 * only after the read in flight lands (a paused node:net socket still takes one more read before
 * its buffer reaches the high-water mark and libuv stops reading).
 */
export async function steady(value: () => number, what: string, quietMs = 100): Promise<number> {
  let last = value();
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, quietMs));
    const now = value();
    if (now === last) return now;
    last = now;
  }
  throw new Error(`timed out waiting for ${what} to hold still`);
}

export interface Http1Result {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP/1.1 request with an explicit Host (which fetch() would not let us set). */
export function http1(port: number, host: string, path: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Http1Result> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: { host, ...init.headers }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** An HTTP/2 request on an open client session; resolves with status, headers and body. */
export function http2Get(client: ClientHttp2Session, authority: string, path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = client.request({ ':method': 'GET', ':path': path, ':authority': authority });
    let headers: Record<string, unknown> = {};
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => (headers = h));
    stream.on('data', (c: string) => (body += c));
    stream.on('end', () => resolve({ status: Number(headers[':status']), headers, body }));
    stream.on('error', reject);
  });
}

export { http2Connect };

/**
 * An intermediary on loopback with ephemeral ports (agents, http, https) and the certificates of
 * `pki`; `extra` adds listeners or options, or removes one with `undefined`.
 */
export function intermediaryOptions(pki: Pki, extra: Partial<IntermediaryOptions> = {}): IntermediaryOptions {
  return {
    agents: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    https: { host: '127.0.0.1', port: 0 },
    cert: pki.intermediary.chainPem,
    key: pki.intermediary.keyPem,
    trust: pki.ca.certPem,
    ...extra,
  };
}

/**
 * A real agent, started, that serves `origin` (certificate `pki.origin`) from `upstream` over one
 * TLS connection to the intermediary's agent listener on `agentsPort`.
 */
export function startAgent(pki: Pki, agentsPort: number, origin: string, upstream: string): Agent {
  const agent = new Agent({
    intermediary: `tls://127.0.0.1:${agentsPort}`,
    origins: [origin],
    cert: pki.origin.chainPem,
    key: pki.origin.keyPem,
    ca: pki.ca.certPem,
    connections: 1,
    upstream,
  });
  agent.start();
  return agent;
}
