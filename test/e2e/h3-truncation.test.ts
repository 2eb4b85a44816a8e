/**
 * A response cut off at the upstream must reach the browser as cut off, never as a complete
 * response, whichever carrier the agent uses. Over h3-reverse the agent resets the QUIC stream;
 * the browser must see an error (HTTP/1.1: no terminating chunk; h2c: RST_STREAM).
 */
import * as http from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ORIGIN, curl, freePort, makeCertificates, removeDir, requireBuiltClis, stopAll, tempDir, waitForRoute, type CertPaths } from './support.js';
import { denoUnavailable, freeUdpPort, startDenoAgent, startDenoIntermediary } from './support/deno.js';

const unavailable = denoUnavailable();
if (unavailable) console.warn(`h3-truncation.test: skipping: ${unavailable}`);

/** 64 KiB of body, then the upstream's socket is destroyed: the response has no end. */
const SENT_BEFORE_CUT = 64 * 1024;

describe.skipIf(unavailable)('a response the upstream cuts off, under the Deno intermediary', () => {
  let dir: string;
  let certs: CertPaths;
  let upstream: http.Server;
  let upstreamUrl: string;

  beforeAll(async () => {
    requireBuiltClis();
    dir = tempDir('h3-truncation');
    certs = await makeCertificates(join(dir, 'certs'), [APP_ORIGIN]);
    upstream = http.createServer((req, res) => {
      if (req.url === '/hello') return res.end('hello\n');
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(SENT_BEFORE_CUT, 0x61), () => setTimeout(() => res.socket?.destroy(), 50));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await stopAll();
    await new Promise((resolve) => upstream.close(resolve));
    removeDir(dir);
  });

  for (const carrier of ['tls', 'quic'] as const) {
    it(`reaches curl as an incomplete transfer over HTTP/1.1 and h2c, not as a complete 200 (agent over ${carrier}://)`, async () => {
      const ports = { agents: await freePort(), http: await freePort(), quic: await freeUdpPort() };
      const intermediary = await startDenoIntermediary(certs, ports);
      const agent = await startDenoAgent({
        intermediary: carrier === 'quic' ? `quic://127.0.0.1:${ports.quic}` : `tls://127.0.0.1:${ports.agents}`,
        origins: [APP_ORIGIN],
        upstream: upstreamUrl,
        cert: certs.originCert,
        key: certs.originKey,
        ca: certs.ca,
        extra: ['--servername', 'localhost', '--connections', '1'],
      });
      const host = `app.localhost:${ports.http}`;
      await waitForRoute(ports.http, host);
      for (const version of ['--http1.1', '--http2-prior-knowledge']) {
        const r = await curl(['-s', '-o', '/dev/null', '-w', '%{size_download}', version, '-H', `host: ${host}`, `http://127.0.0.1:${ports.http}/cut`]);
        // curl 18 (partial file), 56 (receive failure) or 92 (HTTP/2 stream error): anything but success.
        expect({ version, code: r.code }).not.toEqual({ version, code: 0 });
        expect(Number(r.stdout.toString())).toBeLessThanOrEqual(SENT_BEFORE_CUT);
      }
      await agent.stop();
      await intermediary.stop();
    });
  }
});
