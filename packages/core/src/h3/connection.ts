/**
 * The HTTP/3 connection (RFC 9114), sans-I/O in the sense that matters here: it never touches a
 * Web Stream or a timer. The transport adapter (connect-quic.ts) tells it what happened on which
 * QUIC stream (`acceptRequest`, `acceptUnidirectional`, `receive`, `receiveEnd`, `receiveReset`,
 * `transportClosed`) and carries out what it asks (`H3Transport`, `H3StreamIo`: write, FIN,
 * RESET_STREAM, STOP_SENDING, open a stream, CONNECTION_CLOSE). Tests can drive it the same way.
 *
 * What it keeps: our control stream (SETTINGS, GOAWAY, ORIGIN), what the peer's says (its
 * streams' rules are in peer-streams.ts), the QPACK encoder and decoder and their streams, and
 * each request stream's framing (request-stream.ts). The HTTP
 * layer above (session.ts) reads and answers request streams through `StreamPort`, the same port
 * HTTP/2's Connection offers, so ServerStream and ClientExchange serve both.
 */
import { growOriginSet, MAX_PEER_ORIGINS } from '../origin/origin-set.js';
import { concatBytes } from '../bytes.js';
import { ConnectionError, type Http2Error, Http2UsageError, SessionClosedError, StreamError, StreamResetError } from '../errors.js';
import type { HeaderField } from '../frame/types.js';
import type { PortStream, StreamPort } from '../http/stream-port.js';
import { FieldSectionTooLargeError, QpackDecoder, QpackEncoder, QpackError } from '../qpack/index.js';
import { H3ErrorCode, h3CodeFor, h3ErrorCodeName } from './error-codes.js';
import { encodeH3Frame } from './frame/index.js';
import { type H3Frame, H3FrameType, H3SettingId, H3StreamType, HTTP2_ONLY_FRAME_TYPES } from './frame/types.js';
import { H3FrameReader } from './frame-reader.js';
import { type H3IncomingUni, type H3PeerSettings, PeerStreams } from './peer-streams.js';
import { decodeInBandPayload, encodeInBandReset, encodeInBandStopSending, RHTTP_RESET_STREAM_FRAME, RHTTP_STOP_SENDING_FRAME, SETTINGS_RHTTP_IN_BAND_RESET } from './in-band-reset.js';
import { DEFAULT_H3_LIMITS, type H3Limits } from './limits.js';
import { H3RequestStream, type H3StreamIo, type PendingH3Write } from './request-stream.js';
import { acceptsRequestStreams, goawayIdIsStreamId, type H3Role, processesOrigin, pushPromiseError, sendsOrigin, STREAM_ID_STEP } from './role.js';
import { encodeVarint, varintLength, writeVarint } from './varint.js';

export { H3RequestStream, type H3StreamIo } from './request-stream.js';
export { H3IncomingUni, type H3PeerSettings } from './peer-streams.js';

/** What the connection asks of the QUIC connection under it. */
export interface H3Transport {
  /** Open a unidirectional stream; writes to the returned io wait until it is open. */
  openUnidirectional(): H3StreamIo;
  /** Open a bidirectional stream for `stream`, then call `connection.opened(stream, id, io)` (or `openFailed`) and feed its reads. */
  openBidirectional(stream: H3RequestStream): void;
  /**
   * CONNECTION_CLOSE with an HTTP/3 error code. `linger`: a graceful close after which the peer may
   * still be reading what we sent last; QUIC abandons unacknowledged stream data at
   * CONNECTION_CLOSE, so the transport first lets the peer close, for a bounded time.
   */
  close(code: number, reason: string, linger: boolean): void;
  /** Settles once the connection under it is closed (after a linger). */
  readonly closed?: Promise<unknown>;
}

export interface H3ConnectionOptions {
  role: H3Role;
  /**
   * The QUIC role of this endpoint, when it differs from the HTTP role's usual one: in
   * `h3-reverse` the HTTP/3 server is the QUIC client. It tells which stream ids requests use
   * (RFC 9000 §2.1: 0 mod 4 when the QUIC client opens them, 1 mod 4 when the QUIC server does).
   * Default: the QUIC role equals the HTTP role.
   */
  quicRole?: H3Role;
  limits?: Partial<H3Limits>;
  /** Server role: send SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220). Default true, as for HTTP/2. */
  enableConnectProtocol?: boolean;
  /** Server role: the origin set sent in an ORIGIN frame right after SETTINGS (RFC 9412). */
  origins?: readonly string[];
  /** Our SETTINGS_QPACK_MAX_TABLE_CAPACITY (RFC 9204 §5). Default 4096. */
  qpackMaxTableCapacity?: number;
  /** Our SETTINGS_QPACK_BLOCKED_STREAMS. Default 16. */
  qpackBlockedStreams?: number;
  /** Offer rhttp's in-band resets (in-band-reset.ts) in SETTINGS. Default true; they are used only when the peer offers them too. */
  inBandReset?: boolean;
  /**
   * Whether the QUIC API can reset a stream (RESET_STREAM). Default true. Deno 2.9's cannot: an
   * aborted writer ends with a FIN. With false, a response we must abandon midway on a peer that
   * did not agree to in-band resets closes the connection rather than end as if complete.
   */
  quicResetsStreams?: boolean;
  /** The clock for the rapid-reset window. Default `Date.now`. */
  now?: () => number;
}

export interface H3ConnectionEvents {
  /** Server role: a request's HEADERS arrived on `stream`; set `stream.listener` now, or reset the stream. */
  onRequest?(stream: H3RequestStream, fields: HeaderField[]): void;
  /** The peer's SETTINGS arrived. */
  onSettings?(): void;
  /** Client role: an ORIGIN frame arrived (RFC 9412); `origins` is the whole set so far. */
  onOrigin?(origins: readonly string[], added: readonly string[]): void;
  /** The peer sent GOAWAY (a stream id from a server, a push id from a client). */
  onGoaway?(id: number): void;
  /** A request stream closed (a slot may be free). */
  onStreamClosed?(stream: H3RequestStream): void;
  /** The connection closed; with the error unless it ended cleanly (H3_NO_ERROR). */
  onClose?(error: Http2Error | undefined): void;
  /** A control-stream frame of a type the engine does not know (RFC 9114 §9 extensions, e.g. rhttp's in-band authentication). */
  onExtensionFrame?(type: number, payload: Uint8Array): void;
}

/** The most octets written per DATA frame: a body chunk larger than this goes out as several frames. */
const MAX_DATA_FRAME_PAYLOAD = 64 * 1024;

const EMPTY = new Uint8Array(0);
const noop = () => {};

export class H3Connection implements StreamPort {
  readonly role: H3Role;
  readonly limits: Readonly<H3Limits>;
  readonly peerOrigins: string[] = [];
  peerSettings: H3PeerSettings | undefined;
  /** The GOAWAY id we sent, the GOAWAY id we received. */
  goawaySent: number | undefined;
  goawayReceived: number | undefined;
  isClosed = false;
  closeError: Http2Error | undefined;

  private readonly transport: H3Transport;
  private readonly events: H3ConnectionEvents;
  private readonly options: H3ConnectionOptions;
  private readonly encoder: QpackEncoder;
  private readonly decoder: QpackDecoder;
  private readonly streams = new Set<H3RequestStream>();
  private readonly byId = new Map<number, H3RequestStream>();
  private control: H3StreamIo | undefined;
  private encoderIo: H3StreamIo | undefined;
  private decoderIo: H3StreamIo | undefined;
  private readonly peerStreams: PeerStreams;
  /** The stream id of requests opened by the HTTP client is this mod 4. */
  private readonly requestIdBase: number;
  private highestPeerRequestId = -1;
  private readonly resetTimes: number[] = [];
  private emptyDataRun = 0;
  private readonly now: () => number;
  /** FINs handed to the transport that a closing connection waits on. */
  private readonly flushing = new Set<Promise<void>>();
  private started = false;
  private closing = false;
  /**
   * The last request stream to end was ended by our FIN (a response after its request, a tunnel we
   * finished last): the peer may not have our last bytes yet, so a graceful close lingers. False
   * when the peer's FIN ended it: its answer came after what we sent.
   */
  private wroteLast = false;
  /** Received DATA octets not yet consumed, over all streams: the gauge of what this engine buffers. */
  bufferedBytes = 0;
  /** The most one stream ever held unconsumed (for tests and metrics). */
  peakStreamBufferedBytes = 0;

  constructor(transport: H3Transport, options: H3ConnectionOptions, events: H3ConnectionEvents = {}) {
    this.transport = transport;
    this.options = options;
    this.events = events;
    this.role = options.role;
    this.limits = { ...DEFAULT_H3_LIMITS, ...options.limits };
    this.now = options.now ?? Date.now;
    const clientQuicRole = this.role === 'client' ? (options.quicRole ?? 'client') : (options.quicRole ?? 'server') === 'server' ? 'client' : 'server';
    this.requestIdBase = clientQuicRole === 'client' ? 0 : 1;
    this.encoder = new QpackEncoder({ maxTableCapacity: options.qpackMaxTableCapacity });
    this.decoder = new QpackDecoder({
      maxTableCapacity: options.qpackMaxTableCapacity ?? 4096,
      maxBlockedStreams: options.qpackBlockedStreams ?? 16,
      maxFieldSectionSize: this.limits.maxFieldSectionSize,
    });
    this.peerStreams = new PeerStreams(this.role, this.limits, {
      settings: (peer) => this.onSettings(peer),
      goaway: (id) => this.onGoaway(id),
      origin: (origins) => this.onOrigin(origins),
      extensionFrame: (type, payload) => {
        if (type === RHTTP_STOP_SENDING_FRAME && this.inBandReset) this.receiveInBandStopSending(payload);
        else this.events.onExtensionFrame?.(type, payload);
      },
      encoderInstructions: (bytes) => {
        this.decoder.receiveEncoderStream(bytes);
        this.flushDecoder();
      },
      decoderInstructions: (bytes) => this.encoder.receiveDecoderStream(bytes),
    });
    this.decoder.onUnblocked = (streamId, fields) => this.onUnblocked(streamId, fields);
    this.decoder.onUnblockedError = (streamId, error) => {
      const stream = this.byId.get(streamId);
      if (stream) this.streamFailed(stream, H3ErrorCode.H3_EXCESSIVE_LOAD, error.message);
    };
  }

  /** RFC 9114 §6.2.1: each side opens its control stream first thing, SETTINGS its first frame; then QPACK's two streams (RFC 9204 §4.2). */
  start(): void {
    if (this.started) return;
    this.started = true;
    const settings: Array<[number, number]> = [
      [H3SettingId.QPACK_MAX_TABLE_CAPACITY, this.options.qpackMaxTableCapacity ?? 4096],
      [H3SettingId.QPACK_BLOCKED_STREAMS, this.options.qpackBlockedStreams ?? 16],
      [H3SettingId.MAX_FIELD_SECTION_SIZE, this.limits.maxFieldSectionSize],
    ];
    // in-band-reset.ts: resets as frames, for QUIC APIs that cannot send RESET_STREAM (used only if the peer says so too).
    if (this.options.inBandReset !== false) settings.push([SETTINGS_RHTTP_IN_BAND_RESET, 1]);
    // RFC 9220 §3: a server supporting extended CONNECT sends SETTINGS_ENABLE_CONNECT_PROTOCOL = 1.
    if (this.role === 'server' && this.options.enableConnectProtocol !== false) settings.push([H3SettingId.ENABLE_CONNECT_PROTOCOL, 1]);
    const parts = [encodeVarint(H3StreamType.CONTROL), encodeH3Frame({ kind: 'settings', settings })];
    if (sendsOrigin(this.role) && this.options.origins && this.options.origins.length > 0) parts.push(encodeH3Frame({ kind: 'origin', origins: [...this.options.origins] }));
    this.control = this.transport.openUnidirectional();
    this.control.write(concatBytes(parts)).catch(noop);
    this.encoderIo = this.transport.openUnidirectional();
    this.encoderIo.write(encodeVarint(H3StreamType.QPACK_ENCODER)).catch(noop);
    this.decoderIo = this.transport.openUnidirectional();
    this.decoderIo.write(encodeVarint(H3StreamType.QPACK_DECODER)).catch(noop);
  }

  // ---------------------------------------------------------------- the surface sessions read

  get openStreams(): number {
    return this.streams.size;
  }
  get draining(): boolean {
    return this.goawaySent !== undefined || this.goawayReceived !== undefined || this.closing;
  }
  /** Client role: may a request open now? */
  get canOpenStream(): boolean {
    return !this.isClosed && !this.draining && this.streams.size < this.limits.maxConcurrentStreams;
  }
  /**
   * Sends an extension frame (RFC 9114 §9) on our control stream, after SETTINGS and anything sent
   * before. A peer that does not know `type` ignores it. Not for frame types HTTP/3 defines.
   */
  sendExtensionFrame(type: number, payload: Uint8Array): void {
    if ((Object.values(H3FrameType) as number[]).includes(type) || HTTP2_ONLY_FRAME_TYPES.has(type)) throw new Http2UsageError(`frame type 0x${type.toString(16)} is HTTP/3's own, not an extension`);
    this.control?.write(encodeH3Frame({ kind: 'unknown', type, payload })).catch(noop);
  }

  /** Server role: send another ORIGIN frame on the control stream (RFC 9412). */
  sendOrigin(origins: readonly string[]): void {
    if (!sendsOrigin(this.role)) throw new Http2UsageError('only the HTTP/3 server sends ORIGIN (RFC 9412 §2)');
    this.control?.write(encodeH3Frame({ kind: 'origin', origins: [...origins] })).catch(noop);
  }

  // ---------------------------------------------------------------- streams we open (client role)

  /** Client role: a new request; its HEADERS go out once the transport opened the stream. */
  openRequest(fields: HeaderField[], endStream: boolean, listener: H3RequestStream['listener']): H3RequestStream {
    if (this.role !== 'client') throw new Http2UsageError('requests are opened by the HTTP/3 client');
    if (this.isClosed || this.draining) {
      throw this.closeError ?? new SessionClosedError('the HTTP/3 connection is shutting down (GOAWAY)', H3ErrorCode.H3_NO_ERROR, true);
    }
    const stream = new H3RequestStream(this.requestReader(), true);
    stream.listener = listener;
    this.streams.add(stream);
    this.sendHeaders(stream, fields, endStream);
    this.transport.openBidirectional(stream);
    return stream;
  }

  /** The transport opened the stream asked for with `openBidirectional`. */
  opened(stream: H3RequestStream, id: number, io: H3StreamIo): void {
    stream.id = id;
    stream.io = this.withInBandReset(stream, io);
    // Reset before the transport opened it: closeStream already ran (with no id to forget), so it is not indexed.
    if (stream.reset) {
      io.reset(H3ErrorCode.H3_REQUEST_CANCELLED);
      io.stopSending(H3ErrorCode.H3_REQUEST_CANCELLED);
      return;
    }
    // RFC 9114 §5.2: requests on ids at or above the peer's GOAWAY id will not be processed; they may be retried elsewhere.
    if (this.goawayReceived !== undefined && id >= this.goawayReceived) {
      this.refuseByGoaway(stream, this.goawayReceived);
      return;
    }
    this.byId.set(id, stream);
    void this.pump(stream);
  }

  openFailed(stream: H3RequestStream, error: unknown): void {
    if (stream.reset) return;
    stream.reset = true;
    const failure = new SessionClosedError(`could not open a QUIC stream: ${(error as Error)?.message ?? error}`, H3ErrorCode.H3_INTERNAL_ERROR, false, { cause: error });
    this.closeStream(stream, failure);
  }

  // ---------------------------------------------------------------- streams the peer opens

  /**
   * A bidirectional stream the peer opened. Server role: a request stream, unless over the limits
   * (then it is refused here and undefined returned: stop reading it). Client role: RFC 9114 §6.1,
   * a connection error.
   */
  acceptRequest(id: number, io: H3StreamIo): H3RequestStream | undefined {
    if (this.isClosed) {
      io.reset(H3ErrorCode.H3_REQUEST_REJECTED);
      io.stopSending(H3ErrorCode.H3_REQUEST_REJECTED);
      return undefined;
    }
    if (!acceptsRequestStreams(this.role)) {
      this.fail(new ConnectionError(H3ErrorCode.H3_STREAM_CREATION_ERROR, 'the server opened a bidirectional stream (RFC 9114 §6.1)'));
      return undefined;
    }
    // RFC 9114 §5.2: after sending GOAWAY, requests on ids at or above it are rejected (H3_REQUEST_REJECTED: not processed, retryable).
    const overGoaway = this.goawaySent !== undefined && id >= this.goawaySent;
    if (overGoaway || this.streams.size >= this.limits.maxConcurrentStreams) {
      io.reset(H3ErrorCode.H3_REQUEST_REJECTED);
      io.stopSending(H3ErrorCode.H3_REQUEST_REJECTED);
      return undefined;
    }
    const stream = new H3RequestStream(this.requestReader(), false);
    stream.id = id;
    stream.io = this.withInBandReset(stream, io);
    if (id > this.highestPeerRequestId) this.highestPeerRequestId = id;
    this.streams.add(stream);
    this.byId.set(id, stream);
    return stream;
  }

  acceptUnidirectional(io: Pick<H3StreamIo, 'stopSending'>): H3IncomingUni {
    return this.peerStreams.accept(io);
  }

  /** Should the transport read more of this stream now? False while the application holds its budget, or QPACK blocks it. */
  wantsData(stream: H3RequestStream): boolean {
    return !stream.reset && !stream.blocked && stream.unconsumed < this.limits.streamBufferBytes;
  }

  // ---------------------------------------------------------------- input

  receive(stream: H3RequestStream, chunk: Uint8Array): void {
    if (stream.reset || this.isClosed) return;
    if (stream.blocked) {
      stream.held.push({ chunk });
      return;
    }
    this.guard(stream, () => this.receiveFrames(stream, stream.reader.push(chunk)));
  }

  /** FIN on a request stream. */
  receiveEnd(stream: H3RequestStream): void {
    if (stream.reset || this.isClosed) return;
    if (stream.blocked) {
      stream.held.push({ fin: true });
      return;
    }
    this.guard(stream, () => this.onFin(stream));
  }

  /**
   * The peer asked us to stop sending (STOP_SENDING). RFC 9114 §4.1: a server that sent a complete
   * response before the whole request MAY ask the client to stop the request body with
   * H3_NO_ERROR; the client then abandons the body and keeps the response. Otherwise it ends the
   * exchange, as a reset does.
   */
  receiveStopSending(stream: H3RequestStream, code: number): void {
    if (stream.reset || this.isClosed) return;
    if (code === H3ErrorCode.H3_NO_ERROR && stream.local && stream.headReceived) {
      stream.stopped = true;
      stream.localEnded = true;
      stream.io?.reset(H3ErrorCode.H3_NO_ERROR);
      for (const w of stream.pending.splice(0)) w.resolve();
      stream.onStopped?.();
      this.maybeClose(stream);
      return;
    }
    this.receiveReset(stream, code);
  }

  /** The peer reset a request stream (RESET_STREAM). */
  receiveReset(stream: H3RequestStream, code: number): void {
    if (stream.reset || this.isClosed) return;
    if (!stream.local && !stream.localEnded) this.guard(stream, () => this.countReset());
    if (stream.reset || this.isClosed) return;
    stream.reset = true;
    this.cancelIo(stream, H3ErrorCode.H3_REQUEST_CANCELLED);
    if (stream.id >= 0) this.cancelDecoding(stream.id);
    // RFC 9114 §4.1.1: H3_REQUEST_REJECTED means the request was not processed, so it can be retried.
    const retryable = code === H3ErrorCode.H3_REQUEST_REJECTED;
    const message = retryable ? 'the peer rejected the request before processing it' : 'the peer reset the stream';
    this.closeStream(stream, new StreamResetError(stream.id, code, 'peer', message, retryable));
  }

  receiveUni(uni: H3IncomingUni, chunk: Uint8Array): void {
    if (this.isClosed) return;
    try {
      this.peerStreams.receive(uni, chunk);
    } catch (error) {
      this.fail(asConnectionError(error));
    }
  }

  /** A unidirectional stream ended (FIN, or reset when `resetCode` is given). */
  endUni(uni: H3IncomingUni, _resetCode?: number): void {
    if (this.isClosed) return;
    try {
      this.peerStreams.end(uni);
    } catch (error) {
      this.fail(asConnectionError(error));
    }
  }

  /** The QUIC connection closed under us (CONNECTION_CLOSE from either side, or the transport failed). */
  transportClosed(code: number, reason: string): void {
    if (this.isClosed) return;
    const error = code === H3ErrorCode.H3_NO_ERROR ? undefined : new ConnectionError(code, reason || 'the QUIC connection closed');
    this.finish(code, reason, error, false);
  }

  // ---------------------------------------------------------------- StreamPort (the HTTP layer's side)

  consume(port: PortStream, octets: number): void {
    const stream = port as H3RequestStream;
    const n = Math.min(octets, stream.unconsumed);
    if (n <= 0) return;
    stream.unconsumed -= n;
    this.bufferedBytes -= n;
    if (stream.deferredStopSending !== undefined) this.applyDeferredStopSending(stream);
    if (stream.resumeReading && this.wantsData(stream)) {
      const resume = stream.resumeReading;
      stream.resumeReading = undefined;
      resume();
    }
  }

  resetStream(port: PortStream, errorCode: number, error?: Http2Error): void {
    const stream = port as H3RequestStream;
    if (stream.reset) return;
    const code = h3CodeFor(errorCode);
    if (stream.sentBytes && !stream.localEnded && !this.inBandReset && this.options.quicResetsStreams === false) {
      // The peer would read our FIN after a frame as a complete message: no data may be passed off as whole.
      this.fail(new ConnectionError(H3ErrorCode.H3_INTERNAL_ERROR, `stream ${stream.id} could not be finished, and this QUIC cannot reset a single stream`));
      return;
    }
    stream.reset = true;
    this.cancelIo(stream, code);
    if (stream.id >= 0 && !stream.remoteEnded) this.cancelDecoding(stream.id);
    const reason = error instanceof StreamError ? error.reason : error instanceof StreamResetError && error.cause instanceof StreamError ? error.cause.reason : error?.message;
    this.closeStream(stream, new StreamResetError(stream.id, code, 'local', reason ?? 'reset', false, error ? { cause: error } : undefined));
  }

  sendHeaders(port: PortStream, fields: HeaderField[], endStream: boolean): void {
    const stream = port as H3RequestStream;
    if (stream.reset || stream.stopped) return;
    if (this.endQueued(stream)) throw new Http2UsageError(`stream ${stream.id}: the message already ended`);
    stream.pending.push({ headers: fields, end: endStream, resolve: noop, reject: noop });
    void this.pump(stream);
  }

  sendData(port: PortStream, data: Uint8Array, end = false, trailers?: HeaderField[]): Promise<void> {
    const stream = port as H3RequestStream;
    // Stopped with H3_NO_ERROR (receiveStopSending): the rest of the body is not wanted, and not an error.
    if (stream.stopped) return Promise.resolve();
    if (stream.reset) return Promise.reject(new StreamResetError(stream.id, H3ErrorCode.H3_REQUEST_CANCELLED, 'local', 'the stream was reset'));
    if (this.endQueued(stream)) return Promise.reject(new Http2UsageError(`stream ${stream.id}: the message already ended`));
    return new Promise<void>((resolve, reject) => {
      if (trailers && trailers.length > 0) {
        stream.pending.push({ data, end: false, resolve: noop, reject: noop });
        stream.pending.push({ headers: trailers, end: true, resolve, reject });
      } else stream.pending.push({ data, end, resolve, reject });
      void this.pump(stream);
    });
  }

  // ---------------------------------------------------------------- shutdown

  /**
   * Graceful shutdown (RFC 9114 §5.2): GOAWAY on the control stream; requests in flight finish,
   * newer ones are refused as retryable, and the connection closes once none is left. The
   * server sends the first request stream id it will not process; the client a push id (0: it
   * never allowed push). A code other than H3_NO_ERROR (or HTTP/2's NO_ERROR) closes at once.
   */
  goaway(errorCode: number = H3ErrorCode.H3_NO_ERROR, reason = ''): void {
    if (this.isClosed) return;
    const code = h3CodeFor(errorCode);
    if (this.goawaySent === undefined) {
      const id = goawayIdIsStreamId(this.role)
        ? this.highestPeerRequestId >= 0 ? this.highestPeerRequestId + STREAM_ID_STEP : this.requestIdBase
        : 0;
      this.goawaySent = id;
      this.control?.write(encodeH3Frame({ kind: 'goaway', id })).catch(noop);
    }
    if (code !== H3ErrorCode.H3_NO_ERROR) {
      this.close(code, reason);
      return;
    }
    this.maybeFinishDrain();
  }

  /** Close now: every open stream fails, CONNECTION_CLOSE goes out with `code` (H3_NO_ERROR by default). */
  close(code: number = H3ErrorCode.H3_NO_ERROR, reason = ''): void {
    if (this.isClosed) return;
    const h3 = h3CodeFor(code);
    this.finish(h3, reason, h3 === H3ErrorCode.H3_NO_ERROR ? undefined : new ConnectionError(h3, reason || 'closed locally'), true);
  }

  // ---------------------------------------------------------------- internals: request streams

  private requestReader(): H3FrameReader {
    const fieldSectionBudget = this.limits.maxFieldSectionSize;
    const controlBudget = this.limits.maxControlFrameBytes;
    return new H3FrameReader({ maxFrameBytes: (type) => (type === H3FrameType.HEADERS || type === H3FrameType.PUSH_PROMISE ? fieldSectionBudget : controlBudget) });
  }

  /** Runs `fn`; a stream error resets the stream, a connection error closes the connection. */
  private guard(stream: H3RequestStream, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      if (error instanceof StreamError) this.streamFailed(stream, error.errorCode, error.reason);
      else this.fail(asConnectionError(error));
    }
  }

  private receiveFrames(stream: H3RequestStream, frames: H3Frame[]): void {
    for (let i = 0; i < frames.length; i++) {
      if (stream.reset || this.isClosed) return;
      if (stream.blocked) {
        for (let j = i; j < frames.length; j++) stream.held.push({ frame: frames[j] });
        return;
      }
      this.onRequestFrame(stream, frames[i]);
    }
  }

  private onRequestFrame(stream: H3RequestStream, frame: H3Frame): void {
    // More of the message: a response held for its FIN (deliverHeaders) goes as an ordinary one.
    if (stream.deferredHead && frame.kind !== 'unknown') this.flushHead(stream, false);
    switch (frame.kind) {
      case 'headers': {
        // RFC 9114 §4.1: a HEADERS after the trailers is an invalid frame sequence, H3_FRAME_UNEXPECTED.
        if (stream.phase === 'trailers') throw new ConnectionError(H3ErrorCode.H3_FRAME_UNEXPECTED, `HEADERS after trailers on stream ${stream.id} (RFC 9114 §4.1)`);
        let fields: HeaderField[] | undefined;
        try {
          fields = this.decoder.decode(stream.id, frame.fieldSection);
        } catch (error) {
          // RFC 9114 §4.2.2: a field section over our limit concerns this request only.
          if (error instanceof FieldSectionTooLargeError) throw new StreamError(stream.id, H3ErrorCode.H3_EXCESSIVE_LOAD, error.message);
          throw error;
        } finally {
          this.flushDecoder();
        }
        if (fields === undefined) {
          // RFC 9204 §2.1.2: the section waits on encoder-stream inserts; so does everything after it on this stream.
          stream.blocked = true;
          return;
        }
        this.deliverHeaders(stream, fields);
        return;
      }
      case 'data':
        // §4.1: DATA before the (final) HEADERS, or after the trailers, is H3_FRAME_UNEXPECTED.
        if (stream.phase !== 'body') throw new ConnectionError(H3ErrorCode.H3_FRAME_UNEXPECTED, `DATA ${stream.phase === 'head' ? 'before HEADERS' : 'after trailers'} on stream ${stream.id} (RFC 9114 §4.1)`);
        if (frame.data.length === 0) {
          // Empty DATA frames carry nothing and cost work: a bounded run of them, as HTTP/2 bounds it.
          if (++this.emptyDataRun > this.limits.maxEmptyDataFrames) throw new ConnectionError(H3ErrorCode.H3_EXCESSIVE_LOAD, `more than ${this.limits.maxEmptyDataFrames} empty DATA frames in a row`);
          return;
        }
        this.emptyDataRun = 0;
        stream.unconsumed += frame.data.length;
        this.bufferedBytes += frame.data.length;
        if (stream.unconsumed > this.peakStreamBufferedBytes) this.peakStreamBufferedBytes = stream.unconsumed;
        stream.listener?.onData(frame.data, false);
        return;
      case 'push-promise':
        throw new ConnectionError(pushPromiseError(this.role), `PUSH_PROMISE on stream ${stream.id}: no push was allowed (RFC 9114 §4.6, §7.2.5)`);
      case 'settings':
      case 'goaway':
      case 'max-push-id':
      case 'cancel-push':
      case 'origin':
        // §7.2.3–§7.2.7, RFC 9412 §2: control frames received on a request stream MUST be treated as H3_FRAME_UNEXPECTED.
        throw new ConnectionError(H3ErrorCode.H3_FRAME_UNEXPECTED, `${frame.kind} frame on request stream ${stream.id}`);
      case 'unknown':
        // in-band-reset.ts: the peer could not send RESET_STREAM, so it says so here, before its FIN.
        if (frame.type === RHTTP_RESET_STREAM_FRAME && this.inBandReset) {
          const [code] = decodeInBandPayload(frame.payload, 1) ?? [];
          if (code === undefined) throw new ConnectionError(H3ErrorCode.H3_FRAME_ERROR, `a malformed RHTTP_RESET_STREAM on stream ${stream.id}`);
          this.receiveReset(stream, code);
        }
        return; // §9: other unknown frame types are ignored
      default:
        return;
    }
  }

  /**
   * The stream's I/O, with resets carried as frames once the peer agreed (in-band-reset.ts): a
   * reset writes RHTTP_RESET_STREAM and then the FIN, after what was already written, where the
   * QUIC API cannot send RESET_STREAM; a STOP_SENDING is also said on the control stream.
   */
  private withInBandReset(stream: H3RequestStream, io: H3StreamIo): H3StreamIo {
    let finished = false;
    return {
      write: (bytes) => {
        stream.sentBytes = true;
        return io.write(bytes);
      },
      end: () => {
        finished = true;
        return io.end();
      },
      reset: (code) => {
        if (!finished && this.inBandReset) {
          finished = true;
          io.write(encodeH3Frame({ kind: 'unknown', type: RHTTP_RESET_STREAM_FRAME, payload: encodeInBandReset(code) })).then(() => io.end(), noop).catch(noop);
          return;
        }
        io.reset(code);
      },
      stopSending: (code) => {
        if (this.inBandReset && !this.isClosed) this.sendExtensionFrame(RHTTP_STOP_SENDING_FRAME, encodeInBandStopSending(stream.id, code));
        io.stopSending(code);
      },
    };
  }

  /** Both sides offered in-band resets. */
  private get inBandReset(): boolean {
    return this.options.inBandReset !== false && this.peerSettings?.inBandReset === true;
  }

  /** RHTTP_STOP_SENDING on the peer's control stream: STOP_SENDING for the stream it names (in-band-reset.ts). */
  private receiveInBandStopSending(payload: Uint8Array): void {
    const values = decodeInBandPayload(payload, 2);
    if (!values) throw new ConnectionError(H3ErrorCode.H3_FRAME_ERROR, 'a malformed RHTTP_STOP_SENDING');
    const stream = this.byId.get(values[0]);
    if (!stream) return;
    // It came on the control stream, not behind the data the peer sent on this one (its request
    // body's tail, a WebSocket's close frame): that data is delivered first, then it applies.
    stream.deferredStopSending = values[1];
    this.applyDeferredStopSending(stream);
  }

  /** An in-band STOP_SENDING applies once the peer's message ended and the application took all of it; moot if ours ended too. */
  private applyDeferredStopSending(stream: H3RequestStream): void {
    const code = stream.deferredStopSending;
    if (code === undefined || !stream.remoteEnded || stream.unconsumed > 0) return;
    stream.deferredStopSending = undefined;
    if (!stream.localEnded) this.receiveStopSending(stream, code);
  }

  private deliverHeaders(stream: H3RequestStream, fields: HeaderField[]): void {
    if (stream.phase === 'head') {
      if (!stream.local) {
        stream.phase = 'body';
        this.events.onRequest?.(stream, fields);
        // Nobody took it: refuse it as not processed.
        if (!stream.listener && !stream.reset) this.resetStream(stream, H3ErrorCode.H3_REQUEST_REJECTED);
        return;
      }
      // §4.1: a response may be preceded by interim (1xx) responses, each its own HEADERS.
      if (!isInformational(fields)) {
        stream.phase = 'body';
        if (isTrailersOnly(fields)) {
          // HTTP/3 has no END_STREAM flag: a gRPC Trailers-Only response is HEADERS then FIN. It
          // waits for its FIN (or whatever comes next) so that it is delivered as a response that
          // ends with its HEADERS, and a relay keeps it one HEADERS frame (HTTP/2's END_STREAM).
          stream.deferredHead = fields;
          return;
        }
      }
      stream.listener?.onHeaders(fields, false);
      return;
    }
    // §4.1: a HEADERS after the first is the trailer section, the message's last frame.
    stream.phase = 'trailers';
    stream.listener?.onHeaders(fields, true);
    this.peerEnded(stream);
  }

  /** Delivers a response held by deliverHeaders; `endStream` when its FIN came right after it. */
  private flushHead(stream: H3RequestStream, endStream: boolean): void {
    const fields = stream.deferredHead!;
    stream.deferredHead = undefined;
    stream.listener?.onHeaders(fields, endStream);
  }

  private onFin(stream: H3RequestStream): void {
    // RFC 9114 §7.1: a stream that ends inside a frame MUST be treated as H3_FRAME_ERROR.
    if (!stream.reader.atFrameBoundary) throw new ConnectionError(H3ErrorCode.H3_FRAME_ERROR, `stream ${stream.id} ended inside a frame (RFC 9114 §7.1)`);
    switch (stream.phase) {
      case 'head':
        // §4.1.2: a stream closed before a complete message is H3_REQUEST_INCOMPLETE (a stream error).
        throw new StreamError(stream.id, H3ErrorCode.H3_REQUEST_INCOMPLETE, 'the stream ended before its HEADERS (RFC 9114 §4.1.2)');
      case 'body':
        stream.phase = 'ended';
        if (stream.deferredHead) this.flushHead(stream, true);
        else stream.listener?.onData(EMPTY, true);
        break;
      case 'trailers':
        stream.phase = 'ended';
        break;
      default:
        return;
    }
    this.peerEnded(stream);
  }

  /** The peer's message on `stream` ended: when ours had, its answer came after what we sent. */
  private peerEnded(stream: H3RequestStream): void {
    if (stream.localEnded) this.wroteLast = false;
    this.applyDeferredStopSending(stream);
    if (!stream.reset) this.maybeClose(stream);
  }

  private onUnblocked(streamId: number, fields: HeaderField[]): void {
    const stream = this.byId.get(streamId);
    if (!stream || stream.reset) return;
    stream.blocked = false;
    this.guard(stream, () => {
      this.deliverHeaders(stream, fields);
      while (stream.held.length > 0 && !stream.blocked && !stream.reset && !this.isClosed) {
        const item = stream.held.shift()!;
        if ('frame' in item) this.onRequestFrame(stream, item.frame);
        else if ('chunk' in item) this.receiveFrames(stream, stream.reader.push(item.chunk));
        else this.onFin(stream);
      }
    });
    if (!stream.blocked && stream.resumeReading && this.wantsData(stream)) {
      const resume = stream.resumeReading;
      stream.resumeReading = undefined;
      resume();
    }
  }

  /** A stream error: the stream is reset with `code`, and its listener hears why. */
  private streamFailed(stream: H3RequestStream, code: number, reason: string): void {
    if (stream.reset) return;
    this.resetStream(stream, code, new StreamError(stream.id, code, reason));
  }

  private cancelDecoding(streamId: number): void {
    try {
      this.decoder.cancelStream(streamId);
      this.flushDecoder();
    } catch {
      // The decoder stream may be gone with the connection.
    }
  }

  /** Writes the stream's queued HEADERS, DATA and FIN in order, each after the transport took the previous. */
  private async pump(stream: H3RequestStream): Promise<void> {
    const io = stream.io;
    if (stream.writing || !io) return;
    stream.writing = true;
    let current: PendingH3Write | undefined;
    try {
      while (stream.pending.length > 0 && !stream.reset && !stream.stopped) {
        current = stream.pending[0];
        if (current.headers) {
          const section = this.encoder.encode(stream.id, current.headers);
          const instructions = this.encoder.takeEncoderStream();
          // RFC 9204 §2.1.2: inserts a section refers to go out on the encoder stream (it may arrive later: the decoder then blocks).
          if (instructions) this.encoderIo?.write(instructions).catch(noop);
          await io.write(encodeH3Frame({ kind: 'headers', fieldSection: section }));
        }
        if (current.data && current.data.length > 0) {
          const data = current.data;
          for (let at = 0; at < data.length; at += MAX_DATA_FRAME_PAYLOAD) {
            // Reset (or stopped) while the previous frame was written: in-band, RHTTP_RESET_STREAM must stay the last frame.
            if (stream.reset || stream.stopped) break;
            const piece = data.subarray(at, Math.min(data.length, at + MAX_DATA_FRAME_PAYLOAD));
            const header = new Uint8Array(1 + varintLength(piece.length));
            writeVarint(header, writeVarint(header, 0, H3FrameType.DATA), piece.length);
            void io.write(header).catch(noop);
            await io.write(piece);
          }
        }
        if (stream.reset || stream.stopped) break;
        stream.pending.shift();
        if (current.end) {
          stream.localEnded = true;
          const flushed = io.end();
          this.flushing.add(flushed);
          void flushed.then(() => this.flushing.delete(flushed), () => this.flushing.delete(flushed));
        }
        current.resolve();
        current = undefined;
        if (stream.localEnded) {
          if (stream.remoteEnded && !stream.stopped) this.wroteLast = true;
          this.maybeClose(stream);
        }
      }
    } catch (error) {
      if (!stream.reset && !stream.stopped) {
        if (error instanceof Http2UsageError) this.resetStream(stream, H3ErrorCode.H3_INTERNAL_ERROR, error);
        else if (error instanceof QpackError) this.fail(asConnectionError(error));
        else this.receiveReset(stream, resetCodeOf(error) ?? H3ErrorCode.H3_REQUEST_CANCELLED);
      }
    } finally {
      stream.writing = false;
    }
    if (stream.reset) this.failPending(stream);
  }

  private failPending(stream: H3RequestStream): void {
    const error = new StreamResetError(stream.id, H3ErrorCode.H3_REQUEST_CANCELLED, 'local', 'the stream was reset before this was sent');
    for (const w of stream.pending.splice(0)) w.reject(error);
  }

  private endQueued(stream: H3RequestStream): boolean {
    if (stream.localEnded) return true;
    for (const w of stream.pending) if (w.end) return true;
    return false;
  }

  private maybeClose(stream: H3RequestStream): void {
    if (stream.localEnded && stream.remoteEnded) this.closeStream(stream, undefined);
  }

  private closeStream(stream: H3RequestStream, error: Http2Error | undefined): void {
    if (!this.streams.delete(stream)) return;
    if (stream.id >= 0) this.byId.delete(stream.id);
    // As HTTP/2's: an ended stream's unread DATA stays in the gauge until its reader takes it
    // (`consume`); a reset one's is dropped now, and zeroed so a late `consume` does not count it twice.
    if (error) {
      this.bufferedBytes -= stream.unconsumed;
      stream.unconsumed = 0;
      stream.reset = true;
      this.failPending(stream);
      stream.resumeReading?.();
      stream.resumeReading = undefined;
      stream.listener?.onReset(error);
    } else stream.onClosed?.();
    this.events.onStreamClosed?.(stream);
    this.maybeFinishDrain();
  }

  private refuseByGoaway(stream: H3RequestStream, goawayId: number): void {
    stream.reset = true;
    stream.io?.reset(H3ErrorCode.H3_REQUEST_CANCELLED);
    stream.io?.stopSending(H3ErrorCode.H3_REQUEST_CANCELLED);
    this.closeStream(stream, new StreamResetError(stream.id, H3ErrorCode.H3_REQUEST_REJECTED, 'peer', `not processed: the peer sent GOAWAY with id ${goawayId}`, true));
  }

  /** Rapid Reset defence (CVE-2023-44487): a bounded number of peer resets of unfinished requests per time window. */
  private countReset(): void {
    const now = this.now();
    this.resetTimes.push(now);
    while (this.resetTimes.length > 0 && now - this.resetTimes[0] > this.limits.resetWindowMs) this.resetTimes.shift();
    if (this.resetTimes.length > this.limits.maxResetsPerWindow) {
      throw new ConnectionError(H3ErrorCode.H3_EXCESSIVE_LOAD, `more than ${this.limits.maxResetsPerWindow} request streams reset within ${this.limits.resetWindowMs} ms (rapid reset)`);
    }
  }

  // ---------------------------------------------------------------- internals: what the peer's control stream says

  private onSettings(peer: H3PeerSettings): void {
    this.peerSettings = peer;
    this.encoder.applyPeerSettings(peer.qpackMaxTableCapacity, peer.qpackBlockedStreams);
    this.events.onSettings?.();
  }

  private onOrigin(origins: readonly string[]): void {
    if (!processesOrigin(this.role)) return;
    const added = growOriginSet(this.peerOrigins, origins);
    // RFC 9114 §10.5: a peer making us keep too much may be treated as H3_EXCESSIVE_LOAD; here, an origin set past the bound.
    if (!added) throw new ConnectionError(H3ErrorCode.H3_EXCESSIVE_LOAD, `the peer's origin set passed ${MAX_PEER_ORIGINS} origins (RFC 9412)`);
    this.events.onOrigin?.(this.peerOrigins, added);
  }

  private onGoaway(id: number): void {
    if (goawayIdIsStreamId(this.role === 'client' ? 'server' : 'client')) {
      // §5.2: the server's GOAWAY carries a client-initiated bidirectional stream id; anything else is H3_ID_ERROR.
      if (id % STREAM_ID_STEP !== this.requestIdBase) throw new ConnectionError(H3ErrorCode.H3_ID_ERROR, `GOAWAY with ${id}, not a request stream id (RFC 9114 §5.2)`);
    }
    // §5.2: an endpoint MUST NOT increase the GOAWAY id; receiving a larger one MUST be treated as H3_ID_ERROR.
    if (this.goawayReceived !== undefined && id > this.goawayReceived) throw new ConnectionError(H3ErrorCode.H3_ID_ERROR, `GOAWAY id went up from ${this.goawayReceived} to ${id} (RFC 9114 §5.2)`);
    this.goawayReceived = id;
    if (this.role === 'client') {
      for (const stream of [...this.streams]) if (stream.id >= id) this.refuseByGoaway(stream, id);
    }
    this.events.onGoaway?.(id);
    this.maybeFinishDrain();
  }

  private flushDecoder(): void {
    const bytes = this.decoder.takeDecoderStream();
    if (bytes && bytes.length > 0) this.decoderIo?.write(bytes).catch(noop);
  }

  // ---------------------------------------------------------------- internals: the connection's end

  private maybeFinishDrain(): void {
    if (this.isClosed || this.closing || !this.draining || this.streams.size > 0) return;
    this.closing = true;
    // The last responses' FINs are handed over first. That is not delivery (Deno resolves a stream's
    // close once the FIN is queued, measured on 2.9.6): the transport's linger waits for that.
    void Promise.allSettled([...this.flushing]).then(() => this.finish(H3ErrorCode.H3_NO_ERROR, 'drained', undefined, true));
  }

  /** Ends `stream` on the wire: RESET_STREAM, and STOP_SENDING unless the peer's message already ended. */
  private cancelIo(stream: H3RequestStream, code: number): void {
    if (!stream.io) return;
    stream.io.reset(code);
    if (!stream.remoteEnded) stream.io.stopSending(code);
  }

  private fail(error: ConnectionError): void {
    if (this.isClosed) return;
    this.finish(error.errorCode, error.reason, error, true);
  }

  private finish(code: number, reason: string, error: Http2Error | undefined, sendClose: boolean): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closeError = error;
    // A graceful close after we wrote last lets the peer close first (the transport bounds the wait).
    const linger = sendClose && code === H3ErrorCode.H3_NO_ERROR && this.wroteLast;
    const message = error ? `the connection closed (${h3ErrorCodeName(code)}${reason ? `: ${reason}` : ''})` : 'the connection closed';
    for (const stream of [...this.streams]) {
      // Lingering, CONNECTION_CLOSE is not ending these yet: RESET_STREAM and STOP_SENDING do, so the peer can finish and close.
      if (linger) this.cancelIo(stream, H3ErrorCode.H3_REQUEST_CANCELLED);
      const retryable = this.goawayReceived !== undefined && stream.id >= this.goawayReceived;
      this.closeStream(stream, new StreamResetError(stream.id, code, 'connection', message, retryable, error ? { cause: error } : undefined));
    }
    if (sendClose) this.transport.close(code, reason, linger);
    this.events.onClose?.(error);
  }
}

/** gRPC's Trailers-Only response: the status in the response HEADERS, which then end the stream (gRPC over HTTP/2 spec). */
function isTrailersOnly(fields: HeaderField[]): boolean {
  for (let i = 0; i < fields.length; i++) if (fields[i][0] === 'grpc-status') return true;
  return false;
}

function isInformational(fields: HeaderField[]): boolean {
  return fields.length > 0 && fields[0][0] === ':status' && fields[0][1].length === 3 && fields[0][1][0] === '1';
}

function asConnectionError(error: unknown): ConnectionError {
  if (error instanceof ConnectionError) return error;
  if (error instanceof QpackError) return new ConnectionError(error.h3Code, error.reason, { cause: error });
  return new ConnectionError(H3ErrorCode.H3_INTERNAL_ERROR, (error as Error)?.message ?? String(error), { cause: error });
}

/**
 * The application error code a runtime reports with a stream's failure: WebTransport's
 * `streamErrorCode`, or a numeric `code` (the in-memory test pair, Deno). Undefined otherwise.
 */
export function resetCodeOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { streamErrorCode?: unknown; code?: unknown };
  if (typeof e.streamErrorCode === 'number') return e.streamErrorCode;
  if (typeof e.code === 'number') return e.code;
  return undefined;
}
