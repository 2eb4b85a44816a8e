/**
 * Build the agent (and @rhttp/core) before tests that run dist/cli.js. Test files run in parallel
 * workers, so builds take turns under a lock directory: two `tsc -b` writing dist/ at once could
 * leave a half-written file for the other to run.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const cliPath = join(repoRoot, 'packages/agent/dist/cli.js');

/** A lock older than this is taken to be left over from a crashed run. */
const LOCK_WAIT_MS = 120_000;

export function buildAgent(): { status: number | null; output: string } {
  const lock = join(tmpdir(), `rhttp-agent-build-${Buffer.from(repoRoot).toString('hex').slice(-16)}.lock`);
  const deadline = Date.now() + LOCK_WAIT_MS;
  let locked = false;
  while (!locked && Date.now() < deadline) {
    try {
      mkdirSync(lock);
      locked = true;
    } catch {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
  try {
    const r = spawnSync('npx', ['tsc', '-b', 'packages/agent'], { cwd: repoRoot, encoding: 'utf8' });
    return { status: r.status, output: r.stdout + r.stderr };
  } finally {
    if (locked) rmdirSync(lock);
  }
}
