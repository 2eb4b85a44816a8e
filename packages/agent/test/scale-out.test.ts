/**
 * Scale-out (issue 10 item 7): an agent given a bare name holds `connections` connections to every
 * endpoint of the SVCB record set (RFC 9460), so several intermediaries behind one name share the
 * load. Real in-process intermediaries (apps/intermediary), an in-process agent, and a DNS-over-HTTPS
 * server (RFC 8484) started here that answers from a zone the tests change.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canonicalName, type DnsRecord, parseSvcbRdata, RRType } from '@rhttp/core';
import { startDohServer } from '../../../test/support/doh-server.js';
import { httpGet } from '../../../test/e2e/support.js';
import { Intermediary } from '../../../apps/intermediary/src/index.js';
import { Agent } from '../src/agent.js';
import { EventLog, makeCertificates, type TestCertificates } from './intermediary-peer.js';

const ORIGIN = 'https://app.example.com';
/** Longest wait for a state the test polls for; generous for a loaded machine. */
const WAIT_MS = 20_000;

const zone = new Map<string, DnsRecord[]>();
let dohServer: http.Server;
let doh: string;
let upstream: http.Server;
let upstreamUrl: string;
let certs: TestCertificates;
const cleanups: Array<() => Promise<void> | void> = [];

function setRecords(owner: string, rdata: string[]): void {
  zone.set(
    canonicalName(owner),
    rdata.map((r) => ({ name: owner, type: RRType.SVCB, class: 1, ttl: 300, data: { kind: 'svcb' as const, svcb: parseSvcbRdata(r) } })),
  );
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

beforeAll(async () => {
  certs = await makeCertificates(['app.example.com']);
  upstream = http.createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`upstream answered ${req.url}`));
  upstreamUrl = `http://127.0.0.1:${await listen(upstream)}`;
  const started = await startDohServer(zone);
  dohServer = started.server;
  doh = started.url;
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  zone.clear();
});

afterAll(async () => {
  upstream.closeAllConnections();
  for (const s of [dohServer, upstream]) await new Promise<void>((r) => s.close(() => r()));
});

interface Running {
  intermediary: Intermediary;
  agentPort: number;
  httpPort: number;
  /** The agent's name for this endpoint. */
  endpoint: string;
}

async function startIntermediary(): Promise<Running> {
  const intermediary = new Intermediary({
    agents: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    cert: certs.intermediary.chainPem,
    key: certs.intermediary.keyPem,
    trust: certs.ca.certPem,
  });
  const addresses = await intermediary.start();
  cleanups.push(() => intermediary.stop());
  return { intermediary, agentPort: addresses.agents.port, httpPort: addresses.http!.port, endpoint: `tls://localhost:${addresses.agents.port}` };
}

function record(i: Running, priority = 1): string {
  return `${priority} localhost. alpn=h2-reverse port=${i.agentPort} ipv4hint=127.0.0.1`;
}

function startAgent(connections: number, events = new EventLog()): Agent {
  const agent = new Agent({
    intermediary: 'proxy.test',
    doh,
    origins: [ORIGIN],
    upstream: upstreamUrl,
    cert: certs.origin.chainPem,
    key: certs.origin.keyPem,
    ca: certs.ca.certPem,
    connections,
    log: events.log,
    backoff: { baseMs: 20, capMs: 200, refusedMs: 60_000, healthyAfterMs: 60_000 },
  });
  cleanups.push(() => agent.stop({ graceful: false }));
  agent.start();
  return agent;
}

/** Authorized agent sessions the intermediary holds now. */
function sessions(i: Running): number {
  return i.intermediary.status().sessions.filter((s) => s.state === 'authorized' && !s.draining).length;
}

async function until(what: string, done: () => boolean, detail: () => unknown = () => ''): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`never: ${what}\n${JSON.stringify(detail(), null, 2)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One HTTP/1.1 request through an intermediary's browser port. */
function get(i: Running, path: string): Promise<{ status: number; body: string }> {
  return httpGet(i.httpPort, 'app.example.com', path).then((r) => ({ status: r.status, body: r.body.toString('utf8') }));
}

describe('scale-out: one name, several intermediaries, connections to each', () => {
  it('--connections 2 holds 2 connections to each of two SVCB records, and both intermediaries serve the origin', async () => {
    const a = await startIntermediary();
    const b = await startIntermediary();
    // Different priorities: still both get connections (priority orders alternatives, it is not a standby flag).
    setRecords('_http-reverse.proxy.test', [record(a, 1), record(b, 2)]);
    const agent = startAgent(2);
    await until('2 sessions at each intermediary', () => sessions(a) === 2 && sessions(b) === 2, () => agent.status());

    const status = agent.status();
    expect(status.endpoints.map((e) => [e.endpoint, e.connected, e.connections])).toEqual([
      [a.endpoint, 2, 2],
      [b.endpoint, 2, 2],
    ]);
    expect(status.connections.map((c) => [c.connection, c.endpoint, c.state])).toEqual([
      [1, a.endpoint, 'connected'],
      [2, a.endpoint, 'connected'],
      [3, b.endpoint, 'connected'],
      [4, b.endpoint, 'connected'],
    ]);
    const answers = await Promise.all([...Array(10).keys()].flatMap((n) => [get(a, `/a${n}`), get(b, `/b${n}`)]));
    expect(answers.filter((r) => r.status === 200 && r.body.startsWith('upstream answered /')).length).toBe(20);
    expect(agent.metrics().endpoints).toEqual([
      { endpoint: a.endpoint, connected: 2, requests: 10 },
      { endpoint: b.endpoint, connected: 2, requests: 10 },
    ]);
    await agent.stop();
    expect(sessions(a) + sessions(b)).toBe(0);
  });

  it('losing one intermediary leaves the other serving; the next lookup drops it and adds a new record', async () => {
    const a = await startIntermediary();
    const b = await startIntermediary();
    setRecords('_http-reverse.proxy.test', [record(a), record(b)]);
    const events = new EventLog();
    const agent = startAgent(1, events);
    await until('a session at each intermediary', () => sessions(a) === 1 && sessions(b) === 1, () => agent.status());

    // Requests through b, four at a time, the whole while a goes away.
    let going = true;
    const answers: { status: number; body: string }[] = [];
    const failures: unknown[] = [];
    const load = Promise.all(
      [...Array(4).keys()].map(async (w) => {
        for (let n = 0; going; n++) {
          try {
            answers.push(await get(b, `/w${w}-${n}`));
          } catch (error) {
            failures.push(error);
          }
        }
      }),
    );
    await until('requests through b', () => answers.length >= 20);
    const c = await startIntermediary();
    setRecords('_http-reverse.proxy.test', [record(b), record(c)]);
    await a.intermediary.stop();
    // a's connection cannot come back, which asks DNS again: a leaves, c joins; b's connection is untouched.
    await events.waitFor('endpoint-removed', (e) => e.endpoint === a.endpoint);
    await until('a session at c', () => sessions(c) === 1, () => agent.status());
    const during = answers.length;
    await until('more requests through b after the change', () => answers.length >= during + 20);
    going = false;
    await load;

    expect(failures).toEqual([]);
    expect(answers.every((r) => r.status === 200 && r.body.startsWith('upstream answered /w'))).toBe(true);
    const bTrouble = events.events.filter((e) => 'endpoint' in e && e.endpoint === b.endpoint && e.type !== 'connecting' && e.type !== 'connected');
    expect(bTrouble).toEqual([]);
    expect(events.events.filter((e) => e.type === 'connected' && e.endpoint === b.endpoint).length).toBe(1);
    expect(agent.status().endpoints.map((e) => [e.endpoint, e.connected])).toEqual([
      [b.endpoint, 1],
      [c.endpoint, 1],
    ]);
    expect(await get(c, '/through-c')).toEqual({ status: 200, body: 'upstream answered /through-c' });
    expect(agent.status().discovery).toMatchObject({ name: 'proxy.test', lastError: undefined });
  });

  it('a URL given is one endpoint with --connections connections, as before', async () => {
    const a = await startIntermediary();
    const agent = new Agent({
      intermediary: `tls://127.0.0.1:${a.agentPort}`,
      origins: [ORIGIN],
      upstream: upstreamUrl,
      cert: certs.origin.chainPem,
      key: certs.origin.keyPem,
      ca: certs.ca.certPem,
      connections: 3,
    });
    cleanups.push(() => agent.stop({ graceful: false }));
    agent.start();
    await until('3 sessions', () => sessions(a) === 3);
    expect(agent.status().endpoints).toEqual([{ endpoint: `tls://127.0.0.1:${a.agentPort}`, dials: [`tls://127.0.0.1:${a.agentPort}`], connected: 3, connections: 3, requests: 0 }]);
    expect(agent.status().discovery).toBeUndefined();
  });
});
