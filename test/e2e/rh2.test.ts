/**
 * draft-thomson-ptth-potato's ALPN for reversed HTTP/2 ("rh2") end to end: the agent dials the
 * intermediary's agent port offering only rh2 (`--alpn rh2`), is admitted as on h2-reverse, and
 * a browser request reaches the upstream through it.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Intermediary } from '../../apps/intermediary/src/intermediary.js';
import type { Agent } from '../../packages/agent/src/agent.js';
import { createDevCa, issueCertificate } from '../../packages/node/src/certs.js';
import { startInProcessTunnel } from './in-process-tunnel.js';

const ORIGIN = 'https://app.example.com';
let upstream: Server;
let intermediary: Intermediary;
let agent: Agent;
let httpPort: number;
let seenAlpn: string | undefined;

beforeAll(async () => {
  upstream = createServer((req, res) => res.end(`hello ${req.headers.host} over ${seenAlpn}`));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const ca = await createDevCa({ commonName: 'rh2 Test CA', days: 30 });
  const intermediaryCert = await issueCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const originCert = await issueCertificate(ca, { dnsNames: ['app.example.com'], extendedKeyUsage: ['serverAuth'] });
  ({ intermediary, agent, httpPort } = await startInProcessTunnel({
    ca, intermediaryCert, originCert, origin: ORIGIN,
    upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
    agent: { alpn: 'rh2', log: (event) => { if (event.type === 'connected') seenAlpn = event.carrier; } },
  }));
});

afterAll(async () => {
  await agent?.stop({ graceful: false });
  await intermediary?.stop();
  await new Promise((r) => upstream?.close(r));
});

describe('reversed HTTP/2 under ALPN rh2 (draft-thomson-ptth-potato)', () => {
  it('the agent connects with rh2 and a browser request comes back through it', async () => {
    // "connected" follows the intermediary's admission PING, which can come after it serves the origin.
    for (let i = 0; i < 500 && seenAlpn === undefined; i++) await new Promise((r) => setTimeout(r, 10));
    expect(seenAlpn).toBe('rh2');
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: httpPort, path: '/', headers: { host: 'app.example.com' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${res.statusCode}: ${text}`))));
      });
      req.on('error', reject);
      req.end();
    });
    expect(body).toBe('hello app.example.com over rh2');
  });
});
