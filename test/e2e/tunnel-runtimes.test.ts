import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { bunBin, denoBin, httpGet, sha256, startTunnel, waitForRoute, type Runtime, type Tunnel } from './support.js';
import * as http from 'node:http';

/**
 * The same built `packages/agent/dist/cli.js` under Node, Bun and Deno (binaries from the `bun`
 * and `deno` npm packages), each the only agent of https://app.localhost: GET and a streamed POST
 * through the TLS tunnel, then a graceful exit on SIGTERM.
 */
let tunnel: Tunnel;

beforeAll(async () => {
  tunnel = await startTunnel('runtimes', { agentCount: 0 });
}, 60_000);

afterAll(async () => {
  await tunnel?.close();
});

/** POST `body` to /echo with Host app.localhost; resolves with status and the echoed bytes. */
function postEcho(body: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: tunnel.ports.http, path: '/echo', method: 'POST', headers: { host: tunnel.appHost, 'content-type': 'application/octet-stream' }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    // Chunked, in pieces: the body streams rather than arriving as one buffer.
    for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
    req.end();
  });
}

const runtimes: Array<{ runtime: Runtime; binary: string }> = [
  { runtime: 'node', binary: process.execPath },
  { runtime: 'bun', binary: bunBin },
  { runtime: 'deno', binary: denoBin },
];

for (const { runtime, binary } of runtimes) {
  const missing = !existsSync(binary);
  if (missing) console.warn(`tunnel-runtimes: skipping ${runtime}: ${binary} is missing (npm install installs the ${runtime} npm package)`);

  describe.skipIf(missing)(`rhttp-agent under ${runtime}`, () => {
    it('serves GET and a 1 MiB POST through the tunnel, then drains on SIGTERM', async () => {
      const agent = tunnel.addAgent({ name: `rhttp-agent (${runtime})`, runtime, extra: ['--connections', '1'] });
      // Said once the intermediary admitted it (its admission PING), so with nothing after the origins.
      await agent.waitFor(/connected to .*serving https:\/\/app\.localhost$/m, 30_000);
      await waitForRoute(tunnel.ports.http, tunnel.appHost);

      const hello = await httpGet(tunnel.ports.http, tunnel.appHost, '/hello');
      expect(hello.status).toBe(200);
      expect(hello.body.toString()).toBe('hello from upstream\n');

      const data = randomBytes(1024 * 1024);
      const echoed = await postEcho(data);
      expect(echoed.status).toBe(200);
      expect(echoed.body.length).toBe(data.length);
      expect(sha256(echoed.body)).toBe(sha256(data));

      agent.kill('SIGTERM');
      expect(await agent.exited, agent.output()).toBe(0);
      expect(agent.output()).toMatch(/stopped/);
      expect(agent.output()).not.toMatch(/a request failed/);
    }, 60_000);
  });
}
