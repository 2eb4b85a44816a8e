import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_CONTINUATION_FRAMES,
  DEFAULT_MAX_HEADER_BLOCK_BYTES,
  FrameReader,
} from '../src/codec/frame-reader.js';
import { ConnectionError, ErrorCode, Http2UsageError, StreamError } from '../src/errors.js';
import {
  encodeFrame,
  encodeHeaderBlock,
  encodePushPromiseBlock,
  type Frame,
  type HeadersFrame,
  type PrioritySpec,
  type PushPromiseFrame,
} from '../src/frame/index.js';
import { errorCases, hex, vectors } from './frame-vectors.js';
import { concatBytes } from '../src/bytes.js';

const concat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);

const EMPTY = new Uint8Array(0);

/** Feeds `wire` cut at `cuts` (sorted offsets) into a fresh reader; returns every frame. */
function readAt(wire: Uint8Array, cuts: number[], reader = new FrameReader()): Frame[] {
  const frames: Frame[] = [];
  let prev = 0;
  for (const cut of [...cuts, wire.length]) {
    // slice: each chunk is its own buffer, as from a socket
    frames.push(...reader.push(wire.slice(prev, cut)));
    prev = cut;
  }
  expect(reader.idle).toBe(true);
  return frames;
}

function thrownBy(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

/** The frame a decoder produces for `frame` (optional fields made explicit). */
function normalize(frame: Frame): Frame {
  switch (frame.kind) {
    case 'data': {
      const padded = frame.padLength !== undefined;
      return {
        kind: 'data',
        streamId: frame.streamId,
        endStream: frame.endStream,
        data: frame.data,
        padLength: frame.padLength,
        flowControlledLength: frame.data.length + (padded ? 1 + frame.padLength! : 0),
      };
    }
    case 'headers':
      return { ...frame, priority: frame.priority, padLength: frame.padLength };
    case 'push-promise':
      return { ...frame, padLength: frame.padLength };
    default:
      return frame;
  }
}

/** What the reader should return for a wire vector (continuations completed / preceded as needed). */
function readerCase(v: (typeof vectors)[number]): { wire: Uint8Array; expected: Frame } {
  const decoded = v.decoded ?? v.frame;
  if (decoded.kind === 'continuation') {
    const opening = encodeFrame({ kind: 'headers', streamId: decoded.streamId, endStream: true, endHeaders: false, fragment: hex('88') });
    return {
      wire: concat(opening, hex(v.wire)),
      expected: {
        kind: 'headers',
        streamId: decoded.streamId,
        endStream: true,
        endHeaders: true,
        fragment: concat(hex('88'), decoded.fragment),
        priority: undefined,
        padLength: undefined,
      },
    };
  }
  if ((decoded.kind === 'headers' || decoded.kind === 'push-promise') && !decoded.endHeaders) {
    const closing = encodeFrame({ kind: 'continuation', streamId: decoded.streamId, endHeaders: true, fragment: hex('aa') });
    return { wire: concat(hex(v.wire), closing), expected: { ...decoded, endHeaders: true, fragment: concat(decoded.fragment, hex('aa')) } };
  }
  return { wire: hex(v.wire), expected: decoded };
}

describe('RFC 9113 §4.1 FrameReader reads every wire vector at every chunking', () => {
  for (const v of vectors) {
    it(v.name, () => {
      const { wire, expected } = readerCase(v);
      // whole
      expect(readAt(wire, [])).toEqual([expected]);
      // every single split point, and every pair of split points for small frames
      for (let i = 0; i <= wire.length; i++) {
        expect(readAt(wire, [i])).toEqual([expected]);
        if (wire.length <= 40) {
          for (let j = i; j <= wire.length; j++) expect(readAt(wire, [i, j])).toEqual([expected]);
        }
      }
      // one octet at a time
      expect(readAt(wire, Array.from({ length: wire.length }, (_, i) => i))).toEqual([expected]);
    });
  }

  it('reads all vectors back to back at random chunkings', () => {
    const cases = vectors.map(readerCase);
    const wire = concat(...cases.map((c) => c.wire));
    const expected = cases.map((c) => c.expected);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: wire.length }), { maxLength: 60 }), (cuts) => {
        expect(readAt(wire, cuts.sort((a, b) => a - b))).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});

// ---- arbitrary valid frames ------------------------------------------------------------------

const streamId = fc.integer({ min: 1, max: 0x7fffffff });
const bytes = (maxLength: number) => fc.uint8Array({ maxLength });
const padLength = fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined });
const prioritySpec: fc.Arbitrary<PrioritySpec> = fc.record({
  exclusive: fc.boolean(),
  dependency: fc.integer({ min: 0, max: 0x7fffffff }),
  weight: fc.integer({ min: 1, max: 256 }),
});
const validSettingsEntry = fc.oneof(
  fc.tuple(fc.constant(1), fc.nat({ max: 0xffffffff })),
  fc.tuple(fc.constant(2), fc.integer({ min: 0, max: 1 })),
  fc.tuple(fc.constant(3), fc.nat({ max: 0xffffffff })),
  fc.tuple(fc.constant(4), fc.integer({ min: 0, max: 0x7fffffff })),
  fc.tuple(fc.constant(5), fc.integer({ min: 16384, max: 0xffffff })),
  fc.tuple(fc.constant(6), fc.nat({ max: 0xffffffff })),
  fc.tuple(fc.integer({ min: 0xa, max: 0xffff }), fc.nat({ max: 0xffffffff })),
) as fc.Arbitrary<[number, number]>;
const knownTypes = new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xa, 0xc]);

const arbitraryFrame: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({ kind: fc.constant('data' as const), streamId, endStream: fc.boolean(), data: bytes(300), padLength }),
  fc
    .record({
      kind: fc.constant('headers' as const),
      streamId,
      endStream: fc.boolean(),
      endHeaders: fc.constant(true),
      fragment: bytes(200),
      priority: fc.option(prioritySpec, { nil: undefined }),
      padLength,
    })
    .filter((f) => f.priority?.dependency !== f.streamId),
  fc
    .record({ kind: fc.constant('priority' as const), streamId, priority: prioritySpec })
    .filter((f) => f.priority.dependency !== f.streamId),
  fc.record({ kind: fc.constant('rst-stream' as const), streamId, errorCode: fc.nat({ max: 0xffffffff }) }),
  fc.oneof(
    fc.record({ kind: fc.constant('settings' as const), ack: fc.constant(false), settings: fc.array(validSettingsEntry, { maxLength: 8 }) }),
    fc.constant<Frame>({ kind: 'settings', ack: true, settings: [] }),
  ),
  fc.record({
    kind: fc.constant('push-promise' as const),
    streamId,
    endHeaders: fc.constant(true),
    promisedStreamId: fc.integer({ min: 0, max: 0x7fffffff }),
    fragment: bytes(200),
    padLength,
  }),
  fc.record({ kind: fc.constant('ping' as const), ack: fc.boolean(), opaque: fc.uint8Array({ minLength: 8, maxLength: 8 }) }),
  fc.record({
    kind: fc.constant('goaway' as const),
    lastStreamId: fc.integer({ min: 0, max: 0x7fffffff }),
    errorCode: fc.nat({ max: 0xffffffff }),
    debugData: bytes(50),
  }),
  fc.record({
    kind: fc.constant('window-update' as const),
    streamId: fc.integer({ min: 0, max: 0x7fffffff }),
    increment: fc.integer({ min: 1, max: 0x7fffffff }),
  }),
  fc.record({
    kind: fc.constant('origin' as const),
    streamId: fc.constant(0),
    origins: fc.array(fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), maxLength: 40 }), {
      maxLength: 5,
    }),
  }),
  fc.record({
    kind: fc.constant('unknown' as const),
    type: fc.integer({ min: 0, max: 255 }).filter((t) => !knownTypes.has(t)),
    flags: fc.integer({ min: 0, max: 255 }),
    streamId: fc.integer({ min: 0, max: 0x7fffffff }),
    payload: bytes(100),
  }),
);

/** Cut points for a buffer of `length` octets: random, or every octet. */
const chunking = (length: number) =>
  fc.oneof(
    { weight: 5, arbitrary: fc.uniqueArray(fc.integer({ min: 0, max: length }), { maxLength: 30 }).map((c) => c.sort((a, b) => a - b)) },
    { weight: 1, arbitrary: fc.constant(Array.from({ length }, (_, i) => i)) },
  );

describe('property: encodeFrame → FrameReader round-trips at any chunking', () => {
  it('arbitrary valid frames', () => {
    fc.assert(
      fc.property(
        fc.array(arbitraryFrame, { minLength: 1, maxLength: 12 }).chain((frames) => {
          const wire = concat(...frames.map(encodeFrame));
          return fc.tuple(fc.constant(frames), fc.constant(wire), chunking(wire.length));
        }),
        ([frames, wire, cuts]) => {
          expect(readAt(wire, cuts)).toEqual(frames.map(normalize));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('field blocks split into HEADERS/PUSH_PROMISE + CONTINUATION at arbitrary fragment sizes come out whole', () => {
    fc.assert(
      fc.property(
        fc.record({
          push: fc.boolean(),
          streamId,
          endStream: fc.boolean(),
          fragments: fc.array(bytes(60), { minLength: 1, maxLength: DEFAULT_MAX_CONTINUATION_FRAMES + 1 }),
        }),
        fc.nat(),
        ({ push, streamId, endStream, fragments }, seed) => {
          const [first, ...rest] = fragments;
          const opening: HeadersFrame | PushPromiseFrame = push
            ? { kind: 'push-promise', streamId, endHeaders: rest.length === 0, promisedStreamId: 2, fragment: first, padLength: undefined }
            : { kind: 'headers', streamId, endStream, endHeaders: rest.length === 0, fragment: first, priority: undefined, padLength: undefined };
          const wire = concat(
            encodeFrame(opening),
            ...rest.map((fragment, i) => encodeFrame({ kind: 'continuation', streamId, endHeaders: i === rest.length - 1, fragment })),
            encodeFrame({ kind: 'ping', ack: false, opaque: new Uint8Array(8) }),
          );
          const cuts = fc.sample(chunking(wire.length), { seed, numRuns: 1 })[0];
          const frames = readAt(wire, cuts);
          expect(frames).toEqual([
            { ...opening, endHeaders: true, fragment: concat(...fragments) },
            { kind: 'ping', ack: false, opaque: new Uint8Array(8) },
          ]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('encodeHeaderBlock / encodePushPromiseBlock output reassembles to the block', () => {
    const pattern = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7) & 0xff);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 70_000 }),
        fc.integer({ min: 16384, max: 40_000 }),
        fc.option(prioritySpec.filter((p) => p.dependency !== 1), { nil: undefined }),
        fc.uniqueArray(fc.nat(), { maxLength: 20 }),
        (size, maxFrameSize, priority, rawCuts) => {
          const block = pattern.subarray(0, size);
          const wire = concat(
            encodeHeaderBlock(1, block, { endStream: true, maxFrameSize, priority }),
            encodePushPromiseBlock(1, 2, block, { maxFrameSize }),
          );
          const cuts = [...new Set(rawCuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
          const frames = readAt(wire, cuts, new FrameReader({ maxFrameSize }));
          // compare the big fragments as Buffers (fast), the rest structurally
          const [headers, promise] = frames as [HeadersFrame, PushPromiseFrame];
          expect(Buffer.from(headers.fragment).equals(block)).toBe(true);
          expect(Buffer.from(promise.fragment).equals(block)).toBe(true);
          expect([{ ...headers, fragment: null }, { ...promise, fragment: null }]).toEqual([
            { kind: 'headers', streamId: 1, endStream: true, endHeaders: true, fragment: null, priority, padLength: undefined },
            { kind: 'push-promise', streamId: 1, endHeaders: true, promisedStreamId: 2, fragment: null, padLength: undefined },
          ]);
          expect(frames).toHaveLength(2);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('zero copy without aliasing', () => {
  it('a frame inside one chunk is a view of that chunk', () => {
    const chunk = encodeFrame({ kind: 'data', streamId: 1, endStream: false, data: hex('010203') });
    const [frame] = new FrameReader().push(chunk);
    expect(frame.kind === 'data' && frame.data.buffer).toBe(chunk.buffer);
  });

  it('frames returned earlier are never overwritten by later pushes', () => {
    const reader = new FrameReader();
    const kept: Array<[Uint8Array, string]> = [];
    const frames = Array.from({ length: 50 }, (_, i) =>
      encodeFrame({ kind: 'data', streamId: 1, endStream: false, data: Uint8Array.from({ length: 100 + i }, () => i) }),
    );
    const wire = concat(...frames);
    // odd chunk sizes so that frames span chunks (copied) and sit inside chunks (views)
    for (let at = 0, n = 1; at < wire.length; at += n, n = (n * 3 + 17) % 257) {
      for (const f of reader.push(wire.slice(at, at + n))) {
        if (f.kind !== 'data') throw new Error('unexpected');
        kept.push([f.data, Buffer.from(f.data).toString('hex')]);
      }
    }
    expect(kept).toHaveLength(50);
    for (const [data, snapshot] of kept) expect(Buffer.from(data).toString('hex')).toBe(snapshot);
    kept.forEach(([data], i) => expect(data).toEqual(Uint8Array.from({ length: 100 + i }, () => i)));
  });
});

describe('RFC 9113 §4.2 frame size', () => {
  it('a frame larger than SETTINGS_MAX_FRAME_SIZE is a FRAME_SIZE_ERROR as soon as its header arrives', () => {
    const reader = new FrameReader();
    const e = thrownBy(() => reader.push(hex('004001 00 00 00000001'))); // 16385, payload not sent
    expect(e).toBeInstanceOf(ConnectionError);
    expect((e as ConnectionError).errorCode).toBe(ErrorCode.FRAME_SIZE_ERROR);
  });

  it('a frame of exactly 16384 octets passes', () => {
    const frame: Frame = { kind: 'data', streamId: 1, endStream: false, data: new Uint8Array(16384) };
    expect(new FrameReader().push(encodeFrame(frame))).toEqual([normalize(frame)]);
  });

  it('the maxFrameSize option raises the limit', () => {
    const frame: Frame = { kind: 'data', streamId: 1, endStream: false, data: new Uint8Array(20_000) };
    expect(new FrameReader({ maxFrameSize: 20_000 }).push(encodeFrame(frame))).toEqual([normalize(frame)]);
    expect(() => new FrameReader({ maxFrameSize: 19_999 }).push(encodeFrame(frame))).toThrow(ConnectionError);
  });

  it('rejects illegal limits as usage errors', () => {
    expect(() => new FrameReader({ maxFrameSize: 16383 })).toThrow(Http2UsageError);
    expect(() => new FrameReader({ maxFrameSize: 2 ** 24 })).toThrow(Http2UsageError);
    expect(() => new FrameReader({ maxFrameSize: 1 })).toThrow(Http2UsageError);
  });
});

describe('RFC 9113 §6.10 CONTINUATION sequencing', () => {
  const open = (streamId = 1) => encodeFrame({ kind: 'headers', streamId, endStream: false, endHeaders: false, fragment: hex('82') });
  const cont = (streamId: number, endHeaders: boolean, fragment = hex('84')) =>
    encodeFrame({ kind: 'continuation', streamId, endHeaders, fragment });

  const protocolErrors: Array<[string, Uint8Array]> = [
    ['a PING inside a field block', concat(open(), encodeFrame({ kind: 'ping', ack: false, opaque: new Uint8Array(8) }))],
    ['a DATA frame on the same stream inside a field block', concat(open(), encodeFrame({ kind: 'data', streamId: 1, endStream: false, data: EMPTY }))],
    ['a HEADERS inside a field block', concat(open(), open(3))],
    ['an unknown frame type inside a field block (§5.5)', concat(open(), hex('000000 fa 00 00000000'))],
    ['a CONTINUATION on another stream', concat(open(), cont(3, true))],
    ['a CONTINUATION with no open field block', cont(1, true)],
    ['a CONTINUATION after the block ended', concat(open(), cont(1, true), cont(1, true))],
    ['a CONTINUATION after a HEADERS with END_HEADERS', concat(encodeFrame({ kind: 'headers', streamId: 1, endStream: false, endHeaders: true, fragment: EMPTY }), cont(1, true))],
    ['a CONTINUATION on stream 0 inside a block', concat(open(), hex('000000 09 04 00000000'))],
  ];
  for (const [name, wire] of protocolErrors) {
    it(`${name} is a connection error PROTOCOL_ERROR`, () => {
      const e = thrownBy(() => readAt(wire, []));
      expect(e).toBeInstanceOf(ConnectionError);
      expect((e as ConnectionError).errorCode).toBe(ErrorCode.PROTOCOL_ERROR);
    });
  }

  it('the intruding frame is rejected from its header alone, before its payload arrives', () => {
    const reader = new FrameReader();
    expect(reader.push(open())).toEqual([]);
    expect(reader.idle).toBe(false);
    const e = thrownBy(() => reader.push(hex('000008 06 00 00000000'))); // PING header only
    expect((e as ConnectionError).errorCode).toBe(ErrorCode.PROTOCOL_ERROR);
  });

  it('empty CONTINUATION frames are accepted within the limit', () => {
    const wire = concat(open(), cont(1, false, EMPTY), cont(1, false, EMPTY), cont(1, true, EMPTY));
    expect(readAt(wire, [])).toEqual([
      { kind: 'headers', streamId: 1, endStream: false, endHeaders: true, fragment: hex('82'), priority: undefined, padLength: undefined },
    ]);
  });

  it('a reader holding a field block is not idle', () => {
    const reader = new FrameReader();
    expect(reader.idle).toBe(true);
    reader.push(open());
    expect(reader.idle).toBe(false);
    reader.push(cont(1, true));
    expect(reader.idle).toBe(true);
    reader.push(hex('0000'));
    expect(reader.idle).toBe(false);
  });
});

describe('CONTINUATION flood defence (ENHANCE_YOUR_CALM)', () => {
  const open = encodeFrame({ kind: 'headers', streamId: 1, endStream: false, endHeaders: false, fragment: hex('82') });
  const empty = encodeFrame({ kind: 'continuation', streamId: 1, endHeaders: false, fragment: EMPTY });
  const last = encodeFrame({ kind: 'continuation', streamId: 1, endHeaders: true, fragment: EMPTY });

  it(`allows ${DEFAULT_MAX_CONTINUATION_FRAMES} CONTINUATION frames, rejects one more (empty ones count)`, () => {
    const ok = concat(open, ...Array(DEFAULT_MAX_CONTINUATION_FRAMES - 1).fill(empty), last);
    expect(readAt(ok, [])).toHaveLength(1);
    const reader = new FrameReader();
    reader.push(concat(open, ...Array(DEFAULT_MAX_CONTINUATION_FRAMES).fill(empty)));
    const e = thrownBy(() => reader.push(last));
    expect(e).toBeInstanceOf(ConnectionError);
    expect((e as ConnectionError).errorCode).toBe(ErrorCode.ENHANCE_YOUR_CALM);
  });

  it('honours maxContinuationFrames', () => {
    const reader = new FrameReader({ maxContinuationFrames: 2 });
    expect(reader.push(concat(open, empty, empty))).toEqual([]);
    expect((thrownBy(() => reader.push(last)) as ConnectionError).errorCode).toBe(ErrorCode.ENHANCE_YOUR_CALM);
  });

  it(`rejects a field block over ${DEFAULT_MAX_HEADER_BLOCK_BYTES} octets when the header announcing it arrives`, () => {
    const reader = new FrameReader({ maxFrameSize: 16_777_215 });
    const big = new Uint8Array(DEFAULT_MAX_HEADER_BLOCK_BYTES - 10);
    reader.push(encodeFrame({ kind: 'headers', streamId: 1, endStream: false, endHeaders: false, fragment: big }));
    // 10 more octets fit exactly (the first frame's payload counted 1 + big); 11 do not.
    reader.push(encodeFrame({ kind: 'continuation', streamId: 1, endHeaders: false, fragment: new Uint8Array(10) }));
    const e = thrownBy(() => reader.push(hex('000001 09 04 00000001'))); // header only: 1 more octet announced
    expect((e as ConnectionError).errorCode).toBe(ErrorCode.ENHANCE_YOUR_CALM);
  });

  it('counts padding and rejects a single oversized HEADERS', () => {
    const reader = new FrameReader({ maxHeaderBlockBytes: 100 });
    const ok = encodeFrame({ kind: 'headers', streamId: 1, endStream: false, endHeaders: true, fragment: new Uint8Array(50), padLength: 49 });
    expect(reader.push(ok)).toHaveLength(1);
    const e = thrownBy(() => reader.push(hex('000065 01 04 00000001'))); // 101 octets announced
    expect((e as ConnectionError).errorCode).toBe(ErrorCode.ENHANCE_YOUR_CALM);
  });

  it('the limits are per block: many blocks in a row are fine', () => {
    const block = concat(open, ...Array(DEFAULT_MAX_CONTINUATION_FRAMES - 1).fill(empty), last);
    expect(readAt(concat(block, block, block), [])).toHaveLength(3);
  });
});

describe('RFC 9113 §5.4 errors through the reader', () => {
  for (const [name, wire, cls, code] of errorCases) {
    it(`${name} → ${cls.name}`, () => {
      const e = thrownBy(() => new FrameReader().push(hex(wire)));
      expect(e).toBeInstanceOf(cls);
      expect((e as ConnectionError).errorCode).toBe(code);
    });
  }

  it('after a connection error the reader is dead', () => {
    const reader = new FrameReader();
    const first = thrownBy(() => reader.push(hex('000000 09 04 00000001')));
    expect(thrownBy(() => reader.push(encodeFrame({ kind: 'settings', ack: true, settings: [] })))).toBe(first);
  });

  it('a stream error consumes only its frame: reading resumes with the next push', () => {
    const reader = new FrameReader();
    const bad = hex('000004 08 00 00000005 00000000'); // WINDOW_UPDATE 0 on stream 5
    const ping: Frame = { kind: 'ping', ack: false, opaque: new Uint8Array(8) };
    const e = thrownBy(() => reader.push(concat(bad, encodeFrame(ping))));
    expect(e).toBeInstanceOf(StreamError);
    expect((e as StreamError).streamId).toBe(5);
    expect(reader.idle).toBe(false);
    expect(reader.push(EMPTY)).toEqual([ping]);
    expect(reader.idle).toBe(true);
  });

  it('frames before a stream error are returned first, the error is held for the next push', () => {
    const reader = new FrameReader();
    const ping: Frame = { kind: 'ping', ack: false, opaque: new Uint8Array(8) };
    const bad = hex('000004 02 00 00000003 00000001'); // PRIORITY of length 4
    const frames = reader.push(concat(encodeFrame(ping), bad, encodeFrame(ping)));
    expect(frames).toEqual([ping]);
    expect(reader.hasPendingError).toBe(true);
    expect(reader.idle).toBe(false);
    const more = encodeFrame({ kind: 'settings', ack: true, settings: [] });
    const e = thrownBy(() => reader.push(more)); // the chunk is kept
    expect(e).toBeInstanceOf(StreamError);
    expect((e as StreamError).errorCode).toBe(ErrorCode.FRAME_SIZE_ERROR);
    expect(reader.hasPendingError).toBe(false);
    expect(reader.push(EMPTY)).toEqual([ping, { kind: 'settings', ack: true, settings: [] }]);
    expect(reader.idle).toBe(true);
  });

  it('the documented read loop loses no frame around stream errors', () => {
    const ping = (n: number): Frame => ({ kind: 'ping', ack: false, opaque: new Uint8Array(8).fill(n) });
    const bad = (s: number) => hex(`000004 08 00 ${s.toString(16).padStart(8, '0')} 00000000`);
    const wire = concat(encodeFrame(ping(1)), bad(1), bad(3), encodeFrame(ping(2)), bad(5), encodeFrame(ping(3)));
    fc.assert(
      fc.property(chunking(wire.length), (cuts) => {
        const reader = new FrameReader();
        const seen: Array<Frame | number> = [];
        let prev = 0;
        for (const cut of [...cuts, wire.length]) {
          for (let chunk = wire.slice(prev, cut); ; chunk = EMPTY) {
            try {
              seen.push(...reader.push(chunk));
              if (!reader.hasPendingError) break;
            } catch (e) {
              if (!(e instanceof StreamError)) throw e;
              seen.push(e.streamId);
            }
          }
          prev = cut;
        }
        expect(seen).toEqual([ping(1), 1, 3, ping(2), 5, ping(3)]);
        expect(reader.idle).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('dataInPieces: DATA handed out as it arrives', () => {
  /** Pushes `wire` cut at `cuts`; returns the frames and the buffers pushed. */
  function readPieces(wire: Uint8Array, cuts: number[]): { frames: Frame[]; pushed: Set<ArrayBufferLike> } {
    const reader = new FrameReader({ dataInPieces: true });
    const frames: Frame[] = [];
    const pushed = new Set<ArrayBufferLike>();
    let prev = 0;
    for (const cut of [...cuts, wire.length]) {
      const chunk = wire.slice(prev, cut);
      pushed.add(chunk.buffer);
      frames.push(...reader.push(chunk));
      prev = cut;
    }
    expect(reader.idle).toBe(true);
    return { frames, pushed };
  }

  it('pieces add up to each frame: content, flow-controlled octets, END_STREAM on the last piece only, no copy', () => {
    fc.assert(
      fc.property(
        fc.array(arbitraryFrame, { minLength: 1, maxLength: 12 }).chain((frames) => {
          const wire = concat(...frames.map(encodeFrame));
          return fc.tuple(fc.constant(frames), fc.constant(wire), chunking(wire.length));
        }),
        ([sent, wire, cuts]) => {
          const { frames, pushed } = readPieces(wire, cuts);
          let at = 0;
          for (const frame of sent.map(normalize)) {
            if (frame.kind !== 'data') {
              expect(frames[at++]).toEqual(frame);
              continue;
            }
            const owed = frame.flowControlledLength!;
            const pieces: Frame[] = [];
            let counted = 0;
            // A frame that arrived whole in one chunk is one DataFrame, padLength and all.
            if (frames[at].kind === 'data' && (frames[at] as { padLength?: number }).padLength === frame.padLength && frames[at].flowControlledLength === owed) {
              expect(frames[at++]).toEqual(frame);
              continue;
            }
            while (counted < owed || (owed === 0 && pieces.length === 0)) {
              const piece = frames[at++];
              expect(piece.kind).toBe('data');
              if (piece.kind !== 'data') return;
              expect(piece.streamId).toBe(frame.streamId);
              expect(piece.flowControlledLength).toBeGreaterThanOrEqual(piece.data.length);
              if (piece.data.length > 0) expect(pushed.has(piece.data.buffer)).toBe(true);
              counted += piece.flowControlledLength!;
              pieces.push(piece);
            }
            expect(counted).toBe(owed);
            const data = pieces.map((p) => (p.kind === 'data' ? p.data : EMPTY));
            expect(concat(...data)).toEqual(frame.data);
            expect(pieces.map((p) => p.kind === 'data' && p.endStream)).toEqual(pieces.map((_, i) => i === pieces.length - 1 && frame.endStream));
          }
          expect(at).toBe(frames.length);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('a 64 KiB DATA frame split like TLS records comes out as views of the records, before the frame is whole', () => {
    const body = new Uint8Array(65_536).map((_, i) => i & 0xff);
    const wire = encodeFrame({ kind: 'data', streamId: 1, endStream: true, data: body });
    const reader = new FrameReader({ maxFrameSize: 1 << 16, dataInPieces: true });
    const records = [0, 16_384, 32_768, 49_152, wire.length].slice(1).map((end, i, ends) => wire.slice(i === 0 ? 0 : ends[i - 1], end));
    const first = reader.push(records[0]);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ kind: 'data', streamId: 1, endStream: false, flowControlledLength: 16_384 - 9 });
    const rest = records.slice(1).flatMap((r) => reader.push(r));
    expect(rest.map((f) => f.kind === 'data' && f.endStream)).toEqual([false, false, true]);
    expect(concat(...[...first, ...rest].map((f) => (f.kind === 'data' ? f.data : EMPTY)))).toEqual(body);
    expect(reader.idle).toBe(true);
  });

  it('a Pad Length past the payload is PROTOCOL_ERROR as soon as it arrives; DATA on stream 0 at once', () => {
    const reader = new FrameReader({ dataInPieces: true });
    // DATA, PADDED, 10-octet payload claiming 200 octets of padding; only the Pad Length arrived.
    const e = thrownBy(() => reader.push(hex('00000a 00 08 00000001 c8')));
    expect(e).toBeInstanceOf(ConnectionError);
    expect((e as ConnectionError).errorCode).toBe(ErrorCode.PROTOCOL_ERROR);
    const zero = thrownBy(() => new FrameReader({ dataInPieces: true }).push(hex('00000a 00 00 00000000 01')));
    expect(zero).toBeInstanceOf(ConnectionError);
    expect((zero as ConnectionError).errorCode).toBe(ErrorCode.PROTOCOL_ERROR);
  });
});
