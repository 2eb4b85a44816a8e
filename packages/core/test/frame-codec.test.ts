import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConnectionError, Http2UsageError, StreamError } from '../src/errors.js';
import {
  decodeFrame,
  decodeFrameHeader,
  encodeFrame,
  encodeFrameHeader,
  encodeHeaderBlock,
  encodeHeaderBlockInPlace,
  encodePushPromiseBlock,
  type Frame,
  FRAME_HEADER_LENGTH,
  FrameType,
} from '../src/frame/index.js';
import { errorCases, hex, toHex, vectors } from './frame-vectors.js';

function decodeWire(wire: Uint8Array): Frame {
  const header = decodeFrameHeader(wire);
  return decodeFrame(header, wire.subarray(FRAME_HEADER_LENGTH));
}

describe('RFC 9113 §4.1 frame header', () => {
  it('encodes and decodes the 9 octets', () => {
    const out = new Uint8Array(12);
    encodeFrameHeader({ length: 0x123456, type: 0xab, flags: 0xcd, streamId: 0x7fffffff }, out, 3);
    expect(toHex(out)).toBe('000000' + '123456abcd7fffffff');
    expect(decodeFrameHeader(out, 3)).toEqual({ length: 0x123456, type: 0xab, flags: 0xcd, streamId: 0x7fffffff });
  });

  it('masks off the reserved bit on receipt', () => {
    expect(decodeFrameHeader(hex('000000 00 00 ffffffff')).streamId).toBe(0x7fffffff);
    expect(decodeFrameHeader(hex('000000 00 00 80000000')).streamId).toBe(0);
  });

  it('rejects values the header cannot hold', () => {
    const out = new Uint8Array(9);
    expect(() => encodeFrameHeader({ length: 1 << 24, type: 0, flags: 0, streamId: 1 }, out)).toThrow(Http2UsageError);
    expect(() => encodeFrameHeader({ length: 0, type: 256, flags: 0, streamId: 1 }, out)).toThrow(Http2UsageError);
    expect(() => encodeFrameHeader({ length: 0, type: 0, flags: 0, streamId: 2 ** 31 }, out)).toThrow(Http2UsageError);
    expect(() => encodeFrameHeader({ length: 0, type: 0, flags: 0, streamId: -1 }, out)).toThrow(Http2UsageError);
    expect(() => decodeFrameHeader(new Uint8Array(8))).toThrow(Http2UsageError);
  });

  it('decodeFrame rejects a payload whose length disagrees with the header', () => {
    expect(() => decodeFrame({ length: 8, type: FrameType.PING, flags: 0, streamId: 0 }, new Uint8Array(7))).toThrow(Http2UsageError);
  });
});

describe('RFC 9113 §6, RFC 8336 §2 wire vectors, both ways', () => {
  for (const v of vectors) {
    if (!v.decodeOnly) {
      it(`encodes ${v.name}`, () => {
        expect(toHex(encodeFrame(v.frame))).toBe(v.wire.replace(/\s+/g, ''));
      });
    }
    it(`decodes ${v.name}`, () => {
      expect(decodeWire(hex(v.wire))).toEqual(v.decoded ?? v.frame);
    });
  }

  it('payload fields are views into the payload, not copies', () => {
    const wire = hex('000005 00 01 00000001 68656c6c6f');
    const frame = decodeWire(wire);
    expect(frame.kind === 'data' && frame.data.buffer).toBe(wire.buffer);
  });
});

describe('RFC 9113 §4.2, §5.4, §6 decode errors carry the right class and code', () => {
  for (const [name, wire, cls, code] of errorCases) {
    it(name, () => {
      let caught: unknown;
      try {
        decodeWire(hex(wire));
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(cls);
      expect((caught as ConnectionError).errorCode).toBe(code);
      if (cls === StreamError) {
        expect(caught).not.toBeInstanceOf(ConnectionError);
        expect((caught as StreamError).streamId).toBe(decodeFrameHeader(hex(wire)).streamId);
      }
    });
  }
});

describe('RFC 9113 §6.5.2 SETTINGS values at the edges are accepted', () => {
  it('ENABLE_PUSH 0/1, INITIAL_WINDOW_SIZE 0, MAX_FRAME_SIZE 16384', () => {
    const frame = decodeWire(hex('000018 04 00 00000000 0002 00000000 0002 00000001 0004 00000000 0005 00004000'));
    expect(frame).toEqual({ kind: 'settings', ack: false, settings: [[2, 0], [2, 1], [4, 0], [5, 16384]] });
  });
});

describe('RFC 8336 §2 ORIGIN', () => {
  it('an entry list that does not fill the payload is ignored: it decodes to an unknown frame', () => {
    for (const wire of [
      '000001 0c 00 00000000 00', // lone octet
      '000004 0c 00 00000000 0005 6162', // Origin-Len past the end
      '000006 0c 00 00000000 0002 6162 0001', // good entry, then a truncated one
    ]) {
      const bytes = hex(wire);
      expect(decodeWire(bytes)).toEqual({
        kind: 'unknown',
        type: FrameType.ORIGIN,
        flags: 0,
        streamId: 0,
        payload: bytes.subarray(FRAME_HEADER_LENGTH),
      });
    }
  });

  it('refuses to encode entries that are not ASCII or too long', () => {
    expect(() => encodeFrame({ kind: 'origin', streamId: 0, origins: ['https://bücher.example'] })).toThrow(Http2UsageError);
    expect(() => encodeFrame({ kind: 'origin', streamId: 0, origins: ['x'.repeat(65536)] })).toThrow(Http2UsageError);
  });
});

describe('encoders refuse only what the wire cannot represent', () => {
  it('rejects unrepresentable fields', () => {
    const bad: Frame[] = [
      { kind: 'data', streamId: 1, endStream: false, data: new Uint8Array(0), padLength: 256 },
      { kind: 'headers', streamId: 1, endStream: false, endHeaders: true, fragment: new Uint8Array(0), priority: { exclusive: false, dependency: 0, weight: 0 } },
      { kind: 'headers', streamId: 1, endStream: false, endHeaders: true, fragment: new Uint8Array(0), priority: { exclusive: false, dependency: 0, weight: 257 } },
      { kind: 'ping', ack: false, opaque: new Uint8Array(7) },
      { kind: 'settings', ack: true, settings: [[1, 1]] },
      { kind: 'settings', ack: false, settings: [[0x10000, 1]] },
      { kind: 'settings', ack: false, settings: [[1, 2 ** 32]] },
      { kind: 'window-update', streamId: 0, increment: 2 ** 31 },
      { kind: 'rst-stream', streamId: 1, errorCode: -1 },
      { kind: 'goaway', lastStreamId: 2 ** 31, errorCode: 0, debugData: new Uint8Array(0) },
      { kind: 'push-promise', streamId: 1, endHeaders: true, promisedStreamId: -2, fragment: new Uint8Array(0) },
      { kind: 'data', streamId: 2 ** 31, endStream: false, data: new Uint8Array(0) },
    ];
    for (const frame of bad) expect(() => encodeFrame(frame), JSON.stringify(frame)).toThrow(Http2UsageError);
  });

  it('encodes representable but invalid frames, for scripted peers', () => {
    expect(toHex(encodeFrame({ kind: 'window-update', streamId: 3, increment: 0 }))).toBe('000004080000000003' + '00000000');
    expect(toHex(encodeFrame({ kind: 'settings', ack: false, settings: [[2, 7]] }))).toBe('000006040000000000' + '000200000007');
  });
});

describe('RFC 9113 §4.3, §6.10 encodeHeaderBlock', () => {
  const block = Uint8Array.from({ length: 40_000 }, (_, i) => i & 0xff);

  it('fits a small block into one HEADERS with END_HEADERS', () => {
    const out = encodeHeaderBlock(1, hex('828684'), { endStream: true, maxFrameSize: 16384 });
    expect(toHex(out)).toBe('000003010500000001828684');
  });

  it('splits a large block into HEADERS + CONTINUATION frames of at most maxFrameSize', () => {
    const out = encodeHeaderBlock(3, block, {
      endStream: true,
      maxFrameSize: 16384,
      priority: { exclusive: true, dependency: 1, weight: 42 },
    });
    const frames: Array<{ type: number; flags: number; streamId: number; payload: Uint8Array }> = [];
    for (let at = 0; at < out.length; ) {
      const h = decodeFrameHeader(out, at);
      expect(h.length).toBeLessThanOrEqual(16384);
      frames.push({ ...h, payload: out.subarray(at + 9, at + 9 + h.length) });
      at += 9 + h.length;
    }
    expect(frames.map((f) => [f.type, f.flags, f.streamId, f.payload.length])).toEqual([
      [FrameType.HEADERS, 0x21, 3, 16384],
      [FrameType.CONTINUATION, 0, 3, 16384],
      [FrameType.CONTINUATION, 0x4, 3, 40_000 - (16384 - 5) - 16384],
    ]);
    expect(toHex(frames[0].payload.subarray(0, 5))).toBe('800000012' + '9');
    const reassembled = new Uint8Array(40_000);
    reassembled.set(frames[0].payload.subarray(5), 0);
    reassembled.set(frames[1].payload, 16384 - 5);
    reassembled.set(frames[2].payload, 16384 - 5 + 16384);
    expect(reassembled).toEqual(block);
  });

  it('splits a block of exactly maxFrameSize into one frame', () => {
    const out = encodeHeaderBlock(1, block.subarray(0, 16384), { endStream: false, maxFrameSize: 16384 });
    expect(out.length).toBe(9 + 16384);
    expect(decodeFrameHeader(out)).toEqual({ length: 16384, type: FrameType.HEADERS, flags: 0x4, streamId: 1 });
  });

  it('encodes an empty block', () => {
    expect(toHex(encodeHeaderBlock(1, new Uint8Array(0), { endStream: false, maxFrameSize: 16384 }))).toBe('000000010400000001');
  });

  it('encodePushPromiseBlock splits PUSH_PROMISE + CONTINUATION', () => {
    const out = encodePushPromiseBlock(1, 2, block.subarray(0, 20_000), { maxFrameSize: 16384 });
    expect(decodeFrameHeader(out)).toEqual({ length: 16384, type: FrameType.PUSH_PROMISE, flags: 0, streamId: 1 });
    expect(toHex(out.subarray(9, 13))).toBe('00000002');
    expect(decodeFrameHeader(out, 9 + 16384)).toEqual({
      length: 20_000 - 16380,
      type: FrameType.CONTINUATION,
      flags: 0x4,
      streamId: 1,
    });
  });

  it('rejects an illegal maxFrameSize', () => {
    expect(() => encodeHeaderBlock(1, block, { endStream: false, maxFrameSize: 100 })).toThrow(Http2UsageError);
    expect(() => encodeHeaderBlockInPlace(1, new Uint8Array(9 + 10), { endStream: false, maxFrameSize: 100 })).toThrow(Http2UsageError);
  });

  it('encodeHeaderBlockInPlace gives the same octets as encodeHeaderBlock, writing one frame into the reserved octets', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40_000 }),
        fc.boolean(),
        fc.option(fc.record({ exclusive: fc.boolean(), dependency: fc.integer({ min: 0, max: 0x7fffffff }), weight: fc.integer({ min: 1, max: 256 }) }), { nil: undefined }),
        fc.constantFrom(16384, 20_000, (1 << 24) - 1),
        fc.integer({ min: 1, max: 0x7fffffff }),
        (length, endStream, priority, maxFrameSize, streamId) => {
          const opts = { endStream, priority, maxFrameSize };
          const reserved = new Uint8Array(FRAME_HEADER_LENGTH + length).fill(0xee);
          reserved.set(block.subarray(0, length), FRAME_HEADER_LENGTH);
          const expected = encodeHeaderBlock(streamId, block.subarray(0, length), opts);
          const out = encodeHeaderBlockInPlace(streamId, reserved, opts);
          expect(toHex(out)).toBe(toHex(expected));
          // One frame without priority: the same buffer, not a copy.
          expect(out === reserved).toBe(!priority && length <= maxFrameSize);
        },
      ),
      { numRuns: 200 },
    );
  });
});
