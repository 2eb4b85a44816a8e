import { runtimeBinary } from '../../../test/support/runtimes.js';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevCa, issueCertificate, type IssuedCertificate } from '../../../packages/node/src/certs.js';
import { browser, startLocalEdge, waitForSessions, type LocalEdge } from './harness.js';

/** The WebSocket carrier (built dist/) as a separate process under each runtime, against the edge in workerd. */
const root = fileURLToPath(new URL('../../..', import.meta.url));
const script = fileURLToPath(new URL('./fixtures/ws-agent.mjs', import.meta.url));
const bin = (name: 'bun' | 'deno') => runtimeBinary(name);
const runtimes = [
  { name: 'node', command: process.execPath, args: [] as string[] },
  { name: 'bun', command: bin('bun'), args: [] as string[] },
  { name: 'deno', command: bin('deno'), args: ['run', '-A'] },
];

let edge: LocalEdge;
let ca: IssuedCertificate;
let dir: string;

beforeAll(async () => {
  const build = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b', join(root, 'packages/agent')], { encoding: 'utf8' });
  expect(build.status, build.stdout + build.stderr).toBe(0);
  ca = await createDevCa();
  const origin = await issueCertificate(ca, { dnsNames: ['node.example.com', 'bun.example.com', 'deno.example.com'] });
  dir = mkdtempSync(join(tmpdir(), 'rhttp-edge-runtimes-'));
  writeFileSync(join(dir, 'origin.pem'), origin.chainPem);
  writeFileSync(join(dir, 'origin.key'), origin.keyPem);
  edge = await startLocalEdge(ca.certPem);
}, 120_000);

afterAll(async () => {
  await edge?.close();
});

describe.each(runtimes)('the WebSocket carrier under $name reaches the edge in workerd', (runtime) => {
  it('serves a GET and a POST through Worker → Durable Object → agent', async () => {
    const host = `${runtime.name}.example.com`;
    const child = spawn(runtime.command, [...runtime.args, script, edge.wsUrl, `https://${host}`, join(dir, 'origin.pem'), join(dir, 'origin.key')], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (c) => (output += c));
    child.stderr!.on('data', (c) => (output += c));
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', () => output.includes('ready') && resolve());
        child.on('exit', (code) => reject(new Error(`${runtime.name} agent exited (${code}):\n${output}`)));
      });
      await waitForSessions(edge, host);
      const get = await browser(edge, host, '/hi');
      expect(await get.text()).toBe(`hello from ${runtime.name}: GET /hi body=`);
      const post = await browser(edge, host, '/form', { method: 'POST', body: Buffer.from('a=1') });
      expect(await post.text()).toBe(`hello from ${runtime.name}: POST /form body=a=1`);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});
