/**
 * The send scheduler on its own: DATA within both flow-control windows (RFC 9113 §6.9.1), the
 * frame size (§4.2), round-robin across streams (§5.3.2 leaves the order to the sender), END_STREAM
 * riding on the last DATA frame (§6.1), the zero-window stall timer, flush scheduling and the
 * control-frame flood limit. The wire behaviour through a scripted peer is in conformance-*.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ConnectionError, ErrorCode, type StreamResetError } from '../src/errors.js';
import { Flag, FrameType } from '../src/frame/types.js';
import { DEFAULT_INITIAL_WINDOW_SIZE } from '../src/proto/flow-control.js';
import { coalesce, STREAM_QUEUE_BYTES, FLUSH_BUDGET_BYTES, SendScheduler, type SendHost } from '../src/proto/send-scheduler.js';
import { Stream, type PendingWrite } from '../src/proto/stream.js';

interface DataOut {
  streamId: number;
  length: number;
  endStream: boolean;
}

/** A host with a recording sink, a settable clock and timers that fire only when told to. */
function harness(opts: { maxFrameSize?: number; deferFlush?: (flush: () => void) => void; writable?: boolean; stallTimeoutMs?: number; maxQueuedControlFrames?: number } = {}) {
  const written: Uint8Array[] = [];
  const timers: Array<{ fn: () => void; ms: number }> = [];
  const sent: Array<[number, PendingWrite]> = [];
  const resets: Array<[Stream, number, StreamResetError]> = [];
  let t = 1_000;
  const host: SendHost = {
    sink: {
      write(chunk) {
        written.push(chunk.slice());
        return opts.writable ?? true;
      },
    },
    now: () => t,
    setTimer: (fn, ms) => {
      timers.push({ fn, ms });
      return () => {};
    },
    isClosed: () => false,
    maxFrameSize: () => opts.maxFrameSize ?? 16_384,
    isActive: () => true,
    writeSent: (stream, write) => sent.push([stream.id, write]),
    resetStream: (stream, code, error) => resets.push([stream, code, error]),
  };
  const scheduler = new SendScheduler(host, { deferFlush: opts.deferFlush, limits: { stallTimeoutMs: opts.stallTimeoutMs ?? 30_000, maxQueuedControlFrames: opts.maxQueuedControlFrames ?? 10 } });
  /** The DATA frames written so far, parsed from the sink's bytes. */
  const dataFrames = (): DataOut[] => {
    const bytes = new Uint8Array(written.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of written) {
      bytes.set(c, at);
      at += c.length;
    }
    const frames: DataOut[] = [];
    for (let i = 0; i < bytes.length; ) {
      const length = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
      const type = bytes[i + 3];
      const flags = bytes[i + 4];
      const streamId = ((bytes[i + 5] & 0x7f) << 24) | (bytes[i + 6] << 16) | (bytes[i + 7] << 8) | bytes[i + 8];
      if (type === FrameType.DATA) frames.push({ streamId, length, endStream: (flags & Flag.END_STREAM) !== 0 });
      i += 9 + length;
    }
    return frames;
  };
  return { scheduler, written, timers, sent, resets, dataFrames, advance: (ms: number) => (t += ms) };
}

const big = 1 << 24;
const noop = () => {};

describe('RFC 9113 §6.9.1 DATA within the flow-control windows', () => {
  it('§6.9.1: a DATA frame never exceeds the stream window', () => {
    const h = harness();
    const s = new Stream(1, 10, 65_535);
    h.scheduler.queue(s, new Uint8Array(100), false, undefined).catch(noop);
    h.scheduler.flush();
    expect(h.dataFrames()).toEqual([{ streamId: 1, length: 10, endStream: false }]);
    expect(s.sendWindow.available).toBe(0);
  });

  it('§6.9.1: all streams together never exceed the connection window; WINDOW_UPDATE on stream 0 lets the rest go', () => {
    const h = harness();
    const a = new Stream(1, big, 65_535);
    const b = new Stream(3, big, 65_535);
    h.scheduler.queue(a, new Uint8Array(40_000), true, undefined).catch(noop);
    h.scheduler.queue(b, new Uint8Array(40_000), true, undefined).catch(noop);
    h.scheduler.flush();
    const sum = (frames: DataOut[]) => frames.reduce((n, f) => n + f.length, 0);
    expect(sum(h.dataFrames())).toBe(DEFAULT_INITIAL_WINDOW_SIZE);
    expect(h.scheduler.connectionWindow.available).toBe(0);
    h.scheduler.connectionWindow.increase(80_000 - DEFAULT_INITIAL_WINDOW_SIZE);
    h.scheduler.flush();
    expect(sum(h.dataFrames())).toBe(80_000);
    expect(h.dataFrames().filter((f) => f.endStream).map((f) => f.streamId).sort()).toEqual([1, 3]);
  });

  it('§4.2: no DATA frame is longer than the peer’s SETTINGS_MAX_FRAME_SIZE', () => {
    const h = harness({ maxFrameSize: 1_000 });
    const s = new Stream(1, big, 65_535);
    h.scheduler.queue(s, new Uint8Array(2_500), true, undefined).catch(noop);
    h.scheduler.flush();
    expect(h.dataFrames().map((f) => f.length)).toEqual([1_000, 1_000, 500]);
  });
});

describe('RFC 9113 §5.3.2 round-robin across streams', () => {
  it('§5.3.2: streams with pending DATA take turns, one frame each per round', () => {
    const h = harness({ maxFrameSize: 100 });
    const streams = [1, 3, 5].map((id) => new Stream(id, big, 65_535));
    for (const s of streams) h.scheduler.queue(s, new Uint8Array(300), true, undefined).catch(noop);
    h.scheduler.flush();
    expect(h.dataFrames().map((f) => f.streamId)).toEqual([1, 3, 5, 1, 3, 5, 1, 3, 5]);
  });

  it('§6.9.1: a stream stalled on its own window does not hold the others back', () => {
    const h = harness({ maxFrameSize: 100 });
    const stalled = new Stream(1, 0, 65_535);
    const free = new Stream(3, big, 65_535);
    h.scheduler.queue(stalled, new Uint8Array(300), true, undefined).catch(noop);
    h.scheduler.queue(free, new Uint8Array(300), true, undefined).catch(noop);
    h.scheduler.flush();
    expect(h.dataFrames().map((f) => f.streamId)).toEqual([3, 3, 3]);
    stalled.sendWindow.increase(300);
    h.scheduler.flush();
    expect(h.dataFrames().map((f) => f.streamId)).toEqual([3, 3, 3, 1, 1, 1]);
  });

  it(`one flush moves at most about ${FLUSH_BUDGET_BYTES} octets of DATA, then schedules the next`, async () => {
    const h = harness();
    const s = new Stream(1, big, 65_535);
    h.scheduler.connectionWindow.increase(big);
    const done = h.scheduler.queue(s, new Uint8Array(4 * FLUSH_BUDGET_BYTES), true, undefined);
    h.scheduler.flush();
    const first = h.dataFrames().reduce((n, f) => n + f.length, 0);
    expect(first).toBeGreaterThanOrEqual(FLUSH_BUDGET_BYTES - 16_384);
    expect(first).toBeLessThanOrEqual(FLUSH_BUDGET_BYTES);
    await done;
    expect(h.dataFrames().reduce((n, f) => n + f.length, 0)).toBe(4 * FLUSH_BUDGET_BYTES);
  });
});

describe('RFC 9113 §6.1 END_STREAM and trailers', () => {
  it('§6.1: END_STREAM queued alone behind unsent DATA rides on that DATA’s last frame; both sends resolve', async () => {
    const h = harness();
    const s = new Stream(1, big, 65_535);
    const data = h.scheduler.queue(s, new Uint8Array(10), false, undefined);
    const end = h.scheduler.queue(s, new Uint8Array(0), true, undefined);
    h.scheduler.flush();
    await Promise.all([data, end]);
    expect(h.dataFrames()).toEqual([{ streamId: 1, length: 10, endStream: true }]);
    expect(h.sent.map(([id, w]) => [id, w.end])).toEqual([[1, true]]);
  });

  it('§8.1: DATA followed by trailers never sets END_STREAM on DATA; the host sends the trailers', () => {
    const h = harness();
    const s = new Stream(1, big, 65_535);
    h.scheduler.queue(s, new Uint8Array(10), true, [['x-t', '1']]).catch(noop);
    h.scheduler.flush();
    expect(h.dataFrames()).toEqual([{ streamId: 1, length: 10, endStream: false }]);
    expect(h.sent[0][1].trailers).toEqual([['x-t', '1']]);
  });

  it('a stream that closes drops out of the rotation and its pending writes fail', async () => {
    const h = harness();
    const s = new Stream(1, 0, 65_535);
    const pending = h.scheduler.queue(s, new Uint8Array(10), true, undefined);
    const failure = new Error('reset');
    h.scheduler.drop(s, failure);
    await expect(pending).rejects.toBe(failure);
    h.scheduler.flush();
    expect(h.dataFrames()).toEqual([]);
    expect(h.timers).toHaveLength(0);
  });
});

describe('zero-window stall timer', () => {
  it('§6.9: DATA kept behind a closed window past stallTimeoutMs resets its stream with CANCEL, not FLOW_CONTROL_ERROR', () => {
    const h = harness({ stallTimeoutMs: 5_000 });
    const s = new Stream(1, 0, 65_535);
    h.scheduler.queue(s, new Uint8Array(10), true, undefined).catch(noop);
    h.scheduler.flush();
    expect(h.timers.map((t) => t.ms)).toEqual([5_000]);
    h.advance(4_999);
    h.timers[0].fn();
    expect(h.resets).toHaveLength(0);
    // Still stalled: armed again.
    expect(h.timers).toHaveLength(2);
    h.advance(1);
    h.timers[1].fn();
    expect(h.resets.map(([stream, code]) => [stream.id, code])).toEqual([[1, ErrorCode.CANCEL]]);
    expect(h.resets[0][2].errorCode).toBe(ErrorCode.CANCEL);
  });
});

describe('flush scheduling', () => {
  it(`writes that fit the windows and ${STREAM_QUEUE_BYTES} queued octets resolve at once, and a turn's chunks leave in one flush`, async () => {
    const deferred: Array<() => void> = [];
    const h = harness({ deferFlush: (flush) => deferred.push(flush), maxFrameSize: 1 << 16 });
    const s = new Stream(1, big, 65_535);
    h.scheduler.connectionWindow.increase(big);
    const record = 16_384;
    const settled: boolean[] = [];
    const writes = [0, 1, 2, 3, 4].map((i) => {
      const w = h.scheduler.queue(s, new Uint8Array(record), false, undefined);
      w.then(() => (settled[i] = true), noop);
      return w;
    });
    await Promise.resolve();
    await Promise.resolve();
    // Four records fill the 64 KiB queue; the fifth waits until it is framed. Nothing is written yet.
    expect([0, 1, 2, 3, 4].map((i) => settled[i] === true)).toEqual([true, true, true, true, false]);
    expect(h.written).toHaveLength(0);
    expect(deferred).toHaveLength(1);
    deferred[0]();
    await writes[4];
    // One flush, one sink call, a frame per write.
    expect(h.dataFrames().map((f) => f.length)).toEqual([record, record, record, record, record]);
    expect(h.written).toHaveLength(1);
  });

  it('a write past the stream window is not accepted early: it resolves once its last octet is framed', async () => {
    const h = harness();
    const s = new Stream(1, 100, 65_535);
    h.scheduler.connectionWindow.increase(big);
    let done = false;
    h.scheduler.queue(s, new Uint8Array(150), false, undefined).then(() => (done = true), noop);
    h.scheduler.flush();
    await Promise.resolve();
    expect(done).toBe(false);
    s.sendWindow.increase(50);
    h.scheduler.flush();
    await Promise.resolve();
    expect(done).toBe(true);
  });

  it('a write while the transport is full is not accepted early', async () => {
    const h = harness({ writable: false });
    const s = new Stream(1, big, 65_535);
    h.scheduler.connectionWindow.increase(big);
    h.scheduler.emit(new Uint8Array(1));
    h.scheduler.flush(); // the sink says false: not writable
    let done = false;
    h.scheduler.queue(s, new Uint8Array(10), false, undefined).then(() => (done = true), noop);
    await Promise.resolve();
    expect(done).toBe(false);
  });

  it('trailers queued behind accepted DATA carry no empty DATA frame of their own', () => {
    const h = harness();
    const s = new Stream(1, big, 65_535);
    h.scheduler.connectionWindow.increase(big);
    h.scheduler.queue(s, new Uint8Array(10), false, undefined).catch(noop);
    h.scheduler.queue(s, new Uint8Array(0), true, [['grpc-status', '0']]).catch(noop);
    h.scheduler.flush();
    expect(h.dataFrames()).toEqual([{ streamId: 1, length: 10, endStream: false }]);
    expect(h.sent.map(([, w]) => w.trailers)).toEqual([undefined, [['grpc-status', '0']]]);
  });

  it('short chunks are joined into one buffer; long ones pass through uncopied', () => {
    const long = new Uint8Array(5_000);
    const out = coalesce([new Uint8Array([1]), new Uint8Array([2, 3]), long, new Uint8Array([4])]);
    expect(out).toHaveLength(3);
    expect([...out[0]]).toEqual([1, 2, 3]);
    expect(out[1]).toBe(long);
    expect([...out[2]]).toEqual([4]);
  });

  it('ACKs queued while the transport does not drain are bounded: one more than the limit is ENHANCE_YOUR_CALM', () => {
    const h = harness({ writable: false, maxQueuedControlFrames: 2 });
    h.scheduler.controlFrameQueued();
    h.scheduler.emit(new Uint8Array(1));
    h.scheduler.flush();
    h.scheduler.controlFrameQueued();
    h.scheduler.controlFrameQueued();
    let error: unknown;
    try {
      h.scheduler.controlFrameQueued();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).errorCode).toBe(ErrorCode.ENHANCE_YOUR_CALM);
    h.scheduler.resume();
    h.scheduler.controlFrameQueued();
  });
});
