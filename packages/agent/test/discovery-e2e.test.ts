/**
 * End to end: `rhttp-agent --intermediary proxy.test --doh URL` finds a real intermediary only
 * through an SVCB record (RFC 9460) served by a DNS-over-HTTPS server (RFC 8484) this test starts,
 * connects, and serves a request; a dead address fails over to the record's next one, a dead record
 * leaves the others serving. Also the
 * config file's ingress rules (which upstream got the request), the Prometheus endpoint and the
 * JSON log shape, all through the built CLI.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canonicalName, type DnsRecord, parseSvcbRdata, RRType } from '@rhttp/core';
import { startDohServer } from '../../../test/support/doh-server.js';
import { httpGet } from '../../../test/e2e/support.js';
import { Intermediary } from '../../../apps/intermediary/src/index.js';
import { buildAgent, cliPath } from './build-cli.js';

/** Longest wait for an agent line; generous for slow CI machines. */
const WAIT_MS = 20_000;

const zone = new Map<string, DnsRecord[]>();
let dohServer: http.Server;
let doh: string;
let intermediary: Intermediary;
let agentPort: number;
let httpPort: number;
let certDir: string;
const upstreamHits: string[] = [];
const upstreams: http.Server[] = [];
let upstreamA: number;
let upstreamB: number;
const children = new Set<ChildProcess>();

function svcb(owner: string, rdata: string): void {
  const key = canonicalName(owner);
  zone.set(key, [...(zone.get(key) ?? []), { name: owner, type: RRType.SVCB, class: 1, ttl: 300, data: { kind: 'svcb', svcb: parseSvcbRdata(rdata) } }]);
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** A port nothing listens on: bound, then closed. */
async function deadPort(): Promise<number> {
  const s = http.createServer();
  const port = await listen(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function upstream(name: string): Promise<number> {
  const server = http.createServer((req, res) => {
    upstreamHits.push(`${name} ${req.headers.host} ${req.url}`);
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`${name} answered ${req.url}`);
  });
  upstreams.push(server);
  return listen(server);
}

/** One HTTP/1.1 request to the intermediary's browser port with the given Host. */
function get(host: string, path: string): Promise<{ status: number; body: string }> {
  return httpGet(httpPort, `${host}:${httpPort}`, path).then((r) => ({ status: r.status, body: r.body.toString('utf8') }));
}

function getText(url: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
    }).on('error', reject);
  });
}

/** Resolves once the intermediary serves `origin` (the agent's ORIGIN frame and certificate were accepted). */
async function servedByIntermediary(origin: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!intermediary.status().origins.includes(origin)) {
    if (Date.now() > deadline) throw new Error(`the intermediary never served ${origin}: ${JSON.stringify(intermediary.status())}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Runs the CLI to completion without blocking this process (the DoH server lives here). */
function runCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

interface AgentProc {
  child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
  stop(): Promise<number | null>;
}

function startAgent(args: string[], cwd = certDir): AgentProc {
  const child = spawn(process.execPath, [cliPath, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (c: Buffer) => {
    out += c.toString('utf8');
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(out);
          if (m) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${pattern} within ${WAIT_MS} ms; agent output:\n${out}`));
        }, WAIT_MS);
        waiters.add(check);
        check();
      }),
    stop: async () => {
      child.kill('SIGTERM');
      const code = await exited;
      children.delete(child);
      return code;
    },
  };
}

beforeAll(async () => {
  const build = buildAgent();
  expect(build.status, build.output).toBe(0);
  certDir = mkdtempSync(join(tmpdir(), 'rhttp-discovery-e2e-'));
  const certs = spawnSync(process.execPath, [cliPath, 'certs', '--dir', certDir, '--origin', 'https://app.example.com', '--origin', 'https://*.app.example.com'], { encoding: 'utf8' });
  expect(certs.status, certs.stderr).toBe(0);
  intermediary = new Intermediary({
    agents: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    cert: readFileSync(join(certDir, 'intermediary.pem'), 'utf8'),
    key: readFileSync(join(certDir, 'intermediary.key'), 'utf8'),
    trust: readFileSync(join(certDir, 'ca.pem'), 'utf8'),
  });
  const addresses = await intermediary.start();
  agentPort = addresses.agents.port;
  httpPort = addresses.http!.port;
  upstreamA = await upstream('A');
  upstreamB = await upstream('B');

  const started = await startDohServer(zone);
  dohServer = started.server;
  doh = started.url;
}, 180_000);

afterEach(async () => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
  zone.clear();
  upstreamHits.length = 0;
});

afterAll(async () => {
  await intermediary?.stop();
  for (const s of [dohServer, ...upstreams]) await new Promise<void>((r) => (s ? s.close(() => r()) : r()));
});

const agentFiles = ['--cert', 'origin.pem', '--key', 'origin.key', '--ca', 'ca.pem', '--connections', '1'];

describe('DESIGN.md Discovery: the agent finds the intermediary through SVCB over DoH (RFC 9460, RFC 8484)', () => {
  it('--intermediary proxy.test reaches the intermediary published at _http-reverse.proxy.test and serves a request', async () => {
    svcb('_http-reverse.proxy.test', `1 localhost. alpn=h2-reverse port=${agentPort} ipv4hint=127.0.0.1`);
    const agent = startAgent(['--intermediary', 'proxy.test', '--doh', doh, '--origin', 'https://app.example.com', '--upstream', `http://127.0.0.1:${upstreamA}`, ...agentFiles]);
    await agent.waitFor(/found proxy\.test through SVCB: tls:\/\/localhost:\d+ \(127\.0\.0\.1\)/);
    await agent.waitFor(/connection 1: connected to tls:\/\/localhost:\d+ \(127\.0\.0\.1\)/);
    await servedByIntermediary('https://app.example.com');
    const r = await get('app.example.com', '/hello');
    expect(r).toEqual({ status: 200, body: 'A answered /hello' });
    expect(await agent.stop()).toBe(0);
  });

  it('a record whose first address is dead: the next address of the same record is tried at once', async () => {
    // 127.0.0.2 is loopback too, but the intermediary listens on 127.0.0.1 only: connection refused.
    svcb('_http-reverse.proxy.test', `1 localhost. alpn=h2-reverse port=${agentPort} ipv4hint=127.0.0.2,127.0.0.1`);
    const agent = startAgent(['--intermediary', 'proxy.test', '--doh', doh, '--origin', 'https://app.example.com', '--upstream', `http://127.0.0.1:${upstreamA}`, ...agentFiles]);
    await agent.waitFor(/found proxy\.test through SVCB: tls:\/\/localhost:\d+ \(127\.0\.0\.2, 127\.0\.0\.1\)/);
    await agent.waitFor(new RegExp(`could not connect: .*127\\.0\\.0\\.2.*${agentPort}`));
    await agent.waitFor(new RegExp(`connected to tls://localhost:${agentPort} \\(127\\.0\\.0\\.1\\)`));
    await servedByIntermediary('https://app.example.com');
    expect(agent.output()).not.toMatch(/reconnecting in/); // the second address was tried at once, not after a backoff
    expect(await get('app.example.com', '/failover')).toEqual({ status: 200, body: 'A answered /failover' });
    expect(await agent.stop()).toBe(0);
  });

  it('two records, the first at a dead port: the agent serves through the second while the first backs off on its own', async () => {
    const dead = await deadPort();
    svcb('_http-reverse.proxy.test', `1 localhost. alpn=h2-reverse port=${dead} ipv4hint=127.0.0.1`);
    svcb('_http-reverse.proxy.test', `2 localhost. alpn=h2-reverse port=${agentPort} ipv4hint=127.0.0.1`);
    const agent = startAgent(['--intermediary', 'proxy.test', '--doh', doh, '--origin', 'https://app.example.com', '--upstream', `http://127.0.0.1:${upstreamA}`, ...agentFiles]);
    await agent.waitFor(new RegExp(`connection 1 \\(tls://localhost:${dead}\\): could not connect: .*127\\.0\\.0\\.1.*${dead}`));
    await agent.waitFor(new RegExp(`connection 1 \\(tls://localhost:${dead}\\): reconnecting in`));
    await agent.waitFor(new RegExp(`connection 2: connected to tls://localhost:${agentPort}`));
    await servedByIntermediary('https://app.example.com');
    expect(await get('app.example.com', '/failover')).toEqual({ status: 200, body: 'A answered /failover' });
    expect(agent.output()).not.toMatch(/connection 2 \(.*\): (reconnecting|could not connect)/);
    expect(await agent.stop()).toBe(0);
  });

  it('rhttp-agent discover prints the answer and the endpoints in order; no records is exit 1 with a clear error', async () => {
    svcb('_http-reverse.proxy.test', `2 backup.example. alpn=h2-reverse port=9443 ipv4hint=192.0.2.2`);
    svcb('_http-reverse.proxy.test', `1 localhost. alpn=h2-reverse,h2-reverse-ws port=${agentPort} ipv4hint=127.0.0.1`);
    const found = await runCli(['discover', 'proxy.test', '--doh', doh]);
    expect(found.status, found.stderr).toBe(0);
    expect(found.stdout).toContain(`Looked up SVCB _http-reverse.proxy.test via ${doh}.`);
    const order = found.stdout.split('\n').filter((l) => /^\s+\d\. /.test(l));
    expect(order.map((l) => l.trim().split(' ')[1])).toEqual([`tls://localhost:${agentPort}`, `wss://localhost:${agentPort}`, 'tls://backup.example:9443']);
    const none = await runCli(['discover', 'nothing.test', '--doh', doh]);
    expect(none.status).toBe(1);
    expect(none.stderr).toContain('no SVCB record at _http-reverse.nothing.test (NXDOMAIN)');
  });
});

describe('config file ingress, metrics and JSON logs through the CLI', () => {
  it('routes by hostname and path to different upstreams, derives the origins, scrapes /metrics, logs JSON', async () => {
    const metricsPort = await deadPort();
    const config = join(certDir, 'rhttp.yaml');
    writeFileSync(
      config,
      [
        `intermediary: tls://127.0.0.1:${agentPort}`,
        'cert: origin.pem',
        'key: origin.key',
        'ca: ca.pem',
        'connections: 1',
        'log: json',
        `metrics: 127.0.0.1:${metricsPort}`,
        'ingress:',
        '  - hostname: app.example.com',
        '    path: /api/*',
        `    service: http://127.0.0.1:${upstreamB}`,
        '  - hostname: app.example.com',
        `    service: http://127.0.0.1:${upstreamA}`,
        '  - hostname: "*.app.example.com"',
        `    service: http://127.0.0.1:${upstreamB}`,
        '  - service: http_status:404',
        '',
      ].join('\n'),
    );
    // Started from another folder: the certificate paths are relative to the config file.
    const agent = startAgent(['--config', config], tmpdir());
    await agent.waitFor(/"event":"connected"/);
    await servedByIntermediary('https://*.app.example.com');
    expect(await get('app.example.com', '/api/users')).toEqual({ status: 200, body: 'B answered /api/users' });
    expect(await get('app.example.com', '/index.html')).toEqual({ status: 200, body: 'A answered /index.html' });
    expect(await get('x.app.example.com', '/')).toEqual({ status: 200, body: 'B answered /' });
    expect(upstreamHits).toEqual([`B app.example.com /api/users`, `A app.example.com /index.html`, `B x.app.example.com /`]);

    const scrape = await getText(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(scrape.status).toBe(200);
    expect(scrape.type).toContain('text/plain; version=0.0.4');
    const sample = (line: string) => Number(scrape.body.split('\n').find((l) => l.startsWith(`${line} `))?.slice(line.length + 1));
    expect(sample('rhttp_agent_connections{state="connected"}')).toBe(1);
    expect(sample('rhttp_agent_requests_total{status_class="2xx"}')).toBe(3);
    expect(sample('rhttp_agent_request_bytes_total{direction="out"}')).toBe('B answered /api/users'.length + 'A answered /index.html'.length + 'B answered /'.length);
    expect(sample('rhttp_agent_refusals_total')).toBe(0);
    expect(sample('rhttp_agent_inflight_requests')).toBe(0);
    expect(scrape.body).toContain('# TYPE rhttp_agent_reconnects_total counter');

    expect(await agent.stop()).toBe(0);
    const lines = agent.output().trim().split('\n');
    for (const line of lines) {
      const record = JSON.parse(line) as Record<string, unknown>;
      expect(Object.keys(record)).toEqual(['time', 'level', 'event', 'message', 'fields']);
      expect(Number.isNaN(Date.parse(record.time as string))).toBe(false);
      expect(['info', 'warn', 'error']).toContain(record.level);
    }
    const connected = lines.map((l) => JSON.parse(l) as { event: string; fields: Record<string, unknown> }).find((r) => r.event === 'connected')!;
    expect(connected.fields).toMatchObject({ connection: 1, origins: ['https://app.example.com', 'https://*.app.example.com'] });
  });
});
