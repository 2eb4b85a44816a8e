/**
 * The QUIC connection HTTP/3 runs on, as the engine sees it: streams as Web Streams, opened and
 * accepted, and the connection's close. Deno's `Deno.QuicConn` has exactly this shape (its
 * streams carry a bigint `id`), so the Deno adapter is the object itself; tests use an in-memory
 * pair. Nothing here knows which side is the QUIC client: in `h3-reverse` the QUIC client (the
 * agent) is the HTTP/3 server, and requests arrive on QUIC *server*-initiated bidirectional
 * streams (draft-bt-httpbis-reverse-http-01 §3).
 *
 * @example
 * // Deno, the agent's side of h3-reverse (QUIC client, HTTP/3 server):
 * const quic: QuicConnection = await Deno.connectQuic({ hostname, port, alpnProtocols: ['h3-reverse'] });
 */
export interface QuicStreamId {
  /** The QUIC stream id (62 bits), when the runtime tells it. */
  readonly id?: bigint;
}

/** The receiving half of a QUIC stream. Cancelling it sends STOP_SENDING. */
export type QuicReceiveStream = ReadableStream<Uint8Array> & QuicStreamId;
/** The sending half of a QUIC stream. Closing it sends FIN; aborting it sends RESET_STREAM. */
export type QuicSendStream = WritableStream<Uint8Array> & QuicStreamId;

export interface QuicBidirectionalStream {
  readonly readable: QuicReceiveStream;
  readonly writable: QuicSendStream;
}

/** Why a QUIC connection closed: the application error code (for HTTP/3, RFC 9114 §8.1) and a reason. */
export interface QuicCloseInfo {
  closeCode: number;
  reason: string;
}

export interface QuicConnection {
  /**
   * Opens a bidirectional stream initiated by this endpoint. `waitUntilAvailable`: wait for the
   * peer's stream credit (MAX_STREAMS) instead of failing when it is used up (Deno's option).
   */
  createBidirectionalStream(options?: { waitUntilAvailable?: boolean }): Promise<QuicBidirectionalStream>;
  /** Opens a unidirectional stream initiated by this endpoint. */
  createUnidirectionalStream(): Promise<QuicSendStream>;
  /** Bidirectional streams the peer opened, in order. */
  readonly incomingBidirectionalStreams: ReadableStream<QuicBidirectionalStream>;
  /** Unidirectional streams the peer opened, in order. */
  readonly incomingUnidirectionalStreams: ReadableStream<QuicReceiveStream>;
  /** Closes the connection with an application error code (CONNECTION_CLOSE). */
  close(info?: QuicCloseInfo): void;
  /** Settles when the connection closed, from either side. */
  readonly closed: Promise<QuicCloseInfo>;
}
