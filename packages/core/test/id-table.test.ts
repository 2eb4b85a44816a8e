import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { IdTable } from '../src/id-table.js';

type Op = { kind: 'set'; id: number; value: number } | { kind: 'delete'; id: number } | { kind: 'get'; id: number };

/** Ids from a small range (so sets, gets and deletes meet), near 2^32, and runs of odd ids like HTTP/2 streams. */
const idArb = fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 0xffff_ff00, max: 0xffff_ffff }), fc.integer({ min: 0, max: 200 }).map((n) => 2 * n + 1));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), id: idArb, value: fc.integer() }),
  fc.record({ kind: fc.constant('delete' as const), id: idArb }),
  fc.record({ kind: fc.constant('get' as const), id: idArb }),
);

describe('IdTable', () => {
  it('answers as a Map does under any sequence of sets, deletes and gets', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 400 }), (ops) => {
        const table = new IdTable<number>();
        const model = new Map<number, number>();
        for (const op of ops) {
          if (op.kind === 'set') {
            table.set(op.id, op.value);
            model.set(op.id, op.value);
          } else if (op.kind === 'delete') {
            expect(table.delete(op.id)).toBe(model.delete(op.id));
          } else {
            expect(table.get(op.id)).toBe(model.get(op.id));
            expect(table.has(op.id)).toBe(model.has(op.id));
          }
          expect(table.size).toBe(model.size);
        }
        // Every entry the model holds is still found after all the shifting deletes did.
        for (const [id, value] of model) expect(table.get(id)).toBe(value);
        expect(table.values().sort((a, b) => a - b)).toEqual([...model.values()].sort((a, b) => a - b));
      }),
      { numRuns: 500 },
    );
  });

  it('keeps a thousand open streams of a long connection through 200,000 of them', () => {
    const table = new IdTable<{ id: number }>();
    const open: number[] = [];
    let deleted = 0;
    for (let id = 1; id < 400_000; id += 2) {
      table.set(id, { id });
      open.push(id);
      if (open.length > 1_000 && table.delete(open.shift()!)) deleted++;
    }
    expect(deleted).toBe(200_000 - 1_000);
    expect(table.size).toBe(1_000);
    for (const id of open) expect(table.get(id)?.id).toBe(id);
    expect(table.get(1)).toBeUndefined();
  });

  it('refuses ids it cannot hold', () => {
    const table = new IdTable<string>();
    for (const id of [0, -1, 1.5, 2 ** 32, Number.NaN]) expect(() => table.set(id, 'x')).toThrow(RangeError);
    expect(table.size).toBe(0);
    // 0 marks an empty slot inside: with entries present it is still neither found nor deleted.
    table.set(7, 'seven');
    for (const id of [0, -1, 1.5, 2 ** 32]) {
      expect(table.has(id)).toBe(false);
      expect(table.get(id)).toBeUndefined();
      expect(table.delete(id)).toBe(false);
    }
    expect(table.size).toBe(1);
    expect(table.get(7)).toBe('seven');
  });

  it('is not promoted scavenge after scavenge once a full GC ran, as a churned Map is (V8 11.3)', () => {
    // One process per structure: entries added and removed as requests come and go, a full GC in
    // the middle, then V8's own count of what each later scavenge promoted (--trace-gc-nvp).
    const promotedAfterFullGc = (structure: 'map' | 'table'): number[] => {
      const script = `
        const { IdTable } = await import(${JSON.stringify(new URL('../dist/id-table.js', import.meta.url).href)});
        const table = ${structure === 'map' ? 'new Map()' : 'new IdTable()'};
        let id = 1;
        const open = [];
        for (let round = 0; round < 6000; round++) {
          for (let k = 0; k < 50; k++) {
            const request = { id, parts: Array.from({ length: 40 }, (_, i) => ({ i })) };
            table.set(id++, request);
            open.push(request);
            if (open.length > 10) table.delete(open.shift().id);
          }
          if (round === 2000) { globalThis.gc(); console.log('FULL-GC'); }
        }
      `;
      const child = spawnSync(process.execPath, ['--expose-gc', '--trace-gc-nvp', '--input-type=module', '-e', script], { encoding: 'utf8' });
      expect(child.status, child.stderr).toBe(0);
      const after = child.stdout.slice(child.stdout.indexOf('FULL-GC'));
      expect(after).toContain('FULL-GC');
      return [...after.matchAll(/gc=s .*? promoted=(\d+)/g)].map((m) => Number(m[1]));
    };
    const map = promotedAfterFullGc('map');
    const table = promotedAfterFullGc('table');
    expect(map.length).toBeGreaterThan(5);
    expect(table.length).toBeGreaterThan(5);
    const total = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    // The control: the Map drags its requests into the old generation (megabytes per scavenge).
    expect(total(map)).toBeGreaterThan(10_000_000);
    // The table promotes next to nothing: no more than one scavenge's few live requests in all.
    expect(total(table)).toBeLessThan(1_000_000);
  });
});
