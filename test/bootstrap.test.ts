/**
 * scripts/bootstrap.mjs, the first step of `npm start`, `npm test` and `npm run build`: when it
 * installs, that it links and marks executable the workspace bins, and that in this checkout it is
 * silent and leaves `rhttp-agent` / `rhttp-intermediary` runnable from node_modules/.bin.
 */
import { execFile } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import { installReason, linkBins, lockHash } from '../scripts/bootstrap.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempRoot(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rhttp-bootstrap-'));
  temps.push(dir);
  return dir;
}
const setMtime = (file: string, seconds: number) => utimesSync(file, seconds, seconds);

describe('bootstrap: when to run npm ci', () => {
  it('installs when node_modules is missing', () => {
    const dir = tempRoot();
    writeFileSync(path.join(dir, 'package-lock.json'), '{"lockfileVersion":3}');
    expect(installReason(dir)).toBe('node_modules is missing');
  });

  it('installs when package-lock.json is newer than the install, unless the stamp records its hash', () => {
    const dir = tempRoot();
    const lock = path.join(dir, 'package-lock.json');
    const installed = path.join(dir, 'node_modules', '.package-lock.json');
    const stamp = path.join(dir, 'node_modules', '.rhttp-bootstrap-lock-sha256');
    writeFileSync(lock, '{"lockfileVersion":3,"v":1}');
    mkdirSync(path.dirname(installed));
    writeFileSync(installed, '{}');
    setMtime(installed, 1_000_000);
    setMtime(lock, 2_000_000);
    expect(installReason(dir)).toBe('package-lock.json changed since the last install');

    writeFileSync(stamp, `${lockHash(dir)}\n`);
    expect(installReason(dir)).toBeNull();

    writeFileSync(lock, '{"lockfileVersion":3,"v":2}');
    setMtime(lock, 2_000_000);
    expect(installReason(dir)).toBe('package-lock.json changed since the last install');

    setMtime(installed, 3_000_000);
    expect(installReason(dir)).toBeNull();
  });
});

describe('bootstrap: workspace bins', () => {
  it('marks a built bin executable and links it into node_modules/.bin the way npm does', async () => {
    const dir = tempRoot();
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ workspaces: ['tool'] }));
    mkdirSync(path.join(dir, 'tool', 'dist'), { recursive: true });
    writeFileSync(path.join(dir, 'tool', 'package.json'), JSON.stringify({ name: 'demo-tool', bin: { 'demo-tool': './dist/cli.js' } }));
    const cli = path.join(dir, 'tool', 'dist', 'cli.js');
    writeFileSync(cli, `#!${process.execPath}\nconsole.log('demo-tool ran with ' + process.argv.slice(2).join(' '));\n`);
    chmodSync(cli, 0o644);
    mkdirSync(path.join(dir, 'node_modules'));
    symlinkSync('../tool', path.join(dir, 'node_modules', 'demo-tool'));

    linkBins(dir);
    const link = path.join(dir, 'node_modules', '.bin', 'demo-tool');
    expect(statSync(cli).mode & 0o777).toBe(0o755);
    expect(readlinkSync(link)).toBe('../demo-tool/dist/cli.js');
    const { stdout } = await run(link, ['--help']);
    expect(stdout).toBe('demo-tool ran with --help\n');

    linkBins(dir);
    expect(readlinkSync(link)).toBe('../demo-tool/dist/cli.js');
  });

  it('leaves a node_modules/.bin entry it did not make alone', () => {
    const dir = tempRoot();
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ workspaces: ['tool'] }));
    mkdirSync(path.join(dir, 'tool', 'dist'), { recursive: true });
    writeFileSync(path.join(dir, 'tool', 'package.json'), JSON.stringify({ name: 'demo-tool', bin: './dist/cli.js' }));
    writeFileSync(path.join(dir, 'tool', 'dist', 'cli.js'), '#!/usr/bin/env node\n');
    mkdirSync(path.join(dir, 'node_modules', '.bin'), { recursive: true });
    const foreign = path.join(dir, 'node_modules', '.bin', 'demo-tool');
    writeFileSync(foreign, 'someone else\n');

    linkBins(dir);
    expect(lstatSync(foreign).isSymbolicLink()).toBe(false);
  });
});

describe('bootstrap in this checkout', () => {
  it('prints nothing when installed and built, and leaves the CLIs runnable through npx and bunx', async () => {
    const { stdout, stderr } = await run(process.execPath, ['scripts/bootstrap.mjs'], { cwd: root });
    expect(stdout + stderr).toBe('');
    for (const [name, target] of [
      ['rhttp-agent', '../rhttp-agent/dist/cli.js'],
      ['rhttp-intermediary', '../rhttp-intermediary/dist/cli.js'],
    ]) {
      expect(readlinkSync(path.join(root, 'node_modules', '.bin', name))).toBe(target);
      const viaNpx = await run('npx', ['--no-install', name, '--help'], { cwd: root });
      expect(viaNpx.stdout).toContain(`Usage: ${name} `);
    }
    const viaBunx = await run(path.join(root, 'node_modules', '.bin', 'bunx'), ['rhttp-agent', '--help'], { cwd: root });
    expect(viaBunx.stdout).toContain('Usage: rhttp-agent ');
  });
});
