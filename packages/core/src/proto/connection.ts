import { growOriginSet, MAX_PEER_ORIGINS } from '../origin/origin-set.js';
import { CompressionError, ConnectionError, ErrorCode, Http2Error, Http2UsageError, SessionClosedError, StreamError, StreamResetError, errorCodeName } from '../errors.js';
import { FrameReader } from '../codec/frame-reader.js';
import { encodeFrame, encodeHeaderBlockInPlace } from '../frame/index.js';
import { FRAME_HEADER_LENGTH, type Frame, type HeaderField, type DataFrame, type HeadersFrame, type SettingsFrame, type GoawayFrame, type WindowUpdateFrame } from '../frame/types.js';
import { HeaderListTooLargeError, HpackDecoder, HpackEncoder } from '../hpack/index.js';
import { MAX_WINDOW_SIZE, ReceiveWindow, windowOverflow, DEFAULT_INITIAL_WINDOW_SIZE } from './flow-control.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';
import { CONNECTION_PREFACE, isPeerInitiated, processesOrigin, sendsPreface, type Role } from './role.js';
import { DEFAULT_LOCAL_SETTINGS, INITIAL_SETTINGS, settingsToWire, type Settings } from './settings.js';
import { localCanSend, peerCanSend, transition } from './stream-state.js';
import { keepAlive, OutstandingPings, type KeepAliveOptions } from './ping.js';
import { Stream, type StreamListener } from './stream.js';
import { StreamRegistry, type ClosedHow } from './stream-registry.js';
import type { ReadonlyIdTable } from '../id-table.js';
import { SettingsSync } from './settings-sync.js';
import { Goaway, unprocessedByGoaway } from './goaway.js';
import { SendScheduler } from './send-scheduler.js';

export { GOAWAY_ANNOUNCE_LAST_STREAM_ID, GOAWAY_FINAL_DELAY_MS } from './goaway.js';
export { Stream, type StreamListener } from './stream.js';

/** Where the connection's outbound bytes go: a socket, a WebSocket, a test. */
export interface ConnectionSink {
  /** Write bytes in order. Return false when the transport's buffer is full; call `Connection.resume()` when it drains. */
  write(chunk: Uint8Array): boolean | void;
  /** Optional: write several chunks at once (a Node socket can writev them). */
  writev?(chunks: Uint8Array[]): boolean | void;
  /** Close the transport; the connection is finished with it. */
  close(error?: Error): void;
  /**
   * Optional: defers a flush of queued frames to the end of the transport's I/O turn (Node, Bun
   * and Deno: `setImmediate`, after every socket read of the turn was handled), so the frames that
   * every stream queued meanwhile leave in one write. Without it: a few microtask hops, for
   * transports that do not say (in-memory pairs, web streams).
   */
  scheduleFlush?(flush: () => void): void;
}

export interface ConnectionOptions {
  role: Role;
  /** Our SETTINGS; unspecified values come from DEFAULT_LOCAL_SETTINGS. */
  settings?: Partial<Settings>;
  limits?: Partial<Limits>;
  /** Server role: the origin set sent in an ORIGIN frame right after SETTINGS (RFC 8336). */
  origins?: readonly string[];
  /** Receive window of the whole connection (RFC 9113 §6.9.2 starts it at 65,535; we raise it). */
  connectionWindow?: number;
  /** Clock and timers, injected so tests are deterministic. */
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => () => void;
}

export interface ConnectionEvents {
  /** Server role: the peer opened a stream with this header block. Set `stream.listener` synchronously. */
  onStream?(stream: Stream, fields: HeaderField[], endStream: boolean): void;
  /** Client role: an ORIGIN frame arrived on stream 0 (RFC 8336); `origins` is the whole set so far. */
  onOrigin?(origins: readonly string[], added: readonly string[]): void;
  onGoaway?(frame: GoawayFrame): void;
  onRemoteSettings?(settings: Readonly<Settings>): void;
  /** The connection is finished (after GOAWAY and drain, an error, or the transport ending). */
  onClose?(error: Http2Error | undefined): void;
  /** A stream slot became free (for callers waiting on MAX_CONCURRENT_STREAMS). */
  onStreamClosed?(stream: Stream): void;
  /** The peer sent a PING (not an ACK); its 8 octets of opaque data. The ACK goes out anyway. */
  onPing?(opaque: Uint8Array): void;
}

/** Connection-level receive window we grant by default: room for many streams in flight. */
export const DEFAULT_CONNECTION_WINDOW = 16 << 20;

const EMPTY = new Uint8Array(0);

const defaultSetTimer = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms) as unknown as { unref?: () => void };
  t.unref?.();
  return () => clearTimeout(t as unknown as number);
};

/**
 * A sans-I/O HTTP/2 connection (RFC 9113) in either role. Bytes come in through `receive`, go out
 * through the sink; the clock is injected. It dispatches received frames and wires the pieces
 * that keep the state: `stream-registry.ts` (streams, idle and closed ids), `settings-sync.ts`,
 * `ping.ts`, `goaway.ts` and `send-scheduler.ts` (outbound frames, DATA and flushes). Stream
 * states change only through `transition` (stream-state.ts). It also holds the receive-side
 * defences in `Limits`; HTTP semantics live in `../http/`.
 */
export class Connection {
  /** StreamPort: a DATA write resolves at once only within both windows and STREAM_QUEUE_BYTES (send-scheduler.ts). */
  readonly writesBounded = true;
  readonly role: Role;
  readonly local: Readonly<Settings>;
  /** Our SETTINGS awaiting their ACK, and the peer's in force. */
  private readonly settings: SettingsSync;
  readonly limits: Limits;
  private readonly registry: StreamRegistry;
  /** Origin Set learned from ORIGIN frames (client role). */
  readonly peerOrigins: string[] = [];
  private readonly reader: FrameReader;
  private readonly encoder: HpackEncoder;
  private readonly decoder: HpackDecoder;
  private readonly recvWindow: ReceiveWindow;
  private prefaceRemaining: number;
  private emptyDataRun = 0;
  private resetTimes: number[] = [];
  private readonly pings: OutstandingPings;
  private readonly now: () => number;
  /** The injected timer (ConnectionOptions.setTimer), shared with the PING keepalive. */
  readonly setTimer: (fn: () => void, ms: number) => () => void;
  /** Outbound frames, DATA waiting for credit, when a flush runs. */
  private readonly sender: SendScheduler;
  /** The GOAWAY we sent (in two phases for a graceful shutdown) and the one we received. */
  private readonly goaways: Goaway;
  isClosed = false;
  closeError: Http2Error | undefined;
  /** Octets received on every stream and not yet consumed by the application (bounded by `limits.maxBufferedBytes`). */
  private buffered = 0;
  /** Streams that ended (END_STREAM both ways) while the application still holds their unread DATA: still in the budget. */
  private held: Set<Stream> | undefined;
  /** Ticks on every consume: orders streams by how recently their reader took data, without a clock read. */
  private consumeTick = 0;
  /** Streams reset because the connection's buffer budget was exceeded (a metric). */
  budgetResets = 0;

  constructor(
    readonly sink: ConnectionSink,
    options: ConnectionOptions,
    readonly events: ConnectionEvents = {},
  ) {
    this.role = options.role;
    const local = { ...DEFAULT_LOCAL_SETTINGS, ...options.settings };
    if (this.role === 'server') local.enablePush = false;
    this.local = local;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.now = options.now ?? Date.now;
    this.setTimer = options.setTimer ?? defaultSetTimer;
    this.sender = new SendScheduler(
      {
        sink: this.sink,
        now: this.now,
        setTimer: this.setTimer,
        isClosed: () => this.isClosed,
        maxFrameSize: () => this.remote.maxFrameSize,
        isActive: (stream) => this.streams.has(stream.id),
        writeSent: (stream, write) => {
          if (write.trailers) this.sendHeaders(stream, write.trailers, true);
          else if (write.end) this.endLocal(stream);
        },
        resetStream: (stream, errorCode, error) => this.resetStream(stream, errorCode, error),
      },
      { deferFlush: sink.scheduleFlush?.bind(sink), limits: this.limits },
    );
    this.pings = new OutstandingPings(this.now);
    this.registry = new StreamRegistry(this.role);
    this.goaways = new Goaway(this.setTimer);
    this.settings = new SettingsSync(this.role, this.setTimer, this.limits.settingsTimeoutMs, (error) => this.fail(error));
    this.reader = new FrameReader({ maxFrameSize: Math.max(INITIAL_SETTINGS.maxFrameSize, this.local.maxFrameSize), dataInPieces: true });
    this.encoder = new HpackEncoder();
    // RFC 9113 §4.3: until the peer acknowledges our SETTINGS, it may still use the default table size.
    this.decoder = new HpackDecoder({ maxTableSize: Math.max(INITIAL_SETTINGS.headerTableSize, this.local.headerTableSize), maxHeaderListSize: this.local.maxHeaderListSize });
    this.recvWindow = new ReceiveWindow(DEFAULT_INITIAL_WINDOW_SIZE);
    this.prefaceRemaining = sendsPreface(this.role) ? 0 : CONNECTION_PREFACE.length;

    // RFC 9113 §3.4: the client sends the preface then SETTINGS; the server's preface is SETTINGS.
    if (sendsPreface(this.role)) this.sender.emit(CONNECTION_PREFACE);
    // `local` does not change after this point, so it is its own snapshot (no copy held per connection).
    this.sender.emit(encodeFrame({ kind: 'settings', ack: false, settings: settingsToWire(this.local) }));
    this.settings.sent(this.local);
    const window = options.connectionWindow ?? DEFAULT_CONNECTION_WINDOW;
    if (window > DEFAULT_INITIAL_WINDOW_SIZE) {
      const increment = this.recvWindow.grow(window - DEFAULT_INITIAL_WINDOW_SIZE);
      this.sender.emit(encodeFrame({ kind: 'window-update', streamId: 0, increment }));
    }
    if (this.role === 'server' && options.origins && options.origins.length > 0) {
      this.sendOrigin(options.origins);
    }
    this.sender.scheduleFlush();
  }

  // ---------------------------------------------------------------- public API

  /** The peer's SETTINGS in force (the protocol's initial values until its first SETTINGS). */
  get remote(): Settings {
    return this.settings.remote;
  }

  /**
   * The GOAWAY we sent (its last-stream-id). During a graceful shutdown's first phase its
   * `lastStreamId` is 2^31-1 until the final GOAWAY replaces it.
   */
  get goawaySent(): GoawayFrame | undefined {
    return this.goaways.sent;
  }

  /** The GOAWAY the peer sent. */
  get goawayReceived(): GoawayFrame | undefined {
    return this.goaways.received;
  }

  /** The active streams, by id. */
  get streams(): ReadonlyIdTable<Stream> {
    return this.registry.streams;
  }

  /** Highest stream id the peer opened (for GOAWAY's last-stream-id). */
  get lastPeerStreamId(): number {
    return this.registry.lastPeerStreamId;
  }

  /** Streams we opened that are still active, and streams the peer opened. */
  get openStreams(): number {
    return this.registry.openLocal + this.registry.openPeer;
  }

  /** Octets received and not yet consumed by the application, over all streams. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Round-trip time of the last PING, in ms. */
  get rttMs(): number | undefined {
    return this.pings.rttMs;
  }

  /** True when a new local stream may be opened now. */
  get canOpenStream(): boolean {
    return !this.isClosed && !this.goaways.active && this.registry.openLocal < this.remote.maxConcurrentStreams && this.registry.nextStreamId <= this.limits.maxStreamId;
  }

  /** True once GOAWAY was sent or received: no new streams. */
  get draining(): boolean {
    return this.isClosed || this.goaways.active;
  }

  /** Feed bytes received from the transport, split at any boundary. */
  receive(chunk: Uint8Array): void {
    if (this.isClosed) return;
    try {
      if (this.prefaceRemaining > 0) chunk = this.checkPreface(chunk);
    } catch (error) {
      this.handleError(error);
      return;
    }
    // Each frame is handled on its own, so a stream error costs only its stream. The reader
    // holds back a stream error met after other frames until the next push (frame-reader.ts).
    let input = chunk;
    while (!this.isClosed && (input.length > 0 || this.reader.hasPendingError || input !== chunk)) {
      let frames: Frame[];
      try {
        frames = this.reader.push(input);
      } catch (error) {
        this.handleError(error);
        input = EMPTY;
        continue;
      }
      for (const frame of frames) {
        if (this.isClosed) break;
        try {
          this.handleFrame(frame);
        } catch (error) {
          this.handleError(error);
        }
      }
      if (!this.reader.hasPendingError) break;
      input = EMPTY;
    }
    this.sender.flush();
  }

  /** The transport ended (EOF or error). */
  receiveEnd(error?: Error): void {
    if (this.isClosed) return;
    const reason = error ? `the transport failed: ${error.message}` : 'the peer closed the transport';
    this.finish(new SessionClosedError(reason, ErrorCode.CANCEL, false, { cause: error }), false);
  }

  /** The transport can take more bytes again after `write` returned false. */
  resume(): void {
    this.sender.resume();
  }

  /** Open a new stream (we are its initiator) and send its header block. */
  openStream(fields: HeaderField[], endStream: boolean, listener: StreamListener): Stream {
    if (this.isClosed) throw new SessionClosedError('the connection is closed');
    if (this.goaways.active) throw new SessionClosedError('the connection is shutting down (GOAWAY)', ErrorCode.NO_ERROR, true);
    if (this.registry.openLocal >= this.remote.maxConcurrentStreams) throw new Http2UsageError('the peer allows no more concurrent streams (SETTINGS_MAX_CONCURRENT_STREAMS)');
    if (this.registry.nextStreamId > this.limits.maxStreamId) {
      // §5.1.1: stream identifiers cannot be reused; a long-lived connection must be replaced.
      this.goaway(ErrorCode.NO_ERROR, 'stream ids exhausted');
      throw new SessionClosedError('stream ids exhausted on this connection; open a new one', ErrorCode.NO_ERROR, true);
    }
    const stream = new Stream(this.registry.nextStreamId, this.remote.initialWindowSize, this.local.initialWindowSize);
    stream.lastConsumed = this.consumeTick;
    this.registry.nextStreamId += 2;
    stream.listener = listener;
    this.registry.add(stream);
    this.sendHeaders(stream, fields, endStream);
    // The last stream id is used: drain now, so callers waiting for a slot move to a new
    // connection (retryably) instead of waiting for one that never comes.
    if (this.registry.nextStreamId > this.limits.maxStreamId) this.goaway(ErrorCode.NO_ERROR, 'stream ids exhausted');
    return stream;
  }

  /** Send a header block (response headers, informational, or trailers with endStream). */
  sendHeaders(stream: Stream, fields: HeaderField[], endStream: boolean): void {
    if (this.isClosed) throw new SessionClosedError('the connection is closed');
    if (stream.pending.length > 0) {
      // Trailers behind DATA that was accepted but not yet framed (send-scheduler.ts,
      // STREAM_QUEUE_BYTES): they follow that DATA instead of overtaking it.
      if (!endStream) throw new Http2UsageError(`stream ${stream.id} cannot send a header block before its queued DATA`);
      this.sender.queue(stream, EMPTY, true, fields).catch(noop);
      return;
    }
    stream.state = transition(stream.id, stream.state, 'send-headers');
    const block = this.encoder.encode(fields, FRAME_HEADER_LENGTH);
    this.sender.emitHeaders(stream, encodeHeaderBlockInPlace(stream.id, block, { endStream, maxFrameSize: this.remote.maxFrameSize }), endStream);
    if (endStream) this.endLocal(stream);
    this.sender.scheduleFlush();
  }

  /** StreamPort: octets `stream` could send now beyond what it has queued (both windows; 0 while the transport is full). */
  sendCredit(stream: Stream): number {
    return this.sender.credit(stream);
  }

  /**
   * Queue DATA (and optionally END_STREAM, or trailers after it). Resolves once the bytes were
   * handed to the transport, or at once when they fit the flow-control windows, the stream's
   * send queue and a writable transport (send-scheduler.ts, STREAM_QUEUE_BYTES): the backpressure
   * a body pump needs, since the windows and the transport's buffer both hold it back.
   */
  sendData(stream: Stream, data: Uint8Array, end = false, trailers?: HeaderField[]): Promise<void> {
    if (this.isClosed) return Promise.reject(this.closeError ?? new SessionClosedError('the connection is closed'));
    if (!localCanSend(stream.state)) return Promise.reject(new Http2UsageError(`stream ${stream.id} cannot send DATA in state ${stream.state}`));
    return this.sender.queue(stream, data, end, trailers);
  }

  /** Reset a stream (RST_STREAM) and tell its listener. */
  resetStream(stream: Stream, errorCode: number, error?: Http2Error): void {
    if (stream.state === 'idle') return;
    if (stream.state === 'closed') {
      // The frame that closed the stream is being delivered and the layer above found it
      // malformed: §5.1 forbids RST_STREAM on a closed stream, but the listener must still fail.
      if (this.streams.get(stream.id) === stream) this.closeStream(stream, 'reset', error ?? new StreamResetError(stream.id, errorCode, 'local', 'reset by this endpoint'));
      return;
    }
    stream.state = transition(stream.id, stream.state, 'send-reset');
    this.sender.emit(encodeFrame({ kind: 'rst-stream', streamId: stream.id, errorCode }));
    this.sender.scheduleFlush();
    this.closeStream(stream, 'reset', error ?? new StreamResetError(stream.id, errorCode, 'local', 'reset by this endpoint'));
  }

  /**
   * The application delivered `octets` of this stream's DATA: return the stream's credit with
   * WINDOW_UPDATE. (The connection's credit went back when the DATA was buffered: see `onData`.)
   */
  consume(stream: Stream, octets: number): void {
    // A stream reset for the budget had its unread octets written off already.
    octets = Math.min(octets, stream.unconsumed);
    if (octets <= 0 || this.isClosed) return;
    stream.unconsumed -= octets;
    this.buffered -= octets;
    stream.lastConsumed = ++this.consumeTick;
    if (stream.unconsumed === 0) this.held?.delete(stream);
    if (peerCanSend(stream.state)) {
      const increment = stream.recvWindow.release(octets);
      if (increment > 0) this.sender.emit(encodeFrame({ kind: 'window-update', streamId: stream.id, increment }));
    }
    this.sender.scheduleFlush();
  }

  /** PINGs the peer every `options.intervalMs` until the connection closes (ping.ts `keepAlive`); returns the function that stops it. */
  keepAlive(options: KeepAliveOptions): () => void {
    return keepAlive(this, options);
  }

  /** Send PING (with `opaque`, 8 octets, or a counter); resolves with the round-trip time in ms. */
  ping(opaque?: Uint8Array): Promise<number> {
    if (this.isClosed) return Promise.reject(this.closeError ?? new SessionClosedError('the connection is closed'));
    if (opaque !== undefined && opaque.length !== 8) return Promise.reject(new Http2UsageError('PING opaque data is 8 octets (RFC 9113 §6.7)'));
    return new Promise((resolve, reject) => this.sendPing(resolve, reject, opaque));
  }

  /** Server role: announce (more of) the origin set (RFC 8336). */
  sendOrigin(origins: readonly string[]): void {
    this.sender.emit(encodeFrame({ kind: 'origin', streamId: 0, origins: [...origins] }));
    this.sender.scheduleFlush();
  }

  /**
   * Graceful shutdown (RFC 9113 §6.8), in two phases: GOAWAY with last-stream-id 2^31-1 (no new
   * streams from now on, but those already on their way are served) and a PING; once the PING is
   * answered, or after GOAWAY_FINAL_DELAY_MS, the final GOAWAY with the real last stream id.
   * In-flight streams finish, then the transport closes. With an error code other than NO_ERROR,
   * the connection closes at once.
   */
  goaway(errorCode: number = ErrorCode.NO_ERROR, debug = ''): void {
    if (this.isClosed) return;
    if (errorCode !== ErrorCode.NO_ERROR) {
      this.fail(new ConnectionError(errorCode, debug || 'closed by this endpoint'));
      return;
    }
    const announce = this.goaways.announce(debug);
    if (announce) {
      this.sender.emit(encodeFrame(announce));
      // Frames arrive in order: once the peer answers a PING sent after our GOAWAY, every stream
      // it opened before reading that GOAWAY has reached us (the round trip §6.8 asks for).
      const final = () => this.sendFinalGoaway();
      this.sendPing(final, noop);
      this.goaways.awaitFinal(final);
    }
    this.sender.flush();
    this.maybeFinishDrain();
  }

  /** Second phase of a graceful shutdown: GOAWAY with the last stream id we let the peer open. */
  private sendFinalGoaway(): void {
    if (this.isClosed) return;
    const final = this.goaways.final(this.lastPeerStreamId);
    if (!final) return;
    this.sender.emit(encodeFrame(final));
    this.sender.flush();
    this.maybeFinishDrain();
  }

  private sendPing(resolve: (ms: number) => void, reject: (e: Error) => void, given?: Uint8Array): void {
    const opaque = this.pings.start(resolve, reject, given);
    this.sender.emit(encodeFrame({ kind: 'ping', ack: false, opaque }));
    this.sender.scheduleFlush();
  }

  /** Close now: RST every open stream with CANCEL via GOAWAY, and the transport. */
  close(error?: Http2Error): void {
    if (this.isClosed) return;
    this.fail(error ?? new SessionClosedError('closed by this endpoint', ErrorCode.CANCEL));
  }

  // ---------------------------------------------------------------- receiving

  private checkPreface(chunk: Uint8Array): Uint8Array {
    const offset = CONNECTION_PREFACE.length - this.prefaceRemaining;
    const n = Math.min(this.prefaceRemaining, chunk.length);
    for (let i = 0; i < n; i++) {
      if (chunk[i] !== CONNECTION_PREFACE[offset + i]) {
        // §3.4: clients and servers MUST treat an invalid connection preface as a connection error of type PROTOCOL_ERROR.
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'invalid connection preface: the peer does not speak HTTP/2 (RFC 9113 §3.4)');
      }
    }
    this.prefaceRemaining -= n;
    return chunk.subarray(n);
  }

  private handleFrame(frame: Frame): void {
    if (!this.settings.received) {
      // §3.4: the first frame the peer sends MUST be SETTINGS.
      if (frame.kind !== 'settings' || frame.ack) {
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `the peer's first frame was ${frame.kind.toUpperCase()}, not SETTINGS (RFC 9113 §3.4)`);
      }
    }
    if (frame.kind !== 'data') this.emptyDataRun = 0;
    switch (frame.kind) {
      case 'data':
        return this.onData(frame);
      case 'headers':
        return this.onHeaders(frame);
      case 'priority':
        // RFC 9113 §5.3.2 deprecates the priority scheme: parsed and ignored. §5.3.1: a stream
        // cannot depend on itself (the frame decoder checks that).
        return;
      case 'rst-stream':
        return this.onRstStream(frame.streamId, frame.errorCode);
      case 'settings':
        return this.onSettings(frame);
      case 'push-promise':
        // §8.4: a client that set ENABLE_PUSH to 0 MUST treat PUSH_PROMISE as a connection error
        // of type PROTOCOL_ERROR; a server never receives it (§8.4, "A client cannot push").
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE received, but push is disabled (RFC 9113 §8.4)');
      case 'ping':
        if (frame.ack) {
          this.pings.acked(frame.opaque);
          return;
        }
        // §6.7: receivers of a PING frame that does not include an ACK flag MUST send a PING
        // frame with the ACK flag set in response, with an identical frame payload.
        this.sender.controlFrameQueued();
        this.sender.emit(encodeFrame({ kind: 'ping', ack: true, opaque: frame.opaque }));
        this.events.onPing?.(frame.opaque);
        return;
      case 'goaway':
        return this.onGoaway(frame);
      case 'window-update':
        return this.onWindowUpdate(frame);
      case 'continuation':
        // The reader assembles CONTINUATION into its HEADERS; a stray one is its error to raise.
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'unexpected CONTINUATION (RFC 9113 §6.10)');
      case 'origin':
        // RFC 8336 §2.1: the ORIGIN frame MUST be sent on stream 0; an ORIGIN frame on any other
        // stream is invalid and MUST be ignored. Only clients process it (§2.2).
        if (frame.streamId !== 0 || !processesOrigin(this.role)) return;
        {
          const added = growOriginSet(this.peerOrigins, frame.origins);
          // RFC 9113 §10.5: a peer making us keep too much may be told ENHANCE_YOUR_CALM; here, an origin set past the bound.
          if (!added) throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `the peer's origin set passed ${MAX_PEER_ORIGINS} origins (RFC 8336)`);
          this.events.onOrigin?.(this.peerOrigins, added);
        }
        return;
      case 'unknown':
        // §4.1 / §5.5: implementations MUST ignore and discard frames of unknown types.
        return;
    }
  }

  private onData(frame: DataFrame): void {
    const length = frame.flowControlledLength ?? frame.data.length;
    // §6.9.1: flow control applies to the connection even when the stream is gone.
    if (!this.recvWindow.receive(length)) {
      throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'the peer sent more DATA than the connection window allows (RFC 9113 §6.9.1)');
    }
    if (frame.data.length === 0 && !frame.endStream) {
      if (++this.emptyDataRun > this.limits.maxEmptyDataFrames) {
        throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `more than ${this.limits.maxEmptyDataFrames} empty DATA frames in a row`);
      }
    } else {
      this.emptyDataRun = 0;
    }
    const stream = this.streams.get(frame.streamId);
    if (!stream) {
      this.releaseConnection(length);
      this.registry.frameForMissingStream(frame.streamId, 'DATA');
      return;
    }
    if (!peerCanSend(stream.state)) {
      this.releaseConnection(length);
      // §6.1: if a DATA frame is received whose stream is not in the "open" or "half-closed
      // (local)" state, the recipient MUST respond with a stream error of type STREAM_CLOSED.
      throw new StreamError(stream.id, ErrorCode.STREAM_CLOSED, 'DATA after END_STREAM (RFC 9113 §6.1)');
    }
    if (!stream.recvWindow.receive(length)) {
      this.releaseConnection(length);
      throw new StreamError(stream.id, ErrorCode.FLOW_CONTROL_ERROR, 'the peer sent more DATA than the stream window allows (RFC 9113 §6.9.1)');
    }
    // Padding is flow-controlled but never delivered: give its credit back at once.
    const padding = length - frame.data.length;
    if (padding > 0) {
      this.releaseConnection(padding);
      const inc = stream.recvWindow.release(padding);
      if (inc > 0 && !frame.endStream) this.sender.emit(encodeFrame({ kind: 'window-update', streamId: stream.id, increment: inc }));
    }
    // The connection's credit goes back as soon as the DATA is buffered, the stream's only as the
    // application takes it: a reader that stalls holds its own stream window and never the
    // connection's, which every other stream (every other tenant, on a reversed connection) needs.
    // Buffered octets stay bounded by the stream windows and by `limits.maxBufferedBytes`.
    this.releaseConnection(frame.data.length);
    // A reader that had taken everything is as fresh as this arrival: a stream's staleness (the
    // budget's victim order) counts from when its data started waiting, not from when it opened,
    // so streams opened later that never read are not taken for fresher than one that keeps up.
    if (stream.unconsumed === 0 && frame.data.length > 0) stream.lastConsumed = ++this.consumeTick;
    stream.unconsumed += frame.data.length;
    this.buffered += frame.data.length;
    if (frame.endStream) stream.state = transition(stream.id, stream.state, 'recv-end-stream');
    stream.listener?.onData(frame.data, frame.endStream);
    if (frame.endStream) this.maybeCloseStream(stream);
    if (this.buffered > this.limits.maxBufferedBytes) this.enforceBufferBudget();
  }

  /**
   * Over the buffer budget: reset the streams whose readers went longest without taking data
   * (a browser that never reads) until the buffered octets fit again. A stream whose reader keeps
   * reading, however slowly, is chosen only after every stalled one.
   */
  private enforceBufferBudget(): void {
    while (this.buffered > this.limits.maxBufferedBytes) {
      let victim: Stream | undefined;
      for (const s of this.streams.values()) if (s.unconsumed > 0 && staler(s, victim)) victim = s;
      if (this.held) for (const s of this.held) if (staler(s, victim)) victim = s;
      if (!victim) return;
      this.budgetResets++;
      const error = new StreamResetError(victim.id, ErrorCode.CANCEL, 'local', `the reader of stream ${victim.id} fell ${victim.unconsumed} octets behind while the connection buffered more than ${this.limits.maxBufferedBytes} (limits.maxBufferedBytes)`);
      if (this.held?.delete(victim)) {
        // Ended on the wire already: nothing to send, but its reader loses the unread DATA.
        this.buffered -= victim.unconsumed;
        victim.unconsumed = 0;
        victim.listener?.onReset(error);
      } else {
        this.resetStream(victim, ErrorCode.CANCEL, error);
      }
    }
  }

  private onHeaders(frame: HeadersFrame): void {
    // §4.3: header blocks MUST be decoded even when the stream is refused or reset, or the
    // compression context would fall out of sync (a decoding error is a COMPRESSION_ERROR).
    let fields: HeaderField[] | undefined;
    let tooLarge: HeaderListTooLargeError | undefined;
    try {
      fields = this.decoder.decode(frame.fragment);
    } catch (error) {
      if (error instanceof HeaderListTooLargeError) tooLarge = error;
      else if (error instanceof ConnectionError) throw error;
      else throw new CompressionError(`header block could not be decoded: ${(error as Error).message}`, { cause: error });
    }
    if (frame.priority && frame.priority.dependency === frame.streamId) {
      // §5.3.1: a stream cannot depend on itself → stream error of type PROTOCOL_ERROR.
      // The HEADERS still used its id (§5.1.1): later frames on it are in flight after our RST, not on an idle stream.
      if (isPeerInitiated(this.role, frame.streamId) && frame.streamId > this.lastPeerStreamId) this.registry.lastPeerStreamId = frame.streamId;
      throw new StreamError(frame.streamId, ErrorCode.PROTOCOL_ERROR, 'stream depends on itself (RFC 9113 §5.3.1)');
    }
    let stream = this.streams.get(frame.streamId);
    if (!stream) {
      if (!isPeerInitiated(this.role, frame.streamId)) {
        // A stream we would have opened but did not: idle, or long closed. §5.1.1: an endpoint
        // that receives an unexpected stream identifier MUST respond with a connection error of
        // type PROTOCOL_ERROR.
        if (this.registry.isIdle(frame.streamId)) {
          throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS on idle stream ${frame.streamId} that this endpoint never opened (RFC 9113 §5.1)`);
        }
        this.registry.frameForMissingStream(frame.streamId, 'HEADERS');
        return;
      }
      if (frame.streamId <= this.lastPeerStreamId) {
        this.registry.frameForMissingStream(frame.streamId, 'HEADERS');
        return;
      }
      // §5.1.1: a new stream id MUST be greater than all the peer opened before (checked above).
      this.registry.lastPeerStreamId = frame.streamId;
      if (this.goaways.ignoresPeerStream(frame.streamId)) {
        this.registry.rememberClosed(frame.streamId, 'reset');
        return;
      }
      stream = new Stream(frame.streamId, this.remote.initialWindowSize, this.local.initialWindowSize);
      stream.lastConsumed = this.consumeTick;
      stream.state = transition(stream.id, stream.state, 'recv-headers');
      this.registry.add(stream);
      if (this.registry.openPeer > this.local.maxConcurrentStreams) {
        // §5.1.2: an endpoint that receives a HEADERS frame that causes its advertised
        // concurrent stream limit to be exceeded MUST treat this as a stream error of type
        // PROTOCOL_ERROR or REFUSED_STREAM (REFUSED_STREAM lets the client retry, §8.7).
        throw new StreamError(stream.id, ErrorCode.REFUSED_STREAM, `more than ${this.local.maxConcurrentStreams} concurrent streams`);
      }
      if (tooLarge) {
        throw new StreamError(stream.id, ErrorCode.PROTOCOL_ERROR, tooLarge.message, { cause: tooLarge });
      }
      if (frame.endStream) stream.state = transition(stream.id, stream.state, 'recv-end-stream');
      this.events.onStream?.(stream, fields!, frame.endStream);
      if (!stream.listener && stream.state !== 'closed') {
        this.resetStream(stream, ErrorCode.REFUSED_STREAM);
      }
      this.maybeCloseStream(stream);
      return;
    }
    if (!peerCanSend(stream.state)) {
      // §5.1: half-closed (remote) / closed: frames other than WINDOW_UPDATE, PRIORITY or
      // RST_STREAM get a stream error of type STREAM_CLOSED.
      throw new StreamError(stream.id, ErrorCode.STREAM_CLOSED, 'HEADERS after END_STREAM (RFC 9113 §5.1)');
    }
    if (tooLarge) throw new StreamError(stream.id, ErrorCode.PROTOCOL_ERROR, tooLarge.message, { cause: tooLarge });
    stream.state = transition(stream.id, stream.state, 'recv-headers');
    if (frame.endStream) stream.state = transition(stream.id, stream.state, 'recv-end-stream');
    stream.listener?.onHeaders(fields!, frame.endStream);
    if (frame.endStream) this.maybeCloseStream(stream);
  }

  private onRstStream(streamId: number, errorCode: number): void {
    const stream = this.streams.get(streamId);
    if (!stream) {
      // §6.4: if a RST_STREAM frame identifying an idle stream is received, the recipient MUST
      // treat this as a connection error of type PROTOCOL_ERROR.
      if (this.registry.isIdle(streamId)) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${streamId} (RFC 9113 §6.4)`);
      return;
    }
    if (isPeerInitiated(this.role, streamId)) this.countReset();
    stream.state = transition(stream.id, stream.state, 'recv-reset');
    // §8.7: REFUSED_STREAM means the request was not processed and can be retried.
    const retryable = errorCode === ErrorCode.REFUSED_STREAM;
    const message = retryable ? 'the peer refused the stream before processing it' : 'the peer reset the stream';
    this.closeStream(stream, 'peer-reset', new StreamResetError(streamId, errorCode, 'peer', message, retryable));
  }

  /** Rapid Reset defence (CVE-2023-44487): a bounded number of peer resets per time window. */
  private countReset(): void {
    const now = this.now();
    this.resetTimes.push(now);
    while (this.resetTimes.length > 0 && now - this.resetTimes[0] > this.limits.resetWindowMs) this.resetTimes.shift();
    if (this.resetTimes.length > this.limits.maxResetsPerWindow) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `more than ${this.limits.maxResetsPerWindow} stream resets within ${this.limits.resetWindowMs} ms (rapid reset)`);
    }
  }

  private onSettings(frame: SettingsFrame): void {
    if (frame.ack) {
      const acked = this.settings.acked();
      if (!acked) return;
      // Stream receive windows and the frame size limit use our advertised values from the
      // start (a peer may apply them before we see the ACK, and both only ever grow here).
      this.decoder.setMaxTableSize(acked.headerTableSize);
      return;
    }
    const next = this.settings.receive(frame.settings);
    const delta = next.initialWindowSize - this.remote.initialWindowSize;
    if (delta !== 0) {
      // §6.9.2: a change of SETTINGS_INITIAL_WINDOW_SIZE adjusts every stream's window by the
      // difference; a window above 2^31-1 MUST be treated as a connection error of type FLOW_CONTROL_ERROR.
      for (const s of this.streams.values()) {
        if (!s.sendWindow.adjust(delta)) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'SETTINGS_INITIAL_WINDOW_SIZE change overflows a stream window (RFC 9113 §6.9.2)');
      }
    }
    if (next.headerTableSize !== this.remote.headerTableSize) this.encoder.setMaxTableSize(Math.min(next.headerTableSize, 65_536));
    this.settings.remote = next;
    // §6.5.3: upon receiving SETTINGS without ACK, the recipient MUST apply them and reply with ACK.
    this.sender.controlFrameQueued();
    this.sender.emit(encodeFrame({ kind: 'settings', ack: true, settings: [] }));
    this.events.onRemoteSettings?.(this.remote);
  }

  private onGoaway(frame: GoawayFrame): void {
    this.goaways.receive(frame);
    this.events.onGoaway?.(frame);
    const debug = new TextDecoder().decode(frame.debugData);
    // §6.8: streams above last-stream-id were not processed and may be retried elsewhere.
    for (const stream of [...this.streams.values()]) {
      if (unprocessedByGoaway(this.role, frame, stream.id)) {
        stream.state = transition(stream.id, stream.state, 'abandon');
        this.closeStream(stream, 'reset', new StreamResetError(stream.id, ErrorCode.REFUSED_STREAM, 'peer', `not processed: the peer sent GOAWAY with last-stream-id ${frame.lastStreamId}`, true));
      }
    }
    if (frame.errorCode !== ErrorCode.NO_ERROR) {
      const error = new SessionClosedError(`the peer closed the connection with ${errorCodeName(frame.errorCode)}${debug ? `: ${debug}` : ''}`, frame.errorCode);
      this.finish(error, false);
      return;
    }
    this.maybeFinishDrain();
  }

  private onWindowUpdate(frame: WindowUpdateFrame): void {
    if (frame.streamId === 0) {
      if (!this.sender.connectionWindow.increase(frame.increment)) windowOverflow(0);
    } else {
      const stream = this.streams.get(frame.streamId);
      if (!stream) {
        // §5.1: idle: receiving any frame other than HEADERS or PRIORITY on a stream in this state
        // MUST be treated as a connection error of type PROTOCOL_ERROR.
        if (this.registry.isIdle(frame.streamId)) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${frame.streamId} (RFC 9113 §5.1)`);
        return; // §6.9: WINDOW_UPDATE can arrive for a closed stream; ignore it.
      }
      if (!stream.sendWindow.increase(frame.increment)) windowOverflow(stream.id);
    }
  }

  // ---------------------------------------------------------------- errors and closing

  private handleError(error: unknown): void {
    if (error instanceof StreamError) {
      const stream = this.streams.get(error.streamId);
      if (stream) this.resetStream(stream, error.errorCode, new StreamResetError(error.streamId, error.errorCode, 'local', error.message.replace(/^stream \d+: /, ''), false, { cause: error }));
      else {
        this.sender.emit(encodeFrame({ kind: 'rst-stream', streamId: error.streamId, errorCode: error.errorCode }));
        this.registry.rememberClosed(error.streamId, 'reset');
      }
      return;
    }
    if (error instanceof ConnectionError) {
      this.fail(error);
      return;
    }
    this.fail(new ConnectionError(ErrorCode.INTERNAL_ERROR, `internal error: ${(error as Error)?.message ?? String(error)}`, { cause: error }));
  }

  /** Connection error: GOAWAY with the code and a reason, then close (RFC 9113 §5.4.1). */
  private fail(error: Http2Error): void {
    if (this.isClosed) return;
    const errorCode = error instanceof ConnectionError ? error.errorCode : error instanceof SessionClosedError ? error.errorCode : ErrorCode.INTERNAL_ERROR;
    const last = this.goaways.closing(errorCode, this.lastPeerStreamId, (error instanceof ConnectionError ? error.reason : error.message).slice(0, 512));
    if (last) this.sender.emit(encodeFrame(last));
    this.finish(error, true);
  }

  private finish(error: Http2Error | undefined, flushFirst: boolean): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closeError = error;
    this.settings.cancel();
    this.sender.stop();
    this.goaways.cancel();
    const streamError = (stream: Stream) =>
      error instanceof SessionClosedError || error instanceof ConnectionError
        ? new StreamResetError(stream.id, error.errorCode, 'connection', `the connection closed: ${error.message}`, false, { cause: error })
        : new StreamResetError(stream.id, ErrorCode.CANCEL, 'connection', 'the connection closed', false, { cause: error });
    for (const stream of [...this.streams.values()]) {
      stream.state = transition(stream.id, stream.state, 'abandon');
      this.closeStream(stream, 'reset', streamError(stream));
    }
    if (this.pings.size > 0) this.pings.rejectAll(error ?? new SessionClosedError('the connection closed'));
    if (flushFirst) this.sender.flush(true);
    this.sender.discard();
    this.sink.close(error && !(error instanceof SessionClosedError && error.errorCode === ErrorCode.NO_ERROR) ? error : undefined);
    this.events.onClose?.(error);
  }

  private maybeFinishDrain(): void {
    if (this.isClosed || !this.goaways.active) return;
    if (this.streams.size > 0) return;
    // Our graceful shutdown waits for its final GOAWAY: a stream may still be on its way (§6.8).
    if (this.goaways.waitsForFinal) return;
    this.finish(undefined, true);
  }

  // ---------------------------------------------------------------- streams

  private endLocal(stream: Stream): void {
    stream.state = transition(stream.id, stream.state, 'send-end-stream');
    this.maybeCloseStream(stream);
  }

  private maybeCloseStream(stream: Stream): void {
    if (stream.state === 'closed') this.closeStream(stream, 'ended');
  }

  private closeStream(stream: Stream, how: ClosedHow, error?: Http2Error): void {
    if (!this.registry.remove(stream, how)) return;
    if (stream.unconsumed > 0) {
      // An ended stream's unread DATA stays in the budget until its reader takes it; a reset one's is dropped.
      if (how === 'ended') (this.held ??= new Set()).add(stream);
      else {
        this.buffered -= stream.unconsumed;
        stream.unconsumed = 0;
      }
    }
    this.sender.drop(stream, error);
    if (error) stream.listener?.onReset(error);
    this.events.onStreamClosed?.(stream);
    this.maybeFinishDrain();
  }

  private releaseConnection(octets: number): void {
    const increment = this.recvWindow.release(octets);
    if (increment > 0) this.sender.emit(encodeFrame({ kind: 'window-update', streamId: 0, increment }));
  }
}

function noop(): void {}

/** True when `a`'s reader went longer without reading than `b`'s (the older stream on a tie). */
function staler(a: Stream, b: Stream | undefined): boolean {
  return !b || a.lastConsumed < b.lastConsumed || (a.lastConsumed === b.lastConsumed && a.id < b.id);
}

export { MAX_WINDOW_SIZE };
