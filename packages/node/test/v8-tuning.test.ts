import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/**
 * A child node process that keeps 300,000 objects from one object literal alive across scavenges,
 * the pattern V8 pretenures, with V8 printing its pretenuring decisions; `tune` first calls the
 * built helper (turbo builds this package before its tests run).
 */
function pretenuringDecisions(tune: boolean): number {
  const helper = new URL('../dist/v8-tuning.js', import.meta.url).href;
  const script = `
    ${tune ? `(await import(${JSON.stringify(helper)})).tuneForProxying();` : ''}
    const keep = [];
    for (let i = 0; i < 300000; i++) keep.push({ id: i, next: null });
    console.log('kept', keep.length);
  `;
  const child = spawnSync(process.execPath, ['--trace-gc', '--trace-pretenuring', '--trace-pretenuring-statistics', '--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(child.status, child.stderr).toBe(0);
  expect(child.stdout).toContain('kept 300000');
  return child.stdout.split('\n').filter((line) => /pretenuring: AllocationSite.*=> (maybe )?tenure$/.test(line)).length;
}

describe('tuneForProxying', () => {
  it('stops V8 from pretenuring allocation sites, which it does for the same program without it', () => {
    // Without the helper V8 decides to tenure the literal's site: the control that shows the
    // workload and the trace would catch the decision if the helper did not stop it.
    expect(pretenuringDecisions(false)).toBeGreaterThan(0);
    expect(pretenuringDecisions(true)).toBe(0);
  });
});
