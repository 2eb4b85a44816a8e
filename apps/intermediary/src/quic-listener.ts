/**
 * The intermediary's QUIC port (`--quic HOST:PORT`): one `Deno.QuicEndpoint` for agents that dial
 * `quic://` (ALPN `h3-reverse`, draft-bt-httpbis-reverse-http-01: we are the QUIC server and the
 * HTTP/3 client) and for browsers speaking HTTP/3 (ALPN `h3`). Only Deno has QUIC, behind
 * `--unstable-net`. The listener accepts connections within named bounds, tells them apart by the
 * ALPN the handshake agreed, and hands each to `onAgent` or `onBrowser`; what runs on them (the
 * HTTP/3 session, the agent's in-band authentication) is the caller's.
 *
 * The certificate is the intermediary's own (`--cert/--key`, the one the TLS agent listener and
 * `--https` present): agents verify it with their `--ca`, browsers with theirs. Deno's QUIC asks
 * for no client certificate, so agents prove theirs in-band (broker's quic-agent-authentication.ts).
 *
 * Typed by shape: `Deno` is looked up on `globalThis`; no Deno types are needed to build.
 *
 * @example
 * const quic = await listenQuic({
 *   address: { host: '127.0.0.1', port: 8443 }, cert, key, log,
 *   onAgent: (conn, from) => startReversedHttp3(conn, from),
 *   onBrowser: (conn, from) => serveHttp3(conn, from),
 * });
 * // on shutdown: quic.stop() (no new connections), later quic.close() (every connection ends)
 */
import { H3_ALPN, H3_REVERSE_ALPN, H3ErrorCode, type QuicCloseInfo, type QuicConnection } from '@rhttp/core';
import type { LogFunction } from './log-format.js';

/** Handshakes in progress at once: each costs crypto work before the peer proved anything; more are refused (the peer retries). */
export const MAX_QUIC_HANDSHAKES = 64;
/** QUIC connections held at once (agents and browsers): each holds streams, buffers and an HTTP/3 session; more are refused. */
export const MAX_QUIC_CONNECTIONS = 4096;
/** A handshake not done by then is not going to be (as the TLS agent listener's AGENT_HANDSHAKE_TIMEOUT_MS). */
export const QUIC_HANDSHAKE_TIMEOUT_MS = 10_000;
/** The ALPNs offered, in order: reversed HTTP/3 for agents, HTTP/3 for browsers (RFC 9114 §3.1). */
export const QUIC_ALPNS: readonly string[] = [H3_REVERSE_ALPN, H3_ALPN];


/** The Deno QUIC connection, as far as the listener looks at it. */
export interface DenoQuicConn extends QuicConnection {
  readonly protocol: string | undefined;
  readonly remoteAddr: { hostname: string; port: number };
}

/**
 * Deno 2.9's QuicIncoming. Its getters (`remoteAddr`, `remoteAddressValidated`) are not used: in
 * Deno 2.9.6 reading one invalidates the resource, and `accept()` then fails with "Invalid
 * QuicIncoming resource". The address is read from the accepted connection instead.
 */
interface DenoQuicIncoming {
  accept(): Promise<DenoQuicConn>;
  refuse(): void;
}

interface DenoQuicListener extends AsyncIterable<DenoQuicIncoming> {
  stop(): void;
}

interface DenoQuicEndpoint {
  readonly addr: { hostname: string; port: number };
  listen(options: { alpnProtocols: string[]; cert: string; key: string }): DenoQuicListener;
  close(info?: QuicCloseInfo): void;
}

interface DenoQuicNamespace {
  QuicEndpoint?: new (options: { hostname: string; port: number }) => DenoQuicEndpoint;
}

function denoNamespace(): DenoQuicNamespace | undefined {
  return (globalThis as { Deno?: DenoQuicNamespace }).Deno;
}

/** Why `--quic` cannot run in this process, in one sentence, or undefined when it can. */
export function quicListenerUnavailable(): string | undefined {
  const deno = denoNamespace();
  if (!deno) return "--quic needs Deno's QUIC: deno run -A --unstable-net …/apps/intermediary/dist/cli.js … (Node has no QUIC)";
  if (typeof deno.QuicEndpoint !== 'function') return '--quic needs Deno.QuicEndpoint, which Deno keeps behind a flag: add --unstable-net (deno run -A --unstable-net …/cli.js …)';
  return undefined;
}

export interface QuicListenerOptions {
  address: { host: string; port: number };
  /** The intermediary's certificate chain and key (PEM), as for `--agents` and `--https`. */
  cert: string;
  key: string;
  /** A connection that agreed `h3-reverse`: an agent, still to authenticate in-band. A throw or rejection closes the connection. */
  onAgent(quic: QuicConnection, remoteAddress: string): void | Promise<void>;
  /** A connection that agreed `h3`: a browser. A throw or rejection closes the connection. */
  onBrowser(quic: QuicConnection, remoteAddress: string): void | Promise<void>;
  /** A connection refused before it was handed over (bounds, a failed or slow handshake): for metrics. */
  onRefused?(remoteAddress: string, kind: 'alpn' | 'timeout' | 'other', reason: string): void;
  log?: LogFunction;
  /** Tests lower the bounds. */
  maxHandshakes?: number;
  maxConnections?: number;
  handshakeTimeoutMs?: number;
}

/** A bound QUIC listener. */
export interface QuicListener {
  /** The address bound (port 0 resolved). */
  readonly address: { host: string; port: number };
  /** Connections handed over and not yet closed. */
  readonly connections: number;
  /** Handshakes in progress. */
  readonly handshakes: number;
  /** No new connections; those handed over go on. */
  stop(): void;
  /** Closes the endpoint: every connection on it ends (CONNECTION_CLOSE with `reason`). */
  close(reason?: string): void;
}

/** Binds the QUIC endpoint and starts accepting. Throws with a plain sentence where QUIC is unavailable. */
export function listenQuic(options: QuicListenerOptions): QuicListener {
  const unavailable = quicListenerUnavailable();
  if (unavailable) throw new Error(unavailable);
  const Endpoint = denoNamespace()!.QuicEndpoint!;
  const maxHandshakes = options.maxHandshakes ?? MAX_QUIC_HANDSHAKES;
  const maxConnections = options.maxConnections ?? MAX_QUIC_CONNECTIONS;
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? QUIC_HANDSHAKE_TIMEOUT_MS;
  const log: LogFunction = options.log ?? (() => {});
  const endpoint = new Endpoint({ hostname: options.address.host, port: options.address.port });
  const listener = endpoint.listen({ alpnProtocols: [...QUIC_ALPNS], cert: options.cert, key: options.key });
  let handshakes = 0;
  let connections = 0;
  let stopped = false;
  let closed = false;
  const refused = (from: string, kind: 'alpn' | 'timeout' | 'other', reason: string) => {
    options.onRefused?.(from, kind, reason);
    log(`QUIC connection from ${from} refused: ${reason}`, { level: 'warn', event: 'quic.refused', remoteAddress: from, reason: kind, detail: reason });
  };

  const handshake = async (incoming: DenoQuicIncoming): Promise<void> => {
    // Before the handshake the peer's address cannot be read (see DenoQuicIncoming).
    let from = 'a QUIC client';
    handshakes++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const accepting = incoming.accept();
    let conn: DenoQuicConn;
    try {
      conn = await Promise.race([
        accepting,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new QuicHandshakeTimeout(handshakeTimeoutMs)), handshakeTimeoutMs);
        }),
      ]);
    } catch (error) {
      if (error instanceof QuicHandshakeTimeout) {
        // Too late: whatever comes of it is closed at once.
        accepting.then((late) => late.close({ closeCode: H3ErrorCode.H3_NO_ERROR, reason: 'handshake too slow' }), () => {});
        refused(from, 'timeout', error.message);
      } else {
        const message = error instanceof Error ? error.message : String(error);
        // rustls: "peer doesn't support any known protocol" when the client offered neither h3-reverse nor h3.
        refused(from, /known protocol|error 120\b/i.test(message) ? 'alpn' : 'other', `QUIC handshake failed: ${message}`);
      }
      return;
    } finally {
      clearTimeout(timer);
      handshakes--;
    }
    // Read the ALPN and address at once: Deno's properties of a closed connection throw.
    let protocol: string | undefined;
    try {
      protocol = conn.protocol;
      from = formatRemote(conn.remoteAddr);
    } catch {
      return; // closed by the peer already
    }
    if (closed) {
      conn.close({ closeCode: H3ErrorCode.H3_NO_ERROR, reason: 'the intermediary is shutting down' });
      return;
    }
    if (protocol !== H3_REVERSE_ALPN && protocol !== H3_ALPN) {
      conn.close({ closeCode: H3ErrorCode.H3_NO_ERROR, reason: `ALPN ${protocol ?? 'none'} is not served here` });
      refused(from, 'alpn', `ALPN ${protocol ?? 'none'} is neither ${H3_REVERSE_ALPN} nor ${H3_ALPN}`);
      return;
    }
    connections++;
    conn.closed.then(
      () => connections--,
      () => connections--,
    );
    log(`QUIC connection from ${from} (ALPN ${protocol})`, { level: 'debug', event: 'quic.accepted', remoteAddress: from, alpn: protocol });
    // Deno ends the process on an unhandled rejection: a failing callback costs its connection only.
    const failed = (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      log(`QUIC connection from ${from} (ALPN ${protocol}) failed: ${message}`, { level: 'error', event: 'quic.failed', remoteAddress: from, alpn: protocol, error: message });
      try {
        conn.close({ closeCode: H3ErrorCode.H3_INTERNAL_ERROR, reason: 'internal error' });
      } catch {
        // closed already
      }
    };
    try {
      const handled = protocol === H3_REVERSE_ALPN ? options.onAgent(conn, from) : options.onBrowser(conn, from);
      if (handled) handled.catch(failed);
    } catch (error) {
      failed(error);
    }
  };

  void (async () => {
    try {
      for await (const incoming of listener) {
        if (stopped) {
          incoming.refuse();
          continue;
        }
        if (handshakes >= maxHandshakes || connections >= maxConnections) {
          incoming.refuse();
          refused('a QUIC client', 'other', handshakes >= maxHandshakes ? `${maxHandshakes} QUIC handshakes are in progress already (MAX_QUIC_HANDSHAKES)` : `${maxConnections} QUIC connections are open already (MAX_QUIC_CONNECTIONS)`);
          continue;
        }
        void handshake(incoming);
      }
    } catch (error) {
      // The endpoint closed under the iterator (stop/close); anything else is worth a line.
      if (!stopped) log(`QUIC listener failed: ${error instanceof Error ? error.message : String(error)}`, { level: 'error', event: 'quic.failed' });
    }
  })();

  return {
    address: { host: options.address.host, port: endpoint.addr.port },
    get connections() {
      return connections;
    },
    get handshakes() {
      return handshakes;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      listener.stop();
    },
    close(reason = 'the intermediary is shutting down') {
      if (closed) return;
      this.stop();
      closed = true;
      endpoint.close({ closeCode: H3ErrorCode.H3_NO_ERROR, reason });
    },
  };
}

class QuicHandshakeTimeout extends Error {
  constructor(ms: number) {
    super(`no QUIC handshake within ${ms / 1000} s`);
  }
}

function formatRemote(address: { hostname: string; port: number }): string {
  return address.hostname.includes(':') ? `[${address.hostname}]:${address.port}` : `${address.hostname}:${address.port}`;
}
