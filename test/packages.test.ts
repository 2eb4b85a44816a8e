import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './support/runtimes.js';
import { PUBLIC_PACKAGES } from './support/registry.js';

/**
 * What `npm publish` would upload for each public package: published together at one version,
 * depending on each other at exactly that version, and holding only the built JavaScript, its
 * declarations, package.json and README (test/e2e/registry.test.ts installs them for real).
 */
interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  main?: string;
  types?: string;
  bin?: Record<string, string>;
  exports?: Record<string, string | { types: string; default: string }>;
  dependencies?: Record<string, string>;
  scripts?: Record<string, string>;
}

const manifests = PUBLIC_PACKAGES.map(({ dir }) => JSON.parse(readFileSync(join(repoRoot, dir, 'package.json'), 'utf8')) as Manifest);
const ours = new Set<string>(PUBLIC_PACKAGES.map((p) => p.name));
/** Files a published package may hold (npm adds package.json, README and LICENSE itself). */
const ALLOWED_FILE = /^(package\.json|README\.md|LICENSE|dist\/.+(?<!\.map)\.(js|d\.ts))$/;

describe('public packages', () => {
  it('share one version, depend on each other at exactly it, and are not private', () => {
    const version = manifests[0]!.version;
    for (const m of manifests) {
      expect(m.version, m.name).toBe(version);
      expect(m.private, m.name).toBeUndefined();
      expect(m.scripts?.prepack, `${m.name} builds dist before it is packed`).toMatch(/tsc -b/);
      for (const [dep, range] of Object.entries(m.dependencies ?? {})) if (ours.has(dep)) expect(range, `${m.name} → ${dep}`).toBe(version);
    }
  });

  it('npm pack holds dist .js/.d.ts, package.json and README only, and every entry point', () => {
    // --ignore-scripts: `npm test` built dist already; prepack would run tsc -b again.
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', ...PUBLIC_PACKAGES.flatMap((p) => ['-w', p.name])], { cwd: repoRoot, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const packs = JSON.parse(r.stdout) as Array<{ name: string; files: Array<{ path: string; mode: number }> }>;
    expect(packs.map((p) => p.name).sort()).toEqual([...ours].sort());
    for (const pack of packs) {
      const m = manifests.find((x) => x.name === pack.name)!;
      const paths = pack.files.map((f) => f.path);
      expect(paths.filter((p) => !ALLOWED_FILE.test(p)), pack.name).toEqual([]);
      expect(paths, pack.name).toContain('README.md');
      const entries = [m.main, m.types, ...Object.values(m.bin ?? {}), ...Object.values(m.exports ?? {}).flatMap((e) => (typeof e === 'string' ? [e] : [e.types, e.default]))];
      for (const entry of entries) if (entry) expect(paths, `${pack.name} ${entry}`).toContain(entry.replace(/^\.\//, ''));
      for (const bin of Object.values(m.bin ?? {})) {
        expect(readFileSync(join(repoRoot, PUBLIC_PACKAGES.find((p) => p.name === m.name)!.dir, bin), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
      }
    }
  });
});
