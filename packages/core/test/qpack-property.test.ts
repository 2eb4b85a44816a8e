/**
 * QPACK properties (RFC 9204): random field lists round-trip under random settings, delivery
 * delays and chunking; random octets into either side raise nothing but QpackError; how the
 * instruction streams are chunked never changes the outcome.
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { HeaderField } from '../src/frame/types.js';
import { QpackDecoder, QpackEncoder, QpackError, QPACK_STATIC_TABLE } from '../src/qpack/index.js';
import { parseEncoded } from './support/qif.js';
import { runLink } from './support/qpack-link.js';

const latin1 = fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const name = fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/), fc.constantFrom(...QPACK_STATIC_TABLE.map(([n]) => n), ':path', 'authorization', 'cookie', 'content-length'));
const freshField = fc.tuple(name, latin1) as fc.Arbitrary<HeaderField>;
/** Fields drawn from a small pool too, so that the dynamic table gets reused. */
const field = (pool: HeaderField[]): fc.Arbitrary<HeaderField> => fc.oneof(freshField, fc.constantFrom(...pool), fc.constantFrom(...QPACK_STATIC_TABLE));
const pool: HeaderField[] = [
  [':authority', 'example.test'],
  ['user-agent', 'rhttp-test/1.0'],
  ['x-tenant', 'alpha'],
  ['x-tenant', 'beta'],
  ['accept', 'text/html,application/xhtml+xml'],
  ['cookie', 'session=0123456789abcdef0123456789'],
];
const lists = fc.array(fc.array(field(pool), { maxLength: 12 }), { minLength: 1, maxLength: 30 });

/** Splits octets at the given cut points (fractions of the length). */
function splitter(cuts: number[]): (b: Uint8Array) => Uint8Array[] {
  return (b) => {
    const points = [...new Set(cuts.map((c) => Math.floor(c * b.length)))].filter((p) => p > 0 && p < b.length).sort((x, y) => x - y);
    const parts: Uint8Array[] = [];
    let start = 0;
    for (const p of points) {
      parts.push(b.subarray(start, p));
      start = p;
    }
    parts.push(b.subarray(start));
    return parts;
  };
}

describe('QPACK properties', () => {
  it('RFC 9204 §2: random field lists round-trip under random settings, delays and chunking', () => {
    fc.assert(
      fc.property(
        lists,
        fc.constantFrom(0, 64, 220, 512, 4096),
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 0, max: 4 }),
        fc.boolean(),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }),
        (input, tableCapacity, blockedStreams, encoderStreamDelay, feedDecoderStream, cuts) => {
          const r = runLink(input, { tableCapacity, blockedStreams, encoderStreamDelay, feedDecoderStream, chunk: splitter(cuts) });
          expect(r.decoded.size).toBe(input.length);
          for (let i = 0; i < input.length; i++) expect(r.decoded.get(i * 4)).toEqual(input[i]);
          expect(r.maxBlocked).toBeLessThanOrEqual(blockedStreams);
          expect(r.decoder.tableEntries()).toEqual(r.encoder.tableEntries());
        },
      ),
      { numRuns: 200 },
    );
  });

  it('random octets as field sections and encoder-stream input raise only QpackError', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.uint8Array({ maxLength: 48 })), { maxLength: 12 }),
        fc.constantFrom(0, 100, 4096),
        (inputs, capacity) => {
          const d = new QpackDecoder({ maxTableCapacity: capacity, maxBlockedStreams: 3, maxFieldSectionSize: 512 });
          // A table to refer to, so that dynamic references are sometimes valid.
          if (capacity >= 100) d.receiveEncoderStream(Uint8Array.of(0x3f, capacity - 31 < 0x80 ? capacity - 31 : 0xe1, ...(capacity === 4096 ? [0x1f] : []), 0x41, 0x61, 0x01, 0x62));
          let streamId = 0;
          for (const [toEncoderStream, bytes] of inputs) {
            try {
              if (toEncoderStream) d.receiveEncoderStream(bytes);
              else d.decode((streamId += 4), bytes);
              d.takeDecoderStream();
            } catch (e) {
              if (!(e instanceof QpackError)) throw e;
              return; // a connection error ends the connection
            }
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('random octets as decoder-stream input raise only QpackError', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 16 }), { maxLength: 8 }), (chunks) => {
        const e = new QpackEncoder();
        e.applyPeerSettings(4096, 4);
        for (let i = 0; i < 6; i++) e.encode(i * 4, [['x-n', String(i)], [':authority', 'a.test']]);
        try {
          for (const c of chunks) e.receiveDecoderStream(c);
        } catch (err) {
          if (!(err instanceof QpackError)) throw err;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('chunking the encoder stream anywhere changes neither the decoded lists nor the decoder stream', () => {
    const here = dirname(fileURLToPath(import.meta.url));
    // nghttp3 with blocking and a 4096-octet table: many inserts, references to fresh entries.
    const records = parseEncoded(readFileSync(resolve(here, 'vectors/qifs/encoded/nghttp3/netbsd.out.4096.100.0')));
    const run = (split: (b: Uint8Array) => Uint8Array[]): { lists: [number, HeaderField[]][]; decoderStream: number[] } => {
      const d = new QpackDecoder({ maxTableCapacity: 4096, maxBlockedStreams: 100, maxFieldSectionSize: 1 << 16 });
      d.receiveEncoderStream(Uint8Array.of(0x3f, 0xe1, 0x1f));
      const out: [number, HeaderField[]][] = [];
      const decoderStream: number[] = [];
      d.onUnblocked = (id, f) => out.push([id, f]);
      for (const { streamId, data } of records) {
        if (streamId === 0) for (const part of split(data)) d.receiveEncoderStream(part);
        else {
          const f = d.decode(streamId, data);
          if (f) out.push([streamId, f]);
        }
        decoderStream.push(...(d.takeDecoderStream() ?? []));
      }
      return { lists: out, decoderStream };
    };
    const whole = run((b) => [b]);
    expect(whole.lists.length).toBe(18);
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 16 }), (cuts) => {
        expect(run(splitter(cuts))).toEqual(whole);
      }),
      { numRuns: 200 },
    );
    // Octet by octet too.
    expect(run((b) => Array.from(b, (x) => Uint8Array.of(x)))).toEqual(whole);
  });

  it('chunking both instruction streams anywhere leaves the encoder in the same state', () => {
    fc.assert(
      fc.property(lists, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }), (input, cuts) => {
        const whole = runLink(input, { tableCapacity: 512, blockedStreams: 3, encoderStreamDelay: 2 });
        const chunked = runLink(input, { tableCapacity: 512, blockedStreams: 3, encoderStreamDelay: 2, chunk: splitter(cuts) });
        expect(chunked.encoder.acknowledgedInsertCount).toBe(whole.encoder.acknowledgedInsertCount);
        expect(chunked.encoder.insertCount).toBe(whole.encoder.insertCount);
        expect(chunked.encoder.blockedStreams).toBe(whole.encoder.blockedStreams);
        expect(chunked.sectionBytes).toBe(whole.sectionBytes);
      }),
      { numRuns: 100 },
    );
  });
});
