/**
 * A scripted HTTP/2 peer for conformance tests (STYLE.md 12; after hyperium/h2's `mock.rs`).
 *
 * It drives a `Connection` (or an `Http2Session`) under test in either role: the test writes
 * raw frames with `send`/`sendRaw` (our `encodeFrame`, its own HPACK context, or hand-made bytes
 * for malformed frames), and reads what the engine wrote with `expect*`. The peer's reader
 * accepts frames up to 2^24-1 octets and any number of CONTINUATIONs: it never enforces our
 * limits. Time is a manual clock (`advance`), so timeouts are deterministic.
 *
 * ```ts
 * const peer = await ScriptedPeer.start({ role: 'server' }); // the engine is the server
 * peer.send({ kind: 'ping', ack: false, opaque: new Uint8Array(8) });
 * await peer.expectFrame('ping', { ack: true });
 * ```
 */
import { expect } from 'vitest';
import {
  Connection,
  CONNECTION_PREFACE,
  encodeFrame,
  encodeFrameHeader,
  errorCodeName,
  FrameReader,
  Http2Session,
  HpackDecoder,
  HpackEncoder,
  MAX_ALLOWED_FRAME_SIZE,
  type ConnectionEvents,
  type Frame,
  type HeaderField,
  type Http2Error,
  type Http2SessionOptions,
  type Limits,
  type Role,
  type Settings,
  type Stream,
  type StreamListener,
} from '../../src/index.js';

export type FrameKind = Frame['kind'];
export type FrameOf<K extends FrameKind> = Extract<Frame, { kind: K }>;
/** A frame the engine wrote; header blocks come decoded with the peer's HPACK context. */
export type Received = Frame & { fields?: HeaderField[] };

/** A deterministic clock with timers, injected as the engine's `now`/`setTimer`. */
export class ManualClock {
  time = 1_000_000;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private nextId = 0;
  readonly now = (): number => this.time;
  readonly setTimer = (fn: () => void, ms: number): (() => void) => {
    const id = ++this.nextId;
    this.timers.push({ at: this.time + ms, fn, id });
    return () => {
      this.timers = this.timers.filter((t) => t.id !== id);
    };
  };
  /** Move time forward, firing due timers in order (including ones they arm). */
  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at > until) break;
      this.timers.shift();
      this.time = next.at;
      next.fn();
    }
    this.time = until;
  }
  get pendingTimers(): number {
    return this.timers.length;
  }
}

export interface ScriptedPeerOptions {
  /** The role of the engine under test; the peer takes the other one. */
  role: Role;
  settings?: Partial<Settings>;
  limits?: Partial<Limits>;
  origins?: readonly string[];
  /** Drive an `Http2Session` (HTTP semantics, handler) instead of a bare `Connection`. */
  session?: Omit<Http2SessionOptions, 'role' | 'now' | 'setTimer'>;
  /** Extra events for a bare `Connection`. */
  events?: ConnectionEvents;
  connectionWindow?: number;
}

export interface HandshakeOptions {
  /** Settings the peer sends in its first SETTINGS frame. */
  settings?: Array<[number, number]>;
  /** Acknowledge the engine's SETTINGS (default true). */
  ack?: boolean;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The scripted peer; see the module comment. */
export class ScriptedPeer {
  readonly clock = new ManualClock();
  readonly connection: Connection;
  readonly session: Http2Session | undefined;
  /** The peer's own HPACK contexts. */
  readonly encoder = new HpackEncoder({ huffman: 'never' });
  readonly decoder = new HpackDecoder({ maxHeaderListSize: Infinity, maxTableSize: 65_536 });
  /** Every frame the engine wrote, in order, and those not yet taken by `next`/`expect*`. */
  readonly written: Received[] = [];
  private readonly queue: Received[] = [];
  private readonly reader = new FrameReader({ maxFrameSize: MAX_ALLOWED_FRAME_SIZE, maxContinuationFrames: Infinity, maxHeaderBlockBytes: Infinity });
  private prefaceLeft: number;
  /** What `sink.write` returns: false simulates a full transport buffer. */
  writable = true;
  /** Set once the engine closed the transport. */
  transportClosed = false;
  transportError: Error | undefined;
  /** The error the engine reported in onClose (undefined for a clean close). */
  closeError: Http2Error | undefined;
  closeCalled = false;
  /** What each stream's listener heard (bare Connection): received fields, data, resets. */
  readonly streams = new Map<number, StreamRecord>();
  /** Events seen on a bare Connection. */
  readonly events: { origins: string[][]; goaways: FrameOf<'goaway'>[] } = { origins: [], goaways: [] };

  constructor(readonly options: ScriptedPeerOptions) {
    this.prefaceLeft = options.role === 'client' ? CONNECTION_PREFACE.length : 0;
    const sink = {
      write: (chunk: Uint8Array) => {
        this.ingest(chunk.slice());
        return this.writable;
      },
      close: (error?: Error) => {
        this.transportClosed = true;
        this.transportError = error;
      },
    };
    const base = {
      role: options.role,
      settings: options.settings,
      limits: options.limits,
      origins: options.origins,
      connectionWindow: options.connectionWindow,
      now: this.clock.now,
      setTimer: this.clock.setTimer,
    };
    if (options.session) {
      this.session = new Http2Session(sink, {
        ...options.session,
        ...base,
        onClose: (error) => {
          this.closeCalled = true;
          this.closeError = error;
          options.session?.onClose?.(error);
        },
      });
      this.connection = this.session.connection;
    } else {
      const events = options.events ?? {};
      this.connection = new Connection(sink, base, {
        ...events,
        // Server role: accept every stream with a recording listener (no consume: the test decides).
        onStream: (stream, fields, endStream) => {
          stream.listener = this.listener(stream.id);
          this.streams.get(stream.id)!.headers.push(fields);
          if (endStream) this.streams.get(stream.id)!.ended = true;
          events.onStream?.(stream, fields, endStream);
        },
        onOrigin: (all, added) => {
          this.events.origins.push([...added]);
          events.onOrigin?.(all, added);
        },
        onGoaway: (frame) => {
          this.events.goaways.push(frame);
          events.onGoaway?.(frame);
        },
        onClose: (error) => {
          this.closeCalled = true;
          this.closeError = error;
          events.onClose?.(error);
        },
      });
    }
  }

  /**
   * A peer past the handshake: it sent its preface/SETTINGS, took the engine's SETTINGS (and
   * the connection WINDOW_UPDATE / ORIGIN that follow), acknowledged them, and saw our ACK.
   */
  static async start(options: ScriptedPeerOptions, handshake: HandshakeOptions = {}): Promise<ScriptedPeer> {
    const peer = new ScriptedPeer(options);
    await peer.handshake(handshake);
    return peer;
  }

  async handshake({ settings = [], ack = true }: HandshakeOptions = {}): Promise<void> {
    if (this.options.role === 'server') this.sendRaw(CONNECTION_PREFACE);
    this.send({ kind: 'settings', ack: false, settings });
    const theirs = await this.expectFrame('settings', { ack: false });
    expect(theirs.ack).toBe(false);
    if (ack) this.send({ kind: 'settings', ack: true, settings: [] });
    // The engine's window update, ORIGIN and the ACK of our SETTINGS, in whatever order.
    await this.settle();
    const ackAt = this.queue.findIndex((f) => f.kind === 'settings' && f.ack);
    expect(ackAt, 'the engine acknowledges our SETTINGS (RFC 9113 §6.5.3)').toBeGreaterThanOrEqual(0);
    this.queue.splice(ackAt, 1);
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const f = this.queue[i];
      if ((f.kind === 'window-update' && f.streamId === 0) || f.kind === 'origin') this.queue.splice(i, 1);
    }
  }

  /** A listener that records into `streams` (bare Connection). */
  listener(streamId: number): StreamListener {
    const record: StreamRecord = { headers: [], data: [], ended: false, reset: undefined };
    this.streams.set(streamId, record);
    return {
      onHeaders: (fields, endStream) => {
        record.headers.push(fields);
        if (endStream) record.ended = true;
      },
      onData: (data, endStream) => {
        record.data.push(data.slice());
        if (endStream) record.ended = true;
      },
      onReset: (error) => {
        record.reset = error;
      },
    };
  }

  /** Open a stream from the engine's side (a request if the engine is the client). */
  open(fields: HeaderField[] = [[':method', 'GET'], [':scheme', 'https'], [':authority', 'example.com'], [':path', '/']], endStream = true): Stream {
    let opened!: Stream;
    const listener = this.listener(-1);
    const record = this.streams.get(-1)!;
    this.streams.delete(-1);
    opened = this.connection.openStream(fields, endStream, listener);
    this.streams.set(opened.id, record);
    return opened;
  }

  // ------------------------------------------------------------ sending

  /** Send one frame (encoded with `encodeFrame`). */
  send(frame: Frame): void {
    this.sendRaw(encodeFrame(frame));
  }

  /** Send bytes as they are (the preface, malformed frames, several frames at once). */
  sendRaw(bytes: Uint8Array): void {
    (this.session ?? this.connection).receive(bytes);
  }

  /** A frame header followed by `payload`, with any type/flags/stream: for malformed frames. */
  static rawFrame(type: number, flags: number, streamId: number, payload: Uint8Array | number[] = []): Uint8Array {
    const body = payload instanceof Uint8Array ? payload : Uint8Array.from(payload);
    const out = new Uint8Array(9 + body.length);
    encodeFrameHeader({ length: body.length, type, flags, streamId }, out);
    out.set(body, 9);
    return out;
  }

  /** Encode a header block with the peer's HPACK context (so the engine's decoder stays in sync). */
  block(fields: HeaderField[]): Uint8Array {
    return this.encoder.encode(fields);
  }

  /** Send HEADERS (END_HEADERS set) with fields encoded by the peer's HPACK context. */
  headers(streamId: number, fields: HeaderField[], endStream = false, extra: Partial<FrameOf<'headers'>> = {}): void {
    this.send({ kind: 'headers', streamId, endStream, endHeaders: true, fragment: this.block(fields), ...extra });
  }

  data(streamId: number, data: Uint8Array | string, endStream = false, padLength?: number): void {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    this.send({ kind: 'data', streamId, endStream, data: bytes, padLength });
  }

  /** A request header block for stream `streamId` (peer is the client). */
  request(streamId: number, endStream = true, extra: HeaderField[] = [], method = 'GET'): void {
    this.headers(streamId, [[':method', method], [':scheme', 'https'], [':authority', 'example.com'], [':path', '/'], ...extra], endStream);
  }

  // ------------------------------------------------------------ receiving

  private ingest(chunk: Uint8Array): void {
    let bytes = chunk;
    if (this.prefaceLeft > 0) {
      const n = Math.min(this.prefaceLeft, bytes.length);
      const at = CONNECTION_PREFACE.length - this.prefaceLeft;
      expect(Array.from(bytes.subarray(0, n)), 'the client preface (RFC 9113 §3.4)').toEqual(Array.from(CONNECTION_PREFACE.subarray(at, at + n)));
      this.prefaceLeft -= n;
      bytes = bytes.subarray(n);
    }
    for (const frame of this.reader.push(bytes)) {
      const received: Received = frame;
      if (frame.kind === 'headers' || frame.kind === 'push-promise') received.fields = this.decoder.decode(frame.fragment);
      this.written.push(received);
      this.queue.push(received);
    }
  }

  /** Let microtasks, flushes and handlers run. */
  async settle(rounds = 5): Promise<void> {
    for (let i = 0; i < rounds; i++) await tick();
  }

  /** The next frame the engine wrote, or undefined when none came. */
  async next(): Promise<Received | undefined> {
    for (let i = 0; i < 50 && this.queue.length === 0; i++) await tick();
    return this.queue.shift();
  }

  /** Frames written and not yet taken. */
  async drain(): Promise<Received[]> {
    await this.settle();
    return this.queue.splice(0);
  }

  /** The next frame must be of `kind` and match `fields` (a partial, compared with toMatchObject). */
  async expectFrame<K extends FrameKind>(kind: K, fields: Partial<Record<keyof FrameOf<K>, unknown>> = {}): Promise<FrameOf<K> & { fields?: HeaderField[] }> {
    const frame = await this.next();
    expect(frame, `expected a ${kind} frame, but the engine wrote nothing`).toBeDefined();
    expect(frame!.kind).toBe(kind);
    expect(frame).toMatchObject(fields);
    return frame as FrameOf<K> & { fields?: HeaderField[] };
  }

  /** Skip frames until one of `kind` arrives (for frames whose order is not the point of the test). */
  async expectEventually<K extends FrameKind>(kind: K, predicate: (f: FrameOf<K> & { fields?: HeaderField[] }) => boolean = () => true): Promise<FrameOf<K> & { fields?: HeaderField[] }> {
    const skipped: string[] = [];
    for (;;) {
      const frame = await this.next();
      if (frame === undefined) throw new Error(`expected a ${kind} frame; the engine wrote only: ${skipped.join(', ') || 'nothing'}`);
      if (frame.kind === kind && predicate(frame as FrameOf<K>)) return frame as FrameOf<K> & { fields?: HeaderField[] };
      skipped.push(describe(frame));
    }
  }

  /** A connection error: GOAWAY with `errorCode`, then the transport closes (RFC 9113 §5.4.1). */
  async expectGoaway(errorCode: number, lastStreamId?: number): Promise<FrameOf<'goaway'>> {
    const goaway = await this.expectEventually('goaway');
    expect(errorCodeName(goaway.errorCode)).toBe(errorCodeName(errorCode));
    if (lastStreamId !== undefined) expect(goaway.lastStreamId).toBe(lastStreamId);
    if (errorCode !== 0) {
      await this.settle();
      expect(this.transportClosed, 'the engine closes the transport after a connection error').toBe(true);
    }
    return goaway;
  }

  /** A stream error: RST_STREAM on `streamId` with `errorCode` (RFC 9113 §5.4.2); the connection lives on. */
  async expectRst(streamId: number, errorCode: number): Promise<FrameOf<'rst-stream'>> {
    const rst = await this.expectEventually('rst-stream');
    expect({ streamId: rst.streamId, errorCode: errorCodeName(rst.errorCode) }).toEqual({ streamId, errorCode: errorCodeName(errorCode) });
    expect(this.connection.isClosed, 'a stream error does not close the connection').toBe(false);
    return rst;
  }

  /** The engine wrote nothing more (after letting it run). */
  async expectSilence(): Promise<void> {
    const rest = await this.drain();
    expect(rest.map(describe)).toEqual([]);
  }

  /** The connection still works: a PING is answered with the same payload. */
  async expectAlive(): Promise<void> {
    const opaque = Uint8Array.of(0xa, 0xb, 0xc, 0xd, 1, 2, 3, 4);
    this.send({ kind: 'ping', ack: false, opaque });
    const pong = await this.expectEventually('ping', (f) => f.ack && f.opaque[0] === opaque[0] && f.opaque[7] === opaque[7]);
    expect(Array.from(pong.opaque)).toEqual(Array.from(opaque));
    expect(this.connection.isClosed).toBe(false);
  }
}

export interface StreamRecord {
  headers: HeaderField[][];
  data: Uint8Array[];
  ended: boolean;
  reset: Http2Error | undefined;
}

/** One-line description of a frame, for failure messages. */
export function describe(frame: Received): string {
  switch (frame.kind) {
    case 'goaway':
      return `GOAWAY(${errorCodeName(frame.errorCode)}, last=${frame.lastStreamId})`;
    case 'rst-stream':
      return `RST_STREAM(${frame.streamId}, ${errorCodeName(frame.errorCode)})`;
    case 'data':
      return `DATA(${frame.streamId}, ${frame.data.length}${frame.endStream ? ', ES' : ''})`;
    case 'headers':
      return `HEADERS(${frame.streamId}${frame.endStream ? ', ES' : ''})`;
    case 'settings':
      return `SETTINGS(${frame.ack ? 'ACK' : frame.settings.length})`;
    case 'window-update':
      return `WINDOW_UPDATE(${frame.streamId}, +${frame.increment})`;
    case 'ping':
      return `PING(${frame.ack ? 'ACK' : ''})`;
    default:
      return frame.kind.toUpperCase();
  }
}
