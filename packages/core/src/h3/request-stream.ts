/**
 * One HTTP/3 request stream (a bidirectional QUIC stream) as the connection keeps it. Only the
 * connection (connection.ts) changes its fields.
 *
 * Receiving half, RFC 9114 §4.1 message framing:
 *
 * ```
 *            HEADERS (1xx, client role)
 *              ┌──┐
 *   ┌──────┐   │  ▼     HEADERS      ┌──────┐  DATA   HEADERS   ┌──────────┐   FIN   ┌───────┐
 *   │ head │ ──┴──────────────────▶ │ body │ ◀──┘ ──────────▶ │ trailers │ ──────▶ │ ended │
 *   └──────┘                        └──────┘ ─────────────────────────────────────▶ └───────┘
 *                                                   FIN
 * ```
 *
 * Any other order (DATA first, anything after trailers) is H3_FRAME_UNEXPECTED (§4.1). The
 * sending half is `localEnded` once FIN went to the transport. `state` is what the HTTP layer
 * reads (stream-port.ts): `'closed'` once both halves ended or the stream was reset.
 */
import type { HeaderField } from '../frame/types.js';
import type { PortStream } from '../http/stream-port.js';
import type { StreamListener } from '../proto/stream.js';
import type { H3FrameReader } from './frame-reader.js';
import type { H3Frame } from './frame/types.js';

export type ReceivePhase = 'head' | 'body' | 'trailers' | 'ended';

/** The transport's side of one QUIC stream: what the connection asks of it (connect-quic.ts implements it). */
export interface H3StreamIo {
  /** Queue octets; resolves when the transport can take more (backpressure), rejects if the stream died. */
  write(bytes: Uint8Array): Promise<void>;
  /** FIN after what was written; resolves once the transport sent it all (a closing connection waits on it). */
  end(): Promise<void>;
  /** RESET_STREAM with an HTTP/3 error code. */
  reset(code: number): void;
  /** STOP_SENDING with an HTTP/3 error code. */
  stopSending(code: number): void;
}

/** One queued send: a HEADERS (fields, encoded when it goes out), DATA, or the FIN. */
export interface PendingH3Write {
  headers?: HeaderField[];
  data?: Uint8Array;
  end: boolean;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Held while a HEADERS waits on QPACK inserts (RFC 9204 §2.1.2): later frames, later chunks and the FIN, in order. */
export type HeldInput = { frame: H3Frame } | { chunk: Uint8Array } | { fin: true };

export class H3RequestStream implements PortStream {
  /** The QUIC stream id; -1 until the transport opened a stream we asked for. */
  id = -1;
  listener: StreamListener | undefined;
  phase: ReceivePhase = 'head';
  /** Received DATA octets the application has not consumed. */
  unconsumed = 0;
  /** Outbound writes not yet handed to the transport. */
  readonly pending: PendingH3Write[] = [];
  io: H3StreamIo | undefined;
  localEnded = false;
  /** Some of our frames went to the transport (connection.ts: a reset midway must then be seen as one). */
  sentBytes = false;
  /** An in-band STOP_SENDING (its own stream, so unordered with this one's data) waits for this stream's data before it applies. */
  deferredStopSending: number | undefined = undefined;
  reset = false;
  /** The peer stopped our sending with H3_NO_ERROR after a complete response (§4.1): what we would still send is dropped. */
  stopped = false;
  /** Told when the stream closed normally (both halves ended): a ServerStream settles `closed` there. */
  onClosed: (() => void) | undefined;
  /** Told when `stopped` is set: whoever feeds the request body stops reading it. */
  onStopped: (() => void) | undefined;
  /** A final response held until its FIN or its next frame (a gRPC Trailers-Only response, connection.ts). */
  deferredHead: HeaderField[] | undefined;
  /** A field section waits on QPACK: input is held until `onUnblocked`. */
  blocked = false;
  readonly held: HeldInput[] = [];
  /** The transport's reader waits on this while the stream's budget is full (connect-quic.ts). */
  resumeReading: (() => void) | undefined;
  /** Set while `pending` is being written. */
  writing = false;
  /** Opened by this endpoint (client role's requests). */
  readonly local: boolean;

  constructor(
    readonly reader: H3FrameReader,
    local: boolean,
  ) {
    this.local = local;
  }

  /** A final response HEADERS (client role) or the request HEADERS (server role) arrived. */
  get headReceived(): boolean {
    return this.phase !== 'head';
  }

  get remoteEnded(): boolean {
    return this.phase === 'ended';
  }

  get state(): 'open' | 'half-closed-local' | 'half-closed-remote' | 'closed' {
    if (this.reset || (this.localEnded && this.remoteEnded)) return 'closed';
    if (this.localEnded) return 'half-closed-local';
    return this.remoteEnded ? 'half-closed-remote' : 'open';
  }
}
