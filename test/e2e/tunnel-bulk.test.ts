import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl, sampleRss, startTunnel, type Tunnel } from './support.js';

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
      const rss = sampleRss({ intermediary: tunnel.intermediary.pid, agent: tunnel.agents[0].pid }, SAMPLE_EVERY_MS);
      expect(rss.start.intermediary).toBeGreaterThan(0);
      expect(rss.start.agent).toBeGreaterThan(0);
      let r;
      try {
        r = await curl(['-H', `Host: ${tunnel.appHost}`, ...mode, '-o', '/dev/null', '-w', '%{http_code} %{size_download}', `${tunnel.base}/bytes?n=${SIZE}`], { timeoutMs: 90_000 });
      } finally {
        rss.stop();
      }
      expect(r.code, r.stderr).toBe(0);
      expect(r.text).toBe(`200 ${SIZE}`);
      const growth = rss.growth();
      const report = rss.report();
      console.log(`${mode[0]}: ${report}`);
      expect(growth.intermediary, report).toBeLessThan(RSS_GROWTH_LIMIT);
      expect(growth.agent, report).toBeLessThan(RSS_GROWTH_LIMIT);
    }, 120_000);
  }
});
