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
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import {
  PTTH_PROTOCOL,
  connectSocket,
  importSigningKey,
  listsToken,
  parseOrigin,
  ptthPath,
  ptthRequestFields,
  serializeOrigin,
  type BodyReader,
  type Http2Session,
  type PtthCredentials,
} from '@rhttp/core';
import { CarrierDialError, type Carrier, type CarrierPeer } from '../carrier.js';
import { describeConnectError, isPermanentFailure } from '../connect-errors.js';

/** ALPN of the HTTPS connection that carries the upgrade: HTTP/1.1, since `Upgrade` does not exist in HTTP/2. */
export const PTTH_TRANSPORT_ALPN = 'http/1.1';
/** ALPN of the HTTPS connection that carries extended CONNECT `:protocol ptth` (RFC 8441). */
export const PTTH_CONNECT_ALPN = 'h2';
/** Bytes of the reversed connection buffered toward the CONNECT stream before the session's writes wait: HTTP/2 flow control is the real bound. */
const CONNECT_WRITE_HIGH_WATER_BYTES = 256 * 1024;
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
  /**
   * `upgrade` (default): HTTP/1.1 `Upgrade: ptth`, which any proxy that passes WebSockets passes.
   * `connect`: offer ALPN h2 first and, when the peer speaks HTTP/2 and enables extended CONNECT
   * (RFC 8441), send `CONNECT :protocol ptth`; otherwise HTTP/1.1 Upgrade on the same connection
   * (ALPN http/1.1) or, if HTTP/2 came back without extended CONNECT, on a new one.
   */
  mode?: 'upgrade' | 'connect';
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
      const alpn = options.mode === 'connect' ? [PTTH_CONNECT_ALPN, PTTH_TRANSPORT_ALPN] : [PTTH_TRANSPORT_ALPN];
      socket = tls.connect({ host, port, servername, ALPNProtocols: alpn, cert: options.cert, key: options.key, ca: options.ca });
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
      const what = refused ? `the intermediary at ${where} refused this agent (HTTP ${status})` : `the intermediary at ${where} answered the PTTH upgrade with HTTP ${status}`;
      fail(new CarrierDialError(`${what}${body ? `: ${body}` : ''}`, { refused, unreached: !refused }));
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
          if (!listsToken(head.headers.get('upgrade'), PTTH_PROTOCOL)) {
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
              return `${socket.getProtocol() ?? 'TLS'} HTTP/1.1 Upgrade`;
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
      if (socket.alpnProtocol !== PTTH_CONNECT_ALPN) {
        socket.write(request);
        return;
      }
      // HTTP/2: extended CONNECT on this connection (or a retry over HTTP/1.1 when the peer has none).
      socket.off('data', onData);
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
      established = true;
      connectOverHttp2(socket, url, options, key!, peer, signal).then(resolve, (error: unknown) => {
        socket.destroy();
        if (error instanceof NoExtendedConnect) dialPtth(peer, { ...options, mode: 'upgrade' }, signal).then(resolve, reject);
        else reject(error);
      });
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

/** The peer speaks HTTP/2 but did not enable extended CONNECT (RFC 8441 §3): use HTTP/1.1 Upgrade instead. */
class NoExtendedConnect extends Error {}

/**
 * Extended CONNECT `:protocol ptth` (RFC 8441) on an HTTP/2 connection where we are the client:
 * waits for the peer's SETTINGS (RFC 8441 §3: a client MUST NOT send `:protocol` unless the server
 * sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1), sends the signed CONNECT, and on 200 gives the
 * stream's DATA, both ways, as the carrier's socket. The reversed HTTP/2 connection then runs
 * inside this one's stream.
 */
async function connectOverHttp2(
  socket: tls.TLSSocket,
  url: URL,
  options: PtthCarrierOptions,
  key: ReturnType<typeof importSigningKey>,
  peer: CarrierPeer,
  signal: AbortSignal,
): Promise<Carrier> {
  const where = url.host;
  let socketError: Error | undefined;
  socket.on('error', (error) => {
    socketError ??= error;
  });
  let settled: ((error?: Error) => void) | undefined;
  const settings = new Promise<void>((resolve, reject) => {
    settled = (error) => (error ? reject(error) : resolve());
  });
  const outer: Http2Session = connectSocket(socket, {
    role: 'client',
    // Called for the peer's SETTINGS among others; the first one is all we wait for.
    onSlotFree: () => settled?.(),
    onClose: (error) => settled?.(error ?? new Error(`the intermediary at ${where} closed the HTTP/2 connection before its SETTINGS`)),
  });
  const timer = setTimeout(() => settled?.(new Error(`no HTTP/2 SETTINGS from ${where} within ${options.connectTimeoutMs / 1000} s`)), options.connectTimeoutMs);
  const onAbort = () => settled?.(new Error('aborted'));
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    try {
      await settings;
    } catch (error) {
      throw new CarrierDialError((error as Error).message, { refused: false, unreached: true, cause: socketError ?? error });
    }
    settled = undefined;
    if (!outer.connection.remote.enableConnectProtocol) {
      outer.close();
      throw new NoExtendedConnect(`${where} speaks HTTP/2 without extended CONNECT`);
    }
    const path = ptthPath(options.origins.map((o) => serializeOrigin(parseOrigin(o))));
    const fields = await ptthRequestFields('CONNECT', `https://${url.host}${path}`, { certChainPem: options.cert, keyPem: await key });
    options.mutateHeaders?.(fields);
    const toPeer = new TransformStream<Uint8Array, Uint8Array>(undefined, { highWaterMark: CONNECT_WRITE_HIGH_WATER_BYTES, size: (c) => c.byteLength });
    const exchange = outer.open({
      method: 'CONNECT',
      url: new URL(`https://${url.host}${path}`),
      headers: Object.entries(fields).map(([name, value]) => [name, value] as [string, string]),
      protocol: PTTH_PROTOCOL,
      body: toPeer.readable,
    });
    const responseTimer = setTimeout(() => exchange.cancel(new Error(`no answer to the PTTH CONNECT from ${where} within ${options.connectTimeoutMs / 1000} s`)), options.connectTimeoutMs);
    let response;
    try {
      response = await exchange.response;
    } catch (error) {
      throw new CarrierDialError(`the PTTH CONNECT to ${where} failed: ${(error as Error).message}`, { refused: false, unreached: true, cause: error });
    } finally {
      clearTimeout(responseTimer);
    }
    if (response.status !== 200) {
      const body = response.body ? await readSome(response.body) : '';
      const refused = response.status === 400 || response.status === 401 || response.status === 403;
      const what = refused ? `the intermediary at ${where} refused this agent (HTTP ${response.status})` : `the intermediary at ${where} answered the PTTH CONNECT with HTTP ${response.status}`;
      outer.close();
      throw new CarrierDialError(`${what}${body ? `: ${body}` : ''}`, { refused, unreached: !refused });
    }
    const reader = response.body;
    const readable = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (!reader) return controller.close();
        for (;;) {
          const chunk = reader.read();
          if (chunk === null) return controller.close();
          if (chunk !== undefined) return controller.enqueue(chunk);
          await reader.wait();
        }
      },
      cancel: () => reader?.cancel(),
    });
    const tunnel = Duplex.fromWeb({ readable, writable: toPeer.writable } as never);
    let tunnelError: Error | undefined;
    tunnel.on('error', (error) => {
      tunnelError ??= error;
    });
    // The reversed connection ends, the outer one goes with it (and the other way round).
    tunnel.once('close', () => {
      outer.close();
      socket.end();
    });
    socket.once('close', () => tunnel.destroy());
    return {
      socket: tunnel,
      alpnProtocol: PTTH_PROTOCOL,
      get protocol() {
        return `${socket.getProtocol() ?? 'TLS'} h2 CONNECT`;
      },
      peer,
      get error() {
        return socketError ?? tunnelError;
      },
      destroy: (error) => {
        tunnel.destroy(error);
        socket.destroy();
      },
    };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

/** Up to MAX_REFUSAL_BODY_BYTES of a refusal's body, as text. */
async function readSome(body: BodyReader): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < MAX_REFUSAL_BODY_BYTES) {
    const chunk = body.read();
    if (chunk === null) break;
    if (chunk === undefined) {
      await body.wait();
      continue;
    }
    chunks.push(chunk);
    size += chunk.byteLength;
  }
  if (!body.ended) body.cancel();
  return Buffer.concat(chunks).subarray(0, MAX_REFUSAL_BODY_BYTES).toString('utf8').trim();
}
