import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevCa, issueCertificate } from '../../../packages/node/src/certs.js';
import { browser, startLocalEdge, waitForSessions, type LocalEdge } from './harness.js';

/** `rhttp-agent --intermediary ws://…` (the built CLI, a real process) against the edge in workerd. */
const root = fileURLToPath(new URL('../../..', import.meta.url));
const cli = join(root, 'packages/agent/dist/cli.js');
let edge: LocalEdge;
let dir: string;

beforeAll(async () => {
  const build = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b', join(root, 'packages/agent')], { encoding: 'utf8' });
  expect(build.status, build.stdout + build.stderr).toBe(0);
  const ca = await createDevCa();
  const origin = await issueCertificate(ca, { dnsNames: ['cli.example.com'] });
  dir = mkdtempSync(join(tmpdir(), 'rhttp-edge-cli-'));
  writeFileSync(join(dir, 'origin.pem'), origin.chainPem);
  writeFileSync(join(dir, 'origin.key'), origin.keyPem);
  writeFileSync(join(dir, 'app.mjs'), `export default { fetch: (request) => new Response('cli agent saw ' + request.method + ' ' + new URL(request.url).pathname) };\n`);
  edge = await startLocalEdge(ca.certPem);
}, 120_000);

afterAll(async () => {
  await edge?.close();
});

function agent(origin: string) {
  const child = spawn(process.execPath, [cli, '--intermediary', edge.wsUrl, '--origin', origin, '--handler', './app.mjs', '--cert', 'origin.pem', '--key', 'origin.key', '--connections', '1'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c) => (output += c));
  child.stderr!.on('data', (c) => (output += c));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, exited, output: () => output };
}

describe('rhttp-agent --intermediary ws://… (DESIGN.md Command-line contract, Carrier 2)', () => {
  it('serves an origin through the edge, then drains and exits 0 on SIGTERM', async () => {
    const a = agent('https://cli.example.com');
    try {
      await waitForSessions(edge, 'cli.example.com');
      const response = await browser(edge, 'cli.example.com', '/page');
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('cli agent saw GET /page');
    } finally {
      a.child.kill('SIGTERM');
    }
    expect(await a.exited).toBe(0);
    expect(a.output()).toMatch(/connected to ws:\/\/127\.0\.0\.1:\d+/);
  });

  it('exits 2 before dialing the edge when the certificate does not cover the origin (one line, no retries)', async () => {
    const a = agent('https://evil.example.com');
    expect(await a.exited).toBe(2);
    expect(a.output()).toBe(
      'rhttp-agent: --cert origin.pem does not cover https://evil.example.com: its names are cli.example.com; the intermediary would refuse it (make a certificate that covers every --origin)\n',
    );
  });
});
