// HPACK throughput: @rhttp/core (built dist/) against hpack.js, side by side in one run, over every
// raw-data story of the hpack-test-case corpus. Build first: `npx tsc -b` from the repo root.
//
//   node test/bench/hpack.mjs            (HPACK_VECTORS_DIR overrides the corpus location)
//
// Each round encodes (or decodes) every story with a fresh encoder (decoder) per story, as one
// connection would; the decode input is the same wire bytes for both (produced by our encoder).
// Reported: the median headers/s over the rounds after warm-up.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { HpackDecoder, HpackEncoder } from '../../packages/core/dist/index.js';

const require = createRequire(import.meta.url);
const hpackJs = require('hpack.js');

const here = dirname(fileURLToPath(import.meta.url));
const WARMUP_ROUNDS = 3;
const ROUNDS = 9;

function loadStories() {
  const dir = join(process.env.HPACK_VECTORS_DIR ?? resolve(here, '../vectors/hpack'), 'raw-data');
  const files = readdirSync(dir).filter((f) => /^story_.*\.json$/.test(f)).sort();
  if (files.length === 0) throw new Error(`no story_*.json in ${dir}`);
  return files.map((f) =>
    JSON.parse(readFileSync(join(dir, f), 'utf8')).cases.map((c) => c.headers.map((h) => Object.entries(h)[0])),
  );
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function time(fn) {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export async function benchHpack() {
  const stories = loadStories();
  const headerCount = stories.flat(2).length;
  const theirStories = stories.map((cases) => cases.map((fields) => fields.map(([name, value]) => ({ name, value }))));
  const wires = stories.map((cases) => {
    const encoder = new HpackEncoder();
    return cases.map((fields) => encoder.encode(fields));
  });
  const theirWires = wires.map((blocks) => blocks.map((b) => Buffer.from(b)));

  let sink = 0;
  const impls = {
    'ours encode': () => {
      for (const cases of stories) {
        const encoder = new HpackEncoder();
        for (const fields of cases) sink += encoder.encode(fields).length;
      }
    },
    'hpack.js encode': () => {
      for (const cases of theirStories) {
        const comp = hpackJs.compressor.create({ table: { size: 4096 } });
        for (const fields of cases) {
          comp.write(fields);
          sink += comp.read().length;
        }
      }
    },
    'ours decode': () => {
      for (const blocks of wires) {
        const decoder = new HpackDecoder();
        for (const block of blocks) sink += decoder.decode(block).length;
      }
    },
    'hpack.js decode': () => {
      for (const blocks of theirWires) {
        const decomp = hpackJs.decompressor.create({ table: { size: 4096 } });
        for (const block of blocks) {
          decomp.write(block);
          decomp.execute();
          for (let h = decomp.read(); h !== null; h = decomp.read()) sink++;
        }
      }
    },
  };

  const samples = Object.fromEntries(Object.keys(impls).map((k) => [k, []]));
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    for (const [name, fn] of Object.entries(impls)) {
      const seconds = time(fn);
      if (round >= WARMUP_ROUNDS) samples[name].push(headerCount / seconds);
    }
  }
  if (sink === 0) throw new Error('nothing was measured');

  const rate = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  const encodeRatio = rate['ours encode'] / rate['hpack.js encode'];
  const decodeRatio = rate['ours decode'] / rate['hpack.js decode'];
  const fmt = (n) => Math.round(n).toLocaleString('en-US').padStart(12);
  const table = [
    `HPACK over ${stories.length} raw-data stories, ${headerCount} headers per round; median of ${ROUNDS} rounds (headers/s)`,
    `            ${'@rhttp/core'.padStart(12)} ${'hpack.js'.padStart(12)}   ours/hpack.js`,
    `encode      ${fmt(rate['ours encode'])} ${fmt(rate['hpack.js encode'])}   ${encodeRatio.toFixed(2)}×`,
    `decode      ${fmt(rate['ours decode'])} ${fmt(rate['hpack.js decode'])}   ${decodeRatio.toFixed(2)}×`,
  ].join('\n');
  return { encodeRatio, decodeRatio, table };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { table } = await benchHpack();
  console.log(table);
}
