/**
 * Carrier 1 of DESIGN.md: TLS 1.3 with ALPN `h2-reverse` (draft-bt-httpbis-reverse-http-01),
 * our certificate presented as the client certificate. Dials one address and hands the
 * supervisor a {@link Carrier} once the handshake is done and ALPN agreed.
 *
 * @example
 * const carrier = await dialTls({ host: '127.0.0.1', port: 8443, servername: 'proxy.example.net' }, { cert, key, ca, connectTimeoutMs: 15_000 }, signal);
 * const session = connectSocket(carrier.socket, { role: 'server', origins, handler });
 */
import * as tls from 'node:tls';
import { CarrierDialError, type Carrier, type CarrierPeer } from '../carrier.js';
import { H2_REVERSE_ALPN, type ReversedH2Alpn } from '@rhttp/core';
import { alpnMismatch, describeConnectError, isPermanentFailure } from '../connect-errors.js';

/** Our credentials and the handshake budget. */
export interface TlsCarrierOptions {
  /** Our certificate chain (PEM, leaf first). */
  cert: string;
  /** Its private key (PEM). */
  key: string;
  /** CA certificate(s) (PEM) to verify the intermediary with; the system's CAs otherwise. */
  ca?: string;
  /** TCP + TLS handshake budget; a hung handshake then fails like any other. */
  connectTimeoutMs: number;
  /** The ALPN to offer: `h2-reverse` (draft-bt-httpbis-reverse-http-01, the default) or `rh2` (draft-thomson-ptth-potato). */
  alpn?: ReversedH2Alpn;
}

/** What is wrong with the agent's TLS material. */
export type TlsMaterialProblem = 'missing' | 'key-mismatch' | 'unusable-cert-or-key' | 'unusable-ca';

/** How a caller names the three pieces in its sentences (option fields by default; the CLI names its flags and files). */
export interface TlsMaterialNames {
  cert: string;
  key: string;
  ca: string;
}

/**
 * The agent's certificate, key or CA cannot work. `problem` says which (callers switch on it),
 * `describe(names)` words it with the caller's names for the three pieces; the message uses the
 * option fields' names.
 */
export class TlsMaterialError extends TypeError {
  readonly code = 'ERR_RHTTP_TLS_MATERIAL';
  constructor(
    readonly problem: TlsMaterialProblem,
    /** The TLS library's own words, when it gave any. */
    readonly detail: string = '',
    options?: { cause?: unknown },
  ) {
    super('', options);
    this.message = this.describe({ cert: 'cert', key: 'key', ca: 'ca' });
  }

  describe(names: TlsMaterialNames): string {
    switch (this.problem) {
      case 'missing':
        return `an agent needs a certificate chain (${names.cert}) and its private key (${names.key})`;
      case 'key-mismatch':
        return `the private key (${names.key}) does not belong to the certificate (${names.cert})`;
      case 'unusable-cert-or-key':
        return `the certificate (${names.cert}) or private key (${names.key}) is not usable PEM: ${this.detail}`;
      case 'unusable-ca':
        return `the CA certificate(s) (${names.ca}) are not usable PEM: ${this.detail}`;
    }
  }
}

/** Fail at construction, not on every reconnect, when the PEM material cannot work. */
export function checkTlsMaterial(options: { cert?: string; key?: string; ca?: string }): void {
  if (!options.cert || !options.key) throw new TlsMaterialError('missing');
  try {
    tls.createSecureContext({ cert: options.cert, key: options.key });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH' || /key values mismatch/i.test(e.message)) {
      throw new TlsMaterialError('key-mismatch', e.message, { cause: error });
    }
    throw new TlsMaterialError('unusable-cert-or-key', e.message, { cause: error });
  }
  if (options.ca !== undefined) {
    try {
      tls.createSecureContext({ ca: options.ca });
    } catch (error) {
      throw new TlsMaterialError('unusable-ca', (error as Error).message, { cause: error });
    }
  }
}

/**
 * Dials `peer` over TLS 1.3 with ALPN `h2-reverse`. Rejects with a {@link CarrierDialError}: a
 * refusal when retrying soon cannot help (wrong ALPN, a certificate rejected either way),
 * unreached for network failures, timeouts and a connection closed during the handshake.
 */
export function dialTls(peer: CarrierPeer, options: TlsCarrierOptions, signal: AbortSignal): Promise<Carrier> {
  const alpn = options.alpn ?? H2_REVERSE_ALPN;
  const { host, port, servername } = peer;
  return new Promise<Carrier>((resolve, reject) => {
    let socket: tls.TLSSocket;
    try {
      socket = tls.connect({
        host,
        port,
        ALPNProtocols: [alpn],
        cert: options.cert,
        key: options.key,
        ca: options.ca,
        servername,
        // Carrier 1 of the design: TLS 1.3 only.
        minVersion: 'TLSv1.3',
      });
      // HTTP/2 frames are already batched per flush; Nagle would only add delayed-ACK stalls.
      socket.setNoDelay(true);
    } catch (error) {
      // Bad PEM in cert/key/ca fails here, synchronously.
      reject(new CarrierDialError(`the TLS setup failed: ${(error as Error).message}`, { refused: false, unreached: false, cause: error }));
      return;
    }
    let socketError: Error | undefined;
    let failure: CarrierDialError | undefined;
    let established = false;
    const abort = () => socket.destroy();
    signal.addEventListener('abort', abort, { once: true });
    if (signal.aborted) socket.destroy();
    const connectTimer = setTimeout(() => {
      socket.destroy(Object.assign(new Error(`no TLS handshake with the intermediary within ${options.connectTimeoutMs / 1000} s`), { code: 'ETIMEDOUT' }));
    }, options.connectTimeoutMs);
    socket.on('error', (error) => {
      socketError ??= error;
    });
    socket.once('secureConnect', () => {
      clearTimeout(connectTimer);
      if (signal.aborted) {
        socket.destroy();
        return;
      }
      // draft-bt-httpbis-reverse-http-01: if ALPN does not come back as h2-reverse, the agent closes the connection.
      if (socket.alpnProtocol !== alpn) {
        failure = new CarrierDialError(alpnMismatch(socket.alpnProtocol, alpn), { refused: true, unreached: false });
        socket.destroy();
        return;
      }
      established = true;
      signal.removeEventListener('abort', abort);
      resolve({
        socket,
        alpnProtocol: alpn,
        get protocol() {
          return socket.getProtocol();
        },
        peer: { host, port, servername },
        get error() {
          return socketError;
        },
        destroy: (error) => socket.destroy(error),
      });
    });
    socket.once('close', () => {
      clearTimeout(connectTimer);
      signal.removeEventListener('abort', abort);
      if (established) return;
      if (failure) reject(failure);
      else if (socketError) {
        const refused = isPermanentFailure(socketError);
        reject(new CarrierDialError(describeConnectError(socketError, peer, alpn), { refused, unreached: !refused, cause: socketError }));
      } else reject(new CarrierDialError('the intermediary closed the connection during the TLS handshake', { refused: false, unreached: true }));
    });
  });
}
