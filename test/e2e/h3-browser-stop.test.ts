/**
 * The Deno intermediary's SIGTERM must not cut off an HTTP/3 browser's last response. QUIC drops
 * stream data the peer has not acknowledged when CONNECTION_CLOSE goes out, and Deno's stream
 * close resolves once the FIN is queued: the intermediary, which writes last here, lets the
 * browser close first (core's connect-quic.ts linger). An HTTP/3 client built from core
 * (support/h3-get.mjs, ALPN h3) GETs a large body that the upstream only starts sending once the
 * intermediary is stopping; the body must arrive whole (byte count and SHA-256) and the
 * intermediary exit 0. Skipped, with the reason printed, when Deno cannot start.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ORIGIN, denoBin, freePort, makeCertificates, removeDir, repoRoot, requireBuiltClis, startAgent, stopAll, tempDir, waitForRoute, type CertPaths, type Proc } from './support.js';
import { DENO_RUN, denoUnavailable, startDenoIntermediary } from './support/deno.js';

/** Large enough that QUIC still holds its tail when the intermediary has handed over the FIN (8 MiB lost ~1 MiB in a plain Deno probe). */
const BODY_BYTES = 16 * 1024 * 1024;

const unavailable = denoUnavailable();
if (unavailable) console.warn(`h3-browser-stop.test: skipping: ${unavailable}`);

const run = promisify(execFile);

/** The body: a counter pattern, so a lost or reordered piece changes the hash. */
function body(n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) out.writeUInt32BE((i / 4) >>> 0, i);
  return out;
}

describe.skipIf(unavailable)('the Deno intermediary stopping with an HTTP/3 browser response in flight', () => {
  let dir: string;
  let certs: CertPaths;
  let upstream: http.Server;
  let intermediary: Proc;
  let port: number;
  /** Resolves when the held request reached the upstream; `release` lets the upstream answer it. */
  let arrived!: Promise<void>;
  let release!: () => void;
  const expected = body(BODY_BYTES);

  beforeAll(async () => {
    requireBuiltClis();
    dir = tempDir('h3-browser-stop');
    certs = await makeCertificates(join(dir, 'certs'), [APP_ORIGIN]);
    let markArrived!: () => void;
    arrived = new Promise((resolve) => (markArrived = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    upstream = http.createServer((req, res) => {
      req.resume();
      if (req.url === '/hello') return void res.end('hello\n');
      markArrived();
      void released.then(() => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BODY_BYTES) });
        res.end(expected);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    port = await freePort();
    const httpPort = await freePort();
    const agentsPort = await freePort();
    intermediary = await startDenoIntermediary(certs, { agents: agentsPort, http: httpPort, https: port, quic: port });
    const origin = `${APP_ORIGIN}:${port}`;
    startAgent({ agentsPort, origins: [origin, APP_ORIGIN], upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, cert: certs.originCert, key: certs.originKey, ca: certs.ca });
    await waitForRoute(httpPort, `app.localhost:${httpPort}`);
  }, 60_000);

  afterAll(async () => {
    release?.();
    await stopAll();
    await new Promise((resolve) => upstream?.close(resolve));
    removeDir(dir);
  });

  it(`SIGTERM while a ${BODY_BYTES / (1 << 20)} MiB response is on its way: the h3 client gets every byte (count and SHA-256), the intermediary exits 0`, async () => {
    const origin = `${APP_ORIGIN}:${port}`;
    const get = run(denoBin, [...DENO_RUN, join(repoRoot, 'test/e2e/support/h3-get.mjs'), String(port), certs.ca, `${origin}/held`], { encoding: 'utf8', timeout: 60_000 });
    get.catch(() => {});
    await arrived;
    intermediary.kill('SIGTERM');
    await intermediary.waitFor(/stopping/);
    release();
    const context = () => `--- intermediary\n${intermediary.output()}`;
    const { stdout, stderr } = await get.catch((error: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`h3-get failed: ${error.message}\n${error.stderr ?? ''}\n${context()}`);
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(result, `${stderr}\n${context()}`).toMatchObject({ alpn: 'h3', status: 200, bytes: BODY_BYTES, sha256: createHash('sha256').update(expected).digest('hex') });
    expect(await intermediary.exited, context()).toBe(0);
  }, 90_000);
});
