#!/usr/bin/env node
/**
 * `npm run build:binaries`: single-file executables of the agent, which need no runtime installed.
 *
 *   dist/bin/rhttp-agent-<os>-<arch>        `bun build --compile` (Bun from the bun devDependency)
 *   dist/bin/rhttp-agent-deno-<os>-<arch>   `deno compile` (Deno from @deno/linux-x64-glibc)
 *
 * Only the host's target is built: both tools download the runtime of any other target (Bun from
 * the npm registry, Deno from dl.deno.land), and this build must work offline. `deno compile`
 * downloads its base binary (denort) even for the host; when it cannot, the Deno executable is
 * skipped with a line saying so (DENORT_BIN=/path/to/denort builds it offline), and the script
 * still exits 0. Any other failure exits 1.
 *
 * The Deno executable is compiled from one ESM file that Bun bundles first (the agent and its
 * dependencies, node: built-ins left as imports): `deno compile` of the workspace itself would
 * embed all of node_modules (over 500 MB here).
 *
 * Usage: node scripts/build-binaries.mjs [--out DIR] [--deno-bundle FILE]
 *   --out DIR            where the executables go (default dist/bin); run `npm run build` first,
 *                        which `npm run build:binaries` does
 *   --deno-bundle FILE   also keep the bundle that deno compile embeds (the tests run it with
 *                        `deno run` when the executable could not be built)
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(repoRoot, 'scripts/agent-binary-entry.mjs');
const agentCli = path.join(repoRoot, 'packages/agent/dist/cli.js');
const bunBin = path.join(repoRoot, 'node_modules/.bin/bun');
const denoBin = [path.join(repoRoot, 'node_modules/.bin/deno'), path.join(repoRoot, 'node_modules/@deno/linux-x64-glibc/deno')].find((p) => existsSync(p));
/** What `deno compile` prints when it could not download denort: the Deno executable is skipped. */
const DENORT_DOWNLOAD_FAILED = /dl\.deno\.land|error sending request|dns error|Setting up base binary/;
const MIB = 1024 * 1024;

const say = (line) => console.error(`[build:binaries] ${line}`);

/** Host target in the names Bun and Deno release under: linux-x64, darwin-arm64, windows-x64, … */
function hostTarget() {
  const os = { linux: 'linux', darwin: 'darwin', win32: 'windows' }[process.platform];
  const arch = { x64: 'x64', arm64: 'arm64' }[process.arch];
  if (!os || !arch) throw new Error(`no single-file executable for ${process.platform}-${process.arch}`);
  return `${os}-${arch}`;
}

function run(command, args, opts = {}) {
  const result = spawnSync(command, args, { cwd: opts.cwd ?? repoRoot, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' } });
  return { ok: !result.error && result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? `\n${result.error.message}` : ''}` };
}

/** `file` relative to the current folder when it is inside it, else absolute. */
function shown(file) {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') ? relative : file;
}

function describe(file) {
  return `${shown(file)} (${(statSync(file).size / MIB).toFixed(0)} MiB)`;
}

export function buildBinaries(outDir, denoBundleCopy) {
  if (!existsSync(agentCli)) throw new Error(`${agentCli} is missing: run npm run build first`);
  if (!existsSync(bunBin)) throw new Error(`${bunBin} is missing: run npm ci (the bun devDependency provides it)`);
  mkdirSync(outDir, { recursive: true });
  const target = hostTarget();
  const suffix = process.platform === 'win32' ? '.exe' : '';
  const built = [];
  const skipped = [];

  // 1. Bun: the host's own runtime is the base, so nothing is downloaded.
  const bunOut = path.join(outDir, `rhttp-agent-${target}${suffix}`);
  const bun = run(bunBin, ['build', '--compile', entry, '--outfile', bunOut]);
  if (!bun.ok) throw new Error(`bun build --compile failed:\n${bun.output}`);
  built.push(bunOut);
  say(`wrote ${describe(bunOut)}`);

  // 2. Deno: bundle to one file outside the workspace (no package.json for Deno to find), then compile it.
  const denoOut = path.join(outDir, `rhttp-agent-deno-${target}${suffix}`);
  if (!denoBin) {
    skipped.push({ file: denoOut, reason: 'deno is not installed in node_modules (npm ci installs @deno/linux-x64-glibc)' });
  } else {
    const stage = mkdtempSync(path.join(tmpdir(), 'rhttp-deno-compile-'));
    try {
      const bundle = path.join(stage, 'rhttp-agent.mjs');
      const bundled = run(bunBin, ['build', '--target=node', '--format=esm', entry, '--outfile', bundle]);
      if (!bundled.ok) throw new Error(`bun build (bundle for deno compile) failed:\n${bundled.output}`);
      if (denoBundleCopy) copyFileSync(bundle, denoBundleCopy);
      rmSync(denoOut, { force: true });
      const deno = run(denoBin, ['compile', '-A', '--no-config', '--output', denoOut, bundle], { cwd: stage });
      if (deno.ok) {
        built.push(denoOut);
        say(`wrote ${describe(denoOut)}`);
      } else if (DENORT_DOWNLOAD_FAILED.test(deno.output)) {
        skipped.push({ file: denoOut, reason: 'deno compile downloads its base binary (denort) from dl.deno.land and could not reach it; set DENORT_BIN=/path/to/denort (the same Deno version) to build it offline' });
      } else {
        throw new Error(`deno compile failed:\n${deno.output}`);
      }
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  }
  for (const { file, reason } of skipped) say(`skipped ${shown(file)}: ${reason}`);
  return { built, skipped };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, 'deno-bundle': { type: 'string' } } });
  try {
    buildBinaries(path.resolve(values.out ?? path.join(repoRoot, 'dist/bin')), values['deno-bundle'] && path.resolve(values['deno-bundle']));
  } catch (error) {
    say(error.message);
    process.exit(1);
  }
}
