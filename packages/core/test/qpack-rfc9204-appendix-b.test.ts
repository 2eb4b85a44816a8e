/**
 * RFC 9204 Appendix B: the encoding examples, decoded byte for byte, with the decoder
 * instructions our decoder emits and the dynamic table it ends with after each step.
 */
import { describe, expect, it } from 'vitest';
import { QpackDecoder, QpackEncoder } from '../src/qpack/index.js';

function hex(s: string): Uint8Array {
  const clean = s.replace(/[^0-9a-f]/gi, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function toHex(b: Uint8Array | undefined): string {
  return b === undefined ? '' : Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

const options = { maxTableCapacity: 220, maxBlockedStreams: 1, maxFieldSectionSize: 65536 };

describe('RFC 9204 Appendix B (decoder)', () => {
  it('B.1 literal field line with name reference: no dynamic table, nothing on the decoder stream', () => {
    const decoder = new QpackDecoder(options);
    expect(decoder.decode(0, hex('0000 510b 2f69 6e64 6578 2e68 746d 6c'))).toEqual([[':path', '/index.html']]);
    expect(decoder.takeDecoderStream()).toBeUndefined();
  });

  it('B.2–B.5 in sequence: inserts, post-base and relative references, acknowledgments, duplicate, eviction', () => {
    const decoder = new QpackDecoder(options);
    // B.2 Dynamic Table
    decoder.receiveEncoderStream(hex('3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d c10c 2f73 616d 706c 652f 7061 7468'));
    expect(decoder.tableCapacity).toBe(220);
    expect(decoder.tableEntries()).toEqual([
      [':authority', 'www.example.com'],
      [':path', '/sample/path'],
    ]);
    expect(decoder.tableSize).toBe(106);
    expect(decoder.decode(4, hex('0381 10 11'))).toEqual([
      [':authority', 'www.example.com'],
      [':path', '/sample/path'],
    ]);
    // The Section Acknowledgment covers both inserts: no Insert Count Increment.
    expect(toHex(decoder.takeDecoderStream())).toBe('84');

    // B.3 Speculative Insert
    decoder.receiveEncoderStream(hex('4a63 7573 746f 6d2d 6b65 790c 6375 7374 6f6d 2d76 616c 7565'));
    expect(toHex(decoder.takeDecoderStream())).toBe('01');
    expect(decoder.tableSize).toBe(160);

    // B.4 Duplicate Instruction, Stream Cancellation
    decoder.receiveEncoderStream(hex('02'));
    expect(decoder.tableEntries()[3]).toEqual([':authority', 'www.example.com']);
    expect(decoder.tableSize).toBe(217);
    expect(decoder.decode(8, hex('0500 80 c1 81'))).toEqual([
      [':authority', 'www.example.com'],
      [':path', '/'],
      ['custom-key', 'custom-value'],
    ]);
    // The example's stream is then reset: its decoder sends Stream Cancellation (Stream=8).
    decoder.takeDecoderStream();
    decoder.cancelStream(8);
    expect(toHex(decoder.takeDecoderStream())).toBe('48');

    // B.5 Dynamic Table Insert, Eviction
    decoder.receiveEncoderStream(hex('810d 6375 7374 6f6d 2d76 616c 7565 32'));
    expect(toHex(decoder.takeDecoderStream())).toBe('01');
    expect(decoder.tableEntries()).toEqual([
      [':path', '/sample/path'],
      ['custom-key', 'custom-value'],
      [':authority', 'www.example.com'],
      ['custom-key', 'custom-value2'],
    ]);
    expect(decoder.tableSize).toBe(215);
  });
});

describe('RFC 9204 Appendix B (encoder side)', () => {
  it('B.1: the encoder writes the same representation for :path=/index.html (its value Huffman-coded, being shorter)', () => {
    const encoder = new QpackEncoder();
    const section = encoder.encode(0, [[':path', '/index.html']]);
    // Prefix 0000, then 0101 0001: Literal Field Line with Name Reference, static index 1; then
    // H=1 and the 8-octet Huffman coding of the 11-octet value.
    expect(toHex(section.subarray(0, 4))).toBe('00005188');
    expect(section.length).toBe(4 + 8);
    expect(encoder.takeEncoderStream()).toBeUndefined();
    expect(new QpackDecoder(options).decode(0, section)).toEqual([[':path', '/index.html']]);
  });
});
