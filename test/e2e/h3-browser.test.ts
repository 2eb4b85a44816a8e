/**
 * HTTP/3 for browsers (issue 13 item 4) under Deno, the only runtime with QUIC: the intermediary's
 * `--quic` listener serves browsers (ALPN h3) exactly as its `--https` listener, and `--https`
 * advertises it with `alt-svc: h3=":PORT"` (never `--http`: no h3 for http:// origins). The
 * intermediary runs `--https` and `--quic` on the same port number (TCP and UDP), so the origin
 * https://app.localhost:PORT is the same over both. An HTTP/3 client built from core
 * (support/h3-get.mjs) and headless Chromium, forced onto QUIC, load through it from a Node agent
 * over tls://. Skipped, with the reason printed, when Deno cannot start; the Chromium case also
 * when Chromium is not installed.
 */
import { execFile } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APP_ORIGIN,
  curl,
  denoBin,
  freePort,
  makeCertificates,
  parseCurlResponse,
  patternSha256,
  removeDir,
  repoRoot,
  requireBuiltClis,
  startAgent,
  startUpstream,
  stopAll,
  tempDir,
  waitForRoute,
  type CertPaths,
  type Proc,
  type Upstream,
} from './support.js';
import { DENO_RUN, denoUnavailable, startDenoIntermediary } from './support/deno.js';

const CHROMIUM = '/usr/bin/chromium';
/** The body Chromium fetches over HTTP/3: 10 MiB, enough for many flow-control windows on every hop. */
const TRANSFER_BYTES = 10 * 1024 * 1024;

const unavailable = denoUnavailable();
if (unavailable) console.warn(`h3-browser.test: skipping HTTP/3 for browsers: ${unavailable}`);
const noChromium = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is not installed (apt-get install chromium)`;
if (!unavailable && noChromium) console.warn(`h3-browser.test: skipping the Chromium case: ${noChromium}`);

const run = promisify(execFile);

/** base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate: what --ignore-certificate-errors-spki-list takes. */
function spkiHash(certPem: string): string {
  const spki = createPublicKey(certPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

describe.skipIf(unavailable)('HTTP/3 for browsers through --quic (Deno)', () => {
  let dir: string;
  let certs: CertPaths;
  let upstream: Upstream;
  let intermediary: Proc;
  /** The TCP port of --https and the UDP port of --quic. */
  let port: number;
  let httpPort: number;
  let origin: string;

  beforeAll(async () => {
    requireBuiltClis();
    dir = tempDir('h3-browser');
    certs = await makeCertificates(join(dir, 'certs'), [APP_ORIGIN]);
    upstream = await startUpstream();
    port = await freePort();
    httpPort = await freePort();
    const agentsPort = await freePort();
    origin = `${APP_ORIGIN}:${port}`;
    intermediary = await startDenoIntermediary(certs, { agents: agentsPort, http: httpPort, https: port, quic: port });
    // The agent serves the origin on the browsers' port, and the default-port one the cleartext listener stands in front of.
    startAgent({ agentsPort, origins: [origin, APP_ORIGIN], upstream: upstream.url, cert: certs.originCert, key: certs.originKey, ca: certs.ca });
    await waitForRoute(httpPort, `app.localhost:${httpPort}`);
  }, 60_000);

  afterAll(async () => {
    await stopAll();
    await upstream?.close();
    removeDir(dir);
  });

  it("an HTTP/3 client (core's connectQuic over Deno.connectQuic, ALPN h3) GETs through --quic: the agent's answer, Via 3, a 1 MiB body intact, and Alt-Svc", async () => {
    // Not spawnSync: the upstream answering these runs in this process.
    const r = await run(denoBin, [...DENO_RUN, join(repoRoot, 'test/e2e/support/h3-get.mjs'), String(port), certs.ca, `${origin}/hello`, `${origin}/headers`, `${origin}/bytes?n=${1 << 20}`], { encoding: 'utf8', timeout: 60_000 });
    const [hello, headers, bytes] = r.stdout.trim().split('\n').map((line) => JSON.parse(line));
    const altSvc = `h3=":${port}"; ma=86400`;
    expect(hello).toMatchObject({ alpn: 'h3', status: 200, text: 'hello from upstream\n', altSvc });
    expect(headers.status).toBe(200);
    expect(bytes).toMatchObject({ status: 200, bytes: 1 << 20, sha256: patternSha256(1 << 20), altSvc });
    // The upstream saw the request as forwarded from an HTTP/3 browser on https.
    const forwarded = upstream.requests.find((q) => q.url === '/headers')!.headers;
    expect(forwarded.via).toMatch(/^3 /);
    expect(forwarded['x-forwarded-proto']).toBe('https');
    expect(forwarded['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('--https advertises h3 on the QUIC port with Alt-Svc over HTTP/1.1 and HTTP/2; --http (http:// origins) does not', async () => {
    // To 127.0.0.1, which the intermediary's dev certificate covers (app.localhost it does not), with the origin's authority.
    for (const version of ['--http1.1', '--http2']) {
      const r = parseCurlResponse((await curl(['-s', '-i', version, '--cacert', certs.ca, '-H', `host: app.localhost:${port}`, `https://127.0.0.1:${port}/hello`])).stdout);
      expect(r.status, version).toBe(200);
      expect(r.body.toString()).toBe('hello from upstream\n');
      expect(r.headers['alt-svc'], version).toBe(`h3=":${port}"; ma=86400`);
    }
    const cleartext = parseCurlResponse((await curl(['-s', '-i', '-H', `host: app.localhost:${httpPort}`, `http://127.0.0.1:${httpPort}/hello`])).stdout);
    expect(cleartext.status).toBe(200);
    expect(cleartext.body.toString()).toBe('hello from upstream\n');
    expect(cleartext.headers['alt-svc']).toBeUndefined();
  });

  it.skipIf(noChromium)('headless Chromium forced onto QUIC loads a page and fetches 10 MiB over h3, intact', async () => {
    const profile = mkdtempSync(join(tmpdir(), 'rhttp-chromium-h3-'));
    const flags = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
      '--enable-quic',
      `--origin-to-force-quic-on=app.localhost:${port}`,
      '--host-resolver-rules=MAP app.localhost 127.0.0.1',
      `--ignore-certificate-errors-spki-list=${spkiHash(readFileSync(certs.intermediaryCert, 'utf8'))}`,
      '--virtual-time-budget=60000',
      '--dump-dom',
      `${origin}/transfer-page?n=${TRANSFER_BYTES}`,
    ];
    const before = upstream.requests.length;
    try {
      const { stdout } = await run(CHROMIUM, flags, { timeout: 120_000, maxBuffer: 8 << 20 });
      const text = /<pre id="result">([^<]*)<\/pre>/.exec(stdout)?.[1];
      expect(text, stdout).toBeDefined();
      const result = JSON.parse(text!.replace(/&quot;/g, '"'));
      console.log(`h3-browser.test: Chromium saw ${JSON.stringify(result)}`);
      expect(result).toEqual({ page: 'h3', fetch: 'h3', status: 200, bytes: TRANSFER_BYTES, mismatches: 0 });
      // Both requests went through the agent, forwarded from an HTTP/3 browser.
      const forwarded = upstream.requests.slice(before).filter((q) => q.url.startsWith('/transfer-page') || q.url.startsWith('/bytes'));
      expect(forwarded.map((q) => q.headers.via?.split(' ')[0])).toEqual(['3', '3']);
      expect(intermediary.output()).not.toMatch(/QUIC connection from .* failed/);
    } finally {
      removeDir(profile);
    }
  }, 150_000);

  it('stops cleanly with HTTP/3 browser sessions drained (exit 0)', async () => {
    expect(await intermediary.stop()).toBe(0);
  });
});
