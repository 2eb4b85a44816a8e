/**
 * Sharded brokers in local workerd (issue 15 items 1 and 4): with BROKER_SHARDS=2 two agents of
 * one origin land on different broker objects and both serve; killing one agent's connection
 * sends the requests to the other with only its in-flight ones failing (502); a reconnecting
 * agent is given a shard and served again.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevCa, issueCertificate, type IssuedCertificate } from '../../../packages/node/src/certs.js';
import { browser, connectAgent, startLocalEdge, type InProcessAgent, type LocalEdge } from './harness.js';

const ORIGIN = 'https://app.example.com';
const HOST = 'app.example.com';
const SHARDS = 2;

interface MergedStatus {
  sessions: Array<{ id: string; shard: number; draining: boolean }>;
  shards: Array<{ shard: number; sessions: number; agentConnections: number }>;
}

let edge: LocalEdge;
let ca: IssuedCertificate;
let origin: IssuedCertificate;
const agents: InProcessAgent[] = [];

async function status(): Promise<MergedStatus> {
  const response = await browser(edge, HOST, '/.rhttp/status');
  expect(response.status).toBe(200);
  return JSON.parse(await response.text()) as MergedStatus;
}

/** Polls the merged status until exactly `count` sessions are registered (completion, not time). */
async function waitForSessionCount(count: number): Promise<MergedStatus> {
  for (;;) {
    const s = await status();
    if (s.sessions.length === count && s.shards.reduce((n, shard) => n + shard.agentConnections, 0) === count) return s;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** An agent answering with its name; `/hang` requests are counted and never answered by a `hangs` agent. */
function startAgent(name: string, options: { hangs?: boolean; arrived?: () => void } = {}) {
  return connectAgent(edge, { origins: [ORIGIN], certChainPem: origin.chainPem, keyPem: origin.keyPem }, async (request) => {
    const url = new URL(request.url);
    if (url.pathname === '/hang') {
      options.arrived?.();
      if (options.hangs) await new Promise(() => {});
      return new Response(name);
    }
    if (url.pathname === '/upload') {
      const body = new Uint8Array(await request.arrayBuffer());
      return Response.json({ agent: name, size: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    }
    return new Response(name);
  });
}

async function whoServes(n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const response = await browser(edge, HOST, '/who');
    const body = await response.text();
    const key = response.status === 200 ? body : `status ${response.status}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

beforeAll(async () => {
  ca = await createDevCa();
  origin = await issueCertificate(ca, { dnsNames: [HOST] });
  edge = await startLocalEdge(ca.certPem, { BROKER_SHARDS: String(SHARDS) });
});

afterAll(async () => {
  for (const agent of agents) agent.carrier.close();
  await edge?.close();
});

describe(`edge with BROKER_SHARDS=${SHARDS}`, () => {
  let arrivedAtA = 0;

  it('an origin with no agent: 503 from the broker, after every shard was asked', async () => {
    const response = await browser(edge, HOST, '/who');
    expect(response.status).toBe(503);
    expect(response.headers['proxy-status']).toMatch(/destination_unavailable/);
    expect(response.headers['x-rhttp-served-by-shard']).toBeUndefined();
    const s = await status();
    expect(s.shards.map((shard) => shard.shard)).toEqual([0, 1]);
  });

  it('two agents land on different shards and both serve', async () => {
    agents.push(await startAgent('A', { hangs: true, arrived: () => arrivedAtA++ }));
    await waitForSessionCount(1);
    agents.push(await startAgent('B'));
    const s = await waitForSessionCount(2);
    expect(new Set(s.sessions.map((session) => session.shard))).toEqual(new Set([0, 1]));
    expect(s.shards.map((shard) => shard.sessions)).toEqual([1, 1]);

    const counts = await whoServes(20);
    expect(Object.keys(counts).sort()).toEqual(['A', 'B']);
    expect(counts.A + counts.B).toBe(20);
  });

  it("killing one agent's connection: only its in-flight requests fail (502), the rest go to the other shard", async () => {
    // Requests spread over both shards; A holds the ones it receives, B answers its own.
    const total = 6;
    const pending = [...Array(total)].map(() => browser(edge, HOST, '/hang').then(async (r) => ({ status: r.status, body: await r.text() })));
    let answeredByB = 0;
    const settledB = pending.map((p) => p.then((r) => void (r.body === 'B' && answeredByB++)));
    void settledB;
    while (arrivedAtA + answeredByB < total) await new Promise((r) => setTimeout(r, 10));
    const inFlightAtA = arrivedAtA;
    expect(inFlightAtA).toBeGreaterThan(0);

    agents[0].carrier.close();
    const results = await Promise.all(pending);
    expect(results.filter((r) => r.status === 502).length).toBe(inFlightAtA);
    expect(results.filter((r) => r.status === 200 && r.body === 'B').length).toBe(total - inFlightAtA);

    await waitForSessionCount(1);
    // Bodies still arrive whole when a request meets the empty shard first and is passed on.
    const payload = Buffer.alloc(256 * 1024, 7);
    const digest = createHash('sha256').update(payload).digest('hex');
    for (let i = 0; i < 4; i++) {
      const response = await browser(edge, HOST, '/upload', { method: 'POST', body: payload });
      expect(response.status).toBe(200);
      expect(JSON.parse(await response.text())).toEqual({ agent: 'B', size: payload.length, sha256: digest });
    }
    expect(await whoServes(20)).toEqual({ B: 20 });
  });

  it('an agent that reconnects gets the free shard and serves again', async () => {
    agents.push(await startAgent('A'));
    const s = await waitForSessionCount(2);
    expect(new Set(s.sessions.map((session) => session.shard))).toEqual(new Set([0, 1]));
    const counts = await whoServes(20);
    expect(Object.keys(counts).sort()).toEqual(['A', 'B']);
    expect(counts.A + counts.B).toBe(20);
  });

  it('after B leaves too, everything goes to the reconnected A on the other shard', async () => {
    agents[1].carrier.close();
    await waitForSessionCount(1);
    expect(await whoServes(10)).toEqual({ A: 10 });
  });
});

describe('edge with BROKER_SHARDS=4: drain across shards', () => {
  let edge4: LocalEdge;
  const agents4: InProcessAgent[] = [];

  afterAll(async () => {
    for (const agent of agents4) agent.carrier.close();
    await edge4?.close();
  });

  async function status4(): Promise<MergedStatus> {
    return JSON.parse(await (await browser(edge4, HOST, '/.rhttp/status')).text()) as MergedStatus;
  }

  it('three agents on three shards serve; one that sends GOAWAY gets no new requests; its shard and the empty one pass them on', async () => {
    edge4 = await startLocalEdge(ca.certPem, { BROKER_SHARDS: '4' });
    for (const name of ['A', 'B', 'C']) {
      agents4.push(await connectAgent(edge4, { origins: [ORIGIN], certChainPem: origin.chainPem, keyPem: origin.keyPem }, async () => new Response(name)));
      for (;;) {
        const s = await status4();
        if (s.sessions.length === agents4.length) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const s = await status4();
    expect(s.shards).toHaveLength(4);
    expect(new Set(s.sessions.map((session) => session.shard)).size).toBe(3);

    const serve = async (n: number) => {
      const counts: Record<string, number> = {};
      for (let i = 0; i < n; i++) {
        const response = await browser(edge4, HOST, '/who');
        const key = response.status === 200 ? await response.text() : `status ${response.status}`;
        counts[key] = (counts[key] ?? 0) + 1;
      }
      return counts;
    };
    const before = await serve(40);
    expect(Object.keys(before).sort()).toEqual(['A', 'B', 'C']);

    // A drains: GOAWAY from the agent; its shard passes every new request on.
    agents4[0].session.goaway();
    for (;;) {
      const now = await status4();
      // Draining, or already gone (a session with no open streams may close right after GOAWAY).
      if (now.sessions.some((session) => session.draining) || now.sessions.length === 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const after = await serve(40);
    expect(Object.keys(after).sort()).toEqual(['B', 'C']);
    expect(after.B + after.C).toBe(40);
  });
});
