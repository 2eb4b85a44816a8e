import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanClientEnv, PUBLIC_PACKAGES, publishWorkspaces, request, seedThirdPartyDependencies, startRegistry, type Registry } from '../support/registry.js';
import { bunBin, denoBin, freePort, httpGet, repoRoot, startProcess, stopAll, type Proc } from './support.js';

/**
 * The packages as a user gets them: every public package is `npm publish`ed to a private
 * registry (verdaccio, no uplinks, on 127.0.0.1), their third-party dependencies are published
 * there from node_modules, and then, in an empty folder with fresh caches and that registry only,
 * `npx rhttp-intermediary` runs the intermediary and each of `npx rhttp-agent`, `bunx rhttp-agent`,
 * `bunx --bun rhttp-agent` and `deno run -A npm:rhttp-agent` carries a request through it to an
 * upstream of its own (a fresh random body proves which agent answered).
 */

/** Installing from the registry is most of the time here: a CI machine with 2 busy cores is slow. */
const INSTALL_TIMEOUT_MS = 150_000;
/** How long an installed agent may take from "connected" to carrying the first request. */
const ROUTE_TIMEOUT_MS = 30_000;
const APP_HOST = 'app.localhost';

let root: string;
let registry: Registry | undefined;
let userDir: string;
let env: NodeJS.ProcessEnv;
let seeded: string[] = [];
const ports = { agents: 0, http: 0 };
let intermediary: Proc | undefined;
const upstreams: http.Server[] = [];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'rhttp-registry-'));
  registry = await startRegistry(join(root, 'registry'));
  publishWorkspaces(registry, root);
  seeded = await seedThirdPartyDependencies(registry, root);
  userDir = join(root, 'user');
  mkdirSync(userDir);
  env = cleanClientEnv(join(root, 'user-env'), registry.url);
  ports.agents = await freePort();
  ports.http = await freePort();
}, 300_000);

afterAll(async () => {
  await stopAll();
  for (const s of upstreams) s.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** A node:http upstream that answers every request with `body` followed by the path. */
async function startUpstream(body: string): Promise<number> {
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end(`${body} ${req.url}\n`);
  });
  upstreams.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** GETs `path` through the intermediary's --http port until the answer is `want`. */
async function getThroughTunnel(path: string, want: string): Promise<void> {
  const deadline = Date.now() + ROUTE_TIMEOUT_MS;
  let last = '';
  for (;;) {
    try {
      const r = await httpGet(ports.http, `${APP_HOST}:${ports.http}`, path, { timeoutMs: 10_000 });
      last = `${r.status} ${r.body.toString().slice(0, 300)}`;
      if (r.status === 200 && r.body.toString() === want) return;
      // Only 503 (no agent yet) is worth waiting out; anything else is the answer.
      if (r.status !== 503) break;
    } catch (error) {
      last = String(error);
    }
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(last).toBe(`200 ${want}`);
}

/** The agent's flags: the dev certificates the installed intermediary made in its state dir. */
function agentArgs(upstreamPort: number): string[] {
  return [
    '--intermediary', `tls://127.0.0.1:${ports.agents}`,
    '--origin', `http://${APP_HOST}:${ports.http}`,
    '--upstream', `http://127.0.0.1:${upstreamPort}`,
    '--cert', 'state/origin.pem', '--key', 'state/origin.key', '--ca', 'state/ca.pem',
    '--connections', '1',
  ];
}

describe('installed from a registry into an empty folder', () => {
  it('the registry has every public package and only the exact third-party versions of the lock', async () => {
    for (const { name } of PUBLIC_PACKAGES) {
      const res = await request('GET', `${registry!.url}${name.replace('/', '%2f')}`);
      expect(res.status, name).toBe(200);
      const doc = JSON.parse(res.body) as { 'dist-tags': { latest: string } };
      expect(doc['dist-tags'].latest, name).toBe('0.1.0');
    }
    const wsVersion = (JSON.parse(readFileSync(join(repoRoot, 'node_modules/ws/package.json'), 'utf8')) as { version: string }).version;
    expect(seeded).toContain(`ws@${wsVersion}`);
    // No uplinks: what was not published is not there.
    expect((await request('GET', `${registry!.url}left-pad`)).status).toBe(404);
  });

  it('npx rhttp-intermediary starts with development certificates in --state-dir', async () => {
    intermediary = startProcess('npx rhttp-intermediary', 'npx', ['--yes', 'rhttp-intermediary', '--state-dir', 'state', '--agents', `127.0.0.1:${ports.agents}`, '--http', `127.0.0.1:${ports.http}`], { cwd: userDir, env, inheritEnv: false, group: true });
    await intermediary.waitFor(/rhttp intermediary is running/, INSTALL_TIMEOUT_MS);
    for (const file of ['ca.pem', 'origin.pem', 'origin.key']) expect(existsSync(join(userDir, 'state', file)), file).toBe(true);
    // It ran from npx's install in the fresh cache, not from this checkout.
    const npxDir = join(env.npm_config_cache!, '_npx');
    const installs = readdirSync(npxDir).filter((d) => existsSync(join(npxDir, d, 'node_modules/rhttp-intermediary/dist/cli.js')));
    expect(installs.length).toBe(1);
    expect(existsSync(join(npxDir, installs[0]!, 'node_modules/@rhttp/broker/dist/index.js'))).toBe(true);
    expect(existsSync(join(npxDir, installs[0]!, 'node_modules/@rhttp/node/dist/socket-streams.js'))).toBe(true);
  }, INSTALL_TIMEOUT_MS + 30_000);

  const launchers: Array<{ name: string; binary: string | undefined; command: (args: string[]) => [string, string[]] }> = [
    { name: 'npx rhttp-agent', binary: 'npx', command: (args) => ['npx', ['--yes', 'rhttp-agent', ...args]] },
    // As users type it: the bin's `#!/usr/bin/env node` picks Node (the bin must be linked and executable) …
    { name: 'bunx rhttp-agent', binary: bunBin, command: (args) => [bunBin, ['x', 'rhttp-agent', ...args]] },
    // … and on Bun itself.
    { name: 'bunx --bun rhttp-agent', binary: bunBin, command: (args) => [bunBin, ['x', '--bun', 'rhttp-agent', ...args]] },
    // Deno (2.9) skips versions published less than 24 hours ago unless told otherwise, and these are seconds old.
    { name: 'deno run -A npm:rhttp-agent', binary: denoBin, command: (args) => [denoBin, ['run', '-A', '--minimum-dependency-age=0', 'npm:rhttp-agent', ...args]] },
  ];
  for (const launcher of launchers) {
    const missing = launcher.binary !== 'npx' && !existsSync(launcher.binary!);
    if (missing) console.warn(`registry: skipping ${launcher.name}: ${launcher.binary} is missing (npm ci installs it)`);
    it.skipIf(missing)(`${launcher.name} carries a request through the tunnel`, async () => {
      expect(intermediary, 'the intermediary test runs first').toBeDefined();
      const body = `${launcher.name} ${randomBytes(8).toString('hex')}`;
      const upstreamPort = await startUpstream(body);
      const [command, args] = launcher.command(agentArgs(upstreamPort));
      const agent = startProcess(launcher.name, command, args, { cwd: userDir, env, inheritEnv: false, group: true });
      try {
        await agent.waitFor(/connected to .*serving/, INSTALL_TIMEOUT_MS);
        await getThroughTunnel('/through/registry', `${body} /through/registry\n`);
      } finally {
        await agent.stop('SIGTERM');
      }
      expect(agent.output()).not.toMatch(/a request failed/);
    }, INSTALL_TIMEOUT_MS + 60_000);
  }
});
