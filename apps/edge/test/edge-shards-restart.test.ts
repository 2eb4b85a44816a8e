/**
 * Sharded brokers when the objects restart (issue 15 item 4): workerd is stopped and started again
 * on the same port, so every broker object starts empty and every agent WebSocket drops. The real
 * agent (its reconnect loop and back-off, 2 connections) registers again on the shards and is
 * served again. No timing is asserted: the test waits for the sessions and counts answers.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Agent } from '../../../packages/agent/src/agent.js';
import { createDevCa, issueCertificate } from '../../../packages/node/src/certs.js';
import { browser, startLocalEdge, type LocalEdge } from './harness.js';

const HOST = 'app.example.com';

let edge: LocalEdge;
let agent: Agent;

interface MergedStatus {
  sessions: Array<{ shard: number }>;
  shards: Array<{ shard: number; agentConnections: number }>;
  counters: { requests: Record<string, number> };
}

/** Polls the merged status (the edge may be down meanwhile) until `count` sessions are registered. */
async function waitForSessionCount(count: number): Promise<MergedStatus> {
  for (;;) {
    try {
      const response = await browser(edge, HOST, '/.rhttp/status');
      if (response.status === 200) {
        const status = JSON.parse(await response.text()) as MergedStatus;
        if (status.sessions.length === count) return status;
      } else await response.bytes();
    } catch {
      // The edge is restarting.
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function answers(n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const response = await browser(edge, HOST, '/');
    const key = `${response.status} ${await response.text()}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

beforeAll(async () => {
  const ca = await createDevCa();
  const origin = await issueCertificate(ca, { dnsNames: [HOST] });
  edge = await startLocalEdge(ca.certPem, { BROKER_SHARDS: '2' });
  agent = new Agent({ intermediary: edge.wsUrl, origins: [`https://${HOST}`], cert: origin.chainPem, key: origin.keyPem, connections: 2, handler: () => new Response('ok') });
  agent.start();
});

afterAll(async () => {
  await agent?.stop({ graceful: false });
  await edge?.close();
});

it('after every broker object restarts, the agent registers again on the shards and is served', async () => {
  const before = await waitForSessionCount(2);
  expect(before.shards).toHaveLength(2);
  expect(await answers(10)).toEqual({ '200 ok': 10 });
  expect((await waitForSessionCount(2)).counters.requests['2xx']).toBe(10);

  await edge.restart();
  const after = await waitForSessionCount(2);
  // Fresh objects: the 10 answers before the restart are forgotten.
  expect(after.counters.requests['2xx']).toBe(0);
  expect(after.shards.reduce((n, s) => n + s.agentConnections, 0)).toBe(2);
  expect(await answers(20)).toEqual({ '200 ok': 20 });
}, 120_000);
