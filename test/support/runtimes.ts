/**
 * Where the Bun and Deno binaries of this checkout are. Bun comes from the `bun` npm package
 * (node_modules/.bin/bun). Deno comes from its platform package `@deno/linux-x64-glibc`, an
 * optional dependency: the `deno` wrapper package cannot be locked here, because the registry
 * this project installs from lacks its other platforms' packages and `npm ci` then refuses the lock.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

function firstExisting(candidates: string[]): string | undefined {
  return candidates.find((p) => existsSync(p));
}

export const bunBin = firstExisting([join(repoRoot, 'node_modules/.bin/bun')]);
export const denoBin = firstExisting([join(repoRoot, 'node_modules/.bin/deno'), join(repoRoot, 'node_modules/@deno/linux-x64-glibc/deno')]);

/** The binary of a runtime, or a thrown error saying how to get it. */
export function runtimeBinary(name: 'bun' | 'deno'): string {
  const bin = name === 'bun' ? bunBin : denoBin;
  if (!bin) throw new Error(`${name} is not installed in node_modules: run npm ci (it comes from ${name === 'bun' ? 'the bun package' : '@deno/linux-x64-glibc'})`);
  return bin;
}
