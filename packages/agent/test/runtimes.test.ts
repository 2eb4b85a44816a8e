import { runtimeBinary } from '../../../test/support/runtimes.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAgent, cliPath, repoRoot } from './build-cli.js';
import { makeCertificates, startIntermediary, type TestCertificates } from './intermediary-peer.js';

/**
 * The same built dist/cli.js under Node, Bun and Deno (their npm packages are dev dependencies):
 * connect, announce ORIGIN, forward to an upstream over node:http, answer a handler module, drain on SIGTERM.
 */
const root = repoRoot;
const cli = cliPath;
const bin = (name: 'bun' | 'deno') => runtimeBinary(name);
const runtimes: Array<{ name: string; command: string; args: string[] }> = [
  { name: 'node', command: process.execPath, args: [] },
  { name: 'bun', command: bin('bun'), args: [] },
  { name: 'deno', command: bin('deno'), args: ['run', '-A'] },
];

let certs: TestCertificates;
let dir: string;
let upstream: http.Server;
let upstreamUrl: string;

beforeAll(async () => {
  const build = buildAgent();
  expect(build.status, build.output).toBe(0);
  certs = await makeCertificates(['app.example.com', 'api.example.com']);
  dir = mkdtempSync(join(tmpdir(), 'rhttp-agent-runtimes-'));
  writeFileSync(join(dir, 'origin.pem'), certs.origin.chainPem);
  writeFileSync(join(dir, 'origin.key'), certs.origin.keyPem);
  writeFileSync(join(dir, 'ca.pem'), certs.ca.certPem);
  writeFileSync(join(dir, 'app.mjs'), `export default { fetch: (request) => new Response('handler saw ' + request.method + ' ' + new URL(request.url).pathname) };\n`);
  upstream = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    res.end(`upstream saw ${req.method} ${req.url} host=${req.headers.host} body=${Buffer.concat(chunks).toString()}`);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
}, 120_000);

afterAll(async () => {
  upstream?.closeAllConnections();
  await new Promise<void>((r) => (upstream ? upstream.close(() => r()) : r()));
});

async function runAgent(runtime: (typeof runtimes)[number], target: string[]) {
  const intermediary = await startIntermediary(certs);
  const child = spawn(
    runtime.command,
    [...runtime.args, cli, '--intermediary', `tls://127.0.0.1:${intermediary.port}`, '--origin', 'https://app.example.com', '--origin', 'https://api.example.com', ...target, '--cert', 'origin.pem', '--key', 'origin.key', '--ca', 'ca.pem', '--connections', '1'],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const peer = await Promise.race([intermediary.next(), exited.then((code) => Promise.reject(new Error(`${runtime.name} exited with ${code}: ${stderr}`)))]);
  return {
    peer,
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      await intermediary.close();
      return { code, stderr };
    },
    kill: () => child.kill('SIGKILL'),
  };
}

describe.each(runtimes)('rhttp-agent on $name', (runtime) => {
  const available = runtime.name === 'node' || existsSync(runtime.command);

  it.skipIf(!available)('forwards to an --upstream and drains on SIGTERM', async () => {
    const agent = await runAgent(runtime, ['--upstream', upstreamUrl]);
    try {
      expect(await agent.peer.origins).toEqual(['https://app.example.com', 'https://api.example.com']);
      const get = await agent.peer.session.fetch('https://api.example.com/items?x=1');
      expect(await get.text()).toBe('upstream saw GET /items?x=1 host=api.example.com body=');
      const post = await agent.peer.session.fetch('https://app.example.com/submit', { method: 'POST', body: 'payload' });
      expect(await post.text()).toBe('upstream saw POST /submit host=app.example.com body=payload');
      const { code, stderr } = await agent.stop();
      expect(code).toBe(0);
      expect(stderr).toContain('draining');
      expect(stderr).toContain('stopped');
    } finally {
      agent.kill();
    }
  });

  it.skipIf(!available)('answers from a --handler module', async () => {
    const agent = await runAgent(runtime, ['--handler', './app.mjs']);
    try {
      const res = await agent.peer.session.fetch('https://app.example.com/hello', { method: 'DELETE' });
      expect(await res.text()).toBe('handler saw DELETE /hello');
      expect((await agent.stop()).code).toBe(0);
    } finally {
      agent.kill();
    }
  });
});
