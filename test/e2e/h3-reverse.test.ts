/**
 * Issue 13, item 5: the QUIC carrier (`h3-reverse`) end to end with real clients, as the TLS
 * carrier's e2e files test it. Browsers (curl, nghttp, a `ws` client) reach the Deno
 * intermediary's `--http` listener (HTTP/1.1 and h2c); the intermediary sends their requests down
 * the reversed HTTP/3 session to a Deno agent (`--intermediary quic://…`), which serves them from
 * the upstream app. Bodies both ways, a 200 MiB download in bounded memory, SSE event by event, a
 * WebSocket over RFC 9220 extended CONNECT, refusals with their reasons and counters, drains
 * (GOAWAY, RFC 9114 §5.2) both ways, rotation, and the status page.
 * Skipped, with the reason printed, when Deno cannot start.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { issueCertificate } from '../../packages/node/src/certs.js';
import {
  APP_ORIGIN,
  NGHTTP,
  READY_TIMEOUT_MS,
  curl,
  dripBody,
  freePort,
  httpGet,
  intermediaryCli,
  loadWhileSampling,
  makeCertificates,
  mib,
  parseCurlResponse,
  patternSha256,
  removeDir,
  repoRoot,
  requireBuiltClis,
  runClient,
  sampleRss,
  sha256,
  sleep,
  slowDownload,
  slowLoadAcrossSigterm,
  startUpstream,
  stopAll,
  tempDir,
  waitForRoute,
  waitUntil,
  type CertPaths,
  type CurlResult,
  type Proc,
  type RotationLoad,
  type Upstream,
} from './support.js';
import { denoUnavailable, freeUdpPort, startDeno, startDenoAgent } from './support/deno.js';
import { describeWebSocketConformance } from '../support/websocket-conformance.js';

const unavailable = denoUnavailable();
if (unavailable) console.warn(`h3-reverse.test: skipping the h3-reverse end-to-end tests: ${unavailable}`);

const FIVE_MIB = 5 * 1024 * 1024;
/** The bulk download: far more than any window or buffer on the way. */
const BULK_BYTES = 200 * 1024 * 1024;
/** Allowed RSS growth of the intermediary and of the agent during the download: well under the 200 MiB relayed, so buffering the body fails. */
const RSS_GROWTH_LIMIT = 128 * 1024 * 1024;
const RSS_SAMPLE_EVERY_MS = 50;
/** The stalled reader reads this much, then stops. */
const STALL_AFTER_BYTES = 8 * 1024 * 1024;
/**
 * What may be relayed to a stalled reader beyond what it read: the loopback socket buffers
 * (a few MiB each way) and node's; the windows on the way (HTTP/3 stream budget, QUIC stream
 * windows) sit before the intermediary's counter. A hop that buffered would take the whole 200 MiB.
 */
const STALLED_AHEAD_LIMIT = 32 * 1024 * 1024;

/** `rhttp_intermediary_request_bytes_total{direction="response"}` of a metrics page. */
function responseBytesRelayed(metrics: string): number {
  const m = /^rhttp_intermediary_request_bytes_total\{direction="response"\} (\d+)$/m.exec(metrics);
  if (!m) throw new Error('no response bytes counter in the metrics');
  return Number(m[1]);
}

/** Polls `probe` until its value has stood still for a while (nothing can move: every window is full); returns it. */
async function untilStill(probe: () => Promise<number>): Promise<number> {
  let last = -1;
  let still = 0;
  for (let polls = 0; polls < 600 && still < 10; polls++) {
    await sleep(100);
    const now = await probe();
    still = now === last ? still + 1 : 0;
    last = now;
  }
  return last;
}

/** One agent session as `/.rhttp/status?format=json` lists it (the fields read here). */
interface StatusSession {
  id: string;
  state: string;
  draining: boolean;
  subject: string | null;
  origins: string[];
  httpVersion: string;
  carrier: string;
  bufferedBytes: number;
}

interface Status {
  sessions: StatusSession[];
  counters: { agentConnections: number; agentsAuthorized: number; agentsRefused: number; refusals: Record<string, number> };
  recentRefusals: { kind: string; reason: string }[];
}

/** One Deno intermediary with --http, --quic and --metrics, and the agents started against it. */
interface H3Tunnel {
  dir: string;
  certs: CertPaths;
  upstream: Upstream;
  ports: { agents: number; http: number; quic: number; metrics: number };
  intermediary: Proc;
  appHost: string;
  base: string;
  quicUrl: string;
  /** Starts a Deno CLI agent on quic:// for app.localhost (the tunnel's certificate and CA by default). */
  addAgent(opts?: { name?: string; origins?: string[]; cert?: string; key?: string; extra?: string[]; upstream?: string }): Promise<Proc>;
  status(): Promise<Status>;
  metrics(): Promise<string>;
  /** Stops the processes (not the upstream or the certificates, which the file shares). */
  close(): Promise<void>;
}

let dir: string;
let certs: CertPaths;
let upstream: Upstream;
let websockets: WebSocketServer;
/** Request header fields of each WebSocket upgrade the upstream accepted. */
const upgrades: http.IncomingHttpHeaders[] = [];

/** `deno run -A --unstable-net rhttp-intermediary --agents … --http … --quic … --metrics …`, once its QUIC listener is up. */
async function startH3Tunnel(name: string): Promise<H3Tunnel> {
  const ports = { agents: await freePort(), http: await freePort(), quic: await freeUdpPort(), metrics: await freePort() };
  const intermediary = startDeno(`rhttp-intermediary (${name})`, intermediaryCli, [
    ...['--agents', `127.0.0.1:${ports.agents}`, '--http', `127.0.0.1:${ports.http}`, '--quic', `127.0.0.1:${ports.quic}`, '--metrics', `127.0.0.1:${ports.metrics}`],
    ...['--cert', certs.intermediaryCert, '--key', certs.intermediaryKey, '--trust', certs.ca],
  ]);
  await intermediary.waitFor(new RegExp(`listening for agents and browsers on quic://127\\.0\\.0\\.1:${ports.quic}\\b`), READY_TIMEOUT_MS);
  const procs: Proc[] = [intermediary];
  const quicUrl = `quic://127.0.0.1:${ports.quic}`;
  const tunnel: H3Tunnel = {
    dir,
    certs,
    upstream,
    ports,
    intermediary,
    appHost: `app.localhost:${ports.http}`,
    base: `http://127.0.0.1:${ports.http}`,
    quicUrl,
    async addAgent(opts = {}) {
      const agent = await startDenoAgent({
        intermediary: quicUrl,
        origins: opts.origins ?? [APP_ORIGIN],
        upstream: opts.upstream ?? upstream.url,
        cert: opts.cert ?? certs.originCert,
        key: opts.key ?? certs.originKey,
        ca: certs.ca,
        extra: ['--servername', 'localhost', '--connections', '1', ...(opts.extra ?? [])],
        name: opts.name ?? 'rhttp-agent (deno, quic)',
      });
      procs.push(agent);
      return agent;
    },
    async status() {
      const r = await httpGet(ports.http, `127.0.0.1:${ports.http}`, '/.rhttp/status?format=json', { timeoutMs: 5000 });
      if (r.status !== 200) throw new Error(`status page answered ${r.status}: ${r.body.toString().slice(0, 200)}`);
      return JSON.parse(r.body.toString()) as Status;
    },
    async metrics() {
      const r = await httpGet(ports.metrics, `127.0.0.1:${ports.metrics}`, '/metrics', { timeoutMs: 5000 });
      if (r.status !== 200) throw new Error(`metrics answered ${r.status}`);
      return r.body.toString();
    },
    async close() {
      for (const p of procs) p.kill('SIGKILL');
      await Promise.all(procs.map((p) => p.exited));
    },
  };
  return tunnel;
}

/** Starts an agent on the tunnel and waits until it is admitted and app.localhost answers through it. */
async function servingAgent(t: H3Tunnel, name: string, extra: string[] = []): Promise<Proc> {
  const agent = await t.addAgent({ name, extra });
  await agent.waitFor(/connection \d+: connected to quic:\/\/127\.0\.0\.1:\d+ \(QUIC, h3-reverse\); serving https:\/\/app\.localhost/);
  await waitForRoute(t.ports.http, t.appHost);
  return agent;
}

/**
 * A browser on one h2c connection (prior knowledge) to the tunnel's --http port, for load: many
 * streams, one connection. (The Deno intermediary's HTTP/1.1 listener is not used for load here:
 * under Deno 2.9 it closes keep-alive connections after each response and drops a few fresh ones
 * with no answer, whatever the carrier; measured with a TLS agent too.)
 */
function h2cBrowser(t: H3Tunnel): { get(path: string): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: Buffer }>; close(): void } {
  const session = http2.connect(t.base);
  session.on('error', () => {});
  return {
    get: (path) =>
      new Promise((resolve, reject) => {
        const req = session.request({ ':method': 'GET', ':path': path, ':authority': t.appHost });
        const chunks: Buffer[] = [];
        let headers: http2.IncomingHttpHeaders = {};
        req.on('response', (h) => (headers = h));
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => resolve({ status: Number(headers[':status'] ?? 0), headers, body: Buffer.concat(chunks) }));
        req.on('error', reject);
        req.setTimeout(15_000, () => req.close(http2.constants.NGHTTP2_CANCEL));
        req.end();
      }),
    close: () => session.close(),
  };
}

/** A drip download completed: curl exit 0, 200, every line. */
function expectWholeDrip(r: CurlResult, chunks: number, context: string): void {
  expect(r.code, `curl: ${r.stderr}\n${context}`).toBe(0);
  const response = parseCurlResponse(r.stdout);
  expect(response.status, context).toBe(200);
  expect(response.body.toString(), context).toBe(dripBody(chunks));
}

beforeAll(async () => {
  if (unavailable) return;
  requireBuiltClis();
  dir = tempDir('h3-reverse');
  certs = await makeCertificates(join(dir, 'certs'), [APP_ORIGIN]);
  upstream = await startUpstream();
  // The upstream also speaks WebSocket on /ws: echo, and a close code chosen by the client.
  websockets = new WebSocketServer({ server: upstream.server, path: '/ws' });
  websockets.on('connection', (ws, req) => {
    upgrades.push(req.headers);
    ws.on('message', (data, isBinary) => {
      const text = data.toString();
      if (!isBinary && text.startsWith('close ')) ws.close(Number(text.slice(6)), 'as asked');
      else ws.send(data, { binary: isBinary });
    });
  });
}, 60_000);

afterAll(async () => {
  await stopAll();
  websockets?.close();
  await upstream?.close();
  removeDir(dir);
});

describe.skipIf(unavailable)('h3-reverse end to end: browsers on --http → Deno intermediary → HTTP/3 → Deno agent (quic://) → upstream', () => {
  let t: H3Tunnel;
  let agent: Proc;

  beforeAll(async () => {
    t = await startH3Tunnel('traffic');
    agent = await servingAgent(t, 'rhttp-agent (deno, quic)');
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('GET through HTTP/1.1, h2c (curl) and nghttp; Via names the browser hop', async () => {
    for (const args of [['--http1.1'], ['--http2-prior-knowledge']]) {
      const r = await curl(['-i', ...args, '-H', `Host: ${t.appHost}`, `${t.base}/hello`]);
      expect(r.code, r.stderr).toBe(0);
      const res = parseCurlResponse(r.stdout);
      expect(res.status, r.text).toBe(200);
      expect(res.body.toString()).toBe('hello from upstream\n');
      expect(res.headers.via).toMatch(/rhttp/);
    }
    const n = await runClient(NGHTTP, ['-v', '-H', `:authority: ${t.appHost}`, `${t.base}/hello`]);
    expect(n.code, n.text + n.stderr).toBe(0);
    expect(n.text).toMatch(/:status: 200/);
    expect(n.text).toContain('hello from upstream\n');
  });

  it('POST 5 MiB to /echo over HTTP/1.1 and h2c: the same bytes come back (SHA-256)', async () => {
    const data = randomBytes(FIVE_MIB);
    const file = join(dir, 'five-mib.bin');
    writeFileSync(file, data);
    for (const args of [['--http1.1'], ['--http2-prior-knowledge']]) {
      const r = await curl(['-H', `Host: ${t.appHost}`, ...args, '-H', 'content-type: application/octet-stream', '--data-binary', `@${file}`, '-w', '\n%{http_code}', `${t.base}/echo`], { timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(0);
      const body = r.stdout.subarray(0, r.stdout.lastIndexOf('\n'));
      expect(r.stdout.subarray(r.stdout.lastIndexOf('\n') + 1).toString(), args[0]).toBe('200');
      expect(body.length, args[0]).toBe(FIVE_MIB);
      expect(sha256(body), args[0]).toBe(sha256(data));
    }
    // And the pattern download of the same size, byte for byte.
    const r = await curl(['-H', `Host: ${t.appHost}`, '--http2-prior-knowledge', '-w', '\n%{http_code}', `${t.base}/bytes?n=${FIVE_MIB}`], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const body = r.stdout.subarray(0, r.stdout.lastIndexOf('\n'));
    expect(body.length).toBe(FIVE_MIB);
    expect(sha256(body)).toBe(patternSha256(FIVE_MIB));
  }, 120_000);

  for (const mode of ['--http1.1', '--http2-prior-knowledge']) {
    it(`200 MiB download with curl ${mode}: every byte arrives; the intermediary's and the agent's RSS grow by less than ${RSS_GROWTH_LIMIT >> 20} MiB`, async () => {
      const rss = sampleRss({ intermediary: t.intermediary.pid, agent: agent.pid }, RSS_SAMPLE_EVERY_MS);
      expect(rss.start.intermediary).toBeGreaterThan(0);
      expect(rss.start.agent).toBeGreaterThan(0);
      let r: CurlResult;
      try {
        r = await curl(['-H', `Host: ${t.appHost}`, mode, '-o', '/dev/null', '-w', '%{http_code} %{size_download}', `${t.base}/bytes?n=${BULK_BYTES}`], { timeoutMs: 240_000 });
      } finally {
        rss.stop();
      }
      expect(r.code, r.stderr).toBe(0);
      expect(r.text).toBe(`200 ${BULK_BYTES}`);
      const growth = rss.growth();
      const report = rss.report();
      console.log(`h3-reverse ${mode} 200 MiB: ${report}`);
      expect(growth.intermediary, report).toBeLessThan(RSS_GROWTH_LIMIT);
      expect(growth.agent, report).toBeLessThan(RSS_GROWTH_LIMIT);
    }, 300_000);
  }

  it('a reader that stops after 8 MiB holds the whole path back (QUIC and TCP flow control): what was relayed beyond what it read stays bounded, RSS too; resumed, it gets all 200 MiB', async () => {
    const rss = sampleRss({ intermediary: t.intermediary.pid, agent: agent.pid }, RSS_SAMPLE_EVERY_MS);
    const relayedBefore = responseBytesRelayed(await t.metrics());
    const hash = createHash('sha256');
    let read = 0;
    let pausedOnce = false;
    let stall!: () => void;
    const stalled = new Promise<void>((resolve) => (stall = resolve));
    let response!: http.IncomingMessage;
    const ended = new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: t.ports.http, path: `/bytes?n=${BULK_BYTES}`, headers: { host: t.appHost }, agent: false }, (res) => {
        response = res;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          hash.update(chunk);
          if (read >= STALL_AFTER_BYTES && !pausedOnce) {
            pausedOnce = true;
            res.pause();
            stall();
          }
        });
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    try {
      await stalled;
      // Everything stops once every window and buffer on the way is full: wait for the relayed count to stand still.
      const relayed = (await untilStill(async () => responseBytesRelayed(await t.metrics()))) - relayedBefore;
      const ahead = relayed - read;
      const growth = rss.growth();
      const report = `stalled after reading ${mib(read)}: the intermediary had relayed ${mib(relayed)} (${mib(ahead)} ahead); ${rss.report()}`;
      console.log(`h3-reverse stalled reader: ${report}`);
      expect(relayed, report).toBeLessThan(BULK_BYTES);
      expect(ahead, report).toBeLessThan(STALLED_AHEAD_LIMIT);
      expect(growth.intermediary, report).toBeLessThan(RSS_GROWTH_LIMIT);
      expect(growth.agent, report).toBeLessThan(RSS_GROWTH_LIMIT);
    } finally {
      rss.stop();
      response?.resume();
    }
    expect(await ended).toBe(200);
    expect(read).toBe(BULK_BYTES);
    expect(hash.digest('hex')).toBe(patternSha256(BULK_BYTES));
  }, 120_000);

  it('Server-Sent Events arrive one by one: the first event reaches curl before the upstream wrote the fifth', async () => {
    for (const args of [['--http1.1'], ['--http2-prior-knowledge']]) {
      const received: Array<{ at: number; text: string }> = [];
      const before = upstream.sseSentAt.length;
      const r = await curl(['-N', ...args, '-H', `Host: ${t.appHost}`, `${t.base}/sse`], {
        onStdout: (chunk) => received.push({ at: Date.now(), text: chunk.toString() }),
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.text).toBe([1, 2, 3, 4, 5].map((i) => `id: ${i}\ndata: event ${i}\n\n`).join(''));
      const sent = upstream.sseSentAt[before];
      expect(sent).toHaveLength(5);
      const first = received.find((c) => c.text.includes('data: event 1'));
      expect(first, args[0]).toBeDefined();
      // Causality, not speed: a buffering hop would deliver event 1 only with the others, at the end.
      expect(first!.text, args[0]).not.toContain('data: event 5');
      expect(first!.at, args[0]).toBeLessThan(sent[4]);
      expect(received.length, args[0]).toBeGreaterThanOrEqual(3);
    }
  });

  it('a WebSocket (HTTP/1.1 Upgrade at the intermediary) crosses HTTP/3 as RFC 9220 extended CONNECT: messages both ways, binary and text, and the upstream’s close code', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${t.ports.http}/ws`, { headers: { host: t.appHost } });
    const messages: Array<{ data: Buffer; isBinary: boolean }> = [];
    const closed = new Promise<[number, string]>((resolve) => ws.on('close', (code, reason) => resolve([code, reason.toString()])));
    const errors: string[] = [];
    ws.on('error', (e) => errors.push(e.message));
    ws.on('unexpected-response', (_req, res) => errors.push(`unexpected response ${res.statusCode} proxy-status=${res.headers['proxy-status'] ?? ''}`));
    ws.on('message', (data, isBinary) => messages.push({ data: data as Buffer, isBinary }));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('close', () => reject(new Error(`closed before open: ${errors.join('; ')}\n--- agent\n${agent.output().slice(-3000)}\n--- intermediary\n${t.intermediary.output().slice(-3000)}`)));
    });
    const binary = randomBytes(200_000);
    ws.send('hello over h3');
    ws.send(binary);
    await waitUntil('two echoes', async () => (messages.length >= 2 ? true : undefined), 10_000, 20);
    expect(messages[0]).toEqual({ data: Buffer.from('hello over h3'), isBinary: false });
    expect(messages[1].isBinary).toBe(true);
    expect(sha256(messages[1].data)).toBe(sha256(binary));
    ws.send('close 4002');
    expect(await closed).toEqual([4002, 'as asked']);
    expect(errors).toEqual([]);
    // The upstream saw an RFC 6455 upgrade (the agent turned the extended CONNECT back into one).
    expect(upgrades.at(-1)).toEqual(expect.objectContaining({ upgrade: 'websocket', host: expect.stringMatching(/^app\.localhost/) }));
  });

  it('the status page shows the session as for TLS, with its carrier and HTTP version (quic, h3), in JSON and HTML; metrics count the agent', async () => {
    const status = await t.status();
    expect(status.sessions).toEqual([expect.objectContaining({ state: 'authorized', draining: false, subject: expect.stringContaining('app.localhost'), origins: [APP_ORIGIN], carrier: 'quic', httpVersion: 'h3' })]);
    expect(status.counters.agentsAuthorized).toBeGreaterThanOrEqual(1);
    const page = await httpGet(t.ports.http, `127.0.0.1:${t.ports.http}`, '/.rhttp/status', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.body.toString()).toMatch(/<td>quic \(h3\)<\/td>/);
    const metrics = await t.metrics();
    expect(metrics).toMatch(/^rhttp_intermediary_agent_sessions\{state="authorized"\} 1$/m);
    // Every response was read whole: nothing is left in the session's receive gauge (and it never goes negative).
    expect(metrics).toMatch(/^rhttp_intermediary_session_buffered_bytes\{session="agent-\d+"\} 0$/m);
  });
});

describe.skipIf(unavailable)('h3-reverse refusals: the agent prints the reason, the intermediary logs and counts it by kind', () => {
  let t: H3Tunnel;
  let refusedUpstream: Upstream;

  beforeAll(async () => {
    t = await startH3Tunnel('refusals');
    refusedUpstream = await startUpstream('refused-upstream');
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await refusedUpstream?.close();
  });

  /** The agent library without the CLI's own certificate check (support/quic-agent-unchecked.mjs), under Deno. */
  function uncheckedAgent(name: string, origin: string, cert: string, key: string): Proc {
    return startDeno(name, join(repoRoot, 'test/e2e/support/quic-agent-unchecked.mjs'), [t.quicUrl, origin, cert, key, certs.ca, refusedUpstream.url]);
  }

  /** The refusal counters by kind, once `kind` reached `count`. */
  async function refusalsOnceCounted(kind: string, count: number): Promise<Status> {
    return waitUntil(`the intermediary to count ${count} ${kind} refusal(s)`, async () => {
      const s = await t.status();
      return s.counters.refusals[kind] >= count ? s : undefined;
    });
  }

  /** An expired certificate for app.localhost from the trusted CA (valid until a year ago). */
  async function expiredCertificate(): Promise<{ cert: string; key: string }> {
    const ca = { certPem: readFileSync(certs.ca, 'utf8'), keyPem: readFileSync(certs.caKey, 'utf8'), chainPem: readFileSync(certs.ca, 'utf8') };
    const day = 24 * 60 * 60 * 1000;
    const expired = await issueCertificate(ca, { dnsNames: ['app.localhost'], notBefore: new Date(Date.now() - 800 * day), notAfter: new Date(Date.now() - 365 * day) });
    const cert = join(dir, 'expired.pem');
    const key = join(dir, 'expired.key');
    writeFileSync(cert, expired.chainPem);
    writeFileSync(key, expired.keyPem, { mode: 0o600 });
    return { cert, key };
  }

  it('a rogue certificate (another CA): refused in-band; the agent prints "certificate not trusted", the intermediary logs it and counts kind=certificate', async () => {
    const rogue = await makeCertificates(join(dir, 'rogue'), [APP_ORIGIN]);
    const agent = await t.addAgent({ name: 'rhttp-agent (deno, quic, rogue)', cert: rogue.originCert, key: rogue.originKey, upstream: refusedUpstream.url });
    const m = await agent.waitFor(/^rhttp-agent: connection 1 \([^)]*\): the intermediary refused this agent: (.*)$/m);
    expect(m[1]).toMatch(/certificate not trusted: .*not one of the trust anchors/);
    expect(agent.output()).not.toMatch(/connection 1: connected/);
    await t.intermediary.waitFor(/refused agent session agent-\d+ from 127\.0\.0\.1:\d+: certificate not trusted/);
    const s = await refusalsOnceCounted('certificate', 1);
    expect(s.recentRefusals).toEqual([expect.objectContaining({ kind: 'certificate', reason: expect.stringMatching(/^certificate not trusted: /) })]);
    expect(s.sessions.filter((x) => x.state === 'authorized')).toEqual([]);
    expect(await t.metrics()).toMatch(/^rhttp_intermediary_agent_refusals_total\{reason="certificate"\} 1$/m);
    await agent.stop();
    expect((await httpGet(t.ports.http, t.appHost, '/hello')).status).toBe(503);
  });

  it('a forged ORIGIN claim (https://other.localhost with the app.localhost certificate): the CLI refuses before dialing; an agent that dials anyway is refused over h3 (kind=origin)', async () => {
    // The CLI says so itself and never dials (issue 11, "fail early").
    const cli = startDeno('rhttp-agent (deno, forged, CLI)', join(repoRoot, 'packages/agent/dist/cli.js'), [
      ...['--intermediary', t.quicUrl, '--origin', 'https://other.localhost', '--upstream', refusedUpstream.url],
      ...['--cert', certs.originCert, '--key', certs.originKey, '--ca', certs.ca, '--servername', 'localhost', '--connections', '1'],
    ]);
    expect(await cli.exited).toBe(2);
    expect(cli.stderr().trim()).toMatch(/^rhttp-agent: .*does not cover https:\/\/other\.localhost/);
    // The library has no such check: the intermediary's AgentAdmission refuses the ORIGIN frame.
    const before = (await t.status()).counters.refusals.origin;
    const agent = uncheckedAgent('agent library (deno, forged ORIGIN)', 'https://other.localhost', certs.originCert, certs.originKey);
    const m = await agent.waitFor(/^rhttp-agent: connection 1 \([^)]*\): the intermediary refused this agent: (.*)$/m);
    expect(m[1]).toMatch(/other\.localhost/);
    expect(m[1]).toMatch(/not covered|does not cover/);
    await t.intermediary.waitFor(/refused agent session agent-\d+ from 127\.0\.0\.1:\d+ \(.*app\.localhost.*\): .*other\.localhost/);
    const s = await refusalsOnceCounted('origin', before + 1);
    expect(s.recentRefusals.at(-1)).toEqual(expect.objectContaining({ kind: 'origin' }));
    expect(await t.metrics()).toMatch(new RegExp(`^rhttp_intermediary_agent_refusals_total\\{reason="origin"\\} ${before + 1}$`, 'm'));
    await agent.stop();
    expect((await httpGet(t.ports.http, `other.localhost:${t.ports.http}`, '/hello')).status).toBe(503);
  });

  it('an expired certificate: the CLI refuses before dialing; an agent that dials anyway is refused over h3 (kind=certificate, "expired")', async () => {
    const expired = await expiredCertificate();
    const cli = startDeno('rhttp-agent (deno, expired, CLI)', join(repoRoot, 'packages/agent/dist/cli.js'), [
      ...['--intermediary', t.quicUrl, '--origin', APP_ORIGIN, '--upstream', refusedUpstream.url],
      ...['--cert', expired.cert, '--key', expired.key, '--ca', certs.ca, '--servername', 'localhost', '--connections', '1'],
    ]);
    expect(await cli.exited).toBe(2);
    expect(cli.stderr().trim()).toMatch(/^rhttp-agent: .*expired at/);
    const before = (await t.status()).counters.refusals.certificate;
    const agent = uncheckedAgent('agent library (deno, expired)', APP_ORIGIN, expired.cert, expired.key);
    const m = await agent.waitFor(/^rhttp-agent: connection 1 \([^)]*\): the intermediary refused this agent: (.*)$/m);
    expect(m[1]).toMatch(/expired/);
    await t.intermediary.waitFor(/refused agent session agent-\d+ from 127\.0\.0\.1:\d+: .*expired/);
    const s = await refusalsOnceCounted('certificate', before + 1);
    expect(s.recentRefusals.at(-1)).toEqual(expect.objectContaining({ kind: 'certificate', reason: expect.stringMatching(/expired/) }));
    await agent.stop();
    // No refused agent ever got a request.
    expect(refusedUpstream.requests).toEqual([]);
    const counters = (await t.status()).counters;
    expect(counters.agentsAuthorized).toBe(0);
    expect(counters.agentsRefused).toBe(counters.refusals.certificate + counters.refusals.origin + counters.refusals.alpn + counters.refusals.timeout + counters.refusals.other);
  });
});

describe.skipIf(unavailable)('h3-reverse drains (GOAWAY, RFC 9114 §5.2)', () => {
  let t: H3Tunnel | undefined;

  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('two agents, one SIGTERMed during 300 requests → zero failed requests; it sends GOAWAY, drains and exits 0', async () => {
    t = await startH3Tunnel('drain-load');
    const tunnel = t;
    const first = await servingAgent(tunnel, 'rhttp-agent first');
    const second = await servingAgent(tunnel, 'rhttp-agent second');
    await waitUntil('two authorized sessions', async () => ((await tunnel.status()).sessions.filter((s) => s.state === 'authorized').length === 2 ? true : undefined));
    const browser = h2cBrowser(tunnel);
    let load: Awaited<ReturnType<typeof slowLoadAcrossSigterm>>;
    try {
      load = await slowLoadAcrossSigterm((path) => browser.get(path), first);
    } finally {
      browser.close();
    }
    const { failures, terminated } = load;
    expect(terminated).toBe(true);
    expect(failures, `${failures.join('\n')}\n--- first agent\n${first.output()}\n--- second\n${second.output()}\n--- intermediary\n${tunnel.intermediary.output()}`).toEqual([]);
    expect(await first.exited, first.output()).toBe(0);
    expect(first.output()).toMatch(/draining/);
    // Agent → intermediary GOAWAY: the intermediary heard it on the HTTP/3 control stream.
    expect(tunnel.intermediary.output()).toMatch(/agent session agent-\d+ .* sent GOAWAY/);
    expect(second.hasExited()).toBe(false);
    expect((await httpGet(tunnel.ports.http, tunnel.appHost, '/hello')).status).toBe(200);
  }, 90_000);

  for (const mode of ['--http1.1', '--http2-prior-knowledge']) {
    it(`${mode}: a response in flight when the only agent gets SIGTERM completes whole; a new request meanwhile gets a clean 503; the agent exits 0`, async () => {
      t = await startH3Tunnel(`drain-inflight ${mode}`);
      const tunnel = t;
      const agent = await servingAgent(tunnel, 'rhttp-agent (draining)');
      const downloads = [slowDownload(tunnel, 20, { args: [mode], timeoutMs: 60_000 }), slowDownload(tunnel, 20, { args: [mode], timeoutMs: 60_000 })];
      await Promise.all(downloads.map((d) => d.started));
      agent.kill('SIGTERM');
      await agent.waitFor(/draining 2 in-flight requests on 1 connection/);
      await tunnel.intermediary.waitFor(/agent session agent-\d+ .* sent GOAWAY/);
      // The draining session takes no new request; there is no other: 503, with Proxy-Status, at once.
      const during = await httpGet(tunnel.ports.http, tunnel.appHost, '/hello');
      expect(during.status, during.body.toString()).toBe(503);
      expect(String(during.headers['proxy-status'])).toMatch(/destination_unavailable/);
      const context = `--- agent\n${agent.output()}\n--- intermediary\n${tunnel.intermediary.output()}`;
      for (const d of downloads) expectWholeDrip(await d.done, 20, context);
      expect(await agent.exited, context).toBe(0);
      expect((await httpGet(tunnel.ports.http, tunnel.appHost, '/hello')).status).toBe(503);
    }, 60_000);
  }

  it('intermediary → agent: SIGTERM the intermediary with a response in flight; it completes, the agent hears GOAWAY and says the intermediary is shutting down, the intermediary exits 0', async () => {
    t = await startH3Tunnel('intermediary-stop');
    const tunnel = t;
    const agent = await servingAgent(tunnel, 'rhttp-agent (survivor)');
    const download = slowDownload(tunnel, 15, { timeoutMs: 60_000 });
    await download.started;
    tunnel.intermediary.kill('SIGTERM');
    await tunnel.intermediary.waitFor(/stopping/);
    const context = () => `--- agent\n${agent.output()}\n--- intermediary\n${tunnel.intermediary.output()}`;
    expectWholeDrip(await download.done, 15, context());
    expect(await tunnel.intermediary.exited, context()).toBe(0);
    // The agent learned of the drain from the intermediary's GOAWAY, and keeps trying to reconnect.
    await agent.waitFor(/connection 1 \([^)]*\): disconnected: the intermediary is shutting down the connection \(GOAWAY\)/);
    expect(agent.hasExited()).toBe(false);
  }, 60_000);
});

describe.skipIf(unavailable)('h3-reverse connection rotation (--max-connection-age, draft §7.2)', () => {
  let t: H3Tunnel | undefined;

  afterAll(async () => {
    await t?.close();
  });

  for (const { connections, loadMs } of [
    // One connection: its replacement must be registered before it stops taking requests.
    { connections: 1, loadMs: 5_000 },
    { connections: 2, loadMs: 6_000 },
  ]) {
    it(`--connections ${connections} --max-connection-age 2: parallel requests for ${loadMs / 1000} s, zero failures, every body whole, always a live session`, async () => {
      await t?.close();
      t = await startH3Tunnel(`rotation ${connections}`);
      const tunnel = t;
      const agent = await tunnel.addAgent({ name: `rhttp-agent (rotating, ${connections})`, extra: ['--max-connection-age', '2', '--connections', String(connections)] });
      await agent.waitFor(new RegExp(`connection ${connections}: connected to quic://`));
      await waitForRoute(tunnel.ports.http, tunnel.appHost);
      const browser = h2cBrowser(tunnel);
      let load: RotationLoad;
      try {
        load = await loadWhileSampling((path) => browser.get(path), async () => (await tunnel.status()).sessions, loadMs);
      } finally {
        browser.close();
      }
      const { failures, counts, samples, seenIds } = load;
      const context = load.context(agent, tunnel.intermediary);
      expect(failures, context).toEqual([]);
      expect(counts.quick).toBeGreaterThan(10);
      expect(counts.drip).toBeGreaterThanOrEqual(3);
      const rotations = agent.output().match(/replacing it after .* \(maximum age\)/g) ?? [];
      expect(rotations.length, context).toBeGreaterThanOrEqual(2);
      expect(seenIds.size, context).toBeGreaterThanOrEqual(connections + 2);
      // Responses spanned rotations: a session that got GOAWAY stays listed only while streams are open on it.
      expect(samples.some((s) => s.total > s.live), context).toBe(true);
      expect(samples.filter((s) => s.live === 0), context).toEqual([]);
      // At most each slot's draining session and its replacement.
      expect(Math.max(...samples.map((s) => s.total)), context).toBeLessThanOrEqual(2 * connections);
      expect(agent.hasExited()).toBe(false);
    }, 60_000);
  }
});

// The shared WebSocket conformance table (test/support/websocket-conformance.ts, also run against
// the Node intermediary and the edge) through this carrier: HTTP/1.1 Upgrade and RFC 8441 extended
// CONNECT from h2c browsers at the Deno intermediary, RFC 9220 extended CONNECT on the reversed
// HTTP/3 session, the Deno agent's HTTP/1.1 upgrade to the table's `ws` upstream.
if (!unavailable) {
  describeWebSocketConformance('h3-reverse: browser WebSocket (HTTP/1.1 Upgrade or RFC 8441 over h2c) → Deno intermediary → RFC 9220 extended CONNECT over HTTP/3 → Deno agent → upstream', async (wsUpstream) => {
    const t = await startH3Tunnel('websocket conformance');
    await t.addAgent({ name: 'rhttp-agent (deno, quic, websocket conformance)', upstream: wsUpstream });
    const host = 'app.localhost';
    await waitUntil('app.localhost to be served', async () => ((await t.status()).sessions.some((s) => s.state === 'authorized') ? true : undefined));
    return {
      host,
      open: (path, protocols = []) => new WebSocket(`ws://127.0.0.1:${t.ports.http}${path}`, protocols, { headers: { host: t.appHost } }),
      openUnserved: () => new WebSocket(`ws://127.0.0.1:${t.ports.http}/`, { headers: { host: `nobody.localhost:${t.ports.http}` } }),
      plain: { host: '127.0.0.1', port: t.ports.http },
      extensions: 'end-to-end',
      h2c: t.base,
      stop: () => t.close(),
    };
  });
}
