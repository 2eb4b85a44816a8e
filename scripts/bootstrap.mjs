#!/usr/bin/env node
/**
 * First step of `npm start`, `npm test` and `npm run build`, so that both work as the very first
 * command on a fresh clone with nothing but Node and npm. node: built-ins only, because it runs
 * before any dependency is installed.
 *
 * 1. Install: `npm ci` when node_modules is missing or older than package-lock.json.
 * 2. Build: `tsc -b` (incremental, silent when up to date).
 * 3. Bins: make every workspace's bin executable and link it into node_modules/.bin. npm links a
 *    bin only if its file exists at install time, and dist/cli.js does not exist before the first
 *    build, so on a fresh clone `npx rhttp-agent` would find nothing.
 *
 * Prints nothing when there is nothing to do.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Where npm keeps what it installed: its copy of the lock, the bins, and our stamp. */
const modulesDir = (root) => path.join(root, 'node_modules');
/** npm writes this after every install into node_modules; without it there is no install. */
const installedLock = (root) => path.join(modulesDir(root), '.package-lock.json');
/** sha256 of the package-lock.json node_modules was installed from (mtimes alone change on checkouts). */
const stampFile = (root) => path.join(modulesDir(root), '.rhttp-bootstrap-lock-sha256');
/** Owner, group and others may execute: what npm itself sets on a linked bin. */
const EXECUTABLE_BITS = 0o111;

const say = (line) => console.error(`[bootstrap] ${line}`);

function fail(what, status) {
  say(`${what} failed${status === null ? '' : ` (exit ${status})`}`);
  process.exit(status || 1);
}

/** sha256 of the project's package-lock.json. */
export function lockHash(root) {
  return createHash('sha256').update(readFileSync(path.join(root, 'package-lock.json'))).digest('hex');
}

/** Why node_modules must be (re)installed, or null when it matches package-lock.json (hash or mtime). */
export function installReason(root, hash = lockHash(root)) {
  if (!existsSync(installedLock(root))) return 'node_modules is missing';
  if (existsSync(stampFile(root)) && readFileSync(stampFile(root), 'utf8').trim() === hash) return null;
  if (statSync(installedLock(root)).mtimeMs >= statSync(path.join(root, 'package-lock.json')).mtimeMs) return null;
  return 'package-lock.json changed since the last install';
}

function runNpm(root, args) {
  // Inside `npm start` / `npm test`, npm_execpath is the npm that runs us: use the same one.
  const npmCli = process.env.npm_execpath;
  const result = npmCli && /npm-cli\.js$/.test(npmCli)
    ? spawnSync(process.execPath, [npmCli, ...args], { cwd: root, stdio: 'inherit' })
    : spawnSync('npm', args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.error) fail(`npm ${args[0]} (${result.error.message})`, null);
  if (result.status !== 0) fail(`npm ${args[0]}`, result.status);
}

function install(root) {
  const hash = lockHash(root);
  const reason = installReason(root, hash);
  if (reason !== null) {
    say(`${reason}: running npm ci`);
    runNpm(root, ['ci', '--no-audit', '--no-fund']);
  }
  const stamp = stampFile(root);
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8').trim() !== hash) writeFileSync(stamp, `${hash}\n`);
}

function build(root) {
  const tsc = path.join(modulesDir(root), 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-b'], { cwd: root, stdio: 'inherit' });
  if (result.error || result.status !== 0) fail('tsc -b', result.status);
}

/** `bin` of a package.json as [name, relative path] pairs (a string bin is named after the package). */
function binsOf(pkg) {
  if (typeof pkg.bin === 'string') return [[pkg.name.replace(/^@[^/]+\//, ''), pkg.bin]];
  return Object.entries(pkg.bin ?? {});
}

/** Makes each workspace bin executable and links it into node_modules/.bin as npm would. */
export function linkBins(root) {
  const binDir = path.join(modulesDir(root), '.bin');
  const { workspaces = [] } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  for (const workspace of workspaces) {
    const pkgFile = path.join(root, workspace, 'package.json');
    if (!existsSync(pkgFile)) continue;
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
    for (const [name, target] of binsOf(pkg)) {
      const file = path.join(root, workspace, target);
      if (!existsSync(file)) {
        say(`${pkg.name}: bin ${name} -> ${target} was not built`);
        continue;
      }
      const mode = statSync(file).mode;
      if ((mode & EXECUTABLE_BITS) !== EXECUTABLE_BITS) chmodSync(file, mode | EXECUTABLE_BITS);
      if (process.platform === 'win32') continue; // npm writes .cmd shims there; `npm ci` after a build makes them
      // The same link npm makes: through the package's own folder in node_modules.
      const link = path.join(binDir, name);
      const want = path.posix.join('..', pkg.name, target.replace(/^\.\//, ''));
      let have = null;
      try {
        have = lstatSync(link).isSymbolicLink() ? readlinkSync(link) : 'not a link';
      } catch {
        // not there yet
      }
      if (have === want) continue;
      if (have !== null) {
        say(`node_modules/.bin/${name} exists (${have}), not ${want}: leaving it`);
        continue;
      }
      mkdirSync(binDir, { recursive: true });
      symlinkSync(want, link);
    }
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  install(repoRoot);
  build(repoRoot);
  linkBins(repoRoot);
}
