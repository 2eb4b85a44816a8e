/**
 * The intermediary's browser listeners under Deno (which it must run on for `--quic`): HTTP/1.1
 * keep-alive on the cleartext `--http` listener (which sniffs the first bytes and hands HTTP/1.1
 * sockets to a node:http server) and on the TLS `--https` listener (ALPN http/1.1), and a
 * WebSocket upgrade on `--http`. A Node agent serves the origin over tls://.
 * Skipped, with the reason printed, when Deno cannot start.
 */
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ORIGIN, freePort, makeCertificates, removeDir, requireBuiltClis, startAgent, startUpstream, stopAll, tempDir, waitForRoute, type CertPaths, type Proc, type Upstream } from './support.js';
import { denoUnavailable, freeUdpPort, startDenoIntermediary } from './support/deno.js';

const unavailable = denoUnavailable();
if (unavailable) console.warn(`deno-intermediary.test: skipping the intermediary-under-Deno tests: ${unavailable}`);

/** Sequential requests on one keep-alive connection: enough that a connection closed after each response (or after some) shows. */
const SEQUENTIAL_REQUESTS = 200;

interface Outcome {
  ok: number;
  /** Distinct sockets the client used. */
  sockets: number;
  /** Failures by message (status or socket error). */
  errors: Record<string, number>;
}

/**
 * GETs `/hello` {@link SEQUENTIAL_REQUESTS} times, one after the other, through `agent` (keepAlive,
 * maxSockets 1) and counts the sockets the responses arrived on.
 */
async function sequentialGets(request: typeof http.request, agent: http.Agent, port: number, host: string): Promise<Outcome> {
  const sockets = new Set<Socket>();
  const outcome: Outcome = { ok: 0, sockets: 0, errors: {} };
  for (let i = 0; i < SEQUENTIAL_REQUESTS; i++) {
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: `/hello?i=${i}`, headers: { host }, agent }, (res) => {
          sockets.add(res.socket);
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString()) : reject(new Error(`status ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end();
      });
      if (body !== 'hello from upstream\n') throw new Error(`body ${JSON.stringify(body.slice(0, 60))}`);
      outcome.ok++;
    } catch (e) {
      const message = (e as Error).message;
      outcome.errors[message] = (outcome.errors[message] ?? 0) + 1;
    }
  }
  outcome.sockets = sockets.size;
  return outcome;
}

describe.skipIf(unavailable)('rhttp-intermediary under Deno: HTTP/1.1 browsers', () => {
  let dir: string;
  let certs: CertPaths;
  let upstream: Upstream;
  let websockets: WebSocketServer;
  let intermediary: Proc;
  let ports: { agents: number; http: number; https: number; quic: number };
  let host: string;

  beforeAll(async () => {
    requireBuiltClis();
    dir = tempDir('deno-intermediary');
    certs = await makeCertificates(join(dir, 'certs'), [APP_ORIGIN]);
    upstream = await startUpstream();
    websockets = new WebSocketServer({ server: upstream.server, path: '/ws' });
    websockets.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    ports = { agents: await freePort(), http: await freePort(), https: await freePort(), quic: await freeUdpPort() };
    intermediary = await startDenoIntermediary(certs, ports);
    startAgent({ agentsPort: ports.agents, origins: [APP_ORIGIN], upstream: upstream.url, cert: certs.originCert, key: certs.originKey, ca: certs.ca, extra: ['--connections', '1'] });
    host = `app.localhost:${ports.http}`;
    await waitForRoute(ports.http, host);
  }, 90_000);

  afterAll(async () => {
    await stopAll();
    websockets?.close();
    await upstream?.close();
    removeDir(dir);
  });

  it(`--http: ${SEQUENTIAL_REQUESTS} sequential requests on one keep-alive HTTP/1.1 connection all succeed, on one socket`, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const outcome = await sequentialGets(http.request, agent, ports.http, host);
      expect(outcome, intermediary.output().slice(-3000)).toEqual({ ok: SEQUENTIAL_REQUESTS, sockets: 1, errors: {} });
    } finally {
      agent.destroy();
    }
  }, 120_000);

  it(`--https (ALPN http/1.1): ${SEQUENTIAL_REQUESTS} sequential requests on one keep-alive connection all succeed, on one socket`, async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(certs.ca), servername: 'localhost', ALPNProtocols: ['http/1.1'] });
    try {
      // The origin is https://app.localhost (port 443): on the https listener the Host names it without our port.
      const outcome = await sequentialGets(https.request, agent, ports.https, 'app.localhost');
      expect(outcome, intermediary.output().slice(-3000)).toEqual({ ok: SEQUENTIAL_REQUESTS, sockets: 1, errors: {} });
    } finally {
      agent.destroy();
    }
  }, 120_000);

  it('--http: a WebSocket upgrade reaches the upstream and echoes both ways', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${ports.http}/ws`, { headers: { host } });
    const errors: string[] = [];
    ws.on('error', (e) => errors.push(e.message));
    ws.on('unexpected-response', (_req, res) => errors.push(`unexpected response ${res.statusCode}`));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('close', () => reject(new Error(`closed before open: ${errors.join('; ')}\n${intermediary.output().slice(-3000)}`)));
    });
    const echoes: Array<{ data: string; isBinary: boolean }> = [];
    const both = new Promise<void>((resolve) =>
      ws.on('message', (data, isBinary) => {
        echoes.push({ data: (data as Buffer).toString(), isBinary });
        if (echoes.length === 2) resolve();
      }),
    );
    ws.send('text over deno');
    ws.send(Buffer.from('binary over deno'));
    await both;
    expect(echoes).toEqual([
      { data: 'text over deno', isBinary: false },
      { data: 'binary over deno', isBinary: true },
    ]);
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    ws.close(1000);
    expect(await closed).toBe(1000);
    expect(errors).toEqual([]);
  }, 60_000);
});
