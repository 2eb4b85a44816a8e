/**
 * The adapter that binds an HTTP/3 connection to a `QuicConnection` (quic.ts: streams as Web
 * Streams, Deno.QuicConn's shape): it accepts the peer's streams and feeds their bytes in, opens
 * ours, and carries out writes, FINs, resets and the close. Reading a request stream pauses while
 * the connection says its receive budget is full, so QUIC flow control holds the peer.
 *
 * @example
 * // The agent in h3-reverse: QUIC client, HTTP/3 server.
 * const quic = await Deno.connectQuic({ hostname, port, alpnProtocols: ['h3-reverse'] });
 * const session = connectQuic(quic, { role: 'server', quicRole: 'client', onStream: (stream) => upstream.serve(stream) });
 */
import { H3ErrorCode } from './error-codes.js';
import { type H3Connection, type H3IncomingUni, type H3RequestStream, type H3StreamIo, type H3Transport, resetCodeOf } from './connection.js';
import type { QuicConnection, QuicReceiveStream, QuicSendStream } from './quic.js';
import { Http3Session, type Http3SessionOptions } from './session.js';
import { STREAM_ID_STEP } from './role.js';

/** Why a stream was reset or stopped: carried as the abort/cancel reason, read back by `resetCodeOf`. */
export class QuicStreamAbort extends Error {
  constructor(readonly streamErrorCode: number) {
    super(`QUIC stream aborted with code 0x${streamErrorCode.toString(16)}`);
  }
}

const noop = () => {};

/**
 * How long a graceful close waits for the peer to close first when we wrote last. QUIC abandons
 * stream data the peer has not acknowledged once CONNECTION_CLOSE goes out, and Deno's stream
 * close resolves when the FIN is queued, not acknowledged (2.9.6: an 8 MiB response closed at once
 * lost its last ~1 MiB); a peer that has read everything closes within a round trip or two.
 */
export const QUIC_CLOSE_LINGER_MS = 1_000;

/** Binds a new Http3Session to `quic`. `options.role` is the HTTP/3 role; `options.quicRole` the QUIC one when they differ (h3-reverse). */
export function connectQuic(quic: QuicConnection, options: Http3SessionOptions): Http3Session {
  const transport = new QuicTransport(quic, options.quicRole ?? options.role, options.closeLingerMs ?? QUIC_CLOSE_LINGER_MS);
  const session = new Http3Session(transport, options);
  transport.bind(session.connection);
  return session;
}

/** The H3Transport over a QuicConnection. */
class QuicTransport implements H3Transport {
  private connection!: H3Connection;
  /** Stream ids when the runtime does not tell them: the n-th request stream of either side, in QUIC's numbering. */
  private nextLocalBidi: number;
  private nextPeerBidi: number;
  readonly closed: Promise<unknown>;

  constructor(
    private readonly quic: QuicConnection,
    quicRole: 'client' | 'server',
    private readonly lingerMs: number,
  ) {
    this.closed = quic.closed.catch(noop);
    // RFC 9000 §2.1: bidirectional streams are 0 mod 4 from the QUIC client, 1 mod 4 from the QUIC server.
    this.nextLocalBidi = quicRole === 'client' ? 0 : 1;
    this.nextPeerBidi = quicRole === 'client' ? 1 : 0;
  }

  bind(connection: H3Connection): void {
    this.connection = connection;
    connection.start();
    void this.acceptBidirectional();
    void this.acceptUnidirectional();
    this.quic.closed.then(
      (info) => connection.transportClosed(info.closeCode, info.reason),
      (error) => connection.transportClosed(H3ErrorCode.H3_INTERNAL_ERROR, (error as Error)?.message ?? String(error)),
    );
  }

  openUnidirectional(): H3StreamIo {
    return deferredIo(this.quic.createUnidirectionalStream());
  }

  openBidirectional(stream: H3RequestStream): void {
    const connection = this.connection;
    // RFC 9000 §4.6: a stream closed here frees credit only once the peer's MAX_STREAMS says so;
    // until then a new request waits for it rather than failing (our stream count is already down).
    this.quic.createBidirectionalStream({ waitUntilAvailable: true }).then(
      (bidi) => {
        // Read the id at once: some runtimes throw reading it after the stream closed.
        const id = idOf(bidi.writable) ?? idOf(bidi.readable) ?? this.takeId('local');
        const reader = bidi.readable.getReader();
        connection.opened(stream, id, streamIo(bidi.writable, reader, (code) => connection.receiveStopSending(stream, code)));
        void readRequest(connection, stream, reader);
      },
      (error) => connection.openFailed(stream, error),
    );
  }

  close(code: number, reason: string, linger: boolean): void {
    const closeNow = () => {
      try {
        this.quic.close({ closeCode: code, reason });
      } catch {
        // already closed
      }
    };
    if (!linger) return closeNow();
    // The peer closes once it has read what we sent last; past the linger, we close.
    const timer = setTimeout(closeNow, this.lingerMs);
    void this.closed.then(() => clearTimeout(timer));
  }

  private takeId(side: 'local' | 'peer'): number {
    if (side === 'local') return (this.nextLocalBidi += STREAM_ID_STEP) - STREAM_ID_STEP;
    return (this.nextPeerBidi += STREAM_ID_STEP) - STREAM_ID_STEP;
  }

  private async acceptBidirectional(): Promise<void> {
    const incoming = this.quic.incomingBidirectionalStreams.getReader();
    try {
      for (;;) {
        const { value: bidi, done } = await incoming.read();
        if (done) return;
        const id = idOf(bidi.readable) ?? idOf(bidi.writable) ?? this.takeId('peer');
        const reader = bidi.readable.getReader();
        let stream: H3RequestStream | undefined;
        stream = this.connection.acceptRequest(id, streamIo(bidi.writable, reader, (code) => stream && this.connection.receiveStopSending(stream, code)));
        if (stream) void readRequest(this.connection, stream, reader);
      }
    } catch {
      // The connection closed: `closed` tells the connection.
    }
  }

  private async acceptUnidirectional(): Promise<void> {
    const incoming = this.quic.incomingUnidirectionalStreams.getReader();
    try {
      for (;;) {
        const { value: readable, done } = await incoming.read();
        if (done) return;
        void this.readUni(readable);
      }
    } catch {
      // The connection closed.
    }
  }

  private async readUni(readable: QuicReceiveStream): Promise<void> {
    const reader = readable.getReader();
    const uni: H3IncomingUni = this.connection.acceptUnidirectional({
      stopSending: (code) => void reader.cancel(new QuicStreamAbort(code)).catch(noop),
    });
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.connection.receiveUni(uni, value);
      }
      this.connection.endUni(uni);
    } catch (error) {
      // A stream failing because the whole connection closed is the close, not a reset of the
      // stream: give the connection's `closed` a turn to say so first.
      await Promise.race([this.closed, new Promise<void>((resolve) => setTimeout(resolve, 0))]);
      this.connection.endUni(uni, resetCodeOf(error));
    }
  }
}

/** Reads a request stream into the connection, waiting while its budget is full. */
async function readRequest(connection: H3Connection, stream: H3RequestStream, reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  try {
    for (;;) {
      if (!connection.wantsData(stream)) {
        if (stream.reset || connection.isClosed) break;
        await new Promise<void>((resume) => (stream.resumeReading = resume));
        continue;
      }
      const { value, done } = await reader.read();
      if (done) {
        connection.receiveEnd(stream);
        return;
      }
      connection.receive(stream, value);
    }
  } catch (error) {
    connection.receiveReset(stream, resetCodeOf(error) ?? H3ErrorCode.H3_REQUEST_CANCELLED);
  }
}

/**
 * The io of a stream whose halves we hold. `onStopped` hears the peer's STOP_SENDING (the
 * writable failing with its code) even when nothing is being written.
 */
function streamIo(writable: QuicSendStream, reader?: ReadableStreamDefaultReader<Uint8Array>, onStopped?: (code: number) => void): H3StreamIo {
  const writer = writable.getWriter();
  let finished = false;
  writer.closed.catch((error: unknown) => {
    if (!finished) onStopped?.(resetCodeOf(error) ?? H3ErrorCode.H3_REQUEST_CANCELLED);
  });
  return {
    write(bytes) {
      // Written now, in call order; the promise is the backpressure.
      writer.write(bytes).catch(noop);
      return writer.ready;
    },
    end() {
      if (finished) return Promise.resolve();
      finished = true;
      return writer.close();
    },
    reset(code) {
      if (finished) return;
      finished = true;
      writer.abort(new QuicStreamAbort(code)).catch(noop);
    },
    stopSending(code) {
      reader?.cancel(new QuicStreamAbort(code)).catch(noop);
    },
  };
}

/** The io of a unidirectional stream still being opened: its operations wait, in order, for the stream. */
function deferredIo(opening: Promise<QuicSendStream>): H3StreamIo {
  const ready = opening.then((writable) => streamIo(writable));
  ready.catch(noop);
  return {
    write: (bytes) => ready.then((io) => io.write(bytes)),
    end: () => ready.then((io) => io.end()),
    reset: (code) => void ready.then((io) => io.reset(code), noop),
    stopSending: noop,
  };
}

function idOf(stream: { readonly id?: bigint }): number | undefined {
  try {
    const id = stream.id;
    return id === undefined ? undefined : Number(id);
  } catch {
    return undefined;
  }
}
