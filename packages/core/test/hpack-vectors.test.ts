/**
 * The hpack-test-case corpus (https://github.com/http2jp/hpack-test-case), RFC 7541 end to end:
 * every story of every implementation is decoded case by case with one decoder per story, and
 * every raw-data story is encoded by us and decoded by us and by hpack.js.
 *
 * Corpus: $HPACK_VECTORS_DIR, or <repo root>/test/vectors/hpack (a copy of the corpus, with its LICENSE).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { HeaderField } from '../src/frame/types.js';
import { HpackDecoder, HpackEncoder } from '../src/hpack/index.js';

interface StoryCase {
  seqno?: number;
  header_table_size?: number | null;
  wire?: string;
  headers: Array<Record<string, string>>;
}
interface Story {
  cases: StoryCase[];
}

const here = dirname(fileURLToPath(import.meta.url));
const vectorsDir = process.env.HPACK_VECTORS_DIR ?? resolve(here, '../../../test/vectors/hpack');

function listStories(): Array<{ folder: string; file: string; path: string }> {
  if (!existsSync(vectorsDir)) return [];
  const stories: Array<{ folder: string; file: string; path: string }> = [];
  for (const folder of readdirSync(vectorsDir, { withFileTypes: true })) {
    if (!folder.isDirectory()) continue;
    for (const file of readdirSync(join(vectorsDir, folder.name)).sort()) {
      if (/^story_.*\.json$/.test(file)) stories.push({ folder: folder.name, file, path: join(vectorsDir, folder.name, file) });
    }
  }
  return stories;
}

const stories = listStories();
const wireStories = stories.filter((s) => s.folder !== 'raw-data');
const rawStories = stories.filter((s) => s.folder === 'raw-data');

const toFields = (headers: Array<Record<string, string>>): HeaderField[] =>
  headers.map((h) => {
    const entries = Object.entries(h);
    if (entries.length !== 1) throw new Error(`header object with ${entries.length} keys`);
    return entries[0];
  });

const fromHex = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));
const loadStory = (path: string): Story => JSON.parse(readFileSync(path, 'utf8')) as Story;

describe('hpack-test-case corpus', () => {
  it(`finds story files in ${vectorsDir}`, () => {
    expect(wireStories.length, `no encoded story_*.json files under ${vectorsDir} (set HPACK_VECTORS_DIR)`).toBeGreaterThan(0);
    expect(rawStories.length, `no raw-data/story_*.json files under ${vectorsDir} (set HPACK_VECTORS_DIR)`).toBeGreaterThan(0);
  });
});

describe('RFC 7541 decoder against every encoded story', () => {
  for (const { folder, file, path } of wireStories) {
    it(`${folder}/${file}`, () => {
      const story = loadStory(path);
      expect(story.cases.length).toBeGreaterThan(0);
      const decoder = new HpackDecoder();
      story.cases.forEach((c, i) => {
        const where = `${folder}/${file} seqno ${c.seqno ?? i}`;
        // Absent (or null, in some stories) means no change from what is in force.
        if (typeof c.header_table_size === 'number') decoder.setMaxTableSize(c.header_table_size);
        if (c.wire === undefined) throw new Error(`${where}: no wire`);
        let decoded: HeaderField[];
        try {
          decoded = decoder.decode(fromHex(c.wire));
        } catch (err) {
          throw new Error(`${where}: ${(err as Error).message}`, { cause: err });
        }
        expect(decoded, where).toEqual(toFields(c.headers));
      });
    });
  }
});

describe('RFC 7541 encoder on every raw-data story, decoded by us and by hpack.js', () => {
  const require = createRequire(import.meta.url);
  // hpack.js is CommonJS with no types.
  const hpackJs = require('hpack.js') as {
    decompressor: {
      create(options: { table: { size: number } }): {
        write(data: Buffer): void;
        execute(): void;
        read(): { name: string; value: string } | null;
      };
    };
  };

  for (const { folder, file, path } of rawStories) {
    it(`${folder}/${file}`, () => {
      const story = loadStory(path);
      expect(story.cases.length).toBeGreaterThan(0);
      const encoder = new HpackEncoder();
      const decoder = new HpackDecoder();
      const theirs = hpackJs.decompressor.create({ table: { size: 4096 } });
      story.cases.forEach((c, i) => {
        const where = `${folder}/${file} seqno ${c.seqno ?? i}`;
        const fields = toFields(c.headers);
        const block = encoder.encode(fields);
        expect(decoder.decode(block), `${where} (our decoder)`).toEqual(fields);
        theirs.write(Buffer.from(block));
        theirs.execute();
        const decoded: HeaderField[] = [];
        for (let h = theirs.read(); h !== null; h = theirs.read()) decoded.push([h.name, h.value]);
        expect(decoded, `${where} (hpack.js)`).toEqual(fields);
      });
    });
  }
});
