/**
 * The PTTH carrier (draft-kazuho-ptth-ptth-01), the agent's side: an ordinary HTTPS request to
 * the intermediary, turned into the reversed HTTP/2 connection. It passes through port 443, L7
 * load balancers and TLS-terminating reverse proxies (nginx with `Upgrade`/`Connection` passed on).
 *
 *     TLS (ALPN http/1.1, our certificate as the client certificate)
 *     GET /.well-known/ptth/{serialized_origin}/ HTTP/1.1
 *     Host: intermediary   Connection: Upgrade   Upgrade: ptth   ALPN: h2
 *     Client-Cert / Client-Cert-Chain (RFC 9440)   Signature-Input / Signature (RFC 9421)
 *     ← HTTP/1.1 101 Switching Protocols   Upgrade: ptth
 *
 * The signed fields carry the certificate too, so a proxy that terminates TLS (and drops the client
 * certificate) still lets the intermediary authenticate us. After `101`, the intermediary sends the
 * HTTP/2 preface and we run HTTP/2 in the SERVER role on the socket, as over carrier 1.
 *
 * @example
 * const carrier = await dialPtth({ host: '127.0.0.1', port: 8444, servername: 'proxy.example.net' },
 *   { url: 'https://proxy.example.net:8444', origins, cert, key, ca, connectTimeoutMs: 15_000 }, signal);
 * const session = connectSocket(carrier.socket, { role: 'server', origins, handler });
 */
import * as tls from 'node:tls';
import { PTTH_PROTOCOL, importSigningKey, parseOrigin, ptthPath, ptthRequestFields, serializeOrigin, type PtthCredentials } from '@rhttp/core';
import { CarrierDialError, type Carrier, type CarrierPeer } from '../carrier.js';
import { describeConnectError, isPermanentFailure } from '../connect-errors.js';

/** ALPN of the HTTPS connection that carries the upgrade: HTTP/1.1, since `Upgrade` does not exist in HTTP/2. */
export const PTTH_TRANSPORT_ALPN = 'http/1.1';
/** Largest response head we read before giving up: a 101 is a few lines; a refusal's head is small too. */
const MAX_RESPONSE_HEAD_BYTES = 16 * 1024;
/** Longest refusal body we keep and show: the intermediary's explanations are one or two sentences. */
const MAX_REFUSAL_BODY_BYTES = 4096;

/** Our credentials, where to go, and the handshake budget. */
export interface PtthCarrierOptions {
  /** The intermediary as given: `https://host[:port]` (its authority is the `Host` we send and sign). */
  url: string;
  /** Origins this agent serves; listed in the path. */
  origins: string[];
  /** Our certificate chain (PEM, leaf first): the TLS client certificate and the Client-Cert fields. */
  cert: string;
  /** Its private key (PEM). */
  key: string;
  /** CA certificate(s) (PEM) to verify the intermediary (or the proxy in front of it) with; the system's CAs otherwise. */
  ca?: string;
  /** TCP + TLS + upgrade budget. */
  connectTimeoutMs: number;
  /** Replaces or adds request fields after signing (tests use it to forge requests). */
  mutateHeaders?: (headers: Record<string, string>) => void;
}

/** The upgrade request's head: request line, Host, Connection/Upgrade and the PTTH fields. */
export async function ptthUpgradeRequest(url: URL, origins: string[], credentials: PtthCredentials, mutate?: (headers: Record<string, string>) => void): Promise<string> {
  const path = ptthPath(origins.map((o) => serializeOrigin(parseOrigin(o))));
  const fields = await ptthRequestFields('GET', `https://${url.host}${path}`, credentials);
  const headers: Record<string, string> = { host: url.host, connection: 'Upgrade', upgrade: PTTH_PROTOCOL, ...fields };
  mutate?.(headers);
  return `GET ${path} HTTP/1.1\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n`;
}

/** A parsed HTTP/1.1 response head. */
interface ResponseHead {
  status: number;
  headers: Map<string, string>;
}

function parseResponseHead(text: string): ResponseHead | undefined {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!m) return undefined;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  return { status: Number(m[1]), headers };
}

/** Signing keys imported once per key PEM: every reconnect signs a new request. */
const importedKeys = new Map<string, ReturnType<typeof importSigningKey>>();

/**
 * Dials the intermediary over TLS (ALPN http/1.1, our client certificate) and upgrades to ptth.
 * Rejects with a {@link CarrierDialError}: a refusal for 400/401/403 (our request, credentials or
 * origins were refused: retrying soon cannot help) and TLS certificate failures; unreached for
 * network failures, timeouts and other answers.
 */
export async function dialPtth(peer: CarrierPeer, options: PtthCarrierOptions, signal: AbortSignal): Promise<Carrier> {
  const url = new URL(options.url);
  let key = importedKeys.get(options.key);
  if (!key) {
    key = importSigningKey(options.key);
    importedKeys.set(options.key, key);
    key.catch(() => importedKeys.delete(options.key));
  }
  let request: string;
  try {
    request = await ptthUpgradeRequest(url, options.origins, { certChainPem: options.cert, keyPem: await key }, options.mutateHeaders);
  } catch (error) {
    throw new CarrierDialError(`cannot make the PTTH request: ${(error as Error).message}`, { refused: true, unreached: false, cause: error });
  }
  if (signal.aborted) throw new CarrierDialError('aborted', { refused: false, unreached: true, cause: signal.reason });
  const { host, port, servername } = peer;
  return new Promise<Carrier>((resolve, reject) => {
    let socket: tls.TLSSocket;
    try {
      socket = tls.connect({ host, port, servername, ALPNProtocols: [PTTH_TRANSPORT_ALPN], cert: options.cert, key: options.key, ca: options.ca });
      socket.setNoDelay(true);
    } catch (error) {
      reject(new CarrierDialError(`the TLS setup failed: ${(error as Error).message}`, { refused: false, unreached: false, cause: error }));
      return;
    }
    const where = url.host;
    let socketError: Error | undefined;
    let failure: CarrierDialError | undefined;
    let established = false;
    let received: Buffer = Buffer.alloc(0);
    let head: ResponseHead | undefined;
    let bodyStart = 0;
    const abort = () => socket.destroy();
    signal.addEventListener('abort', abort, { once: true });
    const timer = setTimeout(() => {
      socket.destroy(Object.assign(new Error(`no answer to the PTTH upgrade from ${where} within ${options.connectTimeoutMs / 1000} s`), { code: 'ETIMEDOUT' }));
    }, options.connectTimeoutMs);
    const fail = (error: CarrierDialError) => {
      failure ??= error;
      socket.destroy();
    };
    /** A refusal's body is complete (Content-Length read, or the connection closed). */
    const refusedWith = (status: number, body: string) => {
      const refused = status === 400 || status === 401 || status === 403;
      const what = refused ? `the intermediary at ${where} refused this agent` : `the intermediary at ${where} answered the PTTH upgrade with HTTP ${status}`;
      fail(new CarrierDialError(`${what} (HTTP ${status})${body ? `: ${body}` : ''}`, { refused, unreached: !refused }));
    };
    const onData = (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      if (!head) {
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) {
          if (received.length > MAX_RESPONSE_HEAD_BYTES) fail(new CarrierDialError(`${where} sent a response head longer than ${MAX_RESPONSE_HEAD_BYTES} bytes; is it an rhttp intermediary?`, { refused: false, unreached: true }));
          return;
        }
        head = parseResponseHead(received.subarray(0, end).toString('latin1'));
        bodyStart = end + 4;
        if (!head) {
          fail(new CarrierDialError(`${where} did not answer with HTTP/1.1; is it an rhttp intermediary?`, { refused: false, unreached: true }));
          return;
        }
        if (head.status === 101) {
          // RFC 9110 §7.8: the server names the protocol it switches to.
          if (!head.headers.get('upgrade')?.split(',').some((p) => p.trim().toLowerCase() === PTTH_PROTOCOL)) {
            fail(new CarrierDialError(`${where} switched protocols, but not to ${PTTH_PROTOCOL} (Upgrade: ${head.headers.get('upgrade') ?? 'none'})`, { refused: true, unreached: false }));
            return;
          }
          socket.off('data', onData);
          socket.pause();
          clearTimeout(timer);
          signal.removeEventListener('abort', abort);
          // The intermediary's preface may have come with the 101: the session reads it first. The
          // socket stays paused until the session listens for data (a paused stream does not
          // resume by itself when a 'data' listener is added).
          if (received.length > bodyStart) socket.unshift(received.subarray(bodyStart));
          const resumeOnRead = (event: string) => {
            if (event !== 'data') return;
            socket.off('newListener', resumeOnRead);
            process.nextTick(() => socket.resume());
          };
          socket.on('newListener', resumeOnRead);
          established = true;
          resolve({
            socket,
            alpnProtocol: PTTH_PROTOCOL,
            get protocol() {
              return `${socket.getProtocol() ?? 'TLS'} ptth`;
            },
            peer: { host, port, servername },
            get error() {
              return socketError;
            },
            destroy: (error) => socket.destroy(error),
          });
          return;
        }
      }
      const length = Number(head.headers.get('content-length') ?? NaN);
      const body = received.subarray(bodyStart);
      if ((Number.isFinite(length) && body.length >= length) || body.length >= MAX_REFUSAL_BODY_BYTES) {
        refusedWith(head.status, body.subarray(0, MAX_REFUSAL_BODY_BYTES).toString('utf8').trim());
      }
    };
    socket.on('data', onData);
    socket.on('error', (error) => {
      socketError ??= error;
    });
    socket.once('secureConnect', () => {
      if (signal.aborted) {
        socket.destroy();
        return;
      }
      socket.write(request);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
      if (established) return;
      if (!failure && head && head.status !== 101) refusedWith(head.status, received.subarray(bodyStart, bodyStart + MAX_REFUSAL_BODY_BYTES).toString('utf8').trim());
      if (failure) reject(failure);
      else if (socketError) {
        const refused = isPermanentFailure(socketError);
        reject(new CarrierDialError(describeConnectError(socketError, peer), { refused, unreached: !refused, cause: socketError }));
      } else reject(new CarrierDialError(`the intermediary at ${where} closed the connection before answering the PTTH upgrade`, { refused: false, unreached: true }));
    });
  });
}
