/**
 * `npm start` as a user runs it (after the build): the printed curl commands must work.
 */
import { spawn, execFile } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe('npm start (scripts/start.mjs)', () => {
  const children: ReturnType<typeof spawn>[] = [];
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
  });

  it('prints curl lines that reach the demo origin through the tunnel, then stops on SIGINT', async () => {
    const [httpPort, agentPort] = [await freePort(), await freePort()];
    const child = spawn(process.execPath, ['scripts/start.mjs'], { cwd: root, env: { ...process.env, RHTTP_HTTP_PORT: String(httpPort), RHTTP_AGENT_PORT: String(agentPort) } });
    children.push(child);
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const deadline = Date.now() + 30_000;
    while (!/authorized for/.test(output) || !/rhttp is running/.test(output)) {
      if (Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
      if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const curlLine = /^\s*curl\s+(curl .*)$/m.exec(output)?.[1];
    expect(curlLine).toBeDefined();
    expect(curlLine).toContain(`127.0.0.1:${httpPort}`);
    const { stdout: page } = await run('sh', ['-c', `${curlLine} -sS --fail`]);
    expect(page).toContain('Hello through rhttp');
    expect(page).toMatch(/^via: /m);
    const h2cLine = /^\s*h2c\s+(curl .*)$/m.exec(output)?.[1];
    const { stdout: page2 } = await run('sh', ['-c', `${h2cLine} -sS --fail`]);
    expect(page2).toContain('Hello through rhttp');
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  });
});
