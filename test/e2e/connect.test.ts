/**
 * Transport proxying (draft-bt-httpbis-reverse-http-01 §3.1): `CONNECT app.example.com:443` at
 * the intermediary's cleartext listener goes down the agent's reversed session as a CONNECT
 * stream; the agent relays bytes to its upstream, a TLS server whose certificate names
 * app.example.com, so TLS runs end to end from the client to the upstream through the tunnel.
 * Clients: curl --proxytunnel (HTTP/1.1 CONNECT) and node:http2 (RFC 9113 §8.5 CONNECT).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect as http2Connect } from 'node:http2';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Intermediary } from '../../apps/intermediary/src/intermediary.js';
import type { Agent } from '../../packages/agent/src/agent.js';
import { startInProcessTunnel } from './in-process-tunnel.js';
import { createDevCa, issueCertificate } from '../../packages/node/src/certs.js';

const ORIGIN = 'https://app.example.com';
const run = promisify(execFile);

let upstream: HttpsServer;
let intermediary: Intermediary;
let agent: Agent;
let httpPort: number;
let caFile: string;
let caPem: string;
const upstreamSaw: { host?: string; servername?: string }[] = [];

beforeAll(async () => {
  const ca = await createDevCa({ commonName: 'CONNECT Test CA', days: 30 });
  caPem = ca.certPem;
  const intermediaryCert = await issueCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const originCert = await issueCertificate(ca, { dnsNames: ['app.example.com'], extendedKeyUsage: ['serverAuth'] });
  caFile = join(mkdtempSync(join(tmpdir(), 'rhttp-connect-')), 'ca.pem');
  writeFileSync(caFile, ca.certPem);

  // The upstream terminates TLS itself: the intermediary and the agent only see ciphertext.
  upstream = createHttpsServer({ cert: originCert.chainPem, key: originCert.keyPem }, (req, res) => {
    upstreamSaw.push({ host: req.headers.host, servername: (req.socket as unknown as { servername?: string }).servername });
    res.end(`hello over ${req.httpVersion} to ${req.headers.host}${req.url}\n`);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamPort = (upstream.address() as AddressInfo).port;

  ({ intermediary, agent, httpPort } = await startInProcessTunnel({ ca, intermediaryCert, originCert, origin: ORIGIN, upstream: `https://127.0.0.1:${upstreamPort}` }));
});

afterAll(async () => {
  await agent?.stop({ graceful: false });
  await intermediary?.stop();
  await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
});

/** A raw HTTP/1.1 CONNECT; resolves with the status line and head of what came back. */
function rawConnect(authority: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(httpPort, '127.0.0.1', () => socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

describe('CONNECT transport proxying (draft §3.1; RFC 9110 §9.3.6, RFC 9113 §8.5)', () => {
  it('curl --proxytunnel reaches the TLS upstream end to end through the reversed session', async () => {
    const { stdout } = await run('curl', ['-sS', '--proxytunnel', '-x', `http://127.0.0.1:${httpPort}`, '--cacert', caFile, 'https://app.example.com/through/the/tunnel']);
    expect(stdout).toBe('hello over 1.1 to app.example.com/through/the/tunnel\n');
    // The TLS handshake named the origin: it went end to end, not terminated on the way.
    expect(upstreamSaw.at(-1)?.servername).toBe('app.example.com');
  });

  it('an HTTP/2 client opens a CONNECT stream and runs TLS inside it', async () => {
    const client = http2Connect(`http://127.0.0.1:${httpPort}`);
    try {
      const stream = client.request({ ':method': 'CONNECT', ':authority': 'app.example.com:443' });
      const status = await new Promise<number>((resolve, reject) => {
        stream.once('response', (h) => resolve(Number(h[':status'])));
        stream.once('error', reject);
      });
      expect(status).toBe(200);
      const tls = tlsConnect({ socket: stream as never, servername: 'app.example.com', ca: caPem });
      await new Promise<void>((resolve, reject) => {
        tls.once('secureConnect', resolve);
        tls.once('error', reject);
      });
      tls.write('GET /h2 HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n');
      let text = '';
      tls.setEncoding('utf8');
      for await (const chunk of tls) text += chunk;
      expect(text).toMatch(/^HTTP\/1\.1 200 OK/);
      expect(text).toContain('hello over 1.1 to app.example.com/h2');
    } finally {
      client.close();
    }
  });

  it('a destination in no Origin Set is refused with 403 and Proxy-Status: never an open proxy', async () => {
    const answer = await rawConnect('example.org:443');
    expect(answer).toMatch(/^HTTP\/1\.1 403 /);
    expect(answer.toLowerCase()).toContain('proxy-status: rhttp; error=http_request_denied');
  });

  it('a served host on a port outside the Origin Set is refused too', async () => {
    const answer = await rawConnect('app.example.com:22');
    expect(answer).toMatch(/^HTTP\/1\.1 403 /);
  });
});
