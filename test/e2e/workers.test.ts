/**
 * `rhttp-intermediary --workers 2` through the built CLIs (issue 10 item 7): two intermediary
 * processes share the --http listener (node:cluster) and listen for agents on --agents port + i.
 * One agent, given a bare name whose SVCB records are exactly what `--print-svcb NAME --workers 2`
 * prints (served by a DNS-over-HTTPS server in this test), holds a connection to each worker, and
 * browser requests on new connections are answered by both workers. SIGTERM to the primary stops
 * both gracefully.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalName, type DnsRecord, parseSvcbRdata, RRType } from '@rhttp/core';
import { startDohServer } from '../support/doh-server.js';
import {
  agentCli,
  APP_ORIGIN,
  type CertPaths,
  httpGet,
  intermediaryCli,
  makeCertificates,
  removeDir,
  requireBuiltClis,
  startProcess,
  startUpstream,
  stopAll,
  tempDir,
  type Upstream,
  waitUntil,
} from './support.js';

const zone = new Map<string, DnsRecord[]>();
let doh: string;
let dohServer: http.Server;
let dir: string;
let certs: CertPaths;
let upstream: Upstream;

/** Two adjacent ports that were both free a moment ago (worker i listens on base + i). */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = net.createServer();
    const base = await new Promise<number>((resolve, reject) => {
      first.once('error', reject);
      first.listen(0, '127.0.0.1', () => resolve((first.address() as net.AddressInfo).port));
    });
    const second = net.createServer();
    const ok = await new Promise<boolean>((resolve) => {
      second.once('error', () => resolve(false));
      second.listen(base + 1, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((r) => first.close(() => r()));
    if (ok) {
      await new Promise<void>((r) => second.close(() => r()));
      return base;
    }
  }
  throw new Error('no two adjacent free ports');
}

function add(owner: string, rr: DnsRecord): void {
  const key = canonicalName(owner);
  zone.set(key, [...(zone.get(key) ?? []), rr]);
}

/** Prometheus sample `name{labels}` from a scrape, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrape(port: number): Promise<string> {
  const r = await httpGet(port, `127.0.0.1:${port}`, '/metrics', { timeoutMs: 5000 });
  return r.body.toString('utf8');
}

beforeAll(async () => {
  requireBuiltClis();
  dir = tempDir('workers');
  certs = await makeCertificates(dir, [APP_ORIGIN]);
  upstream = await startUpstream('app');
  const started = await startDohServer(zone);
  dohServer = started.server;
  doh = started.url;
}, 60_000);

afterAll(async () => {
  await stopAll();
  await upstream?.close();
  await new Promise<void>((r) => (dohServer ? dohServer.close(() => r()) : r()));
  removeDir(dir);
});

describe('rhttp-intermediary --workers 2', () => {
  it('both workers answer browser requests on the shared --http port; one agent reaches both through the printed SVCB records', async () => {
    const agents = await freePortPair();
    const metrics = await freePortPair();
    const browser = await freePortPair();

    const printed = startProcess('print-svcb', process.execPath, [intermediaryCli, '--print-svcb', 'proxy.test', '--agents', `127.0.0.1:${agents}`, '--workers', '2']);
    expect(await printed.exited).toBe(0);
    const lines = printed.output().split('\n').filter((l) => l.startsWith('_http-reverse.proxy.test.'));
    expect(lines.length).toBe(2);
    for (const line of lines) {
      const [owner, ttl, , , ...rdata] = line.split(/\s+/);
      add(owner, { name: owner, type: RRType.SVCB, class: 1, ttl: Number(ttl), data: { kind: 'svcb', svcb: parseSvcbRdata(rdata.join(' ')) } });
    }
    add('proxy.test', { name: 'proxy.test.', type: RRType.A, class: 1, ttl: 300, data: { kind: 'a', address: '127.0.0.1' } });

    const primary = startProcess('rhttp-intermediary --workers 2', process.execPath, [
      intermediaryCli,
      '--workers', '2',
      '--agents', `127.0.0.1:${agents}`,
      '--http', `127.0.0.1:${browser}`,
      '--metrics', `127.0.0.1:${metrics}`,
      '--cert', certs.intermediaryCert,
      '--key', certs.intermediaryKey,
      '--trust', certs.ca,
    ]);
    await primary.waitFor(/running as 2 workers/);
    expect(primary.output()).toContain(`tls://127.0.0.1:${agents}  (worker 1`);
    expect(primary.output()).toContain(`tls://127.0.0.1:${agents + 1}  (worker 2`);

    const agentMetrics = await freePortPair();
    const agent = startProcess('rhttp-agent', process.execPath, [
      agentCli,
      '--intermediary', 'proxy.test',
      '--doh', doh,
      // The dev intermediary certificate names localhost and 127.0.0.1, not proxy.test.
      '--servername', 'localhost',
      '--origin', APP_ORIGIN,
      '--upstream', upstream.url,
      '--cert', certs.originCert,
      '--key', certs.originKey,
      '--ca', certs.ca,
      '--connections', '1',
      '--metrics', `127.0.0.1:${agentMetrics}`,
    ]);
    await agent.waitFor(new RegExp(`connected to tls://proxy\\.test:${agents} `));
    await agent.waitFor(new RegExp(`connected to tls://proxy\\.test:${agents + 1} `));
    // Each worker has registered the agent's session once its own metrics say so.
    for (const port of [metrics, metrics + 1]) {
      await waitUntil(`worker on metrics port ${port} to hold an authorized session`, async () =>
        sample(await scrape(port), 'rhttp_intermediary_agent_sessions{state="authorized"}') === 1 ? true : undefined,
      );
    }

    // A new TCP connection per request: the primary hands connections to the workers in turn.
    const host = `app.localhost:${browser}`;
    const answers = [];
    for (let i = 0; i < 40; i++) answers.push(await httpGet(browser, host, '/hello', { agent: new http.Agent({ keepAlive: false }), timeoutMs: 10_000 }));
    expect(answers.map((r) => `${r.status} ${r.body.toString()}`)).toEqual(Array(40).fill('200 hello from app\n'));

    const perWorker = [];
    for (const port of [metrics, metrics + 1]) perWorker.push(sample(await scrape(port), 'rhttp_intermediary_requests_total{code_class="2xx"}') ?? 0);
    expect(perWorker.every((n) => n > 0)).toBe(true);
    expect(perWorker[0] + perWorker[1]).toBe(40);
    const fromAgent = await scrape(agentMetrics);
    const viaEndpoint = [agents, agents + 1].map((p) => sample(fromAgent, `rhttp_agent_endpoint_requests_total{endpoint="tls://proxy.test:${p}"}`));
    expect(viaEndpoint).toEqual(perWorker);

    agent.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    primary.kill('SIGTERM');
    expect(await primary.exited).toBe(0);
    expect(primary.output()).toMatch(/worker 1: stopped/);
    expect(primary.output()).toMatch(/worker 2: stopped/);
  });
});
