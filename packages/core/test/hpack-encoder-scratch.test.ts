/**
 * The HPACK encoders share one output scratch (encoder.ts) and the dynamic table allocates its
 * ring on first use: blocks must stay independent of later encodes and of other encoders.
 */
import { describe, expect, it } from 'vitest';
import { HpackDecoder, HpackEncoder, type HeaderField } from '../src/index.js';

describe('RFC 7541 §6 HPACK encoder with a shared output scratch', () => {
  it('blocks from interleaved encoders decode with their own decoders and are not overwritten later', () => {
    const a = new HpackEncoder();
    const b = new HpackEncoder({ huffman: 'never' });
    const da = new HpackDecoder({ maxHeaderListSize: Infinity });
    const db = new HpackDecoder();
    const listA: HeaderField[] = [[':status', '200'], ['x-a', 'first'], ['content-type', 'text/plain']];
    const listB: HeaderField[] = [[':method', 'GET'], ['x-b', 'second'.repeat(50)]];
    const blockA = a.encode(listA);
    const copyA = blockA.slice();
    const blockB = b.encode(listB);
    const huge: HeaderField[] = [['x-huge', 'v'.repeat(100_000)]];
    const blockHuge = a.encode(huge);
    const blockA2 = a.encode(listA);
    b.encode(listB);
    expect(Array.from(blockA)).toEqual(Array.from(copyA));
    expect(da.decode(blockA)).toEqual(listA);
    expect(db.decode(blockB)).toEqual(listB);
    expect(da.decode(blockHuge)).toEqual(huge);
    expect(da.decode(blockA2)).toEqual(listA);
    // The second identical list is all indexed fields: one octet each.
    expect(blockA2.length).toBe(listA.length);
  });

  it('a block encoded behind reserved octets is the same block, starting that far in', () => {
    const list: HeaderField[] = [[':status', '200'], ['x-a', 'first'], ['content-type', 'text/plain'], ['x-long', 'l'.repeat(5000)]];
    const plain = new HpackEncoder().encode(list);
    const reserved = new HpackEncoder().encode(list, 9);
    expect(reserved.length).toBe(plain.length + 9);
    expect(Array.from(reserved.subarray(9))).toEqual(Array.from(plain));
  });

  it('a failed encode (non-Latin-1 value) does not disturb the next block', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    expect(() => encoder.encode([['x-bad', 'snow ☃']])).toThrow(/Latin-1/);
    const list: HeaderField[] = [[':status', '204'], ['x-ok', 'yes']];
    expect(decoder.decode(encoder.encode(list))).toEqual(list);
  });
});
