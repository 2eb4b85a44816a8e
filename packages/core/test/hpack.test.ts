import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompressionError, Http2UsageError } from '../src/errors.js';
import type { HeaderField } from '../src/frame/types.js';
import { huffmanDecode, huffmanEncode, huffmanEncodedLength } from '../src/hpack/huffman.js';
import {
  DEFAULT_MAX_HEADER_LIST_SIZE,
  HeaderListTooLargeError,
  HpackDecoder,
  HpackEncoder,
  type HpackEncoderOptions,
} from '../src/hpack/index.js';
import { decodeInteger, encodeInteger, MAX_INTEGER } from '../src/hpack/integer.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const latin1 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');

function encodeInt(value: number, prefixBits: number, pattern = 0): Uint8Array {
  const out = new Uint8Array(8);
  return out.subarray(0, encodeInteger(out, 0, value, prefixBits, pattern));
}

function decodeInt(bytes: Uint8Array, prefixBits: number): { value: number; pos: number } {
  const cursor = { buf: bytes, pos: 0, end: bytes.length };
  const value = decodeInteger(cursor, prefixBits);
  return { value, pos: cursor.pos };
}

describe('RFC 7541 §5.1 / Appendix C.1 integer representation', () => {
  it('C.1.1 encodes 10 with a 5-bit prefix', () => {
    expect(toHex(encodeInt(10, 5))).toBe('0a');
    expect(decodeInt(hex('0a'), 5)).toEqual({ value: 10, pos: 1 });
  });
  it('C.1.2 encodes 1337 with a 5-bit prefix', () => {
    expect(toHex(encodeInt(1337, 5))).toBe('1f9a0a');
    expect(decodeInt(hex('1f9a0a'), 5)).toEqual({ value: 1337, pos: 3 });
  });
  it('C.1.3 encodes 42 starting at an octet boundary', () => {
    expect(toHex(encodeInt(42, 8))).toBe('2a');
    expect(decodeInt(hex('2a'), 8)).toEqual({ value: 42, pos: 1 });
  });
  it('keeps the bits above the prefix and ignores them when decoding', () => {
    expect(toHex(encodeInt(1337, 5, 0xe0))).toBe('ff9a0a');
    expect(decodeInt(hex('ff9a0a'), 5).value).toBe(1337);
  });
  it('accepts 2^31 - 1 and rejects 2^31 (implementation limit in value)', () => {
    expect(decodeInt(encodeInt(MAX_INTEGER, 5), 5).value).toBe(MAX_INTEGER);
    expect(() => decodeInt(hex('1f e1 ff ff ff 07'), 5)).toThrow(CompressionError);
  });
  it('rejects too many continuation octets even when they carry zeros (limit in octet length)', () => {
    expect(decodeInt(hex('1f 80 80 80 80 00'), 5).value).toBe(31);
    expect(() => decodeInt(hex('1f 80 80 80 80 80 00'), 5)).toThrow(CompressionError);
  });
  it('rejects a truncated integer', () => {
    expect(() => decodeInt(hex('1f'), 5)).toThrow(CompressionError);
    expect(() => decodeInt(hex('1f 9a'), 5)).toThrow(CompressionError);
  });
  it('round-trips any integer up to 2^31 - 1 at every prefix 1..8 (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_INTEGER }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 255 }), (value, prefix, high) => {
        const pattern = prefix === 8 ? 0 : high & ~((1 << prefix) - 1) & 0xff;
        const bytes = encodeInt(value, prefix, pattern);
        expect(bytes[0] & ~((1 << prefix) - 1) & 0xff).toBe(pattern);
        expect(decodeInt(bytes, prefix)).toEqual({ value, pos: bytes.length });
      }),
      { numRuns: 2000 },
    );
  });
});

describe('RFC 7541 §5.2 Huffman coding', () => {
  const huff = (s: string): Uint8Array => {
    const out = new Uint8Array(huffmanEncodedLength(s));
    expect(huffmanEncode(s, out, 0)).toBe(out.length);
    return out;
  };
  it('codes www.example.com as in C.4.1', () => {
    expect(toHex(huff('www.example.com'))).toBe('f1e3c2e5f23a6ba0ab90f4ff');
    const b = hex('f1e3c2e5f23a6ba0ab90f4ff');
    expect(huffmanDecode(b, 0, b.length)).toBe('www.example.com');
  });
  it('decodes the empty string and a one-symbol string with valid padding', () => {
    expect(huffmanDecode(new Uint8Array(0), 0, 0)).toBe('');
    expect(huffmanDecode(hex('1f'), 0, 1)).toBe('a'); // 00011 + 111
  });
  it('rejects a string containing EOS', () => {
    // 32 one bits: the 30-bit EOS code, then 2 bits.
    expect(() => huffmanDecode(hex('ffffffff'), 0, 4)).toThrow(CompressionError);
    // 'a' (00011), EOS (30 ones), then 5 bits of padding.
    expect(() => huffmanDecode(hex('1f ff ff ff ff'), 0, 5)).toThrow(/EOS/);
  });
  it('rejects padding longer than 7 bits', () => {
    expect(() => huffmanDecode(hex('1f ff'), 0, 2)).toThrow(CompressionError); // 'a' + 11 bits of ones
    expect(() => huffmanDecode(hex('ff'), 0, 1)).toThrow(CompressionError); // 8 bits of ones, no symbol
  });
  it('rejects padding that is not all ones', () => {
    expect(() => huffmanDecode(hex('18'), 0, 1)).toThrow(CompressionError); // 'a' + 000
    expect(() => huffmanDecode(hex('1e'), 0, 1)).toThrow(CompressionError); // 'a' + 110
  });
  it('round-trips arbitrary octet strings (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const s = latin1(bytes);
        const coded = huff(s);
        expect(huffmanDecode(coded, 0, coded.length)).toBe(s);
      }),
      { numRuns: 1000 },
    );
  });
});

/** One request or response of Appendix C: wire bytes, fields, and the dynamic table after it. */
interface Example {
  wire: string;
  fields: HeaderField[];
  table: HeaderField[];
  size: number;
}

const requests: HeaderField[][] = [
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']],
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
  [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']],
];
const requestTables: HeaderField[][] = [
  [[':authority', 'www.example.com']],
  [['cache-control', 'no-cache'], [':authority', 'www.example.com']],
  [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']],
];
const requestSizes = [57, 110, 164];

const date1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const date2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const location = 'https://www.example.com';
const cookie = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const responses: HeaderField[][] = [
  [[':status', '302'], ['cache-control', 'private'], ['date', date1], ['location', location]],
  [[':status', '307'], ['cache-control', 'private'], ['date', date1], ['location', location]],
  [[':status', '200'], ['cache-control', 'private'], ['date', date2], ['location', location], ['content-encoding', 'gzip'], ['set-cookie', cookie]],
];
const responseTables: HeaderField[][] = [
  [['location', location], ['date', date1], ['cache-control', 'private'], [':status', '302']],
  [[':status', '307'], ['location', location], ['date', date1], ['cache-control', 'private']],
  [['set-cookie', cookie], ['content-encoding', 'gzip'], ['date', date2]],
];
const responseSizes = [222, 222, 215];

const examples = (wires: string[], fields: HeaderField[][], tables: HeaderField[][], sizes: number[]): Example[] =>
  wires.map((wire, i) => ({ wire, fields: fields[i], table: tables[i], size: sizes[i] }));

const C3 = examples(
  ['828684410f7777772e6578616d706c652e636f6d', '828684be58086e6f2d6361636865', '828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565'],
  requests, requestTables, requestSizes,
);
const C4 = examples(
  ['828684418cf1e3c2e5f23a6ba0ab90f4ff', '828684be5886a8eb10649cbf', '828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf'],
  requests, requestTables, requestSizes,
);
const C5 = examples(
  [
    '4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d',
    '4803333037c1c0bf',
    '88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31',
  ],
  responses, responseTables, responseSizes,
);
const C6 = examples(
  [
    '488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3',
    '4883640effc1c0bf',
    '88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007',
  ],
  responses, responseTables, responseSizes,
);

function expectDecodes(examplesList: Example[], maxTableSize: number): void {
  const decoder = new HpackDecoder({ maxTableSize });
  for (const ex of examplesList) {
    expect(decoder.decode(hex(ex.wire))).toEqual(ex.fields);
    expect(decoder.tableEntries()).toEqual(ex.table);
    expect(decoder.tableSize).toBe(ex.size);
  }
}

function expectEncodes(examplesList: Example[], options: HpackEncoderOptions, firstPrefix = ''): void {
  const encoder = new HpackEncoder(options);
  examplesList.forEach((ex, i) => {
    expect(toHex(encoder.encode(ex.fields))).toBe((i === 0 ? firstPrefix : '') + ex.wire);
    expect(encoder.tableSize).toBe(ex.size);
  });
}

describe('RFC 7541 Appendix C.2 header field representations', () => {
  it('C.2.1 literal with indexing', () => {
    const decoder = new HpackDecoder();
    const wire = '400a637573746f6d2d6b65790d637573746f6d2d686561646572';
    expect(decoder.decode(hex(wire))).toEqual([['custom-key', 'custom-header']]);
    expect(decoder.tableEntries()).toEqual([['custom-key', 'custom-header']]);
    expect(decoder.tableSize).toBe(55);
    expect(toHex(new HpackEncoder({ huffman: 'never' }).encode([['custom-key', 'custom-header']]))).toBe(wire);
  });
  it('C.2.2 literal without indexing (the encoder indexes this field, so only decoding is checked)', () => {
    const decoder = new HpackDecoder();
    expect(decoder.decode(hex('040c2f73616d706c652f70617468'))).toEqual([[':path', '/sample/path']]);
    expect(decoder.tableEntries()).toEqual([]);
    expect(decoder.tableSize).toBe(0);
  });
  it('C.2.3 literal never indexed', () => {
    const decoder = new HpackDecoder();
    const wire = '100870617373776f726406736563726574';
    expect(decoder.decode(hex(wire))).toEqual([['password', 'secret']]);
    expect(decoder.tableSize).toBe(0);
    const encoder = new HpackEncoder({ huffman: 'never', neverIndex: ['password'] });
    expect(toHex(encoder.encode([['password', 'secret']]))).toBe(wire);
    expect(encoder.tableSize).toBe(0);
  });
  it('C.2.4 indexed header field', () => {
    const decoder = new HpackDecoder();
    expect(decoder.decode(hex('82'))).toEqual([[':method', 'GET']]);
    expect(decoder.tableSize).toBe(0);
    expect(toHex(new HpackEncoder().encode([[':method', 'GET']]))).toBe('82');
  });
});

describe('RFC 7541 Appendix C.3 / C.4 requests', () => {
  it('C.3 decodes requests without Huffman, table after each', () => expectDecodes(C3, 4096));
  it('C.4 decodes requests with Huffman, table after each', () => expectDecodes(C4, 4096));
  it('C.3 encodes the exact bytes without Huffman', () => expectEncodes(C3, { huffman: 'never' }));
  it('C.4 encodes the exact bytes with Huffman always', () => expectEncodes(C4, { huffman: 'always' }));
  it('C.4 encodes the exact bytes with Huffman auto (shorter wins)', () => expectEncodes(C4, {}));
});

describe('RFC 7541 Appendix C.5 / C.6 responses, table size 256, evictions', () => {
  it('C.5 decodes responses without Huffman, evicting', () => expectDecodes(C5, 256));
  it('C.6 decodes responses with Huffman, evicting', () => expectDecodes(C6, 256));
  // The examples assume both ends already use 256 octets; our encoder, capped at 256, says so
  // first with a size update (3fe101 = 256). set-cookie is indexed in the RFC, so neverIndex is off.
  it('C.5 encodes the exact bytes after a size update', () =>
    expectEncodes(C5, { maxTableSize: 256, huffman: 'never', neverIndex: [] }, '3fe101'));
  it('C.6 encodes the exact bytes after a size update', () =>
    expectEncodes(C6, { maxTableSize: 256, huffman: 'always', neverIndex: [] }, '3fe101'));
  it('C.5 is decoded after the same size update', () => {
    const decoder = new HpackDecoder();
    expect(decoder.decode(hex('3fe101' + C5[0].wire))).toEqual(C5[0].fields);
    expect(decoder.tableSize).toBe(222);
  });
});

describe('RFC 7541 decoding errors → CompressionError (COMPRESSION_ERROR, RFC 9113 §4.3)', () => {
  const rejects = (wire: string | Uint8Array, decoder = new HpackDecoder()) => {
    let error: unknown;
    try {
      decoder.decode(typeof wire === 'string' ? hex(wire) : wire);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CompressionError);
    expect((error as CompressionError).errorCode).toBe(0x9);
  };
  it('§6.1 index 0', () => rejects('80'));
  it('§2.3.3 indexed field beyond the tables', () => {
    rejects('be'); // 62 with an empty dynamic table
    const decoder = new HpackDecoder();
    decoder.decode(hex(C3[0].wire)); // one dynamic entry: 62 valid, 63 not
    expect(decoder.decode(hex('be'))).toEqual([[':authority', 'www.example.com']]);
    rejects('bf', decoder);
  });
  it('§2.3.3 literal name index beyond the tables', () => {
    rejects('7e 01 61'); // incremental, name index 62
    rejects('0f 2f 01 61'); // without indexing, name index 62
    rejects('1f 2f 01 61'); // never indexed, name index 62
  });
  it('§5.1 integer too large or too long', () => {
    rejects('ff ff ff ff ff 0f');
    rejects('ff 80 80 80 80 80 00');
  });
  it('truncated integer, truncated string, missing value', () => {
    rejects('ff');
    rejects('44 85 61');
    rejects('44 05 61 62');
    rejects('40 01 61'); // new name, no value
    rejects('44');
  });
  it('§5.2 Huffman: EOS, long padding, padding not ones', () => {
    expect(new HpackDecoder().decode(hex('44 81 1f'))).toEqual([[':path', 'a']]);
    rejects('44 84 ff ff ff ff');
    rejects('44 82 1f ff');
    rejects('44 81 18');
  });
  it('§4.2 dynamic table size update after a field', () => {
    rejects('82 20');
    rejects('82 3f e1 1f');
  });
  it('§6.3 dynamic table size update above the decoder limit', () => {
    const decoder = new HpackDecoder({ maxTableSize: 4096 });
    rejects(hex('3fe21f'), decoder); // 4097
    const ok = new HpackDecoder({ maxTableSize: 4096 });
    expect(ok.decode(hex('3fe11f 82'))).toEqual([[':method', 'GET']]); // 4096
    ok.setMaxTableSize(100);
    rejects(hex('3f 46 82'), ok); // 101 > 100
  });
  it('§4.2 a reduced limit must be signaled at the start of the next block', () => {
    const decoder = new HpackDecoder();
    decoder.decode(hex(C3[0].wire));
    decoder.setMaxTableSize(50);
    rejects('82', decoder);
    const again = new HpackDecoder();
    again.decode(hex(C3[0].wire));
    again.setMaxTableSize(50);
    expect(again.decode(hex('3f 13 82'))).toEqual([[':method', 'GET']]); // update to 50 evicts the 57-octet entry
    expect(again.tableSize).toBe(0);
    rejects('be', again);
  });
  it('§4.2 after shrinking then growing the limit, the smallest size must be signaled', () => {
    const decoder = new HpackDecoder();
    decoder.decode(hex(C3[0].wire));
    decoder.setMaxTableSize(0);
    decoder.setMaxTableSize(4096);
    rejects('3fe11f 82', decoder);
    const again = new HpackDecoder();
    again.decode(hex(C3[0].wire));
    again.setMaxTableSize(0);
    again.setMaxTableSize(4096);
    expect(again.decode(hex('20 3fe11f 82'))).toEqual([[':method', 'GET']]);
  });
  it('accepts a raised limit without an update, and an update up to it', () => {
    const decoder = new HpackDecoder();
    decoder.setMaxTableSize(8192);
    expect(decoder.decode(hex('82'))).toEqual([[':method', 'GET']]);
    expect(decoder.decode(hex('3fe13f 82'))).toEqual([[':method', 'GET']]); // 8192
  });
});

describe('RFC 7541 §4.2 / §6.3 encoder dynamic table size updates', () => {
  const fields: HeaderField[] = [['x-a', 'b']];
  it('emits an update at the start of the next block only', () => {
    const encoder = new HpackEncoder({ huffman: 'never' });
    encoder.encode(fields);
    encoder.setMaxTableSize(100);
    const block = encoder.encode(fields);
    expect(toHex(block.subarray(0, 2))).toBe('3f45'); // 100
    expect(toHex(encoder.encode(fields))).toBe('be'); // no second update; 'x-a: b' (36 octets) still fits in 100
  });
  it('emits two updates when the size shrank then grew, and the decoder accepts them', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    decoder.decode(encoder.encode(fields));
    encoder.setMaxTableSize(0);
    decoder.setMaxTableSize(0);
    encoder.setMaxTableSize(4096);
    decoder.setMaxTableSize(4096);
    const block = encoder.encode(fields);
    expect(toHex(block.subarray(0, 4))).toBe('203fe11f');
    expect(decoder.decode(block)).toEqual(fields);
    expect(decoder.tableSize).toBe(encoder.tableSize);
  });
  it('emits nothing when the effective size does not change, and never goes above its cap', () => {
    const encoder = new HpackEncoder({ maxTableSize: 1000 });
    expect(toHex(encoder.encode([[':method', 'GET']]))).toBe('3fc90782'); // the cap (1000) is signaled first
    encoder.setMaxTableSize(8000);
    expect(toHex(encoder.encode([[':method', 'GET']]))).toBe('82');
    encoder.setMaxTableSize(1000);
    expect(toHex(encoder.encode([[':method', 'GET']]))).toBe('82');
  });
  it('does not index an entry larger than the table (RFC 7541 §4.4 would only empty it)', () => {
    const encoder = new HpackEncoder({ huffman: 'never' });
    const big: HeaderField = ['x-big', 'v'.repeat(4096)];
    const block = encoder.encode([['x-a', 'b'], big]);
    expect(encoder.tableSize).toBe(36);
    expect(block[5] & 0xf0).toBe(0x00); // literal without indexing, new name
    const decoder = new HpackDecoder();
    expect(decoder.decode(block)).toEqual([['x-a', 'b'], big]);
    expect(decoder.tableSize).toBe(36);
  });
});

describe('RFC 7541 §7.1.3 never-indexed fields', () => {
  it('sends authorization, proxy-authorization, set-cookie and short cookies as Never Indexed', () => {
    const encoder = new HpackEncoder({ huffman: 'never' });
    for (const field of [
      ['authorization', 'Bearer x'],
      ['proxy-authorization', 'Basic y'],
      ['set-cookie', 'a=b'],
      ['cookie', 'sid=123'],
    ] as HeaderField[]) {
      const block = encoder.encode([field]);
      expect(block[0] & 0xf0, field[0]).toBe(0x10);
      expect(new HpackDecoder().decode(block)).toEqual([field]);
      // Sent again: still a literal, never an index.
      expect(encoder.encode([field])[0] & 0xf0).toBe(0x10);
    }
    expect(encoder.tableSize).toBe(0);
  });
  it('indexes cookies of 20 characters or more', () => {
    const encoder = new HpackEncoder();
    const field: HeaderField = ['cookie', 'session=0123456789abcdef'];
    expect(encoder.encode([field])[0] & 0xc0).toBe(0x40);
    expect(toHex(encoder.encode([field]))).toBe('be');
  });
});

describe('field octets are Latin-1 strings', () => {
  it('round-trips octets 0x80..0xff with and without Huffman', () => {
    const value = latin1(Uint8Array.from({ length: 128 }, (_, i) => 0x80 + i));
    for (const huffman of ['never', 'always', 'auto'] as const) {
      const block = new HpackEncoder({ huffman }).encode([['x-bin', value], ['x-e', 'caf\u00e9']]);
      expect(new HpackDecoder().decode(block)).toEqual([['x-bin', value], ['x-e', 'caf\u00e9']]);
    }
  });
  it('refuses characters above U+00FF', () => {
    expect(() => new HpackEncoder({ huffman: 'never' }).encode([['x', '\u0100']])).toThrow(Http2UsageError);
    expect(() => new HpackEncoder().encode([['x', 'a\u20ac']])).toThrow(Http2UsageError);
  });
});

describe('HPACK bomb (RFC 7541 §4.1 field size, RFC 9113 §6.5.2 MAX_HEADER_LIST_SIZE)', () => {
  it('defaults to 64 KiB', () => {
    expect(DEFAULT_MAX_HEADER_LIST_SIZE).toBe(65536);
  });
  it('rejects a block that references a big entry thousands of times, and keeps the table in sync', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    const big: HeaderField = ['x-big', 'a'.repeat(4000)];
    expect(decoder.decode(encoder.encode([big]))).toEqual([big]);
    // 5000 one-octet references (≈ 20 MB decoded), then a literal that is indexed.
    const bomb = new Uint8Array(5000 + 20);
    bomb.fill(0xbe, 0, 5000);
    const tail = hex('40 05 782d6e6577 03 6f6e65'); // x-new: one, with incremental indexing
    bomb.set(tail, 5000);
    let error: unknown;
    try {
      decoder.decode(bomb.subarray(0, 5000 + tail.length));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(HeaderListTooLargeError);
    expect(error).not.toBeInstanceOf(CompressionError);
    const tooLarge = error as HeaderListTooLargeError;
    expect(tooLarge.code).toBe('ERR_HTTP2_HEADER_LIST_TOO_LARGE');
    expect(tooLarge.limit).toBe(DEFAULT_MAX_HEADER_LIST_SIZE);
    expect(tooLarge.size).toBe(5000 * (5 + 4000 + 32) + (5 + 3 + 32));
    // The whole block was processed: x-new is at index 62 and x-big at 63.
    expect(decoder.decode(hex('be bf 82'))).toEqual([['x-new', 'one'], big, [':method', 'GET']]);
  });
  it('accepts a list exactly at the limit and rejects one octet more', () => {
    // [':method','GET'] = 7 + 3 + 32 = 42 octets; [':path','/'] = 38.
    expect(new HpackDecoder({ maxHeaderListSize: 80 }).decode(hex('82 84'))).toEqual([[':method', 'GET'], [':path', '/']]);
    expect(() => new HpackDecoder({ maxHeaderListSize: 79 }).decode(hex('82 84'))).toThrow(HeaderListTooLargeError);
  });
});

describe('encoder → decoder round trip (property)', () => {
  const names = ['content-type', 'x-custom', 'cookie', 'authorization', ':path', 'accept', 'x-a', 'etag'];
  const octets = fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 }).map((c) => String.fromCharCode(...c));
  const name = fc.oneof(fc.constantFrom(...names), fc.stringMatching(/^[a-z0-9-]{1,12}$/));
  const value = fc.oneof(fc.constantFrom('', 'a', 'text/html', '/', 'gzip'), octets, octets.map((s) => s.repeat(30)));
  const field = fc.tuple(name, value);
  const step = fc.oneof(
    { weight: 5, arbitrary: fc.array(field, { maxLength: 12 }).map((fields) => ({ fields }) as const) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 6000 }).map((size) => ({ size }) as const) },
  );
  it('decodes what it encodes over many blocks with size changes between them', () => {
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 1, maxLength: 30 }),
        fc.constantFrom('auto', 'always', 'never') as fc.Arbitrary<'auto' | 'always' | 'never'>,
        fc.constantFrom(4096, 256, 0),
        (steps, huffman, cap) => {
          const encoder = new HpackEncoder({ huffman, maxTableSize: cap });
          const decoder = new HpackDecoder();
          for (const s of steps) {
            if ('size' in s) {
              // SETTINGS_HEADER_TABLE_SIZE sent by the decoder's side and ACKed.
              decoder.setMaxTableSize(s.size);
              encoder.setMaxTableSize(s.size);
            } else {
              expect(decoder.decode(encoder.encode(s.fields))).toEqual(s.fields);
              expect(decoder.tableSize).toBe(encoder.tableSize);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
