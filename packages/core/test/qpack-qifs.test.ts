/**
 * QPACK offline interop (qpackers/qifs, RFC 9204 end to end): every committed encoder output of
 * six implementations (f5, ls-qpack, nghttp3, proxygen, qthingey, quinn) is decoded in full, in
 * file order, with the table size and blocked-stream limit its name gives, and each stream's
 * header list is compared with the QIF input. The error vectors must fail with QpackError.
 *
 * Vectors: test/vectors/qifs (a bounded subset; see its README.md).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { HeaderField } from '../src/frame/types.js';
import { QpackDecoder, QpackError, QpackErrorCode } from '../src/qpack/index.js';
import { parseEncoded, parseEncodedName, parseQif } from './support/qif.js';

const here = dirname(fileURLToPath(import.meta.url));
const vectors = resolve(here, 'vectors/qifs');

const qifCache = new Map<string, HeaderField[][]>();
function qif(name: string): HeaderField[][] {
  let lists = qifCache.get(name);
  if (lists === undefined) qifCache.set(name, (lists = parseQif(readFileSync(join(vectors, 'qifs', `${name}.qif`)))));
  return lists;
}

/** Decodes an encoded file: stream 0 to the encoder stream, the rest as field sections. Returns lists by stream id. */
function decodeFile(bytes: Uint8Array, tableSize: number, blockedStreams: number): { lists: Map<number, HeaderField[]>; maxBlocked: number } {
  const decoder = new QpackDecoder({ maxTableCapacity: tableSize, maxBlockedStreams: blockedStreams, maxFieldSectionSize: 1 << 20 });
  // The interop (from before RFC 9204 §3.2.3 made the initial capacity 0) starts the table at the
  // full size: of the six encoders here only proxygen sends Set Dynamic Table Capacity first.
  if (tableSize > 0) decoder.receiveEncoderStream(setCapacity(tableSize));
  const lists = new Map<number, HeaderField[]>();
  let maxBlocked = 0;
  decoder.onUnblocked = (streamId, fields) => {
    expect(lists.has(streamId)).toBe(false);
    lists.set(streamId, fields);
  };
  for (const { streamId, data } of parseEncoded(bytes)) {
    if (streamId === 0) {
      decoder.receiveEncoderStream(data);
    } else {
      const fields = decoder.decode(streamId, data);
      if (fields !== undefined) {
        expect(lists.has(streamId)).toBe(false);
        lists.set(streamId, fields);
      }
    }
    maxBlocked = Math.max(maxBlocked, decoder.blockedStreams);
    decoder.takeDecoderStream();
  }
  expect(decoder.blockedStreams).toBe(0);
  return { lists, maxBlocked };
}

/** Set Dynamic Table Capacity (RFC 9204 §4.3.1): 001 Capacity(5). */
function setCapacity(capacity: number): Uint8Array {
  const out: number[] = [];
  if (capacity < 31) return Uint8Array.of(0x20 | capacity);
  out.push(0x3f);
  let rest = capacity - 31;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  out.push(rest);
  return Uint8Array.from(out);
}

const files: { impl: string; file: string }[] = [];
for (const impl of readdirSync(join(vectors, 'encoded'), { withFileTypes: true })) {
  if (!impl.isDirectory() || impl.name === 'errors') continue;
  for (const file of readdirSync(join(vectors, 'encoded', impl.name)).sort()) files.push({ impl: impl.name, file });
}

describe('QPACK offline interop (qifs): decoding other implementations', () => {
  it('the vectors are there: six implementations, table sizes 0 to 4096, blocked streams 0 and 100, both ack modes', () => {
    const names = files.map((f) => parseEncodedName(f.file)!);
    expect(new Set(files.map((f) => f.impl)).size).toBe(6);
    expect(new Set(names.map((n) => n.tableSize))).toEqual(new Set([0, 256, 512, 4096]));
    expect(new Set(names.map((n) => n.blockedStreams))).toEqual(new Set([0, 100]));
    expect(new Set(names.map((n) => n.immediateAck))).toEqual(new Set([false, true]));
    expect(new Set(names.map((n) => n.qif))).toEqual(new Set(['netbsd', 'fb-req', 'fb-resp']));
  });

  let blockingSeen = 0;
  for (const { impl, file } of files) {
    it(`${impl}/${file}`, () => {
      const { qif: name, tableSize, blockedStreams } = parseEncodedName(file)!;
      const expected = qif(name);
      const { lists, maxBlocked } = decodeFile(readFileSync(join(vectors, 'encoded', impl, file)), tableSize, blockedStreams);
      expect(maxBlocked).toBeLessThanOrEqual(blockedStreams);
      if (maxBlocked > 0) blockingSeen++;
      expect([...lists.keys()].sort((a, b) => a - b)).toEqual(expected.map((_, i) => i + 1));
      for (let i = 0; i < expected.length; i++) expect(lists.get(i + 1), `stream ${i + 1}`).toEqual(expected[i]);
    });
  }

  it('some of those files really blocked streams at our decoder', () => {
    expect(blockingSeen).toBeGreaterThan(0);
  });

  it('examples.out.220.100.1: RFC 9204 Appendix B in the interop format', () => {
    const { lists } = decodeFile(readFileSync(join(vectors, 'encoded/examples.out.220.100.1')), 220, 100);
    expect(lists).toEqual(
      new Map<number, HeaderField[]>([
        [4, [[':path', '/index.html']]],
        [
          8,
          [
            [':authority', 'www.example.com'],
            [':path', '/sample/path'],
          ],
        ],
        [
          12,
          [
            [':authority', 'www.example.com'],
            [':path', '/'],
            ['custom-key', 'custom-value'],
          ],
        ],
      ]),
    );
  });
});

describe('QPACK offline interop (qifs): error vectors', () => {
  const { DECOMPRESSION_FAILED, ENCODER_STREAM_ERROR } = QpackErrorCode;
  // err9 (0xc0, static index 0) and err10 (0xfe, static index 62) were errors against the draft-era
  // 61-entry table; RFC 9204's static table has 99 entries from index 0, so both are valid.
  const valid: Record<string, HeaderField[]> = {
    err9: [[':authority', '']],
    err10: [['x-xss-protection', '1; mode=block']],
  };
  const expectedCode: Record<string, number> = { err11: ENCODER_STREAM_ERROR, err12: ENCODER_STREAM_ERROR };
  for (let i = 1; i <= 12; i++) {
    const name = `err${i}`;
    it(name, () => {
      const bytes = readFileSync(join(vectors, 'encoded/errors', name));
      if (valid[name] !== undefined) {
        expect(decodeFile(bytes, 4096, 100).lists.get(1)).toEqual(valid[name]);
        return;
      }
      let error: unknown;
      try {
        decodeFile(bytes, 4096, 100);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(QpackError);
      expect((error as QpackError).h3Code).toBe(expectedCode[name] ?? DECOMPRESSION_FAILED);
    });
  }
});
