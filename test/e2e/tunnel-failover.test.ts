import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as http from 'node:http';
import { curl, httpGet, slowLoadAcrossSigterm, startIntermediary, startTunnel, waitForRoute, type Proc, type Tunnel } from './support.js';

/**
 * Agents and the intermediary going away while browsers use the tunnel: a graceful agent drain
 * (GOAWAY, RFC 9113 §6.8) loses no request, a killed agent fails the browser's response fast,
 * and agents come back after an intermediary restart.
 */
let tunnel: Tunnel;

beforeAll(async () => {
  tunnel = await startTunnel('failover', { agentExtra: ['--connections', '1'] });
}, 60_000);

afterAll(async () => {
  await tunnel?.close();
});

/** Starts one more agent and waits until it says it serves the origin. */
async function connectedAgent(name: string): Promise<Proc> {
  const agent = tunnel.addAgent({ name });
  await agent.waitFor(/connected to .*serving https:\/\/app\.localhost/);
  return agent;
}

describe('RFC 9113 §6.8 GOAWAY: an agent drains under load', () => {
  it('two agents, one SIGTERMed during 300 requests → zero failed requests', async () => {
    const first = tunnel.agents[0];
    const second = await connectedAgent('rhttp-agent second');
    // Let the intermediary register the second session before the load starts.
    await waitForRoute(tunnel.ports.http, tunnel.appHost);
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });
    let load: Awaited<ReturnType<typeof slowLoadAcrossSigterm>>;
    try {
      load = await slowLoadAcrossSigterm((path) => httpGet(tunnel.ports.http, tunnel.appHost, path, { agent: keepAlive }), first);
    } finally {
      keepAlive.destroy();
    }
    const { failures, terminated } = load;
    expect(terminated).toBe(true);
    expect(failures, `${failures.join("\n")}\n--- first agent\n${first.output()}\n--- second\n${second.output()}\n--- intermediary\n${tunnel.intermediary.output()}`).toEqual([]);
    // The SIGTERMed agent drained and exited 0; the other one is still serving.
    expect(await first.exited, first.output()).toBe(0);
    expect(first.output()).toMatch(/draining/);
    expect(second.hasExited()).toBe(false);
    const after = await httpGet(tunnel.ports.http, tunnel.appHost, '/hello');
    expect(after.status).toBe(200);
  }, 60_000);
});

describe('an agent SIGKILLed mid-response', () => {
  /** Upper bound from the issue: the browser learns of the failure within 2 s. */
  const FAILURE_VISIBLE_WITHIN_MS = 2000;

  for (const mode of ['--http1.1', '--http2-prior-knowledge']) {
    it(`${mode}: the browser sees an error or 502 within 2 s`, async () => {
      // Only the victim serves the origin while this runs.
      for (const a of tunnel.agents) if (!a.hasExited()) a.kill('SIGTERM');
      await Promise.all(tunnel.agents.map((a) => a.exited));
      const victim = await connectedAgent(`rhttp-agent victim ${mode}`);
      await waitForRoute(tunnel.ports.http, tunnel.appHost);

      let firstChunk!: () => void;
      const gotFirstChunk = new Promise<void>((resolve) => (firstChunk = resolve));
      const download = curl(['-N', '-i', mode, '-H', `Host: ${tunnel.appHost}`, `${tunnel.base}/drip?chunks=200&ms=50`], {
        timeoutMs: 30_000,
        onStdout: (chunk) => {
          if (chunk.toString().includes('line 1')) firstChunk();
        },
      });
      await gotFirstChunk;
      const killedAt = Date.now();
      victim.kill('SIGKILL');
      const r = await download;
      const elapsed = Date.now() - killedAt;
      // Either the transfer failed (curl exit 18 "transfer closed with outstanding read data",
      // 56 "failure receiving", 92 "HTTP/2 stream not closed cleanly") or it was a 502 — never a clean end.
      expect(r.text).toContain('HTTP/');
      expect(r.text).not.toContain('line 200');
      const failed = r.code !== 0 || /^HTTP\/[\d.]+ 502/m.test(r.text);
      expect(failed, `curl exit ${r.code}: ${r.stderr}\n${r.text.slice(0, 300)}`).toBe(true);
      expect(elapsed, `the failure showed after ${elapsed} ms`).toBeLessThan(FAILURE_VISIBLE_WITHIN_MS);
    }, 30_000);
  }
});

describe('intermediary restart', () => {
  /** The "agents back within seconds", with room for a slow machine. */
  const BACK_WITHIN_MS = 10_000;

  it('SIGTERM the intermediary, start it again on the same ports → requests succeed again within ~10 s', async () => {
    for (const a of tunnel.agents) if (!a.hasExited()) a.kill('SIGKILL');
    await Promise.all(tunnel.agents.map((a) => a.exited));
    const agent = await connectedAgent('rhttp-agent survivor');
    await waitForRoute(tunnel.ports.http, tunnel.appHost);

    tunnel.intermediary.kill('SIGTERM');
    expect(await tunnel.intermediary.exited, tunnel.intermediary.output()).toBe(0);
    const restarted = await startIntermediary(tunnel.certs, tunnel.ports, 'rhttp-intermediary (restarted)');
    tunnel.intermediary = restarted;
    const restartedAt = Date.now();
    const body = await waitForRoute(tunnel.ports.http, tunnel.appHost, '/hello', BACK_WITHIN_MS);
    expect(body.toString()).toBe('hello from upstream\n');
    expect(Date.now() - restartedAt).toBeLessThan(BACK_WITHIN_MS + 5000);
    expect(agent.hasExited()).toBe(false);
    // The agent saw the old session end and dialed again, rather than being a new process.
    expect(agent.output()).toMatch(/connection 1: connected[\s\S]*connection 1: connected/);
  }, 60_000);
});
