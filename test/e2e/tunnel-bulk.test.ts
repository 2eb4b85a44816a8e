import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl, rssBytes, startTunnel, type Tunnel } from './support.js';

/**
 * A 200 MiB download through the TLS tunnel in bounded memory: the intermediary and the agent
 * forward with HTTP/2 flow control (RFC 9113 §5.2) and backpressure instead of buffering.
 */
let tunnel: Tunnel;
const SIZE = 200 * 1024 * 1024;
/** Allowed RSS growth of each process during the download: well below the 200 MiB transferred, so buffering the body fails. */
const RSS_GROWTH_LIMIT = 128 * 1024 * 1024;
const SAMPLE_EVERY_MS = 50;

beforeAll(async () => {
  tunnel = await startTunnel('bulk', { agentExtra: ['--connections', '1'] });
}, 60_000);

afterAll(async () => {
  await tunnel?.close();
});

describe('RFC 9113 §5.2 flow control end to end: 200 MiB download', () => {
  for (const mode of [['--http1.1'], ['--http2-prior-knowledge']]) {
    it(`curl ${mode[0]} receives every byte; intermediary and agent RSS stay bounded`, async () => {
      const pids = { intermediary: tunnel.intermediary.pid, agent: tunnel.agents[0].pid };
      const start = { intermediary: rssBytes(pids.intermediary)!, agent: rssBytes(pids.agent)! };
      expect(start.intermediary).toBeGreaterThan(0);
      expect(start.agent).toBeGreaterThan(0);
      const peak = { ...start };
      const sampler = setInterval(() => {
        for (const k of ['intermediary', 'agent'] as const) peak[k] = Math.max(peak[k], rssBytes(pids[k]) ?? 0);
      }, SAMPLE_EVERY_MS);
      let r;
      try {
        r = await curl(['-H', `Host: ${tunnel.appHost}`, ...mode, '-o', '/dev/null', '-w', '%{http_code} %{size_download}', `${tunnel.base}/bytes?n=${SIZE}`], { timeoutMs: 90_000 });
      } finally {
        clearInterval(sampler);
      }
      expect(r.code, r.stderr).toBe(0);
      expect(r.text).toBe(`200 ${SIZE}`);
      const growth = { intermediary: peak.intermediary - start.intermediary, agent: peak.agent - start.agent };
      const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
      const report = `RSS growth: intermediary ${mib(growth.intermediary)} (start ${mib(start.intermediary)}), agent ${mib(growth.agent)} (start ${mib(start.agent)})`;
      console.log(`${mode[0]}: ${report}`);
      expect(growth.intermediary, report).toBeLessThan(RSS_GROWTH_LIMIT);
      expect(growth.agent, report).toBeLessThan(RSS_GROWTH_LIMIT);
    }, 120_000);
  }
});
