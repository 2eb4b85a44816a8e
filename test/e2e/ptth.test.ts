import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { PTTH_PROTOCOL, connectSocket, ptthPath } from '@rhttp/core';
import { dialPtth, ptthUpgradeRequest } from '../../packages/agent/src/carriers/ptth.js';
import {
  APP_ORIGIN,
  WILD_ORIGIN,
  agentCli,
  bunBin,
  canConnect,
  denoBin,
  curl,
  freePort,
  intermediaryCli,
  makeCertificates,
  parseCurlResponse,
  patternSha256,
  sha256,
  removeDir,
  requireBuiltClis,
  startProcess,
  startUpstream,
  stopAll,
  tempDir,
  waitForRoute,
  waitUntil,
  type CertPaths,
  type Proc,
  type Upstream,
} from './support.js';

/**
 * The PTTH carrier (draft-kazuho-ptth-ptth-01, issue 14): the agent dials `https://` and upgrades
 * to ptth on the intermediary's browser port, directly or through Debian's nginx as an ordinary
 * TLS-terminating reverse proxy; browsers on every listener reach its upstream. Requests the
 * intermediary must refuse get a 4xx that says why, and nothing is registered.
 */
const NGINX = '/usr/sbin/nginx';

let dir: string;
let certs: CertPaths;
let upstream: Upstream;
let ports: { agents: number; http: number; https: number };
let intermediary: Proc;

beforeAll(async () => {
  requireBuiltClis();
  dir = tempDir('ptth');
  certs = await makeCertificates(dir, [APP_ORIGIN, WILD_ORIGIN]);
  upstream = await startUpstream();
  ports = { agents: await freePort(), http: await freePort(), https: await freePort() };
  intermediary = startProcess('rhttp-intermediary', process.execPath, [
    intermediaryCli,
    ...['--agents', `127.0.0.1:${ports.agents}`, '--http', `127.0.0.1:${ports.http}`, '--https', `127.0.0.1:${ports.https}`],
    ...['--cert', certs.intermediaryCert, '--key', certs.intermediaryKey, '--trust', certs.ca],
  ]);
  await waitUntil('the intermediary to listen on its https port', async () => ((await canConnect(ports.https)) ? true : intermediary.hasExited() ? Promise.reject(new Error(intermediary.output())) : undefined));
}, 60_000);

afterAll(async () => {
  await stopAll();
  await upstream?.close();
  removeDir(dir);
});

/** `rhttp-agent --intermediary URL --origin https://app.localhost …` with one connection, under Node unless `command`/`prefix` say otherwise. */
function startPtthAgent(name: string, intermediaryUrl: string, runtime: { command: string; prefix: string[] } = { command: process.execPath, prefix: [] }, extra: string[] = []): Proc {
  return startProcess(name, runtime.command, [
    ...runtime.prefix,
    agentCli,
    ...['--intermediary', intermediaryUrl, '--origin', APP_ORIGIN, '--upstream', upstream.url],
    ...['--cert', certs.originCert, '--key', certs.originKey, '--ca', certs.ca, '--connections', '1'],
    ...extra,
  ]);
}

/** GET /hello for app.localhost on the intermediary's https listener (curl, HTTP/2), checked against the upstream's answer. */
async function expectHelloOverHttps(): Promise<void> {
  const r = await curl(['-sS', '-i', '--http2', '--cacert', certs.ca, '-H', 'host: app.localhost', `https://127.0.0.1:${ports.https}/hello`]);
  const response = parseCurlResponse(r.stdout);
  expect(response.status, r.stderr).toBe(200);
  expect(response.body.toString()).toBe('hello from upstream\n');
}

/** One raw HTTP/1.1 request over TLS to the https listener; the whole answer (the listener closes after a refusal). */
function rawRequest(head: string, opts: { withCertificate: boolean; alpn?: string[] }): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port: ports.https,
      ca: readFileSync(certs.ca, 'utf8'),
      ALPNProtocols: opts.alpn ?? ['http/1.1'],
      ...(opts.withCertificate ? { cert: readFileSync(certs.originCert, 'utf8'), key: readFileSync(certs.originKey, 'utf8') } : {}),
    });
    let answer = '';
    socket.setEncoding('utf8');
    socket.once('secureConnect', () => socket.write(head));
    socket.on('data', (chunk: string) => {
      answer += chunk;
      // A 101 keeps the connection: the HTTP/2 preface follows; that is enough to know.
      if (/^HTTP\/1\.1 101 /.test(answer) && answer.includes('\r\n\r\n')) socket.destroy();
    });
    socket.once('close', () => resolve(answer));
    socket.once('error', reject);
  });
}

/** PTTH upgrades the intermediary accepted on a signed request (no TLS client certificate), from its log. */
function signedAcceptances(): number {
  return intermediary.output().match(/opened a PTTH upgrade as "CN=app\.localhost" \(signed request\)/g)?.length ?? 0;
}

async function signedUpgrade(origins: string[], mutate?: (headers: Record<string, string>) => void): Promise<string> {
  const url = new URL(`https://127.0.0.1:${ports.https}`);
  return ptthUpgradeRequest(url, origins, { certChainPem: readFileSync(certs.originCert, 'utf8'), keyPem: readFileSync(certs.originKey, 'utf8') }, mutate);
}

/** PTTH upgrades the intermediary accepted by TLS client certificate, from its log. */
function certificateAcceptances(): number {
  return intermediary.output().match(/opened a PTTH upgrade as "CN=app\.localhost" \(TLS client certificate\)/g)?.length ?? 0;
}

/** The same built dist/cli.js under each runtime (binaries from the bun and deno npm packages). */
const runtimes = [
  { runtime: 'node', command: process.execPath, prefix: [] as string[] },
  { runtime: 'bun', command: bunBin, prefix: [] as string[] },
  { runtime: 'deno', command: denoBin, prefix: ['run', '-A'] },
];

describe('the agent dials https:// and upgrades to ptth on the intermediary', () => {
  for (const { runtime, command, prefix } of runtimes) {
    const missing = !existsSync(command);
    if (missing) console.warn(`ptth: skipping ${runtime}: ${command} is missing`);
    it.skipIf(missing)(`under ${runtime}: browsers on the http and https listeners reach the upstream through the ptth session`, async () => {
      const before = upstream.requests.length;
      const accepted = certificateAcceptances();
      const agent = startPtthAgent(`rhttp-agent ptth (${runtime})`, `https://127.0.0.1:${ports.https}`, { command, prefix });
      await agent.waitFor(/connected/);
      expect(await waitForRoute(ports.http, `app.localhost:${ports.http}`)).toEqual(Buffer.from('hello from upstream\n'));
      await expectHelloOverHttps();
      expect(upstream.requests.length).toBeGreaterThanOrEqual(before + 2);
      expect(certificateAcceptances()).toBe(accepted + 1);
      await agent.stop();
    });
  }
});

describe('extended CONNECT :protocol ptth over HTTP/2 (RFC 8441)', () => {
  for (const { runtime, command, prefix } of runtimes) {
    it.skipIf(!existsSync(command))(`--ptth connect under ${runtime}: the reversed HTTP/2 runs inside one stream of the agent's HTTP/2 connection`, async () => {
      const count = () => intermediary.output().match(/opened a PTTH extended CONNECT as "CN=app\.localhost" \(TLS client certificate\)/g)?.length ?? 0;
      const before = count();
      const agent = startPtthAgent(`rhttp-agent ptth connect (${runtime})`, `https://127.0.0.1:${ports.https}`, { command, prefix }, ['--ptth', 'connect']);
      await agent.waitFor(/connected to https:\/\/127\.0\.0\.1:\d+ \(TLSv1\.3 h2 CONNECT, ptth/);
      expect(await waitForRoute(ports.http, `app.localhost:${ports.http}`)).toEqual(Buffer.from('hello from upstream\n'));
      await expectHelloOverHttps();
      // 8 MiB is more than any stream or connection window on the way (1 MiB streams, 4 MiB per
      // browser connection): WINDOW_UPDATEs must flow through both nested HTTP/2 connections.
      const r = await curl(['-sS', '-o', '-', '-H', `host: app.localhost:${ports.http}`, `http://127.0.0.1:${ports.http}/bytes?n=${8 << 20}`], { timeoutMs: 60_000 });
      expect(sha256(r.stdout)).toBe(patternSha256(8 << 20));
      expect(count()).toBe(before + 1);
      await agent.stop();
    });
  }
});

describe('ptth requests the intermediary refuses (4xx with the reason; nothing registered)', () => {
  it('an ALPN field without h2 gets 400 naming what was offered', async () => {
    const answer = await rawRequest(await signedUpgrade([APP_ORIGIN], (h) => (h.alpn = 'http%2F1.1')), { withCertificate: true });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toMatch(/ALPN "http%2F1\.1": this intermediary runs reversed HTTP\/2, so the request must offer "h2"/);
  });

  it('no ALPN field at all gets 400', async () => {
    const answer = await rawRequest(await signedUpgrade([APP_ORIGIN], (h) => delete h.alpn), { withCertificate: true });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toMatch(/no ALPN field/);
  });

  it('no client certificate and no signed Client-Cert gets 401 with WWW-Authenticate', async () => {
    const path = ptthPath([APP_ORIGIN]);
    const head = `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${ports.https}\r\nconnection: Upgrade\r\nupgrade: ${PTTH_PROTOCOL}\r\nalpn: h2\r\n\r\n`;
    const answer = await rawRequest(head, { withCertificate: false });
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer).toMatch(/www-authenticate: Signature/i);
    expect(answer).toMatch(/no Client-Cert field/);
  });

  it('a signature over another path gets 401 (the signed request is checked when no TLS certificate is presented)', async () => {
    const signed = await signedUpgrade([APP_ORIGIN]);
    const forged = signed.replace(/^GET \S+ /, `GET ${ptthPath([APP_ORIGIN, WILD_ORIGIN])} `);
    const answer = await rawRequest(forged, { withCertificate: false });
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer).toMatch(/signature refused/);
  });

  it('an origin the certificate does not cover gets 403, with the TLS certificate and with the signed request', async () => {
    for (const withCertificate of [true, false]) {
      const answer = await rawRequest(await signedUpgrade(['https://evil.localhost']), { withCertificate });
      expect(answer).toMatch(/^HTTP\/1\.1 403 /);
      expect(answer).toMatch(/origin https:\/\/evil\.localhost is not covered by the certificate "CN=app\.localhost"/);
    }
    const r = await curl(['-sS', '-i', '-H', `host: evil.localhost:${ports.http}`, `http://127.0.0.1:${ports.http}/hello`]);
    expect(parseCurlResponse(r.stdout).status).toBe(503);
  });

  it('an ORIGIN frame claiming an origin the path did not list is refused with GOAWAY, though the certificate covers it', async () => {
    const pem = (path: string) => readFileSync(path, 'utf8');
    for (const mode of ['upgrade', 'connect'] as const) {
      const carrier = await dialPtth(
        { host: '127.0.0.1', port: ports.https },
        { url: `https://127.0.0.1:${ports.https}`, origins: [APP_ORIGIN], cert: pem(certs.originCert), key: pem(certs.originKey), ca: pem(certs.ca), connectTimeoutMs: 10_000, mode },
        new AbortController().signal,
      );
      const debug = await new Promise<string>((resolve) => {
        // The certificate covers *.wild.localhost, but the PTTH path listed app.localhost only.
        connectSocket(carrier.socket, { role: 'server', origins: [APP_ORIGIN, 'https://*.wild.localhost'], onGoaway: (frame) => resolve(new TextDecoder().decode(frame.debugData)) });
      });
      expect(debug, mode).toMatch(/ORIGIN frame entry https:\/\/\*\.wild\.localhost is not among the origins in the upgrade URL/);
      carrier.destroy();
    }
    const r = await curl(['-sS', '-i', '-H', `host: x.wild.localhost:${ports.http}`, `http://127.0.0.1:${ports.http}/hello`]);
    expect(parseCurlResponse(r.stdout).status).toBe(503);
  });

  it('over extended CONNECT the refusals are the same statuses, and the agent takes them as refusals (long backoff)', async () => {
    const pem = (path: string) => readFileSync(path, 'utf8');
    const dial = (origins: string[], mutateHeaders?: (h: Record<string, string>) => void) =>
      dialPtth(
        { host: '127.0.0.1', port: ports.https },
        { url: `https://127.0.0.1:${ports.https}`, origins, cert: pem(certs.originCert), key: pem(certs.originKey), ca: pem(certs.ca), connectTimeoutMs: 10_000, mode: 'connect', mutateHeaders },
        new AbortController().signal,
      );
    await expect(dial([APP_ORIGIN], (h) => (h.alpn = 'h3'))).rejects.toMatchObject({ refused: true, message: expect.stringMatching(/\(HTTP 400\): ALPN "h3": this intermediary runs reversed HTTP\/2/) });
    await expect(dial(['https://evil.localhost'])).rejects.toMatchObject({ refused: true, message: expect.stringMatching(/\(HTTP 403\): origin https:\/\/evil\.localhost is not covered/) });
  });

  it('a signed request without a TLS certificate is accepted (101), as through a TLS-terminating proxy', async () => {
    const answer = await rawRequest(await signedUpgrade([APP_ORIGIN]), { withCertificate: false });
    expect(answer).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(answer).toMatch(/\r\nupgrade: ptth\r\n/i);
    // The intermediary logged it (before the nginx tests count such lines).
    await intermediary.waitFor(/opened a PTTH upgrade as "CN=app\.localhost" \(signed request\)/);
  });
});

describe('through nginx as an ordinary TLS-terminating reverse proxy', () => {
  const hasNginx = existsSync(NGINX);
  if (!hasNginx) console.warn(`skipping the nginx interop tests: ${NGINX} is not installed (apt-get install nginx-light)`);

  /** Starts nginx on a free port with `proxy_pass upstreamUrl` and the Upgrade/Connection lines every WebSocket guide has. */
  async function startNginx(name: string, upstreamUrl: string, opts: { http2?: boolean } = {}): Promise<{ port: number; proc: Proc }> {
    const port = await freePort();
    const prefix = join(dir, name);
    mkdirSync(join(prefix, 'temp'), { recursive: true });
    const conf = join(prefix, 'nginx.conf');
    writeFileSync(
      conf,
      `daemon off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log info;
events { worker_connections 128; }
http {
  access_log ${prefix}/access.log;
  client_body_temp_path ${prefix}/temp/body;
  proxy_temp_path ${prefix}/temp/proxy;
  fastcgi_temp_path ${prefix}/temp/fastcgi;
  uwsgi_temp_path ${prefix}/temp/uwsgi;
  scgi_temp_path ${prefix}/temp/scgi;
  server {
    listen 127.0.0.1:${port} ssl${opts.http2 ? ' http2' : ''};
    ssl_certificate ${certs.intermediaryCert};
    ssl_certificate_key ${certs.intermediaryKey};
    location / {
      proxy_pass ${upstreamUrl};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header Host $http_host;
      proxy_read_timeout 1h;
    }
  }
}
`,
    );
    const proc = startProcess(name, NGINX, ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')]);
    await waitUntil(`${name} to listen on 127.0.0.1:${port}`, async () => ((await canConnect(port)) ? true : proc.hasExited() ? Promise.reject(new Error(`${name} exited: ${proc.output()}${readFileSync(join(prefix, 'error.log'), 'utf8')}`)) : undefined));
    return { port, proc };
  }

  /**
   * A browser's request through nginx too (nginx → intermediary → ptth session → agent →
   * upstream) is answered by the upstream, and the agent was authenticated by its signed request
   * (nginx passes no client certificate on).
   */
  async function expectServedThroughNginx(port: number, curlArgs: string[], agentOutput: () => string, signedBefore: number): Promise<void> {
    const r = await curl(['-sS', '-i', ...curlArgs, '--cacert', certs.ca, '-H', 'host: app.localhost', `https://127.0.0.1:${port}/hello`]);
    const response = parseCurlResponse(r.stdout);
    expect(response.status, r.stderr + agentOutput()).toBe(200);
    expect(response.body.toString()).toBe('hello from upstream\n');
    expect(signedAcceptances()).toBe(signedBefore + 1);
  }

  for (const [listener, scheme] of [
    ['http', 'http'],
    ['https', 'https'],
  ] as const) {
    it.skipIf(!hasNginx)(`agent → nginx (TLS) → the intermediary's ${listener} listener: a browser request reaches the upstream`, async () => {
      const signedBefore = signedAcceptances();
      const nginx = await startNginx(`nginx-${listener}`, `${scheme}://127.0.0.1:${listener === 'http' ? ports.http : ports.https}`);
      const agent = startPtthAgent(`rhttp-agent via nginx-${listener}`, `https://127.0.0.1:${nginx.port}`);
      await agent.waitFor(/connected/);
      await expectServedThroughNginx(nginx.port, [], () => agent.output(), signedBefore);
      await agent.stop();
      await nginx.proc.stop();
    });
  }

  it.skipIf(!hasNginx)('--ptth connect through nginx with http2 on: nginx has no extended CONNECT, so the agent falls back to Upgrade over HTTP/1.1', async () => {
    const signedBefore = signedAcceptances();
    const nginx = await startNginx('nginx-h2', `http://127.0.0.1:${ports.http}`, { http2: true });
    const agent = startPtthAgent('rhttp-agent connect via nginx-h2', `https://127.0.0.1:${nginx.port}`, undefined, ['--ptth', 'connect']);
    await agent.waitFor(/connected to https:\/\/127\.0\.0\.1:\d+ \(TLSv1\.\d HTTP\/1\.1 Upgrade, ptth/);
    await expectServedThroughNginx(nginx.port, ['--http2'], () => agent.output(), signedBefore);
    await agent.stop();
    await nginx.proc.stop();
  });
});
