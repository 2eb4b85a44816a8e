/**
 * The QPACK decoder against malformed and hostile input, and its blocked-stream bookkeeping,
 * named by RFC 9204 section. Every error must be a QpackError with the right HTTP/3 code.
 */
import { describe, expect, it } from 'vitest';
import type { HeaderField } from '../src/frame/types.js';
import { FieldSectionTooLargeError, QpackDecoder, QpackError, QpackErrorCode } from '../src/qpack/index.js';

const { DECOMPRESSION_FAILED, ENCODER_STREAM_ERROR } = QpackErrorCode;

function hex(s: string): Uint8Array {
  const clean = s.replace(/[^0-9a-f]/gi, '');
  return Uint8Array.from(clean.match(/../g) ?? [], (b) => parseInt(b, 16));
}
const toHex = (b: Uint8Array | undefined): string => (b === undefined ? '' : Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(''));

function decoder(maxTableCapacity = 4096, maxBlockedStreams = 4, maxFieldSectionSize = 65536): QpackDecoder {
  return new QpackDecoder({ maxTableCapacity, maxBlockedStreams, maxFieldSectionSize });
}

function qpackError(f: () => unknown): QpackError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(QpackError);
    return e as QpackError;
  }
  throw new Error('expected a QpackError');
}

/** Set Dynamic Table Capacity 4096, then Insert With Literal Name for each field (names and values < 31 octets). */
function inserts(capacity: number, fields: HeaderField[]): Uint8Array {
  const out: number[] = [];
  out.push(0x3f, ...(capacity - 31 < 0x80 ? [capacity - 31] : [((capacity - 31) & 0x7f) | 0x80, (capacity - 31) >> 7]));
  for (const [n, v] of fields) {
    out.push(0x40 | n.length, ...Array.from(n, (c) => c.charCodeAt(0)));
    out.push(v.length, ...Array.from(v, (c) => c.charCodeAt(0)));
  }
  return Uint8Array.from(out);
}

describe('RFC 9204 §4.5.1.1 Required Insert Count', () => {
  it('is reconstructed across the wrap: table of 100 octets (MaxEntries 3), 10 inserts, encoded 4 → 9', () => {
    const d = decoder(100, 4);
    const fields: HeaderField[] = [];
    for (let i = 0; i < 10; i++) fields.push(['a', String(i)]);
    d.receiveEncoderStream(inserts(100, fields));
    expect(d.insertCount).toBe(10);
    // RIC 9, Base 9, relative index 0 → absolute 8.
    expect(d.decode(0, hex('04 00 80'))).toEqual([['a', '8']]);
    expect(toHex(d.takeDecoderStream())).toBe('8001'); // Section Acknowledgment, then Insert Count Increment 1
  });

  it('an encoded value above 2 * MaxEntries is QPACK_DECOMPRESSION_FAILED', () => {
    expect(qpackError(() => decoder(100).decode(0, hex('07 00'))).h3Code).toBe(DECOMPRESSION_FAILED);
  });

  it('any non-zero value with a table capacity of 0 is QPACK_DECOMPRESSION_FAILED', () => {
    expect(qpackError(() => decoder(0).decode(0, hex('01 00'))).h3Code).toBe(DECOMPRESSION_FAILED);
  });

  it('a value that cannot have wrapped (Required Insert Count beyond what could ever arrive) fails', () => {
    // MaxEntries 3, FullRange 6, no inserts: MaxValue 3; encoded 6 → 5 > 3 and ≤ 6.
    expect(qpackError(() => decoder(100).decode(0, hex('06 00'))).h3Code).toBe(DECOMPRESSION_FAILED);
  });

  it('a value within reach blocks instead', () => {
    const d = decoder(100, 1);
    expect(d.decode(0, hex('03 00 80'))).toBeUndefined(); // RIC 2 (at most MaxEntries ahead)
    expect(d.blockedStreams).toBe(1);
  });
});

describe('RFC 9204 §4.5.1.2 Base', () => {
  it('a sign bit of 1 with Delta Base ≥ Required Insert Count (negative Base) fails', () => {
    const d = decoder();
    d.receiveEncoderStream(inserts(4096, [['a', 'b']]));
    expect(qpackError(() => d.decode(0, hex('02 81'))).h3Code).toBe(DECOMPRESSION_FAILED);
    expect(qpackError(() => d.decode(0, hex('00 80'))).h3Code).toBe(DECOMPRESSION_FAILED);
  });

  it('post-base references: Base 0 with sign 1 and Required Insert Count 2', () => {
    const d = decoder();
    d.receiveEncoderStream(inserts(4096, [['a', 'b'], ['c', 'd']]));
    // RIC 2 (encoded 3), S=1 Delta 1 → Base 0; post-base 1 → abs 1; literal post-base name 0 → abs 0.
    expect(d.decode(0, hex('03 81 11 00 01 78'))).toEqual([
      ['c', 'd'],
      ['a', 'x'],
    ]);
  });
});

describe('RFC 9204 §2.2.3 invalid references', () => {
  it('a relative index at or above the Required Insert Count fails', () => {
    const d = decoder();
    d.receiveEncoderStream(inserts(4096, [['a', 'b'], ['c', 'd']]));
    // RIC 1, Base 2 (S=0, Delta 1): relative 0 → abs 1 ≥ RIC.
    expect(qpackError(() => d.decode(0, hex('02 01 80'))).h3Code).toBe(DECOMPRESSION_FAILED);
  });

  it('a post-base index at or above the Required Insert Count fails', () => {
    const d = decoder();
    d.receiveEncoderStream(inserts(4096, [['a', 'b']]));
    expect(qpackError(() => d.decode(0, hex('02 00 10'))).h3Code).toBe(DECOMPRESSION_FAILED);
  });

  it('a relative index below 0 (beyond Base) fails', () => {
    const d = decoder();
    d.receiveEncoderStream(inserts(4096, [['a', 'b']]));
    expect(qpackError(() => d.decode(0, hex('02 00 81'))).h3Code).toBe(DECOMPRESSION_FAILED);
  });

  it('a reference to an evicted entry fails', () => {
    // 70 octets hold one 34-octet entry... and a second: a third evicts the first.
    const d = decoder(70);
    d.receiveEncoderStream(inserts(70, [['a', '1'], ['a', '2'], ['a', '3']]));
    expect(d.tableEntries()).toEqual([
      ['a', '2'],
      ['a', '3'],
    ]);
    // MaxEntries 2, FullRange 4: RIC 3 → encoded 4; Base 3; relative 2 → abs 0 (evicted).
    expect(qpackError(() => d.decode(0, hex('04 00 82'))).h3Code).toBe(DECOMPRESSION_FAILED);
    expect(d.decode(0, hex('04 00 80 81'))).toEqual([
      ['a', '3'],
      ['a', '2'],
    ]);
  });

  it('§3.1: a static index beyond the table fails, in a field line and on the encoder stream', () => {
    expect(qpackError(() => decoder().decode(0, hex('00 00 ff 24'))).h3Code).toBe(DECOMPRESSION_FAILED); // 63 + 36 = 99
    const d = decoder();
    d.receiveEncoderStream(hex('3fe11f')); // capacity 4096
    expect(qpackError(() => d.receiveEncoderStream(hex('ff 24 01 61'))).h3Code).toBe(ENCODER_STREAM_ERROR);
  });

  it('index 98, the last static entry, is fine', () => {
    expect(decoder().decode(0, hex('00 00 ff 23'))).toEqual([['x-frame-options', 'sameorigin']]);
  });
});

describe('RFC 9204 §4.3 encoder instructions', () => {
  it('§4.3.1: a capacity above our SETTINGS_QPACK_MAX_TABLE_CAPACITY is QPACK_ENCODER_STREAM_ERROR', () => {
    expect(qpackError(() => decoder(100).receiveEncoderStream(hex('3f 46'))).h3Code).toBe(ENCODER_STREAM_ERROR); // 31 + 70 = 101
    decoder(100).receiveEncoderStream(hex('3f 45'));
  });

  it('§3.2.2: an entry larger than the capacity is QPACK_ENCODER_STREAM_ERROR', () => {
    const d = decoder(100);
    d.receiveEncoderStream(hex('3f 01')); // capacity 32
    expect(qpackError(() => d.receiveEncoderStream(hex('41 61 00'))).h3Code).toBe(ENCODER_STREAM_ERROR); // 'a' '' = 33
  });

  it('§3.2.2: an insert before any Set Dynamic Table Capacity (the table starts at 0) fails', () => {
    expect(qpackError(() => decoder().receiveEncoderStream(hex('c0 00'))).h3Code).toBe(ENCODER_STREAM_ERROR);
  });

  it('a string that could never fit is refused from its length alone, before its octets arrive', () => {
    const d = decoder(4096);
    d.receiveEncoderStream(hex('3fe11f'));
    // Insert With Literal Name, name length 2^20: only the header is sent.
    expect(qpackError(() => d.receiveEncoderStream(hex('5f e1 ff 3f'))).h3Code).toBe(ENCODER_STREAM_ERROR);
  });

  it('§4.3.4: Duplicate of an entry that does not exist is QPACK_ENCODER_STREAM_ERROR', () => {
    const d = decoder();
    d.receiveEncoderStream(inserts(4096, [['a', 'b']]));
    expect(qpackError(() => d.receiveEncoderStream(hex('01'))).h3Code).toBe(ENCODER_STREAM_ERROR);
  });

  it('§3.2.2: an insert may name the entry its own insertion evicts', () => {
    const d = decoder(70);
    d.receiveEncoderStream(inserts(70, [['a', '1']]));
    // Insert With Name Reference, dynamic relative 0 ('a'), value of 4 octets: 37 + 34 > 70 evicts it.
    d.receiveEncoderStream(hex('80 04 77 78 79 7a'));
    expect(d.tableEntries()).toEqual([['a', 'wxyz']]);
  });

  it('an integer beyond 2^31 - 1 is QPACK_ENCODER_STREAM_ERROR', () => {
    expect(qpackError(() => decoder().receiveEncoderStream(hex('3f ff ff ff ff 7f'))).h3Code).toBe(ENCODER_STREAM_ERROR);
  });

  it('a Huffman string containing EOS is an error of the stream it came on', () => {
    const d = decoder();
    d.receiveEncoderStream(hex('3fe11f'));
    expect(qpackError(() => d.receiveEncoderStream(hex('c0 84 ff ff ff ff'))).h3Code).toBe(ENCODER_STREAM_ERROR);
    expect(qpackError(() => decoder().decode(0, hex('00 00 51 84 ff ff ff ff'))).h3Code).toBe(DECOMPRESSION_FAILED);
  });
});

describe('RFC 9204 §4.5 field sections cut short', () => {
  for (const [label, bytes] of [
    ['empty', ''],
    ['prefix without Base', '00'],
    ['literal name without value', '00 00 23 61 62 63'],
    ['value shorter than its length', '00 00 51 05 61'],
    ['dynamic index with continuation missing', '00 00 bf'],
  ] as const) {
    it(`${label}: QPACK_DECOMPRESSION_FAILED`, () => {
      expect(qpackError(() => decoder().decode(0, hex(bytes))).h3Code).toBe(DECOMPRESSION_FAILED);
    });
  }
});

describe('RFC 9204 §2.1.2, §2.2.1 blocked streams', () => {
  it('a stream beyond SETTINGS_QPACK_BLOCKED_STREAMS is QPACK_DECOMPRESSION_FAILED', () => {
    const d = decoder(4096, 2);
    expect(d.decode(0, hex('02 00 80'))).toBeUndefined();
    expect(d.decode(4, hex('02 00 80'))).toBeUndefined();
    // A second section on a stream already blocked does not count again.
    expect(d.decode(4, hex('00 00 d1'))).toBeUndefined();
    expect(qpackError(() => d.decode(8, hex('02 00 80'))).h3Code).toBe(DECOMPRESSION_FAILED);
  });

  it('a ninth section waiting on one blocked stream is H3_EXCESSIVE_LOAD', () => {
    const d = decoder(4096, 1);
    for (let i = 0; i < 8; i++) expect(d.decode(0, hex('02 00 80'))).toBeUndefined();
    const error = qpackError(() => d.decode(0, hex('00 00 d1')));
    expect(error.h3Code).toBe(0x107);
  });

  it('with SETTINGS_QPACK_BLOCKED_STREAMS 0, any blocking section fails', () => {
    expect(qpackError(() => decoder(4096, 0).decode(0, hex('02 00 80'))).h3Code).toBe(DECOMPRESSION_FAILED);
  });

  it('sections are delivered when their inserts arrive, in order per stream, then acknowledged', () => {
    const d = decoder(4096, 4);
    const got: [number, HeaderField[]][] = [];
    d.onUnblocked = (id, f) => got.push([id, f]);
    expect(d.decode(4, hex('03 00 80'))).toBeUndefined(); // needs 2 inserts
    expect(d.decode(4, hex('00 00 d1'))).toBeUndefined(); // behind it on the same stream
    expect(d.decode(8, hex('02 00 80'))).toBeUndefined(); // needs 1
    d.receiveEncoderStream(inserts(4096, [['a', '1']]));
    expect(got).toEqual([[8, [['a', '1']]]]);
    expect(toHex(d.takeDecoderStream())).toBe('88'); // the acknowledgment covers the insert
    d.receiveEncoderStream(hex('41 62 01 32').subarray(0, 2)); // half an instruction
    expect(got.length).toBe(1);
    d.receiveEncoderStream(hex('41 62 01 32').subarray(2));
    expect(got).toEqual([
      [8, [['a', '1']]],
      [4, [['b', '2']]],
      [4, [[':method', 'GET']]],
    ]);
    expect(d.blockedStreams).toBe(0);
    expect(toHex(d.takeDecoderStream())).toBe('84');
  });

  it('§4.4.2: cancelling a blocked stream drops its section and sends Stream Cancellation', () => {
    const d = decoder(4096, 1);
    let called = false;
    d.onUnblocked = () => (called = true);
    expect(d.decode(4, hex('02 00 80'))).toBeUndefined();
    d.cancelStream(4);
    expect(d.blockedStreams).toBe(0);
    expect(toHex(d.takeDecoderStream())).toBe('44');
    d.receiveEncoderStream(inserts(4096, [['a', '1']]));
    expect(called).toBe(false);
    expect(toHex(d.takeDecoderStream())).toBe('01');
    // The slot is free again.
    expect(d.decode(8, hex('03 00 80'))).toBeUndefined();
  });

  it('§4.4.2: a decoder with capacity 0 sends no Stream Cancellation', () => {
    const d = decoder(0, 0);
    d.cancelStream(4);
    expect(d.takeDecoderStream()).toBeUndefined();
  });

  it('§4.4.1: sections without dynamic references are not acknowledged', () => {
    const d = decoder();
    d.decode(0, hex('00 00 d1'));
    expect(d.takeDecoderStream()).toBeUndefined();
  });
});

describe('RFC 9114 §4.2.2 field section size bound', () => {
  it('over maxFieldSectionSize: a stream error after the section was processed and acknowledged', () => {
    const d = decoder(4096, 4, 100);
    d.receiveEncoderStream(inserts(4096, [['x', 'y'.repeat(20)]]));
    d.takeDecoderStream();
    // 53 octets per field: the second goes over 100.
    const error = qpackError(() => d.decode(4, hex('02 00 80 80')));
    expect(error).toBeInstanceOf(FieldSectionTooLargeError);
    expect(error.code).toBe('ERR_QPACK_FIELD_SECTION_TOO_LARGE');
    expect((error as FieldSectionTooLargeError).streamId).toBe(4);
    expect((error as FieldSectionTooLargeError).size).toBe(106);
    expect(toHex(d.takeDecoderStream())).toBe('84');
    expect(d.decode(8, hex('02 00 80'))).toEqual([['x', 'y'.repeat(20)]]);
  });

  it('a blocked section over the bound is reported through onUnblockedError, and the rest goes on', () => {
    const d = decoder(4096, 4, 100);
    const errors: number[] = [];
    const got: number[] = [];
    d.onUnblockedError = (id, e) => {
      expect(e).toBeInstanceOf(FieldSectionTooLargeError);
      errors.push(id);
    };
    d.onUnblocked = (id) => got.push(id);
    d.decode(4, hex('02 00 80 80 80'));
    d.decode(8, hex('02 00 80'));
    d.receiveEncoderStream(inserts(4096, [['x', 'y'.repeat(20)]]));
    expect(errors).toEqual([4]);
    expect(got).toEqual([8]);
    expect(toHex(d.takeDecoderStream())).toBe('8488');
  });
});
