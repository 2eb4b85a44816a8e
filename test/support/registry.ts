/**
 * A private npm registry for the tests: verdaccio (a devDependency) on 127.0.0.1 with no uplinks,
 * its storage in a temporary folder. The project's public packages are published to it with
 * `npm publish`, and the third-party packages they depend on are published to it from
 * node_modules (the exact versions of package-lock.json), so an install against it needs nothing
 * but 127.0.0.1.
 *
 * Also: the environment a clean client gets (no npm_* variables inherited from `npm test`, a home,
 * a cache and a temp dir of its own, so nothing comes from this machine's caches).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { basename, dirname, join } from 'node:path';
import { repoRoot } from './runtimes.js';
import { freePort, startProcess, type Proc } from '../e2e/support.js';

/** The packages a user installs, in publishing order (dependencies first), and their folders. */
export const PUBLIC_PACKAGES = [
  { name: '@rhttp/core', dir: 'packages/core' },
  { name: '@rhttp/broker', dir: 'packages/broker' },
  { name: '@rhttp/node', dir: 'packages/node' },
  { name: 'rhttp-agent', dir: 'packages/agent' },
  { name: 'rhttp-intermediary', dir: 'apps/intermediary' },
] as const;

const verdaccioBin = join(repoRoot, 'node_modules/verdaccio/bin/verdaccio');
/** How long verdaccio may take to answer /-/ping: it loads ~300 modules, slowly on a busy CI machine. */
const REGISTRY_READY_TIMEOUT_MS = 60_000;
/** The one user the tests publish as (verdaccio's htpasswd plugin creates it on first login). */
const PUBLISHER = { name: 'rhttp-publisher', password: 'rhttp-test-password' };
/** Output kept per process for failure messages: enough for an npm error log's tail. */
const OUTPUT_TAIL_CHARS = 16_000;

/** Runs a command to completion; throws with its output when it fails. */
export function run(command: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): string {
  const r = spawnSync(command, args, { cwd: opts.cwd, env: opts.env, encoding: 'utf8', timeout: opts.timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.error || r.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${output.slice(-OUTPUT_TAIL_CHARS)}`);
  }
  return r.stdout;
}

// ------------------------------------------------------------------ environment

/**
 * The environment of a user's shell with `registry` as the only registry: this process's
 * environment without npm's and Bun's and Deno's settings (`npm test` exports dozens of npm_config_*),
 * with a home, caches and a temp dir under `root`.
 */
export function cleanClientEnv(root: string, registry: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|NPM_|BUN_|DENO_|NODE_OPTIONS$|NODE_PATH$|INIT_CWD$|VITEST)/i.test(k)) continue;
    env[k] = v;
  }
  const home = join(root, 'home');
  const tmp = join(root, 'tmp');
  for (const dir of [home, tmp]) mkdirSync(dir, { recursive: true });
  const userconfig = join(home, '.npmrc');
  if (!existsSync(userconfig)) writeFileSync(userconfig, `registry=${registry}\n`);
  return {
    ...env,
    HOME: home,
    TMPDIR: tmp,
    NO_COLOR: '1',
    // npm and npx
    npm_config_registry: registry,
    npm_config_userconfig: userconfig,
    npm_config_cache: join(root, 'npm-cache'),
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    // Bun
    BUN_CONFIG_REGISTRY: registry,
    BUN_INSTALL_CACHE_DIR: join(root, 'bun-cache'),
    BUN_INSTALL: join(root, 'bun-home'),
    DO_NOT_TRACK: '1',
    // Deno
    NPM_CONFIG_REGISTRY: registry,
    DENO_DIR: join(root, 'deno-dir'),
    DENO_NO_UPDATE_CHECK: '1',
  };
}

// ------------------------------------------------------------------ the registry

export interface Registry {
  /** e.g. http://127.0.0.1:4873/ (with the slash npm writes). */
  url: string;
  /** A userconfig (.npmrc) holding the publisher's token for this registry. */
  publisherNpmrc: string;
  token: string;
  process: Proc;
  stop(): Promise<void>;
}

/** Starts verdaccio in `root` (config, storage and htpasswd there) and logs a publisher in. */
export async function startRegistry(root: string): Promise<Registry> {
  mkdirSync(root, { recursive: true });
  const port = await freePort();
  const config = join(root, 'config.yaml');
  // No uplinks: a package that was not published here is a 404, never a download.
  writeFileSync(
    config,
    [
      `storage: ${JSON.stringify(join(root, 'storage'))}`,
      'auth:',
      '  htpasswd:',
      `    file: ${JSON.stringify(join(root, 'htpasswd'))}`,
      '    max_users: 10',
      'uplinks: {}',
      'packages:',
      "  '**':",
      '    access: $all',
      '    publish: $authenticated',
      '    unpublish: $authenticated',
      'web:',
      '  enable: false',
      'max_body_size: 100mb',
      'log: { type: stdout, format: pretty, level: warn }',
      '',
    ].join('\n'),
  );
  const url = `http://127.0.0.1:${port}/`;
  const proc = startProcess('verdaccio', process.execPath, [verdaccioBin, '--config', config, '--listen', `127.0.0.1:${port}`], { cwd: root, group: true });
  const deadline = Date.now() + REGISTRY_READY_TIMEOUT_MS;
  for (;;) {
    if (proc.hasExited()) throw new Error(`verdaccio exited:\n${proc.output()}`);
    try {
      if ((await request('GET', `${url}-/ping`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`verdaccio did not answer ${url}-/ping within ${REGISTRY_READY_TIMEOUT_MS} ms:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // `npm adduser` does this PUT; verdaccio's htpasswd plugin creates the user and answers a token.
  const res = await request('PUT', `${url}-/user/org.couchdb.user:${PUBLISHER.name}`, JSON.stringify({ name: PUBLISHER.name, password: PUBLISHER.password }));
  const body = JSON.parse(res.body) as { token?: string; error?: string };
  if (res.status !== 201 || !body.token) throw new Error(`verdaccio refused to create a user: ${res.status} ${res.body}`);
  const publisherNpmrc = join(root, 'publisher.npmrc');
  writeFileSync(publisherNpmrc, `registry=${url}\n//127.0.0.1:${port}/:_authToken=${body.token}\n`);
  return {
    url,
    publisherNpmrc,
    token: body.token,
    process: proc,
    stop: async () => {
      await proc.stop('SIGTERM');
    },
  };
}

/** `npm publish` of every public workspace to `registry` (prepack builds each with tsc -b). */
export function publishWorkspaces(registry: Registry, root: string): string {
  const env = { ...cleanClientEnv(join(root, 'publisher'), registry.url), npm_config_userconfig: registry.publisherNpmrc };
  return run('npm', ['publish', ...PUBLIC_PACKAGES.flatMap((p) => ['-w', p.name]), '--registry', registry.url], { cwd: repoRoot, env, timeoutMs: 180_000 });
}

// ------------------------------------------------------------------ third-party dependencies

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  [key: string]: unknown;
}

const readManifest = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

/** Where Node would find package `name` from `fromDir`: the nearest node_modules/name above it. */
function resolvePackageDir(name: string, fromDir: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The installed folders of every third-party package the public packages need at run time
 * (dependencies and optional dependencies, transitively; peer dependencies are the user's),
 * as installed from package-lock.json. Throws when a required one is not installed.
 */
export function thirdPartyRuntimeDependencies(): Array<{ name: string; version: string; dir: string }> {
  const ours = new Set<string>(PUBLIC_PACKAGES.map((p) => p.name));
  const found = new Map<string, { name: string; version: string; dir: string }>();
  const queue = PUBLIC_PACKAGES.map((p) => join(repoRoot, p.dir));
  const visited = new Set<string>();
  while (queue.length > 0) {
    const dir = queue.shift()!;
    if (visited.has(dir)) continue;
    visited.add(dir);
    const manifest = readManifest(dir);
    const deps = { ...manifest.dependencies, ...manifest.optionalDependencies };
    for (const name of Object.keys(deps)) {
      if (ours.has(name)) continue;
      const depDir = resolvePackageDir(name, dir);
      if (!depDir) {
        if (manifest.optionalDependencies?.[name]) continue;
        throw new Error(`${manifest.name} needs ${name}, which is not installed: run npm ci`);
      }
      const dep = readManifest(depDir);
      found.set(`${dep.name}@${dep.version}`, { name: dep.name, version: dep.version, dir: depDir });
      queue.push(depDir);
    }
  }
  return [...found.values()];
}

/**
 * Publishes each third-party runtime dependency to `registry` from its installed folder: the
 * registry then has what the public registry would serve for these exact versions, offline.
 * One `npm pack` makes every tarball; each is PUT as `npm publish` does (one npm process per
 * package would cost ~1 s each). Returns the name@version list.
 */
export async function seedThirdPartyDependencies(registry: Registry, root: string): Promise<string[]> {
  const deps = thirdPartyRuntimeDependencies();
  const packDir = join(root, 'packed');
  mkdirSync(packDir, { recursive: true });
  const env = cleanClientEnv(join(root, 'publisher'), registry.url);
  const packed = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packDir, ...deps.map((d) => d.dir)], { cwd: root, env, timeoutMs: 120_000 })) as Array<{ name: string; version: string; filename: string }>;
  const byKey = new Map(deps.map((d) => [`${d.name}@${d.version}`, d]));
  const published: string[] = [];
  for (const p of packed) {
    const dep = byKey.get(`${p.name}@${p.version}`);
    if (!dep) throw new Error(`npm pack made ${p.name}@${p.version}, which was not asked for`);
    const tarball = readFileSync(join(packDir, basename(p.filename)));
    await putPackage(registry, readManifest(dep.dir), tarball);
    published.push(`${p.name}@${p.version}`);
  }
  return published;
}

/** The request `npm publish` sends (libnpmpublish): the version's manifest and its tarball. */
async function putPackage(registry: Registry, manifest: Manifest, tarball: Buffer): Promise<void> {
  const { name, version } = manifest;
  const tarballName = `${name}-${version}.tgz`;
  const tarballUrl = `${registry.url}${name}/-/${name.replace(/^@[^/]+\//, '')}-${version}.tgz`;
  const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
  const shasum = createHash('sha1').update(tarball).digest('hex');
  // Fields npm keeps out of a published manifest: install-time scripts stay (they are the package's).
  const { readme: _readme, ...clean } = manifest;
  const doc = {
    _id: name,
    name,
    'dist-tags': { latest: version },
    versions: { [version]: { ...clean, _id: `${name}@${version}`, dist: { integrity, shasum, tarball: tarballUrl } } },
    access: 'public',
    _attachments: { [tarballName]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length } },
  };
  const res = await request('PUT', `${registry.url}${name.replace('/', '%2f')}`, JSON.stringify(doc), { authorization: `Bearer ${registry.token}` });
  if (res.status !== 201) throw new Error(`publishing ${name}@${version} to the test registry: ${res.status} ${res.body}\n${registry.process.output()}`);
}

/**
 * One request on a connection of its own (fetch's pool would reuse a socket verdaccio may have
 * closed meanwhile, and a PUT is not retried).
 */
export function request(method: string, url: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
