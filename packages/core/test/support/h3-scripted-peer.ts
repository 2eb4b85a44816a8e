/**
 * A scripted HTTP/3 peer on the raw side of an in-memory QUIC pair: the test writes exactly the
 * streams and frames it wants, and reads what the engine sends (its control stream's frames, a
 * request stream's frames, the close).
 */
import { encodeH3Frame, type H3Frame, H3FrameReader, encodeVarint } from '../../src/h3/index.js';
import type { QuicCloseInfo } from '../../src/h3/quic.js';
import type { HeaderField } from '../../src/frame/types.js';
import { QpackEncoder } from '../../src/qpack/index.js';
import type { InMemoryQuic } from './quic-pair.js';

export class H3ScriptedPeer {
  /** Static-table-only QPACK (no peer settings applied): every section decodes without inserts. */
  readonly qpack = new QpackEncoder({ maxTableCapacity: 0 });
  /** The frames the engine sent on its control stream, as they arrive. */
  readonly controlFrames: H3Frame[] = [];
  /** The stream types of the engine's unidirectional streams, in arrival order. */
  readonly uniTypes: number[] = [];
  private controlWaiters: Array<() => void> = [];
  private bidiReader: ReadableStreamDefaultReader<{ readable: ReadableStream<Uint8Array> & { id?: bigint }; writable: WritableStream<Uint8Array> & { id?: bigint } }> | undefined;

  constructor(readonly quic: InMemoryQuic) {
    void this.acceptUni();
  }

  /** Opens a unidirectional stream of `type` and writes `bytes` after the type; returns its writer. */
  async openUni(type: number, ...frames: Array<H3Frame | Uint8Array>): Promise<WritableStreamDefaultWriter<Uint8Array>> {
    const writable = await this.quic.createUnidirectionalStream();
    const writer = writable.getWriter();
    void writer.write(encodeVarint(type)).catch(() => {});
    for (const f of frames) void writer.write(f instanceof Uint8Array ? f : encodeH3Frame(f)).catch(() => {});
    return writer;
  }

  /** The usual start: a control stream with SETTINGS (and whatever follows). */
  control(...frames: H3Frame[]): Promise<WritableStreamDefaultWriter<Uint8Array>> {
    return this.openUni(0x00, { kind: 'settings', settings: frames.length > 0 && frames[0].kind === 'settings' ? frames.shift()!.settings : [] } as H3Frame, ...frames);
  }

  headers(fields: HeaderField[], streamId = 0): Uint8Array {
    return encodeH3Frame({ kind: 'headers', fieldSection: this.qpack.encode(streamId, fields) });
  }

  /** Opens a bidirectional stream and writes `parts`; `fin` closes it after them. */
  async request(parts: Uint8Array[], fin = true): Promise<{ id: number; writer: WritableStreamDefaultWriter<Uint8Array>; frames: () => Promise<H3Frame[]>; reader: ReadableStreamDefaultReader<Uint8Array> }> {
    const bidi = await this.quic.createBidirectionalStream();
    const id = Number(bidi.writable.id);
    const writer = bidi.writable.getWriter();
    for (const p of parts) void writer.write(p).catch(() => {});
    if (fin) void writer.close().catch(() => {});
    const reader = bidi.readable.getReader();
    return { id, writer, reader, frames: () => readFrames(reader) };
  }

  /**
   * Scripted server: the next request stream the engine opens, with its frames up to FIN and the
   * writer to answer on (`headers(fields, id)` encodes a response with static QPACK).
   */
  async acceptRequest(): Promise<{ id: number; frames: H3Frame[]; writer: WritableStreamDefaultWriter<Uint8Array> }> {
    this.bidiReader ??= this.quic.incomingBidirectionalStreams.getReader();
    const { value } = await this.bidiReader.read();
    const bidi = value!;
    const id = Number(bidi.readable.id);
    const writer = bidi.writable.getWriter();
    const frames = await readFrames(bidi.readable.getReader());
    return { id, frames, writer };
  }

  /** Resolves with the CONNECTION_CLOSE. */
  closed(): Promise<QuicCloseInfo> {
    return this.quic.closed;
  }

  /** Resolves once the engine's control stream delivered `n` frames. */
  async controlFrameCount(n: number): Promise<H3Frame[]> {
    while (this.controlFrames.length < n) await new Promise<void>((resolve) => this.controlWaiters.push(resolve));
    return this.controlFrames;
  }

  /** Resolves once `n` unidirectional streams of the engine announced their type. */
  async uniStreamCount(n: number): Promise<void> {
    while (this.uniTypes.length < n) await new Promise<void>((resolve) => this.controlWaiters.push(resolve));
  }

  private async acceptUni(): Promise<void> {
    const incoming = this.quic.incomingUnidirectionalStreams.getReader();
    for (;;) {
      const { value, done } = await incoming.read().catch(() => ({ value: undefined, done: true as const }));
      if (done || !value) return;
      void this.readUni(value.getReader());
    }
  }

  private async readUni(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    let type = -1;
    const frames = new H3FrameReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        let chunk = value;
        if (type === -1) {
          type = chunk[0];
          this.uniTypes.push(type);
          chunk = chunk.subarray(1);
          for (const w of this.controlWaiters.splice(0)) w();
        }
        if (type !== 0) continue;
        for (const f of frames.push(chunk)) this.controlFrames.push(f);
        for (const w of this.controlWaiters.splice(0)) w();
      }
    } catch {
      // the connection closed
    }
  }
}

/** Every frame until FIN (DATA pieces joined per frame are not needed here: DATA comes out as read). */
export async function readFrames(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<H3Frame[]> {
  const frames = new H3FrameReader({ maxFrameBytes: () => 1 << 20 });
  const out: H3Frame[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return out;
    out.push(...frames.push(value));
  }
}
