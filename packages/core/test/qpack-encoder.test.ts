/**
 * Our QPACK encoder decoded by our decoder (RFC 9204 §2.1): realistic header lists (the qifs
 * QIF inputs) with and without the dynamic table, with the decoder stream fed back or not, and
 * with the encoder stream delayed so that sections arrive first and block (§2.1.2).
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { HeaderField } from '../src/frame/types.js';
import { QpackDecoder, QpackEncoder, QpackError, QpackErrorCode, isNeverIndexed, markNeverIndexed } from '../src/qpack/index.js';
import { parseQif } from './support/qif.js';
import { runLink, type LinkOptions } from './support/qpack-link.js';

const here = dirname(fileURLToPath(import.meta.url));
const qif = (name: string): HeaderField[][] => parseQif(readFileSync(resolve(here, 'vectors/qifs/qifs', `${name}.qif`)));
const corpora = { netbsd: qif('netbsd'), 'fb-req': qif('fb-req'), 'fb-resp': qif('fb-resp') };

function expectAllDecoded(lists: HeaderField[][], decoded: Map<number, HeaderField[]>): void {
  expect(decoded.size).toBe(lists.length);
  for (let i = 0; i < lists.length; i++) expect(decoded.get(i * 4), `stream ${i * 4}`).toEqual(lists[i]);
}

describe('RFC 9204 §2.1 encoder → decoder round trip over the qifs corpora', () => {
  const staticOnly: Record<string, number> = {};
  for (const [name, lists] of Object.entries(corpora)) {
    it(`${name}: static table only (peer capacity 0)`, () => {
      const r = runLink(lists, { tableCapacity: 0, blockedStreams: 0 });
      expectAllDecoded(lists, r.decoded);
      expect(r.encoderStreamBytes).toBe(0);
      expect(r.decoderStreamBytes).toBe(0);
      staticOnly[name] = r.sectionBytes;
    });

    const cases: [string, Omit<LinkOptions, 'chunk'>][] = [
      ['4096 octets, 100 blocked streams, in order', { tableCapacity: 4096, blockedStreams: 100 }],
      ['4096 octets, no blocking allowed', { tableCapacity: 4096, blockedStreams: 0 }],
      ['256 octets, 100 blocked streams', { tableCapacity: 256, blockedStreams: 100 }],
      ['4096 octets, encoder stream 3 sections late (blocking), 100 allowed', { tableCapacity: 4096, blockedStreams: 100, encoderStreamDelay: 3 }],
      ['4096 octets, encoder stream 5 sections late, 2 blocked streams allowed', { tableCapacity: 4096, blockedStreams: 2, encoderStreamDelay: 5 }],
      ['4096 octets, the decoder stream never reaches the encoder', { tableCapacity: 4096, blockedStreams: 4, feedDecoderStream: false }],
      ['our cap of 0 against a peer allowing 4096', { tableCapacity: 4096, blockedStreams: 100, encoderCap: 0 }],
      ['our cap of 512 against a peer allowing 65536', { tableCapacity: 65536, blockedStreams: 100, encoderCap: 512 }],
    ];
    for (const [label, options] of cases) {
      it(`${name}: ${label}`, () => {
        const r = runLink(lists, options);
        expectAllDecoded(lists, r.decoded);
        expect(r.maxBlocked).toBeLessThanOrEqual(options.blockedStreams);
        expect(r.decoder.blockedStreams).toBe(0);
        expect(r.decoder.tableCapacity).toBe(r.encoderStreamBytes > 0 ? Math.min(options.tableCapacity, options.encoderCap ?? 4096) : 0);
        if (options.encoderCap === 0) expect(r.encoderStreamBytes).toBe(0);
        if ((options.encoderStreamDelay ?? 0) > 0 && options.blockedStreams > 0) expect(r.maxBlocked).toBeGreaterThan(0);
        if (options.encoderCap !== 0 && options.feedDecoderStream !== false && options.tableCapacity >= 4096 && name !== 'netbsd') {
          // The dynamic table pays for itself on the large corpora.
          expect(r.sectionBytes + r.encoderStreamBytes).toBeLessThan(staticOnly[name]);
        }
      });
    }
  }
});

describe('RFC 9204 §2.1.1, §2.1.2: what the encoder may reference and evict', () => {
  // Names the encoder inserts the first time it sees them (connection constants).
  const fields: HeaderField[] = [
    [':authority', 'example.test'],
    ['user-agent', 'one'],
  ];

  it('without blocking allowed, a new entry is sent as a literal until the decoder acknowledges it', () => {
    const encoder = new QpackEncoder();
    encoder.applyPeerSettings(4096, 0);
    const first = encoder.encode(0, fields);
    expect(first[0]).toBe(0); // Required Insert Count 0: no reference
    const instructions = encoder.takeEncoderStream()!;
    expect(encoder.insertCount).toBe(2);
    const decoder = new QpackDecoder({ maxTableCapacity: 4096, maxBlockedStreams: 0, maxFieldSectionSize: 4096 });
    decoder.receiveEncoderStream(instructions);
    expect(decoder.decode(0, first)).toEqual(fields);
    // Not acknowledged yet: still literals.
    expect(encoder.encode(4, fields)[0]).toBe(0);
    encoder.receiveDecoderStream(decoder.takeDecoderStream()!); // Insert Count Increment 2
    expect(encoder.acknowledgedInsertCount).toBe(2);
    const third = encoder.encode(8, fields);
    expect(third[0]).not.toBe(0);
    expect(third.length).toBe(4); // prefix + two one-octet dynamic references
    expect(decoder.decode(8, third)).toEqual(fields);
    expect(encoder.takeEncoderStream()).toBeUndefined();
  });

  it('with blocking allowed, a section references its own fresh inserts and blocks until they arrive', () => {
    const encoder = new QpackEncoder();
    encoder.applyPeerSettings(4096, 1);
    const section = encoder.encode(0, fields);
    expect(encoder.blockedStreams).toBe(1);
    const decoder = new QpackDecoder({ maxTableCapacity: 4096, maxBlockedStreams: 1, maxFieldSectionSize: 4096 });
    expect(decoder.decode(0, section)).toBeUndefined();
    expect(decoder.blockedStreams).toBe(1);
    // A second stream may not block too: its section uses literals only.
    const other = encoder.encode(4, [['user-agent', 'two']]);
    expect(other[0]).toBe(0);
    expect(decoder.decode(4, other)).toEqual([['user-agent', 'two']]);
    const unblocked: [number, HeaderField[]][] = [];
    decoder.onUnblocked = (id, f) => unblocked.push([id, f]);
    decoder.receiveEncoderStream(encoder.takeEncoderStream()!);
    expect(unblocked).toEqual([[0, fields]]);
    encoder.receiveDecoderStream(decoder.takeDecoderStream()!);
    expect(encoder.blockedStreams).toBe(0);
  });

  it('an entry referenced by an unacknowledged section is not evicted; inserting waits instead', () => {
    // Entries of 32 + 10 + 58 = 100 octets: four fill the table.
    const encoder = new QpackEncoder();
    encoder.applyPeerSettings(400, 1);
    const big: HeaderField = ['user-agent', 'v'.repeat(58)];
    const s1 = encoder.encode(0, [big]);
    expect(encoder.insertCount).toBe(1);
    // Fill the table with unreferenced inserts (stream 4 may not block: stream 0 does).
    encoder.encode(4, [['user-agent', 'w'.repeat(58)]]);
    encoder.encode(8, [['user-agent', 'x'.repeat(58)]]);
    encoder.encode(12, [['user-agent', 'y'.repeat(58)]]);
    expect(encoder.insertCount).toBe(4);
    // A fifth entry needs the first one's room, but section 1 references it unacknowledged.
    const s5 = encoder.encode(16, [['user-agent', 'z'.repeat(58)]]);
    expect(encoder.insertCount).toBe(4);
    expect(encoder.tableEntries()[0]).toEqual(big);
    const decoder = new QpackDecoder({ maxTableCapacity: 400, maxBlockedStreams: 1, maxFieldSectionSize: 4096 });
    decoder.receiveEncoderStream(encoder.takeEncoderStream()!);
    expect(decoder.decode(0, s1)).toEqual([big]);
    expect(decoder.decode(16, s5)).toEqual([['user-agent', 'z'.repeat(58)]]);
    encoder.receiveDecoderStream(decoder.takeDecoderStream()!);
    // Acknowledged: now it may go.
    encoder.encode(20, [['user-agent', 'z'.repeat(58)]]);
    expect(encoder.insertCount).toBe(5);
    expect(encoder.tableEntries()[0]).toEqual(['user-agent', 'w'.repeat(58)]);
  });

  it('a peer that never acknowledges: after 1024 streams with outstanding sections, new sections stop referencing the table', () => {
    const encoder = new QpackEncoder();
    encoder.applyPeerSettings(4096, 2000);
    const decoder = new QpackDecoder({ maxTableCapacity: 4096, maxBlockedStreams: 2000, maxFieldSectionSize: 4096 });
    const fields: HeaderField[] = [['user-agent', 'one']];
    for (let i = 0; i < 1024; i++) expect(encoder.encode(i * 4, fields)[0]).not.toBe(0);
    const section = encoder.encode(4096, fields);
    expect(section[0]).toBe(0);
    decoder.receiveEncoderStream(encoder.takeEncoderStream()!);
    expect(decoder.decode(4096, section)).toEqual(fields);
  });

  it('a field is inserted the second time it is seen (one-off values stay literals), connection constants the first time', () => {
    const encoder = new QpackEncoder();
    encoder.applyPeerSettings(4096, 0);
    encoder.encode(0, [['x-trace', 'once'], ['x-tenant', 'alpha']]);
    expect(encoder.insertCount).toBe(0);
    encoder.encode(4, [['x-tenant', 'alpha'], ['user-agent', 'ua']]);
    expect(encoder.tableEntries()).toEqual([
      ['x-tenant', 'alpha'],
      ['user-agent', 'ua'],
    ]);
  });

  it('RFC 9204 §4.4.2: Stream Cancellation releases the stream and its references', () => {
    const encoder = new QpackEncoder();
    encoder.applyPeerSettings(4096, 1);
    encoder.encode(0, fields);
    expect(encoder.blockedStreams).toBe(1);
    encoder.receiveDecoderStream(Uint8Array.of(0x40)); // Stream Cancellation, stream 0
    expect(encoder.blockedStreams).toBe(0);
    // Unknown streams are not an error for cancellation (the decoder cannot know what was sent).
    encoder.receiveDecoderStream(Uint8Array.of(0x40 | 9));
  });

  it('RFC 9204 §7.1.3: the N bit, sensitive names and marked fields are never inserted', () => {
    const encoder = new QpackEncoder();
    encoder.applyPeerSettings(4096, 100);
    const marked = markNeverIndexed(['x-secret', 'hunter2']);
    const list: HeaderField[] = [['authorization', 'Bearer abc'], marked, ['cookie', 'a=b']];
    const section = encoder.encode(0, list);
    expect(encoder.insertCount).toBe(0);
    const decoder = new QpackDecoder({ maxTableCapacity: 4096, maxBlockedStreams: 0, maxFieldSectionSize: 4096 });
    const out = decoder.decode(0, section)!;
    expect(out).toEqual(list);
    for (const f of out) expect(isNeverIndexed(f)).toBe(true);
  });
});

describe('API misuse', () => {
  it('a non-Latin-1 field is refused before anything is written, and the encoder stays usable', () => {
    const encoder = new QpackEncoder();
    encoder.applyPeerSettings(4096, 4);
    expect(() => encoder.encode(0, [['user-agent', 'fine'], ['x-bad', 'caf\u00e9 \u263a']])).toThrow(/non-Latin-1/);
    expect(encoder.takeEncoderStream()).toBeUndefined();
    expect(encoder.insertCount).toBe(0);
    const decoder = new QpackDecoder({ maxTableCapacity: 4096, maxBlockedStreams: 4, maxFieldSectionSize: 4096 });
    const section = encoder.encode(4, [['user-agent', 'fine']]);
    decoder.receiveEncoderStream(encoder.takeEncoderStream()!);
    expect(decoder.decode(4, section)).toEqual([['user-agent', 'fine']]);
  });
});

describe('RFC 9204 §4.4: decoder stream errors at the encoder', () => {
  const decoderStreamError = (bytes: number[]): void => {
    const encoder = new QpackEncoder();
    encoder.applyPeerSettings(4096, 10);
    encoder.encode(0, [['x-one', '1']]);
    encoder.takeEncoderStream();
    let error: unknown;
    try {
      encoder.receiveDecoderStream(Uint8Array.from(bytes));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(QpackError);
    expect((error as QpackError).h3Code).toBe(QpackErrorCode.DECODER_STREAM_ERROR);
  };
  it('§4.4.1 Section Acknowledgment for a stream with nothing unacknowledged', () => decoderStreamError([0x84]));
  it('§4.4.1 a second Section Acknowledgment for a stream with one section', () => decoderStreamError([0x80, 0x80]));
  it('§4.4.3 Insert Count Increment of 0', () => decoderStreamError([0x00]));
  it('§4.4.3 Insert Count Increment beyond the inserts sent', () => decoderStreamError([0x02]));
  it('an integer beyond 2^31 - 1', () => decoderStreamError([0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]));
});
