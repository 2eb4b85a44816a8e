/**
 * What a dialed connection to the intermediary is, as the supervisor (supervisor.ts) and the
 * HTTP/2 session need it. Each carrier of DESIGN.md implements it in its own file:
 * carriers/tls.ts (carrier 1, TLS 1.3 with ALPN `h2-reverse`), carriers/websocket.ts
 * (carrier 2, the PTTH-shaped WebSocket to an edge) and carriers/ptth.ts (HTTPS upgraded to ptth,
 * draft-kazuho-ptth-ptth-01), and carriers/quic.ts (QUIC with ALPN `h3-reverse`, Deno only), which
 * is a {@link QuicCarrier}: HTTP/3 runs on QUIC streams, not on one byte socket. Typed by shape: no
 * runtime import.
 */
import type { NodeStyleSocket, QuicConnection } from '@rhttp/core';

/** The Node-style duplex a carrier gives the session (`connectSocket`), plus what the supervisor watches on it. */
export interface CarrierSocket extends NodeStyleSocket {
  /** True once the socket is gone (destroyed, or closed by the peer). */
  readonly destroyed: boolean;
  once(event: 'close', listener: () => void): unknown;
  off(event: 'data', listener: (chunk: Uint8Array) => void): unknown;
}

/** Where a carrier goes, for the sentences of connect errors (`describeConnectError`). */
export interface CarrierPeer {
  host: string;
  port: number;
  /** TLS: the name sent and checked. */
  servername?: string;
}

/** An established connection to the intermediary, past its handshake, with `h2-reverse` agreed. */
export interface Carrier {
  /** The bytes the HTTP/2 session runs over. */
  readonly socket: CarrierSocket;
  /** The protocol the peer agreed to: ALPN (TLS) or the WebSocket subprotocol (`h2-reverse`), or the upgrade token (`ptth`). */
  readonly alpnProtocol: string;
  /** What the `connected` event calls `tlsVersion`: the TLS version (`TLSv1.3`), or `WebSocket`. */
  readonly protocol: string | null;
  readonly peer: CarrierPeer;
  /** The first error the socket reported, if any (it says why the connection ended). */
  readonly error: Error | undefined;
  /** Ends the connection at once. */
  destroy(error?: Error): void;
}

/**
 * An established QUIC connection to the intermediary with `h3-reverse` agreed (carriers/quic.ts).
 * The same as {@link Carrier} but for the bytes: the HTTP/3 session (HTTP/3 server role) runs on
 * `quic`'s streams, and the agent proves its certificate in-band on the control stream. Tell it
 * from a {@link Carrier} by `kind` (`'quic' in carrier` also narrows).
 */
export interface QuicCarrier extends Omit<Carrier, 'socket'> {
  readonly kind: 'quic';
  /** The QUIC connection HTTP/3 runs on (Deno's QuicConn). */
  readonly quic: QuicConnection;
  /**
   * The answer to the intermediary's RHTTP_CHALLENGE payload: the RHTTP_AUTHENTICATE payload to
   * send on our control stream (core's reverse/quic-authentication.ts), signed with the
   * certificate and key this carrier was dialed with. Rejects on a malformed challenge.
   */
  answerChallenge(challenge: Uint8Array): Promise<Uint8Array>;
}

/** What a dial may produce: a byte-stream carrier (HTTP/2) or a QUIC carrier (HTTP/3). */
export type AnyCarrier = Carrier | QuicCarrier;

/** A dial that produced no carrier, in plain words (`message`), classified for the backoff. */
export class CarrierDialError extends Error {
  readonly code = 'ERR_RHTTP_DIAL';
  /** The intermediary refused us (wrong ALPN, a certificate it or we reject, HTTP 401/403): wait the long refusal delay. */
  readonly refused: boolean;
  /** It could not be reached (TCP, TLS or upgrade failed; not a refusal): the endpoint's next address is tried at once. */
  readonly unreached: boolean;
  constructor(message: string, options: { refused: boolean; unreached: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.refused = options.refused;
    this.unreached = options.unreached;
  }
}

/** One concrete place to dial: a fixed URL, or one address of a discovered endpoint. */
export interface Dial {
  carrier: 'tls' | 'ws' | 'ptth' | 'quic';
  /** TLS and QUIC: the host or address to connect to. */
  host: string;
  port: number;
  /** TLS and QUIC: the name to send (SNI) and check the certificate against. */
  servername?: string;
  /** WebSocket: the edge URL; ptth: the intermediary's `https://` URL. */
  url?: string;
  /** As written in events: `tls://localhost:8443 (127.0.0.1)`. */
  label: string;
}

/**
 * Opens a carrier to `dial`. Rejects with a {@link CarrierDialError}; `signal` aborts a dial the
 * supervisor no longer wants (stop, or the endpoint left the record set).
 */
export type DialCarrier = (dial: Dial, signal: AbortSignal) => Promise<AnyCarrier>;
