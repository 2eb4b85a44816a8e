/**
 * Carrier 3 of DESIGN.md: QUIC with ALPN `h3-reverse` (draft-bt-httpbis-reverse-http-01). The
 * agent is the QUIC client and the HTTP/3 server: the intermediary sends requests on QUIC
 * server-initiated bidirectional streams. Only Deno has QUIC (`Deno.connectQuic`, behind
 * `--unstable-net`), and its QUIC has no client certificates, so the agent proves its origin
 * certificate in-band on the HTTP/3 control stream (core's reverse/quic-authentication.ts). This
 * file dials and checks ALPN; the HTTP/3 session runs on the {@link QuicCarrier} it returns.
 *
 * Typed by shape: `Deno` is looked up on `globalThis`, no Deno types are needed to build.
 *
 * @example
 * const refusal = quicUnavailable();            // a sentence on Node and Bun, undefined on Deno with --unstable-net
 * const carrier = await dialQuic({ host: '127.0.0.1', port: 8443, servername: 'localhost' }, { certChainPem, keyPem, ca, connectTimeoutMs: 15_000 }, signal);
 * // carrier.quic: the QuicConnection the HTTP/3 engine runs on;
 * // on RHTTP_CHALLENGE: send RHTTP_AUTHENTICATE with await carrier.answerChallenge(payload)
 */
import { H3_REVERSE_ALPN, H3ErrorCode, h3ErrorCodeName, signQuicChallenge, type QuicCloseInfo, type QuicConnection, type QuicCredentials } from '@rhttp/core';
import { CarrierDialError, type CarrierPeer, type QuicCarrier } from '../carrier.js';
import { alpnMismatch } from '../connect-errors.js';

/**
 * QUIC keep-alive (PING frames) while the connection is idle. HTTP/3 has no PING of its own, and
 * an idle QUIC connection is closed after the idle timeout (Deno's default: 30 s, measured: an
 * idle connection without keep-alive ends "timed out" then; with it, it lives on). Only one side
 * needs it (the agent, behind the NAT); 10 s also keeps NAT bindings for UDP, which expire sooner
 * than TCP's.
 */
export const QUIC_KEEPALIVE_INTERVAL_MS = 10_000;


/** What the dial needs of `Deno.connectQuic`'s answer (Deno.QuicConn has it). */
interface DenoQuicConn extends QuicConnection {
  /** The ALPN agreed, after the handshake. */
  readonly protocol: string | undefined;
  readonly handshake?: Promise<void>;
}

/** The part of `Deno` this file uses (Deno 2.x, `--unstable-net`). */
interface DenoQuicNamespace {
  connectQuic?(options: { hostname: string; port: number; serverName?: string; alpnProtocols: string[]; caCerts?: string[]; keepAliveInterval?: number }): Promise<DenoQuicConn>;
}

function denoNamespace(): DenoQuicNamespace | undefined {
  return (globalThis as { Deno?: DenoQuicNamespace }).Deno;
}

/**
 * Why `quic://` cannot run here, in one sentence, or undefined when it can: QUIC needs Deno, and
 * Deno keeps `Deno.connectQuic` behind `--unstable-net`.
 */
export function quicUnavailable(): string | undefined {
  const deno = denoNamespace();
  if (!deno) return "quic:// needs Deno's QUIC (deno run -A --unstable-net npm:rhttp-agent …); Node and Bun have no QUIC (use tls:// there)";
  if (typeof deno.connectQuic !== 'function') {
    return 'quic:// needs Deno.connectQuic, which Deno keeps behind a flag: add --unstable-net (deno run -A --unstable-net …)';
  }
  return undefined;
}

/**
 * The carriers this runtime can dial, most preferred first (discovery's `carriers`): where there
 * is QUIC, h3-reverse first, then h2-reverse over TLS, then the WebSocket carrier; elsewhere QUIC
 * is left out, so a record listing both h2-reverse and h3-reverse is dialed over TLS, and one
 * listing only h3-reverse is reported as unusable here.
 */
export function dialableCarriers(): ('tls' | 'quic' | 'ws')[] {
  return quicUnavailable() === undefined ? ['quic', 'tls', 'ws'] : ['tls', 'ws'];
}

/** What the QUIC dial needs. The certificate and key are not shown to QUIC: they answer the challenge in-band, over HTTP/3. */
export interface QuicCarrierOptions extends QuicCredentials {
  /** CA certificate(s) (PEM) to verify the intermediary with, as the TLS carrier's `ca`; the system's CAs otherwise. */
  ca?: string;
  /** QUIC handshake budget; a hung handshake then fails like any other (UDP has no "connection refused"). */
  connectTimeoutMs: number;
}

/**
 * Dials `peer` over QUIC with ALPN `h3-reverse`. Rejects with a {@link CarrierDialError}: a
 * refusal when retrying soon cannot help (wrong ALPN, an intermediary certificate we do not
 * trust or that names another host), unreached for timeouts and network failures; and a plain
 * refusal where QUIC is unavailable ({@link quicUnavailable}).
 */
export async function dialQuic(peer: CarrierPeer, options: QuicCarrierOptions, signal: AbortSignal): Promise<QuicCarrier> {
  const unavailable = quicUnavailable();
  if (unavailable) throw new CarrierDialError(unavailable, { refused: true, unreached: false });
  const { host, port, servername } = peer;
  if (signal.aborted) throw new CarrierDialError('the dial was abandoned', { refused: false, unreached: false });
  const connecting = denoNamespace()!.connectQuic!({
    hostname: host,
    port,
    ...(servername !== undefined ? { serverName: servername } : {}),
    alpnProtocols: [H3_REVERSE_ALPN],
    ...(options.ca !== undefined ? { caCerts: [options.ca] } : {}),
    keepAliveInterval: QUIC_KEEPALIVE_INTERVAL_MS,
  }).then(async (conn) => {
    await conn.handshake;
    return conn;
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const gaveUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CarrierDialError(`no QUIC handshake with ${host}:${port} within ${options.connectTimeoutMs / 1000} s; is the intermediary listening for QUIC (--quic) there, and is UDP let through?`, { refused: false, unreached: true })), options.connectTimeoutMs);
    onAbort = () => reject(new CarrierDialError('the dial was abandoned', { refused: false, unreached: false }));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  let conn: DenoQuicConn;
  try {
    conn = await Promise.race([connecting, gaveUp]);
  } catch (error) {
    // A connection that completes after we gave up is closed at once.
    connecting.then((late) => late.close({ closeCode: H3ErrorCode.H3_NO_ERROR, reason: 'the agent gave up on this dial' }), () => {});
    if (error instanceof CarrierDialError) throw error;
    throw describeQuicError(error, peer);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
  // draft-bt-httpbis-reverse-http-01: if ALPN does not come back as h3-reverse, the agent closes the connection.
  if (conn.protocol !== H3_REVERSE_ALPN) {
    conn.close({ closeCode: H3ErrorCode.H3_NO_ERROR, reason: 'ALPN is not h3-reverse' });
    throw new CarrierDialError(alpnMismatch(conn.protocol, H3_REVERSE_ALPN), { refused: true, unreached: false });
  }
  const credentials: QuicCredentials = { certChainPem: options.certChainPem, keyPem: options.keyPem };
  return quicCarrier(conn, { host, port, servername }, credentials);
}

/** The {@link QuicCarrier} of an established connection; `error` says how it ended when the peer closed it with an error code. */
function quicCarrier(conn: DenoQuicConn, peer: CarrierPeer, credentials: QuicCredentials): QuicCarrier {
  let closeError: Error | undefined;
  conn.closed.then(
    (info: QuicCloseInfo) => {
      if (info.closeCode !== H3ErrorCode.H3_NO_ERROR && info.closeCode !== 0) closeError = new Error(`the intermediary closed the QUIC connection (${h3ErrorCodeName(info.closeCode)})${info.reason ? `: ${info.reason}` : ''}`);
    },
    (error: unknown) => {
      closeError = error instanceof Error ? error : new Error(String(error));
    },
  );
  return {
    kind: 'quic',
    // A graceful close after our last response lets the intermediary close first (core's connect-quic.ts linger).
    quic: conn,
    alpnProtocol: H3_REVERSE_ALPN,
    protocol: 'QUIC',
    peer,
    get error() {
      return closeError;
    },
    answerChallenge: (challenge) => signQuicChallenge(challenge, credentials),
    destroy(error?: Error) {
      closeError ??= error;
      try {
        conn.close({ closeCode: H3ErrorCode.H3_NO_ERROR, reason: error?.message.slice(0, 100) ?? '' });
      } catch {
        // already closed
      }
    },
  };
}

/**
 * A Deno QUIC failure as a dial error. Deno reports them as plain Errors whose message is
 * quinn's and rustls's: `the cryptographic handshake failed: error 48: invalid peer certificate:
 * UnknownIssuer`, `… error 120: peer doesn't support any known protocol`, `timed out`.
 */
export function describeQuicError(error: unknown, peer: CarrierPeer): CarrierDialError {
  const message = error instanceof Error ? error.message : String(error);
  const where = `${peer.host}:${peer.port}`;
  if (/peer doesn't support any known protocol|no_application_protocol|error 120\b/i.test(message)) {
    return new CarrierDialError(alpnMismatch(null, H3_REVERSE_ALPN), { refused: true, unreached: false, cause: error });
  }
  const certificate = /invalid peer certificate: (.+)$/i.exec(message);
  if (certificate) {
    const why = certificate[1];
    const sentence = /not valid for name/i.test(why)
      ? `the intermediary's certificate is not issued for ${peer.servername ?? peer.host} (${why}); use --servername NAME to check it against another name`
      : /expired/i.test(why)
        ? `the intermediary's certificate has expired (${why})`
        : `we do not trust the intermediary's certificate (${why}); pass the CA that issued it with --ca`;
    return new CarrierDialError(sentence, { refused: true, unreached: false, cause: error });
  }
  if (/timed out/i.test(message)) return new CarrierDialError(`${where} did not answer over QUIC (timed out); is the intermediary listening for QUIC (--quic) there, and is UDP let through?`, { refused: false, unreached: true, cause: error });
  if (/refused/i.test(message)) return new CarrierDialError(`nothing accepts QUIC at ${where} (connection refused); is the intermediary running with --quic?`, { refused: false, unreached: true, cause: error });
  return new CarrierDialError(`the QUIC connection to ${where} failed: ${message}`, { refused: false, unreached: true, cause: error });
}
