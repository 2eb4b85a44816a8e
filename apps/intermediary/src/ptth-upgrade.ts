/**
 * The PTTH carrier (draft-kazuho-ptth-ptth-01) on the browser listeners: an agent makes an
 * ordinary HTTPS request that becomes its reversed HTTP/2 connection, so it reaches us through
 * port 443, L7 load balancers and TLS-terminating proxies such as nginx.
 *
 *     GET /.well-known/ptth/{origins}/ HTTP/1.1           :method CONNECT  :protocol ptth   (RFC 8441)
 *     Connection: Upgrade   Upgrade: ptth                 :path /.well-known/ptth/{origins}/
 *     ALPN: h2                                            alpn: h2
 *     → 101 Switching Protocols, Upgrade: ptth            → 200
 *
 * Then we are the HTTP/2 client on the upgraded connection (or on the CONNECT stream's DATA):
 * the preface goes out at once, and the agent's ORIGIN frame is admitted exactly as on the
 * `h2-reverse` listener (AgentAdmission: every entry covered by the certificate, and here also
 * listed in the path).
 *
 * Authentication: the TLS client certificate when the agent presented one (the https listener
 * requests one without requiring it); otherwise the signed request of the edge carrier (RFC 9440
 * Client-Cert + RFC 9421 signature, @rhttp/broker agent-authentication.ts). Refusals are plain
 * 4xx answers whose body says what was wrong; nothing is registered.
 */
import { Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ErrorCode, listsToken, OriginError, PTTH_PROTOCOL, parsePtthPath, ptthAlpnRefusal, type CertificateIdentity, type Origin, type ServerStream, type SignableMessage } from '@rhttp/core';
import { AgentRefusal, NonceCache, SIGNATURE_MAX_AGE_SECONDS, authenticateAgent } from '@rhttp/broker';
import { peerCertificateChain } from './agent-session.js';
import { closingRefusal } from './closing-response.js';
import type { LogFunction } from './log-format.js';
import type { RefusalReason } from './metrics.js';

/** A nonce must outlive every signature that could still be accepted: the signature age plus clock skew. */
const NONCE_WINDOW_MS = (SIGNATURE_MAX_AGE_SECONDS + 10) * 1000;
/** Bytes of a CONNECT stream's DATA buffered toward the reversed session before we stop reading: its own flow control bounds it. */
const STREAM_READ_HIGH_WATER_BYTES = 256 * 1024;

/** How the agent's PTTH request arrived. */
export type PtthCarrierKind = 'ptth-upgrade' | 'ptth-connect';

/** An authenticated PTTH agent, ready for an `AgentSession`. */
export interface PtthAgent {
  /** The bytes of the reversed connection: the upgraded socket, or the CONNECT stream as a Duplex. */
  socket: Duplex & { remoteAddress?: string; remotePort?: number };
  identity: CertificateIdentity;
  /** The origins the path listed: ORIGIN frame entries must be among them. */
  origins: Origin[];
  kind: PtthCarrierKind;
  /** How the certificate was shown: TLS client certificate, or a signed Client-Cert. */
  via: 'signature' | 'mtls';
}

export interface PtthAcceptorOptions {
  /** PEM trust anchors for origin certificates (the intermediary's `--trust`). */
  trust: string;
  /** The request was accepted (101 or 200 sent): run the reversed session. */
  accept(agent: PtthAgent): void;
  /** The request was refused: count it (status page, metrics). */
  refused(remoteAddress: string, kind: RefusalReason, reason: string): void;
  /** False while the intermediary stops: new agents get 503. */
  accepting(): boolean;
  log: LogFunction;
}

/** A refusal before any reversed connection exists: an HTTP status and one sentence. */
interface Refusal {
  status: number;
  message: string;
  kind: RefusalReason;
  headers?: Record<string, string>;
}

/** True when an HTTP/1.1 request asks to upgrade to ptth (RFC 9110 §7.8: Upgrade is a list of protocols, case-insensitive). */
export function isPtthUpgrade(req: IncomingMessage): boolean {
  return listsToken(req.headers.upgrade, PTTH_PROTOCOL);
}

/** True for an RFC 8441 extended CONNECT with `:protocol ptth`. */
export function isPtthConnect(stream: ServerStream): boolean {
  return stream.head.method === 'CONNECT' && stream.head.protocol === PTTH_PROTOCOL;
}

/** Accepts PTTH requests on the browser listeners (see the module comment). */
export class PtthAcceptor {
  private readonly options: PtthAcceptorOptions;
  /** Nonces of accepted signatures, so a captured request cannot be replayed within its freshness window. */
  private readonly nonces = new NonceCache(NONCE_WINDOW_MS);

  constructor(options: PtthAcceptorOptions) {
    this.options = options;
  }

  /** HTTP/1.1 `Upgrade: ptth` (node:http's 'upgrade' event): 101 and the socket becomes the reversed connection. */
  async upgrade(req: IncomingMessage, socket: Socket, head: Buffer, scheme: 'http' | 'https'): Promise<void> {
    const from = `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`;
    socket.on('error', () => {}); // a socket reset while we check: nothing to tell
    const host = req.headers.host ?? '';
    const message: SignableMessage = {
      method: req.method ?? 'GET',
      url: `${scheme}://${host}${req.url ?? '/'}`,
      headers: { get: (name) => fieldOf(req.headers[name]) },
    };
    const result = req.method !== 'GET' ? refusal(405, `the PTTH upgrade is a GET request, not ${req.method}`, 'other', { allow: 'GET' }) : await this.check(message, req.url ?? '/', tlsChain(socket), from);
    if (socket.destroyed) return;
    if ('status' in result) {
      writeRefusal(socket, result);
      return;
    }
    // draft-kazuho-ptth-ptth-01: the proxy switches protocols, then speaks first as the HTTP/2 client.
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: ${PTTH_PROTOCOL}\r\n\r\n`);
    socket.setTimeout(0);
    if (head.length > 0) socket.unshift(head);
    this.accepted({ ...result, socket, kind: 'ptth-upgrade' }, from);
  }

  /**
   * RFC 8441 extended CONNECT `:protocol ptth` on an HTTP/2 browser connection: 200, then the
   * stream's DATA frames carry the reversed HTTP/2 connection. `socket` is that connection's
   * socket (for the TLS client certificate).
   */
  async connect(stream: ServerStream, scheme: 'http' | 'https', socket: Socket | TLSSocket): Promise<void> {
    const from = `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`;
    let reset = false;
    stream.onReset = () => (reset = true);
    const authority = stream.head.authority ?? '';
    const path = stream.head.path ?? '/';
    const message: SignableMessage = {
      method: 'CONNECT',
      url: `${scheme}://${authority}${path}`,
      headers: { get: (name) => stream.header(name) ?? null },
    };
    const result = await this.check(message, path, tlsChain(socket), from);
    if (reset) return;
    if ('status' in result) {
      stream.respond(result.status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...result.headers });
      void stream.end(new TextEncoder().encode(`${result.message}\n`)).catch(() => {});
      return;
    }
    stream.onReset = undefined;
    // RFC 8441 §5: a 2xx answers the extended CONNECT; DATA frames then carry the tunnel's bytes.
    stream.respond(200);
    const duplex = streamDuplex(stream);
    Object.defineProperties(duplex, { remoteAddress: { value: socket.remoteAddress }, remotePort: { value: socket.remotePort } });
    this.accepted({ ...result, socket: duplex, kind: 'ptth-connect' }, from);
  }

  private accepted(agent: PtthAgent, from: string): void {
    this.options.log(`agent ${from} opened a PTTH ${agent.kind === 'ptth-upgrade' ? 'upgrade' : 'extended CONNECT'} as "${agent.identity.subject}" (${agent.via === 'mtls' ? 'TLS client certificate' : 'signed request'}); waiting for its ORIGIN frame`, {
      level: 'info',
      event: 'agent.ptth_accepted',
      remoteAddress: from,
      carrier: agent.kind,
      via: agent.via,
      subject: agent.identity.subject,
    });
    this.options.accept(agent);
  }

  /** Path, ALPN and credentials: the agent's identity and listed origins, or why not. */
  private async check(message: SignableMessage, path: string, chain: Uint8Array[], from: string): Promise<Refusal | Omit<PtthAgent, 'socket' | 'kind'>> {
    const result = await this.checkRequest(message, path, chain);
    if ('status' in result) {
      this.options.refused(from, result.kind, result.message);
      this.options.log(`refused the PTTH request from ${from} (${result.status}): ${result.message}`, { level: 'warn', event: 'agent.refused', remoteAddress: from, reason: result.kind, detail: result.message, status: result.status });
    }
    return result;
  }

  private async checkRequest(message: SignableMessage, path: string, chain: Uint8Array[]): Promise<Refusal | Omit<PtthAgent, 'socket' | 'kind'>> {
    if (!this.options.accepting()) return refusal(503, 'the intermediary is shutting down; connect again shortly', 'other', { 'retry-after': '5' });
    let origins: Origin[];
    try {
      origins = parsePtthPath(path);
    } catch (error) {
      if (error instanceof OriginError) return refusal(400, `bad PTTH path: ${error.message}`, 'origin');
      throw error;
    }
    const wrongAlpn = ptthAlpnRefusal(message.headers.get('alpn'));
    if (wrongAlpn !== undefined) return refusal(400, wrongAlpn, 'alpn');
    try {
      const { identity, via } = await authenticateAgent(message, origins, { trustAnchors: this.options.trust, nonces: this.nonces, tlsClientChain: chain });
      return { identity, via, origins };
    } catch (error) {
      if (error instanceof AgentRefusal) return refusal(error.status, error.message, error.status === 403 ? 'origin' : 'certificate', error.headers());
      return refusal(400, `the PTTH request could not be checked: ${(error as Error).message}`, 'other');
    }
  }
}

function refusal(status: number, message: string, kind: RefusalReason, headers?: Record<string, string>): Refusal {
  return { status, message, kind, ...(headers ? { headers } : {}) };
}

/** The peer's certificate chain when the socket is TLS and one was presented; empty otherwise. */
function tlsChain(socket: Socket | TLSSocket): Uint8Array[] {
  return 'getPeerCertificate' in socket && typeof socket.getPeerCertificate === 'function' ? peerCertificateChain(socket as TLSSocket) : [];
}

function fieldOf(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

function writeRefusal(socket: Socket, result: Refusal): void {
  socket.end(closingRefusal(result.status, result.message, Object.entries(result.headers ?? {})));
}

/**
 * The CONNECT stream as a Node Duplex, for `connectSocket`: reads take DATA as the session
 * consumes it (credit goes back as read), writes wait for the stream's flow control.
 */
function streamDuplex(stream: ServerStream): Duplex {
  const chunks = stream[Symbol.asyncIterator]();
  const readable = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await chunks.next();
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        } catch (error) {
          controller.error(error);
        }
      },
      cancel() {
        stream.reset(ErrorCode.CANCEL);
      },
    },
    { highWaterMark: STREAM_READ_HIGH_WATER_BYTES, size: (chunk) => chunk.byteLength },
  );
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) => stream.write(chunk),
    close: () => stream.end(),
    abort: () => stream.reset(ErrorCode.CANCEL),
  });
  return Duplex.fromWeb({ readable, writable } as never);
}
