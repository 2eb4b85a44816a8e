import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { APP_ORIGIN, denoBin, httpGet, repoRoot, startProcess, startTunnel, waitUntil, type Tunnel } from './support.js';

/**
 * The single-file agent executables of `npm run build:binaries` (scripts/build-binaries.mjs, built
 * here into a temp folder), each the only agent of https://app.localhost through a real
 * intermediary: started from an empty folder with no NODE_PATH, it carries a GET to an upstream
 * whose body is random, then exits 0 on SIGTERM. When `deno compile` cannot fetch its base binary
 * (offline), the Deno executable is skipped and the one-file bundle it would embed runs under
 * `deno run` instead.
 */
const BUILD_TIMEOUT_MS = 240_000;
/** A 100 MB executable takes a moment to map and start on a busy machine. */
const CONNECT_TIMEOUT_MS = 30_000;
const target = `${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;

let tunnel: Tunnel;
let outDir: string;
let buildOutput = '';
let upstream: http.Server;
let upstreamBody = '';

beforeAll(async () => {
  tunnel = await startTunnel('binaries', { agentCount: 0 });
  outDir = join(tunnel.dir, 'bin');
  mkdirSync(outDir);
  const build = spawnSync(process.execPath, [join(repoRoot, 'scripts/build-binaries.mjs'), '--out', outDir, '--deno-bundle', join(outDir, 'rhttp-agent-deno.mjs')], { cwd: repoRoot, encoding: 'utf8', timeout: BUILD_TIMEOUT_MS });
  buildOutput = `${build.stdout}${build.stderr}`;
  if (build.status !== 0) throw new Error(`build-binaries failed (${build.error?.message ?? `exit ${build.status}`}):\n${buildOutput}`);
  upstreamBody = `binary upstream ${randomBytes(8).toString('hex')}`;
  upstream = http.createServer((req, res) => res.end(`${upstreamBody} ${req.url}\n`));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
}, BUILD_TIMEOUT_MS + 60_000);

afterAll(async () => {
  upstream?.close();
  await tunnel?.close();
});

/** Environment of a machine with no Node project around: no NODE_PATH, no npm settings. */
function bareEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|NODE_PATH$|NODE_OPTIONS$|VITEST)/i.test(k)) env[k] = v;
  return env;
}

async function carriesRequest(name: string, command: string, prefix: string[]): Promise<void> {
  const { port } = upstream.address() as AddressInfo;
  const agent = startProcess(name, command, [
    ...prefix,
    '--intermediary', `tls://127.0.0.1:${tunnel.ports.agents}`,
    '--origin', APP_ORIGIN,
    '--upstream', `http://127.0.0.1:${port}`,
    '--cert', tunnel.certs.originCert, '--key', tunnel.certs.originKey, '--ca', tunnel.certs.ca,
    '--connections', '1',
  ], { cwd: outDir, env: bareEnv() });
  await agent.waitFor(/connected to .*serving https:\/\/app\.localhost/, CONNECT_TIMEOUT_MS);
  const path = `/${name.replace(/\W+/g, '-')}`;
  const body = await waitUntil(`GET ${path} through ${name}`, async () => {
    const r = await httpGet(tunnel.ports.http, tunnel.appHost, path, { timeoutMs: 10_000 });
    if (r.status === 503) return undefined; // not registered yet
    return `${r.status} ${r.body.toString()}`;
  }, CONNECT_TIMEOUT_MS);
  expect(body).toBe(`200 ${upstreamBody} ${path}\n`);
  agent.kill('SIGTERM');
  expect(await agent.exited, agent.output()).toBe(0);
  expect(agent.output()).toMatch(/stopped/);
}

describe('single-file agent executables', () => {
  it(`bun build --compile: rhttp-agent-${target}`, async () => {
    const file = join(outDir, `rhttp-agent-${target}`);
    expect(existsSync(file), buildOutput).toBe(true);
    await carriesRequest(`rhttp-agent-${target}`, file, []);
  }, 90_000);

  it(`deno compile: rhttp-agent-deno-${target} (or, offline, the bundle it embeds under deno run)`, async (ctx) => {
    const file = join(outDir, `rhttp-agent-deno-${target}`);
    if (existsSync(file)) {
      await carriesRequest(`rhttp-agent-deno-${target}`, file, []);
      return;
    }
    if (!existsSync(denoBin)) ctx.skip();
    // The build may skip it only for the reason it names; anything else failed the build above.
    expect(buildOutput).toMatch(/skipped .*rhttp-agent-deno-.*: deno compile downloads its base binary/);
    console.warn(`binaries: rhttp-agent-deno-${target} was not built (${/skipped [^\n]*/.exec(buildOutput)?.[0]}); running its bundle with deno run`);
    await carriesRequest('deno run rhttp-agent-deno.mjs', denoBin, ['run', '-A', '--no-config', join(outDir, 'rhttp-agent-deno.mjs')]);
  }, 90_000);
});
