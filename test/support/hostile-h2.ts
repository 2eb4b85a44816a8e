/**
 * HTTP/2 clients that misbehave on purpose, built from @rhttp/core's frame and HPACK codecs over a
 * raw TCP socket (h2c with prior knowledge): a client that advertises a zero stream window and
 * never sends WINDOW_UPDATE, one that stops reading its socket, one that resets every stream
 * right after opening it (Rapid Reset, CVE-2023-44487). Each binds to a chosen loopback address,
 * so tests can play several client addresses on one machine.
 */
import * as net from 'node:net';
import { CONNECTION_PREFACE, ErrorCode, FrameReader, HpackEncoder, SettingId, encodeFrame, encodeHeaderBlock, type Frame } from '@rhttp/core';

export interface HostileOptions {
  port: number;
  /** Local address to connect from (127.0.0.0/8 lets a test play several clients). */
  localAddress: string;
  /** SETTINGS_INITIAL_WINDOW_SIZE we advertise (0: the server may send no DATA at all). */
  initialWindowSize?: number;
}

/** One raw HTTP/2 connection from a misbehaving client. */
export class HostileConnection {
  readonly socket: net.Socket;
  private readonly encoder = new HpackEncoder({ huffman: 'never' });
  private readonly reader = new FrameReader({ maxFrameSize: (1 << 24) - 1, maxContinuationFrames: Infinity, maxHeaderBlockBytes: Infinity });
  private nextStreamId = 1;
  /** Frames received, by kind (counts only: a hostile client keeps no bodies). */
  readonly received = new Map<string, number>();
  /** Streams the server reset (REFUSED_STREAM past its concurrency limit, CANCEL, …). */
  readonly resets: number[] = [];
  goaway: { errorCode: number } | undefined;
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = this.reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      } catch {
        return;
      }
      for (const f of frames) {
        this.received.set(f.kind, (this.received.get(f.kind) ?? 0) + 1);
        // Acknowledge the server's SETTINGS, as even a hostile client must to stay connected.
        if (f.kind === 'settings' && !f.ack) this.write(encodeFrame({ kind: 'settings', ack: true, settings: [] }));
        if (f.kind === 'rst-stream') this.resets.push(f.errorCode);
        if (f.kind === 'goaway') this.goaway = { errorCode: f.errorCode };
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => (this.closed = true));
  }

  /** Connects, sends the preface and our SETTINGS, and waits for the server's SETTINGS. */
  static async open(opts: HostileOptions): Promise<HostileConnection> {
    const socket = net.connect({ port: opts.port, host: '127.0.0.1', localAddress: opts.localAddress });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.setNoDelay(true);
    const c = new HostileConnection(socket);
    const settings: Array<[number, number]> = [[SettingId.ENABLE_PUSH, 0]];
    if (opts.initialWindowSize !== undefined) settings.push([SettingId.INITIAL_WINDOW_SIZE, opts.initialWindowSize]);
    c.write(CONNECTION_PREFACE);
    c.write(encodeFrame({ kind: 'settings', ack: false, settings }));
    for (let i = 0; i < 500 && !c.received.get('settings'); i++) await new Promise((r) => setTimeout(r, 10));
    if (!c.received.get('settings')) throw new Error('the server sent no SETTINGS');
    return c;
  }

  /** Opens `count` GET streams for `path` on `authority` in one write; returns their ids. */
  get(authority: string, path: string, count: number, opts: { resetEach?: boolean } = {}): number[] {
    const ids: number[] = [];
    const frames: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const id = this.nextStreamId;
      this.nextStreamId += 2;
      ids.push(id);
      const block = this.encoder.encode([
        [':method', 'GET'],
        [':scheme', 'http'],
        [':authority', authority],
        [':path', path],
      ]);
      frames.push(encodeHeaderBlock(id, block, { endStream: true, maxFrameSize: 16_384 }));
      if (opts.resetEach) frames.push(encodeFrame({ kind: 'rst-stream', streamId: id, errorCode: ErrorCode.CANCEL }));
    }
    this.write(Buffer.concat(frames));
    return ids;
  }

  /** Stop reading the socket: the server's writes pile up in the kernel and then in the server. */
  stopReading(): void {
    this.socket.pause();
  }

  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  close(): void {
    this.socket.destroy();
  }
}
