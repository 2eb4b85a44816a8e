import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Intermediary, STATUS_PATH, type IntermediaryAddresses, type IntermediaryStatus } from '../src/intermediary.js';
import { formatLogLine, type LogRecord } from '../src/log-format.js';
import { METRICS_CONTENT_TYPE, renderMetrics } from '../src/metrics.js';
import { checkStatusAccess, escapeHtml, isLoopback, renderStatusPage, wantsJson } from '../src/status-page.js';
import { connectAgent, http1, makePki, until, type Pki, type TestAgent, intermediaryOptions } from './harness.js';

const run = promisify(execFile);
const CHROMIUM = '/usr/bin/chromium';
const NGHTTP = '/usr/bin/nghttp';

let pki: Pki;
let intermediary: Intermediary;
let addresses: IntermediaryAddresses;
const records: { message: string; record?: LogRecord }[] = [];
const agents: TestAgent[] = [];
let httpOrigin: string;
let httpsOrigin: string;

beforeAll(async () => {
  pki = await makePki();
  intermediary = new Intermediary(intermediaryOptions(pki, { metrics: { host: '127.0.0.1', port: 0 }, log: (message, record) => records.push({ message, record }) }));
  addresses = await intermediary.start();
  httpOrigin = `http://app.example.com:${addresses.http!.port}`;
  httpsOrigin = `https://app.example.com:${addresses.https!.port}`;
});

afterEach(async () => {
  for (const agent of agents.splice(0)) agent.socket.destroy();
  await until(() => intermediary.status().sessions.length === 0, 'every agent session to close');
});

afterAll(async () => {
  await intermediary.stop();
});

async function agent(opts: Partial<Parameters<typeof connectAgent>[0]> & Pick<Parameters<typeof connectAgent>[0], 'handler'>): Promise<TestAgent> {
  const a = await connectAgent({ port: addresses.agents.port, caPem: pki.ca.certPem, cert: pki.origin, origins: [httpOrigin], ...opts });
  agents.push(a);
  return a;
}

async function scrape(): Promise<{ contentType: string | null; text: string; value(series: string): number | undefined }> {
  const res = await fetch(`http://127.0.0.1:${addresses.metrics!.port}/metrics`);
  const text = await res.text();
  return {
    contentType: res.headers.get('content-type'),
    text,
    value(series) {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    },
  };
}

describe('Prometheus metrics (--metrics listener, text exposition format 0.0.4)', () => {
  it('counts sessions, requests by status class, body bytes as they stream, refusals by reason, RTT and origins', async () => {
    const before = await scrape();
    await agent({
      handler: async (request) => {
        const path = new URL(request.url).pathname;
        if (path === '/missing') return new Response('no such page', { status: 404 });
        return new Response((await request.text()).toUpperCase());
      },
    });
    await until(() => intermediary.servedOrigins().includes(httpOrigin), 'the origin to be served');
    await until(() => intermediary.status().sessions.some((s) => s.rttMs !== null), 'a PING round trip');
    const host = `app.example.com:${addresses.http!.port}`;
    const post = await http1(addresses.http!.port, host, '/echo', { method: 'POST', body: 'hello metrics' }); // 13 bytes each way
    expect(post.body).toBe('HELLO METRICS');
    expect((await http1(addresses.http!.port, host, '/missing')).status).toBe(404);
    expect((await http1(addresses.http!.port, 'nobody.example', '/')).status).toBe(503);
    // Refusals of three kinds: wrong ALPN, no certificate, an origin the certificate does not cover.
    await connectAgent({ port: addresses.agents.port, caPem: pki.ca.certPem, cert: pki.origin, origins: [httpOrigin], handler: () => new Response(''), alpn: [] })
      .then((a) => agents.push(a))
      .catch(() => {});
    const noCert = await agent({ cert: undefined, handler: () => new Response('') });
    await noCert.goaway;
    const forged = await agent({ origins: ['https://bank.example'], handler: () => new Response('') });
    await forged.goaway;
    const refusalsBefore = (reason: string) => before.value(`rhttp_intermediary_agent_refusals_total{reason="${reason}"}`) ?? 0;
    await until(() => {
      const r = intermediary.status().counters.refusals;
      return r.alpn > refusalsBefore('alpn') && r.certificate > refusalsBefore('certificate') && r.origin > refusalsBefore('origin');
    }, 'the three refusals to be counted');

    const m = await scrape();
    expect(m.contentType).toBe(METRICS_CONTENT_TYPE);
    expect(m.text).toContain('# TYPE rhttp_intermediary_requests_total counter');
    expect(m.value('rhttp_intermediary_agent_sessions{state="authorized"}')).toBe(1);
    expect(m.value('rhttp_intermediary_origins')).toBe(1);
    expect(m.value('rhttp_intermediary_open_streams')).toBe(0);
    const delta = (series: string) => m.value(series)! - (before.value(series) ?? 0);
    // The agent, the one without ALPN, the one without a certificate and the forger.
    expect(delta('rhttp_intermediary_agent_connections_total')).toBe(4);
    expect(delta('rhttp_intermediary_requests_total{code_class="2xx"}')).toBe(1);
    expect(delta('rhttp_intermediary_requests_total{code_class="4xx"}')).toBe(1);
    expect(delta('rhttp_intermediary_requests_total{code_class="5xx"}')).toBe(1);
    expect(delta('rhttp_intermediary_request_bytes_total{direction="request"}')).toBe(13);
    // 13 for the echo, 12 for "no such page", and the 503's own text.
    expect(delta('rhttp_intermediary_request_bytes_total{direction="response"}')).toBeGreaterThan(25);
    expect(delta('rhttp_intermediary_agent_refusals_total{reason="alpn"}')).toBe(1);
    expect(delta('rhttp_intermediary_agent_refusals_total{reason="certificate"}')).toBe(1);
    expect(delta('rhttp_intermediary_agent_refusals_total{reason="origin"}')).toBe(1);
    expect(delta('rhttp_intermediary_agent_refusals_total{reason="timeout"}')).toBe(0);
    const session = intermediary.status().sessions.find((s) => s.state === 'authorized')!;
    // The admission PING measured it; the metric is the status page's figure in seconds.
    expect(session.rttMs).not.toBeNull();
    expect(m.value(`rhttp_intermediary_session_rtt_seconds{session="${session.id}"}`)).toBe(session.rttMs! / 1000);
    // The metrics are not on the browser listeners.
    expect((await http1(addresses.http!.port, '127.0.0.1', '/metrics')).status).toBe(503);
  });

  it('writes well-formed exposition text: HELP and TYPE before samples, escaped label values', () => {
    const status = emptyStatus();
    status.sessions.push({ ...sessionRow(), id: 'a"b\\c\nd', rttMs: 1.5 });
    const text = renderMetrics(status);
    expect(text).toContain('rhttp_intermediary_session_rtt_seconds{session="a\\"b\\\\c\\nd"} 0.0015');
    const lines = text.trimEnd().split('\n');
    const declared = new Set<string>();
    for (const line of lines) {
      const type = /^# TYPE (\S+) (counter|gauge)$/.exec(line);
      if (type) declared.add(type[1]);
      else if (!line.startsWith('# HELP ')) expect(declared.has(/^[a-z_]+/.exec(line)![0])).toBe(true);
    }
    expect(declared.size).toBe(13);
  });
});

describe('status page (/.rhttp/status)', () => {
  it('is HTML by default and JSON on request (Accept or ?format=json)', async () => {
    const html = await http1(addresses.http!.port, 'anything.example', STATUS_PATH);
    expect(html.status).toBe(200);
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(html.headers['content-security-policy']).toContain("default-src 'none'");
    expect(html.body).toMatch(/^<!doctype html>/);
    const json = await http1(addresses.http!.port, 'anything.example', `${STATUS_PATH}?format=json`);
    expect(json.headers['content-type']).toBe('application/json; charset=utf-8');
    expect((JSON.parse(json.body) as IntermediaryStatus).counters.responses).toBeDefined();
    expect(wantsJson(new Request('http://x/', { headers: { accept: 'application/json' } }))).toBe(true);
    expect(wantsJson(new Request('http://x/', { headers: { accept: 'text/html,application/json;q=0.9' } }))).toBe(false);
  });

  it('is served only to loopback clients without a token (agents\' addresses are sensitive)', async () => {
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('::ffff:127.0.0.5')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('10.0.0.1')).toBe(false);
    expect(isLoopback('128.0.0.1')).toBe(false);
    const request = new Request(`http://x${STATUS_PATH}`);
    expect(checkStatusAccess(request, '127.0.0.1', {})).toBeUndefined();
    expect(checkStatusAccess(request, '203.0.113.9', {})?.status).toBe(403);
  });

  it('requires Authorization: Bearer <token> from every client when a token is set (RFC 6750 §3)', async () => {
    const guarded = new Intermediary(intermediaryOptions(pki, { https: undefined, statusToken: 's3cret-token' }));
    const a = await guarded.start();
    try {
      const none = await http1(a.http!.port, 'x.example', STATUS_PATH);
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toMatch(/^Bearer /);
      expect((await http1(a.http!.port, 'x.example', STATUS_PATH, { headers: { authorization: 'Bearer wrong-token1' } })).status).toBe(401);
      const ok = await http1(a.http!.port, 'x.example', STATUS_PATH, { headers: { authorization: 'Bearer s3cret-token' } });
      expect(ok.status).toBe(200);
      expect(ok.body).toContain('<h1>rhttp intermediary</h1>');
    } finally {
      await guarded.stop();
    }
  });

  it('lists the 502, 503 and 504 answers it counted under recent errors, bounded', async () => {
    await agent({
      handler: (request) => {
        const path = new URL(request.url).pathname;
        return new Response('upstream trouble', { status: path === '/bad-gateway' ? 502 : path === '/teapot' ? 418 : 500 });
      },
    });
    await until(() => intermediary.servedOrigins().includes(httpOrigin), 'the origin to be served');
    const host = `app.example.com:${addresses.http!.port}`;
    const before = intermediary.status().counters.responses['5xx'];
    expect((await http1(addresses.http!.port, 'unserved.example', '/nothing-here')).status).toBe(503);
    expect((await http1(addresses.http!.port, host, '/bad-gateway')).status).toBe(502);
    expect((await http1(addresses.http!.port, host, '/teapot')).status).toBe(418);
    expect((await http1(addresses.http!.port, host, '/internal')).status).toBe(500);
    const json = JSON.parse((await http1(addresses.http!.port, 'anything.example', `${STATUS_PATH}?format=json`)).body) as IntermediaryStatus;
    expect(json.counters.responses['5xx']).toBe(before + 3);
    const gateway = json.recentErrors.filter((e) => e.status !== undefined).slice(-2);
    expect(gateway.map((e) => [e.session, e.status])).toEqual([
      [null, 503],
      [null, 502],
    ]);
    expect(gateway[0].message).toMatch(/^503 for GET http:\/\/unserved\.example\/nothing-here: Proxy-Status: \S+; error=/);
    expect(gateway[1].message).toBe(`502 for GET ${httpOrigin}/bad-gateway: answered so by the origin`);
    // 418 and 500 are counted, not listed: only the gateway statuses say the path to the origin failed.
    expect(json.recentErrors.some((e) => /\/teapot|\/internal/.test(e.message))).toBe(false);
    const html = (await http1(addresses.http!.port, 'anything.example', STATUS_PATH)).body;
    expect(html).toContain('<td>HTTP 502</td>');
    expect(html).toContain(`502 for GET ${httpOrigin}/bad-gateway`);
    for (let i = 0; i < 25; i++) expect((await http1(addresses.http!.port, 'unserved.example', `/flood-${i}`)).status).toBe(503);
    const flooded = intermediary.status().recentErrors;
    expect(flooded).toHaveLength(20);
    expect(flooded[19].message).toContain('/flood-24');
    expect(flooded[0].message).toContain('/flood-5:');
  });

  it('escapes every value it shows', () => {
    const status = emptyStatus();
    status.origins = ['https://<script>alert(1)</script>.example'];
    status.sessions.push({ ...sessionRow(), subject: 'CN="><img src=x onerror=alert(1)>' });
    status.recentRefusals.push({ at: '2025-01-01T00:00:00.000Z', remoteAddress: '192.0.2.1:5', kind: 'origin', reason: "origin <b>x</b> & 'y'" });
    const html = renderStatusPage(status);
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>x');
    expect(html).toContain('&#60;script&#62;');
    expect(html).toContain('CN=&#34;&#62;&#60;img');
    expect(escapeHtml(`&<>"'`)).toBe('&#38;&#60;&#62;&#34;&#39;');
    expect(html).not.toMatch(/<script|<link|src=["']?http/i);
  });

  it.skipIf(!existsSync(CHROMIUM))('renders in headless Chromium with the origin, the session and its RTT', async () => {
    await agent({ handler: () => new Response('') });
    await until(() => intermediary.servedOrigins().includes(httpOrigin), 'the origin to be served');
    await until(() => intermediary.status().sessions.some((s) => s.rttMs !== null), 'a PING round trip');
    const session = intermediary.status().sessions[0];
    const profile = await mkdtemp(join(tmpdir(), 'rhttp-chromium-'));
    const url = `http://127.0.0.1:${addresses.http!.port}${STATUS_PATH}`;
    const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`];
    try {
      const { stdout } = await run(CHROMIUM, [...flags, '--dump-dom', url], { timeout: 60_000, maxBuffer: 8 << 20 });
      expect(stdout).toContain('<h1>rhttp intermediary</h1>');
      expect(stdout).toContain(`<li class="mono">${httpOrigin}</li>`);
      expect(stdout).toContain(`<td>${session.id}</td>`);
      expect(stdout).toContain(`<td>${session.remoteAddress}</td>`);
      expect(stdout).toContain('<td>CN=app.example.com</td>');
      // The RTT cell: a number of milliseconds, not the "—" shown before the first PING answer.
      expect(stdout).toMatch(/<td>\d+(\.\d+)? ms<\/td>/);
      if (process.env.RHTTP_STATUS_SCREENSHOT) {
        await run(CHROMIUM, [...flags, `--screenshot=${process.env.RHTTP_STATUS_SCREENSHOT}`, '--window-size=1200,900', url], { timeout: 60_000 });
      }
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  }, 90_000);
});

if (!existsSync(CHROMIUM)) console.log(`status page Chromium test skipped: ${CHROMIUM} is not installed (apt-get install chromium)`);
if (!existsSync(NGHTTP)) console.log(`ORIGIN frame nghttp test skipped: ${NGHTTP} is not installed (apt-get install nghttp2-client)`);

describe('RFC 8336 ORIGIN frame to browsers on the https listener', () => {
  it.skipIf(!existsSync(NGHTTP))('nghttp sees the served origin at once, and an origin added later in a new ORIGIN frame on the same connection', async () => {
    const laterOrigin = `https://api.app.example.com:${addresses.https!.port}`;
    let arrived!: () => void;
    const requestArrived = new Promise<void>((r) => (arrived = r));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    await agent({
      origins: [httpsOrigin, 'https://*.app.example.com'],
      handler: async () => {
        arrived();
        await released;
        return new Response('done');
      },
    });
    await until(() => intermediary.servedOrigins().includes(httpsOrigin), 'the first origin to be served');
    const nghttp = spawn(NGHTTP, ['-v', '-n', `https://127.0.0.1:${addresses.https!.port}/slow`, '-H', `:authority: app.example.com:${addresses.https!.port}`]);
    let out = '';
    nghttp.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    const exited = new Promise<number | null>((r) => nghttp.once('exit', (code) => r(code)));
    await requestArrived;
    // A second agent brings a new origin while the browser's connection is open.
    await agent({ origins: [laterOrigin], handler: () => new Response('') });
    await until(() => intermediary.servedOrigins().includes(laterOrigin), 'the second origin to be served');
    release();
    expect(await exited).toBe(0);
    const frames = [...out.matchAll(/recv ORIGIN frame <[^>]*>\n((?:\s+\[[^\]]*\]\n)+)/g)].map((m) => [...m[1].matchAll(/\[([^\]]*)\]/g)].map((e) => e[1]));
    expect(frames[0]).toEqual([httpsOrigin]); // the wildcard is served but cannot be listed
    expect(frames).toHaveLength(2);
    expect(frames[1]).toEqual([laterOrigin]);
    // The second ORIGIN frame came on the connection that was already open, before the response.
    expect(out.indexOf('recv ORIGIN frame', out.indexOf('recv ORIGIN frame') + 1)).toBeLessThan(out.indexOf(':status: 200'));
  }, 30_000);

  it('leaves out origins the https certificate does not cover, and says so in the log', async () => {
    const uncovered = `https://elsewhere.example.com:${addresses.https!.port}`;
    const cert = await (await import('../../../packages/node/src/certs.js')).issueCertificate(pki.ca, { dnsNames: ['elsewhere.example.com'], extendedKeyUsage: ['serverAuth'] });
    await agent({ cert, origins: [uncovered], handler: () => new Response('') });
    await until(() => intermediary.servedOrigins().includes(uncovered), 'the origin to be served');
    expect(intermediary.originsForBrowsers()).not.toContain(uncovered);
    expect(records.some((r) => r.record?.event === 'origin.not_covered' && r.record.origin === uncovered)).toBe(true);
  });
});

describe('JSON log lines (--log json)', () => {
  it('writes one JSON object per line with time, level, event, message and the fields', () => {
    const line = formatLogLine('json', 'agent connected\nfake line', { level: 'info', event: 'agent.connected', remoteAddress: '192.0.2.1:4', time: 'x' }, new Date(0));
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      time: '1970-01-01T00:00:00.000Z',
      level: 'info',
      event: 'agent.connected',
      message: 'agent connected\nfake line',
      remoteAddress: '192.0.2.1:4',
      field_time: 'x',
    });
    expect(JSON.parse(formatLogLine('json', 'plain', undefined, new Date(0)))).toEqual({ time: '1970-01-01T00:00:00.000Z', level: 'info', event: 'log', message: 'plain' });
    expect(formatLogLine('text', 'plain', undefined, new Date(0))).toBe('1970-01-01T00:00:00.000Z plain\n');
  });

  it('gives every line the intermediary logged in these tests a record with a level and an event', () => {
    expect(records.length).toBeGreaterThan(10);
    for (const { message, record } of records) {
      expect(record, message).toBeDefined();
      expect(['debug', 'info', 'warn', 'error']).toContain(record!.level);
      expect(record!.event).toMatch(/^[a-z_]+\.[a-z_]+$/);
    }
    expect(records.some((r) => r.record?.event === 'agent.authorized' && r.record.session !== undefined)).toBe(true);
    expect(records.some((r) => r.record?.event === 'agent.refused' && r.record.reason === 'alpn')).toBe(true);
  });
});

function emptyStatus(): IntermediaryStatus {
  return {
    startedAt: '2025-01-01T00:00:00.000Z',
    listeners: { agents: { host: '127.0.0.1', port: 8443 } },
    origins: [],
    sessions: [],
    brokers: [],
    counters: {
      agentConnections: 0,
      agentsAuthorized: 0,
      agentsRefused: 0,
      browserRequests: 0,
      refusals: { certificate: 0, origin: 0, alpn: 0, timeout: 0, other: 0 },
      responses: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
      bodyBytes: { request: 0, response: 0 },
      clientBudgetRefusals: 0,
    },
    browserExchanges: { active: 0, clients: 0 },
    recentRefusals: [],
    recentErrors: [],
  };
}

function sessionRow(): IntermediaryStatus['sessions'][number] {
  return {
    id: 'agent-9',
    remoteAddress: '192.0.2.7:40000',
    state: 'authorized',
    subject: 'CN=app.example.com',
    origins: ['https://app.example.com'],
    openStreams: 0,
    maxConcurrentStreams: 100,
    draining: false,
    rttMs: null,
    ageMs: 65_000,
    bufferedBytes: 0,
    budgetResets: 0,
  };
}
