/**
 * HTTP/3 frames (RFC 9114 §7) and QUIC varints (RFC 9000 §16): wire vectors both ways, fed to
 * the streaming reader at every and at random chunk boundaries, a fast-check round trip, and
 * the frame-level errors.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConnectionError } from '../src/errors.js';
import { H3ErrorCode, h3ErrorCodeName } from '../src/h3/error-codes.js';
import { decodeH3Frame, encodeH3Frame, type H3Frame, H3FrameType, h3FrameTypeName, isReservedH3Type } from '../src/h3/frame/index.js';
import { H3FrameReader } from '../src/h3/frame-reader.js';
import { encodeVarint, readVarint } from '../src/h3/varint.js';
import { hex, toHex } from './frame-vectors.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('RFC 9000 §16 variable-length integers', () => {
  // The four examples of RFC 9000 §A.1, and each length's bounds.
  const vectors: Array<[string, number]> = [
    ['c2197c5eff14e88c', 151288809941952652],
    ['9d7f3e7d', 494878333],
    ['7bbd', 15293],
    ['25', 37],
    ['00', 0],
    ['3f', 63],
    ['4040', 64],
    ['7fff', 16383],
    ['80004000', 16384],
    ['bfffffff', 2 ** 30 - 1],
    ['c000000040000000', 2 ** 30],
    ['c01fffffffffffff', Number.MAX_SAFE_INTEGER],
  ];
  for (const [wire, value] of vectors) {
    it(`${wire} ↔ ${value}`, () => {
      expect(readVarint(hex(wire), 0)).toEqual({ value, next: wire.length / 2 });
      // The 8-octet example is beyond 2^53: only its decoding is exact to a double.
      if (Number.isSafeInteger(value)) expect(toHex(encodeVarint(value))).toBe(wire);
    });
  }
  it('a non-shortest encoding decodes too (RFC 9000 §16: values need not use the fewest octets)', () => {
    expect(readVarint(hex('4025'), 0)).toEqual({ value: 37, next: 2 });
  });
  it('a truncated varint is undefined (read more)', () => {
    expect(readVarint(hex('9d7f3e'), 0)).toBeUndefined();
    expect(readVarint(new Uint8Array(0), 0)).toBeUndefined();
  });
  it('property: every safe integer round-trips', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => readVarint(encodeVarint(n), 0)?.value === n));
  });
});

interface Vector {
  name: string;
  wire: string;
  frame: H3Frame;
}

const vectors: Vector[] = [
  { name: 'DATA', wire: '00 05 68656c6c6f', frame: { kind: 'data', data: ascii('hello') } },
  { name: 'DATA empty', wire: '00 00', frame: { kind: 'data', data: new Uint8Array(0) } },
  { name: 'HEADERS', wire: '01 03 0000d1', frame: { kind: 'headers', fieldSection: hex('0000d1') } },
  { name: 'CANCEL_PUSH', wire: '03 01 07', frame: { kind: 'cancel-push', pushId: 7 } },
  { name: 'SETTINGS empty', wire: '04 00', frame: { kind: 'settings', settings: [] } },
  {
    name: 'SETTINGS (QPACK, field section size, extended CONNECT, grease)',
    wire: '04 0c 01 4400 07 10 06 4400 08 01 21 00',
    frame: { kind: 'settings', settings: [[0x1, 1024], [0x7, 16], [0x6, 1024], [0x8, 1], [0x21, 0]] },
  },
  { name: 'PUSH_PROMISE', wire: '05 03 02 0000', frame: { kind: 'push-promise', pushId: 2, fieldSection: hex('0000') } },
  { name: 'GOAWAY', wire: '07 01 04', frame: { kind: 'goaway', id: 4 } },
  { name: 'GOAWAY large id', wire: '07 04 80004000', frame: { kind: 'goaway', id: 16384 } },
  { name: 'MAX_PUSH_ID', wire: '0d 02 4100', frame: { kind: 'max-push-id', pushId: 256 } },
  {
    name: 'ORIGIN (RFC 9412, HTTP/2 entries)',
    wire: '0c 15 0013 68747470733a2f2f6578616d706c652e636f6d',
    frame: { kind: 'origin', origins: ['https://example.com'] },
  },
  { name: 'ORIGIN empty', wire: '0c 00', frame: { kind: 'origin', origins: [] } },
  { name: 'unknown type passes through', wire: '21 02 abcd', frame: { kind: 'unknown', type: 0x21, payload: hex('abcd') } },
  { name: 'reserved (grease) type passes through', wire: '409f 00', frame: { kind: 'unknown', type: 0x9f, payload: new Uint8Array(0) } },
];

function readAll(wire: Uint8Array, cuts: number[]): H3Frame[] {
  const reader = new H3FrameReader();
  const out: H3Frame[] = [];
  let from = 0;
  for (const cut of [...cuts, wire.length]) {
    out.push(...reader.push(wire.subarray(from, cut)));
    from = cut;
  }
  expect(reader.atFrameBoundary).toBe(true);
  return mergeData(out);
}

/** DATA comes out of the streaming reader in pieces: join consecutive pieces to compare with whole frames. */
function mergeData(frames: H3Frame[]): H3Frame[] {
  const out: H3Frame[] = [];
  for (const f of frames) {
    const last = out[out.length - 1];
    if (f.kind === 'data' && last?.kind === 'data' && (last as { continued?: boolean }).continued) {
      const joined = new Uint8Array(last.data.length + f.data.length);
      joined.set(last.data);
      joined.set(f.data, last.data.length);
      last.data = joined;
    } else out.push(f.kind === 'data' ? { kind: 'data', data: f.data.slice() } : f);
  }
  return out;
}

describe('RFC 9114 §7.2 wire vectors, both ways', () => {
  for (const v of vectors) {
    it(`encodes ${v.name}`, () => expect(toHex(encodeH3Frame(v.frame))).toBe(v.wire.replace(/\s+/g, '')));
    it(`decodes ${v.name} fed octet by octet`, () => {
      const wire = hex(v.wire);
      const cuts = Array.from({ length: wire.length - 1 }, (_, i) => i + 1);
      const frames = readAll(wire, cuts);
      if (v.frame.kind === 'data') {
        const data = new Uint8Array(frames.flatMap((f) => (f.kind === 'data' ? [...f.data] : [])));
        expect(data).toEqual(v.frame.data);
      } else expect(frames).toEqual([v.frame]);
    });
  }

  it('all vectors in one stream, at random chunk boundaries', () => {
    const nonData = vectors.filter((v) => v.frame.kind !== 'data');
    const wire = hex(nonData.map((v) => v.wire).join(''));
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: wire.length - 1 }), { maxLength: 12 }), (cuts) => {
        expect(readAll(wire, cuts.sort((a, b) => a - b))).toEqual(nonData.map((v) => v.frame));
      }),
    );
  });

  it('names: open sets print UNKNOWN(0x…)', () => {
    expect(h3FrameTypeName(H3FrameType.SETTINGS)).toBe('SETTINGS');
    expect(h3FrameTypeName(0x21)).toBe('UNKNOWN(0x21)');
    expect(h3ErrorCodeName(H3ErrorCode.H3_VERSION_FALLBACK)).toBe('H3_VERSION_FALLBACK');
    expect(h3ErrorCodeName(0x202)).toBe('QPACK_DECODER_STREAM_ERROR');
    expect(h3ErrorCodeName(0x1f * 3 + 0x21)).toBe('UNKNOWN(0x7e)');
    expect(isReservedH3Type(0x21)).toBe(true);
    expect(isReservedH3Type(0x40)).toBe(true);
    expect(isReservedH3Type(0x41)).toBe(false);
  });
});

const frameArbitrary: fc.Arbitrary<H3Frame> = fc.oneof(
  fc.record({ kind: fc.constant('headers' as const), fieldSection: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ kind: fc.constant('cancel-push' as const), pushId: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }) }),
  fc.record({
    kind: fc.constant('settings' as const),
    settings: fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 2 ** 40 }).filter((id) => id < 2 || id > 5), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })), { selector: (s) => s[0], maxLength: 6 }),
  }),
  fc.record({ kind: fc.constant('push-promise' as const), pushId: fc.integer({ min: 0, max: 2 ** 32 }), fieldSection: fc.uint8Array({ maxLength: 32 }) }),
  fc.record({ kind: fc.constant('goaway' as const), id: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }) }),
  fc.record({ kind: fc.constant('max-push-id' as const), pushId: fc.integer({ min: 0, max: 2 ** 32 }) }),
  fc.record({ kind: fc.constant('origin' as const), origins: fc.array(fc.stringMatching(/^https:\/\/[a-z]{1,10}\.example$/), { maxLength: 4 }) }),
  fc.record({
    kind: fc.constant('unknown' as const),
    type: fc.integer({ min: 0xe, max: 2 ** 40 }).filter((t) => t !== 0xc && t !== 0xd),
    payload: fc.uint8Array({ maxLength: 32 }),
  }),
);

describe('property: frames round-trip through the streaming reader at any chunking', () => {
  it('encode → read in random chunks → the same frames', () => {
    fc.assert(
      fc.property(fc.array(frameArbitrary, { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 7 }), { maxLength: 40 }), (frames, sizes) => {
        const wire = new Uint8Array(frames.flatMap((f) => [...encodeH3Frame(f)]));
        const cuts: number[] = [];
        let at = 0;
        for (const size of sizes) if ((at += size) < wire.length) cuts.push(at);
        expect(readAll(wire, cuts)).toEqual(frames);
      }),
    );
  });
});

describe('RFC 9114 §7 frame errors', () => {
  const code = (fn: () => unknown): number | undefined => {
    try {
      fn();
    } catch (error) {
      return error instanceof ConnectionError ? error.errorCode : -1;
    }
    return undefined;
  };
  it('§7.2.8: HTTP/2-only frame types are H3_FRAME_UNEXPECTED, at once', () => {
    for (const type of [0x2, 0x6, 0x8, 0x9]) {
      expect(code(() => decodeH3Frame(type, new Uint8Array(0)))).toBe(H3ErrorCode.H3_FRAME_UNEXPECTED);
      expect(code(() => new H3FrameReader().push(hex(`0${type} 01`)))).toBe(H3ErrorCode.H3_FRAME_UNEXPECTED);
    }
  });
  it('§7.2.4.1: HTTP/2 setting ids are H3_SETTINGS_ERROR; §7.2.4: so is a repeated id', () => {
    for (const id of [2, 3, 4, 5]) expect(code(() => decodeH3Frame(H3FrameType.SETTINGS, hex(`0${id} 00`)))).toBe(H3ErrorCode.H3_SETTINGS_ERROR);
    expect(code(() => decodeH3Frame(H3FrameType.SETTINGS, hex('01 00 01 00')))).toBe(H3ErrorCode.H3_SETTINGS_ERROR);
  });
  it('§7.1: a payload ending inside a field, or with octets left over, is H3_FRAME_ERROR', () => {
    expect(code(() => decodeH3Frame(H3FrameType.SETTINGS, hex('01')))).toBe(H3ErrorCode.H3_FRAME_ERROR);
    expect(code(() => decodeH3Frame(H3FrameType.GOAWAY, hex('')))).toBe(H3ErrorCode.H3_FRAME_ERROR);
    expect(code(() => decodeH3Frame(H3FrameType.GOAWAY, hex('04 00')))).toBe(H3ErrorCode.H3_FRAME_ERROR);
    expect(code(() => decodeH3Frame(H3FrameType.MAX_PUSH_ID, hex('4001 00')))).toBe(H3ErrorCode.H3_FRAME_ERROR);
    expect(code(() => decodeH3Frame(H3FrameType.CANCEL_PUSH, hex('80')))).toBe(H3ErrorCode.H3_FRAME_ERROR);
  });
  it('an ORIGIN payload that its entries do not fill is ignored as unknown (RFC 8336 §2.2 via RFC 9412)', () => {
    expect(decodeH3Frame(H3FrameType.ORIGIN, hex('0005 6162'))).toEqual({ kind: 'unknown', type: 0xc, payload: hex('0005 6162') });
  });
  it('§10.5: a known frame over its budget is H3_EXCESSIVE_LOAD before it is buffered; an unknown one is skipped unread', () => {
    const reader = new H3FrameReader({ maxFrameBytes: () => 4 });
    expect(code(() => reader.push(hex('01 05')))).toBe(H3ErrorCode.H3_EXCESSIVE_LOAD);
    const skipping = new H3FrameReader({ maxFrameBytes: () => 4 });
    expect(skipping.push(hex('21 08 0102030405'))).toEqual([]);
    expect(skipping.push(hex('060708 07 01 09'))).toEqual([{ kind: 'goaway', id: 9 }]);
  });
  it('DATA is never buffered: each piece comes out as it arrives, whatever the budget', () => {
    const reader = new H3FrameReader({ maxFrameBytes: () => 1 });
    expect(reader.push(hex('00 06 0102'))).toEqual([{ kind: 'data', data: hex('0102') }]);
    expect(reader.atFrameBoundary).toBe(false);
    expect(reader.push(hex('030405'))).toEqual([{ kind: 'data', data: hex('030405') }]);
    expect(reader.push(hex('06 0000'))).toEqual([{ kind: 'data', data: hex('06') }, { kind: 'data', data: hex('') }]);
    expect(reader.atFrameBoundary).toBe(true);
  });
});
