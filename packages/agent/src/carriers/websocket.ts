/**
 * Carrier 2 of DESIGN.md, the agent's side: a PTTH-shaped WebSocket to an edge that cannot
 * terminate TLS with a custom ALPN (a Cloudflare Worker). The upgrade request
 *
 *     GET /.well-known/ptth/{serialized_origin}/   Upgrade: websocket
 *     Sec-WebSocket-Protocol: h2-reverse   ALPN: h2
 *     Client-Cert / Client-Cert-Chain (RFC 9440)   Signature-Input / Signature (RFC 9421)
 *
 * proves possession of the certificate's key; after `101`, binary messages form one ordered
 * byte stream on which the agent runs HTTP/2 in the SERVER role (preface from the edge; our
 * SETTINGS + ORIGIN first).
 *
 * Runtime: the `ws` package, because the upgrade needs custom headers, which the WHATWG
 * `WebSocket` cannot send. On Node that is the npm `ws`; Bun maps `ws` onto its own client,
 * which sends headers too; Deno runs the npm `ws` through its Node compatibility layer.
 *
 * @example
 * const carrier = await openWebSocketCarrier({ url: 'ws://127.0.0.1:8787', origins: ['https://app.example.com'], certChainPem, keyPem });
 * const session = connectWebStreams(carrier, { role: 'server', origins: carrier.origins, handler });
 */
import { Duplex } from 'node:stream';
import WebSocket from 'ws';
import {
  PTTH_PATH_PREFIX,
  PTTH_SIGNATURE_LABEL,
  PTTH_SIGNED_COMPONENTS,
  parseOrigin,
  ptthPath,
  ptthRequestFields,
  serializeOrigin,
  type ByteDuplex,
  type PtthCredentials,
} from '@rhttp/core';
import { CarrierDialError, type Carrier, type CarrierPeer } from '../carrier.js';

/** Web Crypto's CryptoKey (the project's TypeScript libs have no DOM types). */
type WebCryptoKey = Exclude<PtthCredentials['keyPem'], string>;

/** WebSocket subprotocol of the carrier: the same name as carrier 1's ALPN. */
export const WEBSOCKET_SUBPROTOCOL = 'h2-reverse';
/** The PTTH request's path prefix, signed components and signature label: core's (reverse/ptth.ts). */
export { PTTH_PATH_PREFIX, PTTH_SIGNED_COMPONENTS as CARRIER_SIGNED_COMPONENTS, PTTH_SIGNATURE_LABEL as CARRIER_SIGNATURE_LABEL };
/** Largest WebSocket message we send: "well under 1 MiB" (Cloudflare's message limit), and small enough that HTTP/2 frames interleave. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** Bytes queued toward the socket before writes wait: with HTTP/2 flow control on top, this only smooths bursts. */
const WRITE_HIGH_WATER_BYTES = 1024 * 1024;
/** Received bytes buffered before we stop reading the socket (pause): the engine consumes synchronously, so this is rarely reached. */
const READ_HIGH_WATER_BYTES = 1024 * 1024;
/** Default for the upgrade to complete: an edge that accepts TCP but never answers should not hold the agent forever. */
export const DEFAULT_WEBSOCKET_CONNECT_TIMEOUT_MS = 15_000;
/** Longest refusal body we keep and show: the edge's explanations are one or two sentences. */
const MAX_REFUSAL_BODY = 4096;

/** Options of {@link openWebSocketCarrier}. */
export interface WebSocketCarrierOptions {
  /** The edge: `ws://host:port` or `wss://host[:port]` (a path, if any, is replaced by the PTTH path). */
  url: string;
  /** Origins this agent serves, e.g. `["https://app.example.com", "https://*.app.example.com"]`. */
  origins: string[];
  /** The origin certificate chain (PEM, leaf first). */
  certChainPem: string;
  /** Its PKCS#8 private key (PEM) — or an already imported signing key. */
  keyPem: string | WebCryptoKey;
  /** Extra CA certificates (PEM) to trust for `wss://` (the edge's TLS certificate). */
  ca?: string;
  connectTimeoutMs?: number;
  signal?: AbortSignal;
  /** Replaces or adds upgrade request headers after signing (tests use it to forge requests). */
  mutateHeaders?: (headers: Record<string, string>) => void;
}

/** An open carrier: a Web Streams byte duplex for `connectWebStreams`, plus a few facts. */
export interface WebSocketCarrier extends ByteDuplex {
  /** The upgrade URL that was used. */
  url: string;
  /** The origins, normalized, to list in our ORIGIN frame. */
  origins: string[];
  /** Closes the WebSocket (code 1000) at once. */
  close(): void;
}

/** The edge answered the upgrade with an HTTP status instead of 101: `status` and its explanation `body`. */
export class WebSocketRefusedError extends Error {
  readonly code = 'ERR_RHTTP_REFUSED';
  readonly status: number;
  readonly body: string;
  /** 401/403: the edge refused our credentials or origins; retrying soon will not help. */
  readonly refused: boolean;
  constructor(status: number, body: string) {
    const refused = status === 401 || status === 403;
    const what = refused ? 'the edge refused this agent' : `the edge answered the WebSocket upgrade with HTTP ${status}`;
    super(`${what} (HTTP ${status})${body ? `: ${body}` : ''}`);
    this.status = status;
    this.body = body;
    this.refused = refused;
  }
}

/** The PTTH upgrade URL for `origins` at the edge `base` (ws:// or wss://). */
export function ptthUrl(base: string, origins: string[]): string {
  const url = new URL(base);
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new TypeError(`the WebSocket carrier needs a ws:// or wss:// URL, got ${base}`);
  }
  return `${url.protocol}//${url.host}${ptthPath(origins)}`;
}

/**
 * The upgrade request headers: ALPN, RFC 9440 Client-Cert(-Chain) and an RFC 9421 signature
 * made with the certificate's key over `"@method" "@authority" "@path" "client-cert"` with
 * `created` and `nonce`. `url` is the ws(s) URL from {@link ptthUrl}.
 */
export async function ptthUpgradeHeaders(
  url: string,
  credentials: { certChainPem: string; keyPem: string | WebCryptoKey; created?: number; nonce?: string },
): Promise<Record<string, string>> {
  // The edge sees an http(s) request; sign the URL it will see (same authority and path).
  return ptthRequestFields('GET', url.replace(/^ws/, 'http'), credentials);
}

/**
 * Opens the carrier: signed upgrade, `h2-reverse` required back. Rejects with
 * {@link WebSocketRefusedError} when the edge answers with a status (its body says why), or
 * with an Error in plain words for network failures and timeouts.
 */
export async function openWebSocketCarrier(options: WebSocketCarrierOptions): Promise<WebSocketCarrier> {
  const origins = options.origins.map((o) => serializeOrigin(parseOrigin(o)));
  const url = ptthUrl(options.url, origins);
  const headers = await ptthUpgradeHeaders(url, options);
  options.mutateHeaders?.(headers);
  const timeoutMs = options.connectTimeoutMs ?? DEFAULT_WEBSOCKET_CONNECT_TIMEOUT_MS;

  const ws = new WebSocket(url, [WEBSOCKET_SUBPROTOCOL], {
    headers,
    handshakeTimeout: timeoutMs,
    perMessageDeflate: false, // HTTP/2 payloads are mostly compressed already; deflate costs CPU both ends
    maxPayload: 16 * 1024 * 1024, // an edge splits well below this; bounds memory per message
    ...(options.ca ? { ca: options.ca } : {}),
  });
  ws.binaryType = 'nodebuffer';

  await new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      ws.terminate();
      reject(options.signal?.reason ?? new Error('aborted'));
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const done = (error?: Error) => {
      options.signal?.removeEventListener('abort', onAbort);
      ws.removeAllListeners('open');
      ws.removeAllListeners('unexpected-response');
      if (error) {
        ws.removeAllListeners('error');
        ws.on('error', () => {}); // late errors of a socket we gave up on
        reject(error);
      } else {
        resolve();
      }
    };
    ws.once('open', () => {
      // RFC 6455 §4.1: the client fails the connection if the server picked no/another subprotocol.
      if (ws.protocol !== WEBSOCKET_SUBPROTOCOL) {
        ws.terminate();
        done(new Error(`the edge did not agree to the ${WEBSOCKET_SUBPROTOCOL} WebSocket subprotocol (got ${ws.protocol || 'none'}); is ${options.url} an rhttp edge?`));
        return;
      }
      done();
    });
    ws.once('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (body.length < MAX_REFUSAL_BODY) body += chunk;
      });
      const finish = () => done(new WebSocketRefusedError(response.statusCode ?? 0, body.slice(0, MAX_REFUSAL_BODY).trim()));
      response.once('end', finish);
      response.once('error', finish);
      response.once('aborted', finish);
    });
    ws.once('error', (error: Error & { code?: string }) => {
      const where = new URL(url).host;
      if (error.code === 'ECONNREFUSED') done(new Error(`nothing accepts connections at ${where} (connection refused); is the edge running?`, { cause: error }));
      else if (/timed out/i.test(error.message)) done(new Error(`the edge at ${where} did not complete the WebSocket upgrade within ${timeoutMs / 1000} s`, { cause: error }));
      else if (/subprotocol/i.test(error.message)) {
        // ws enforces RFC 6455 §4.1 itself when the server picks none or another one.
        done(new Error(`the edge did not agree to the ${WEBSOCKET_SUBPROTOCOL} WebSocket subprotocol (${error.message}); is ${options.url} an rhttp edge?`, { cause: error }));
      } else done(new Error(`cannot open the WebSocket to ${where}: ${error.message}`, { cause: error }));
    });
    // Aborted while the upgrade headers were being signed (after the listeners: terminate() reports an error).
    if (options.signal?.aborted) onAbort();
  });

  return { ...webSocketByteStream(ws), url, origins, close: () => ws.close(1000) };
}

/**
 * Adapts an open `ws` WebSocket to a byte duplex: binary messages in order become the readable;
 * writes are split into messages of at most {@link MAX_MESSAGE_BYTES}. A text message is a
 * protocol error (DESIGN.md, Carrier 2): the readable errors and the socket closes with 1002.
 */
export function webSocketByteStream(ws: WebSocket): ByteDuplex {
  let readController!: ReadableStreamDefaultController<Uint8Array>;
  let readDone = false;
  const endRead = (error?: Error) => {
    if (readDone) return;
    readDone = true;
    if (error) readController.error(error);
    else readController.close();
  };
  const readable = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        readController = controller;
      },
      pull() {
        ws.resume();
      },
      cancel() {
        readDone = true;
        ws.close(1000);
      },
    },
    { highWaterMark: READ_HIGH_WATER_BYTES, size: (chunk) => chunk.byteLength },
  );
  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    if (readDone) return;
    if (!isBinary) {
      endRead(new Error('the edge sent a text WebSocket message; the h2-reverse carrier carries binary messages only'));
      ws.close(1002, 'text messages are not allowed');
      return;
    }
    const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    readController.enqueue(new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength));
    if ((readController.desiredSize ?? 1) <= 0) ws.pause();
  });
  ws.on('close', (code: number, reason: Buffer) => {
    if (code === 1000 || code === 1005) endRead();
    else endRead(new Error(`the WebSocket closed (code ${code}${reason.length ? `: ${reason.toString()}` : ''})`));
  });
  ws.on('error', (error: Error) => endRead(error));

  const writable = new WritableStream<Uint8Array>(
    {
      write(chunk) {
        if (ws.readyState !== WebSocket.OPEN) throw new Error('the WebSocket is closed');
        return new Promise<void>((resolve, reject) => {
          for (let offset = 0; offset < chunk.byteLength; offset += MAX_MESSAGE_BYTES) {
            const piece = chunk.subarray(offset, Math.min(chunk.byteLength, offset + MAX_MESSAGE_BYTES));
            const last = offset + MAX_MESSAGE_BYTES >= chunk.byteLength;
            ws.send(piece, { binary: true }, last ? (error) => (error ? reject(error) : resolve()) : undefined);
          }
          if (chunk.byteLength === 0) resolve();
        });
      },
      close() {
        ws.close(1000);
      },
      abort() {
        ws.terminate();
      },
    },
    { highWaterMark: WRITE_HIGH_WATER_BYTES, size: (chunk) => chunk.byteLength },
  );
  return { readable, writable };
}

/** A Node-style socket over the carrier, for `connectSocket` (the engine's Node-socket path, as over TLS). */
export interface WebSocketCarrierSocket extends Duplex {
  /** Always `h2-reverse`: the subprotocol the edge agreed to (mirrors a TLS socket's ALPN result). */
  readonly alpnProtocol: string;
  /** `"WebSocket"` (a TLS socket answers its TLS version here). */
  getProtocol(): string;
  /** The upgrade URL that was used. */
  readonly url: string;
}

/**
 * {@link openWebSocketCarrier}, returned as a Node-style Duplex socket so that
 * `connectSocket(socket, { role: 'server', origins, handler })` runs our engine over it exactly as
 * over a TLS socket. Rejects like {@link openWebSocketCarrier} (a {@link WebSocketRefusedError}
 * with `refused === true` for 401/403: back off, do not retry in a tight loop).
 */
export async function openWebSocketSocket(options: WebSocketCarrierOptions): Promise<WebSocketCarrierSocket> {
  const carrier = await openWebSocketCarrier(options);
  const socket = Duplex.fromWeb({ readable: carrier.readable, writable: carrier.writable }) as WebSocketCarrierSocket;
  Object.defineProperties(socket, {
    alpnProtocol: { value: WEBSOCKET_SUBPROTOCOL },
    url: { value: carrier.url },
    getProtocol: { value: () => 'WebSocket' },
  });
  return socket;
}

/**
 * The WebSocket carrier as the agent's supervisor dials it (a {@link Carrier}, like
 * carriers/tls.ts): {@link openWebSocketSocket}, with a failed upgrade as a
 * {@link CarrierDialError} — 401/403 a refusal (back off, do not retry in a tight loop), anything
 * else unreached. `peer` names the edge in the sentences of later socket errors.
 */
export async function dialWebSocket(
  peer: CarrierPeer,
  options: Omit<WebSocketCarrierOptions, 'signal'>,
  signal: AbortSignal,
): Promise<Carrier> {
  let socket: WebSocketCarrierSocket;
  try {
    socket = await openWebSocketSocket({ ...options, signal });
  } catch (error) {
    const refused = error instanceof WebSocketRefusedError && error.refused;
    throw new CarrierDialError((error as Error).message, { refused, unreached: !refused, cause: error });
  }
  let socketError: Error | undefined;
  socket.on('error', (error) => {
    socketError ??= error;
  });
  return {
    socket,
    alpnProtocol: socket.alpnProtocol,
    protocol: socket.getProtocol(),
    peer,
    get error() {
      return socketError;
    },
    destroy: (error) => socket.destroy(error),
  };
}
