/**
 * Our QPACK encoder decoded by another implementation: nghttp3's decoder (through
 * interop/qpack-nghttp3-decode.c) reads our encodings of the qifs corpora, in the offline-interop
 * format, with and without the dynamic table and with the encoder stream late (blocked streams).
 *
 * Needs gcc and libnghttp3-dev (`apt-get install libnghttp3-dev`); skipped without them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { HeaderField } from '../src/frame/types.js';
import { parseQif, writeEncoded } from './support/qif.js';
import { encodeForInterop } from './support/qpack-link.js';

const here = dirname(fileURLToPath(import.meta.url));
const available = existsSync('/usr/include/nghttp3/nghttp3.h') && ['/usr/bin/gcc', '/usr/bin/cc'].some((p) => existsSync(p));

describe.skipIf(!available)('QPACK interop: nghttp3 decodes our encoder (RFC 9204)', () => {
  const dir = available ? mkdtempSync(join(tmpdir(), 'rhttp-qpack-nghttp3-')) : '';
  const tool = join(dir, 'qpack-nghttp3-decode');
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the decoder builds', () => {
    execFileSync('cc', ['-O1', '-o', tool, resolve(here, 'interop/qpack-nghttp3-decode.c'), '-lnghttp3']);
  });

  for (const name of ['netbsd', 'fb-req', 'fb-resp']) {
    for (const [capacity, blocked, delay] of [
      [0, 0, 0],
      [256, 100, 0],
      [4096, 0, 0],
      [4096, 100, 3],
      [4096, 16, 5],
      [512, 100, 2],
    ]) {
      it(`${name}: table ${capacity}, ${blocked} blocked streams allowed, encoder stream ${delay} sections late`, () => {
        const lists = parseQif(readFileSync(resolve(here, 'vectors/qifs/qifs', `${name}.qif`)));
        const file = join(dir, `${name}.out.${capacity}.${blocked}.${delay}`);
        writeFileSync(file, writeEncoded(encodeForInterop(lists, capacity, blocked, delay)));
        const out = execFileSync(tool, [file, String(capacity), String(blocked)], { maxBuffer: 64 << 20 }).toString('latin1');
        const decoded = new Map<number, HeaderField[]>();
        const ended = new Set<number>();
        for (const line of out.split('\n')) {
          if (line === '') continue;
          const [id, n, ...v] = line.split('\t');
          if (n === '#end') ended.add(Number(id));
          else {
            const fields = decoded.get(Number(id)) ?? [];
            fields.push([n, v.join('\t')]);
            decoded.set(Number(id), fields);
          }
        }
        expect(ended.size).toBe(lists.length);
        for (let i = 0; i < lists.length; i++) expect(decoded.get(i + 1) ?? [], `stream ${i + 1}`).toEqual(lists[i]);
      });
    }
  }
});
