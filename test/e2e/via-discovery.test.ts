/**
 * Via discovery (draft-bt-httpbis-reverse-http-01 §3.2): an agent with `viaDiscovery` connected
 * to intermediary A receives a request whose Via names b.rhttp.test (a client-selected
 * intermediary in front of A); it finds B's Reverse HTTP endpoint through the `_http-reverse`
 * SVCB record (draft §4, over a DoH server this test runs) and connects to B, which then serves
 * the origin too. A host whose endpoint does not confirm `h2-reverse` by ALPN is closed and dropped.
 */
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalName, parseSvcbRdata, RRType, type DnsRecord } from '@rhttp/core';
import { startDohServer } from '../support/doh-server.js';
import { httpGet } from './support.js';
import { Intermediary } from '../../apps/intermediary/src/intermediary.js';
import { Agent } from '../../packages/agent/src/agent.js';
import type { AgentEvent } from '../../packages/agent/src/agent-events.js';
import { createDevCa, issueCertificate } from '../../packages/node/src/certs.js';
import { parseVia, viaHost } from '../../packages/agent/src/via-discovery.js';

const ORIGIN = 'https://app.example.com';
const zone = new Map<string, DnsRecord[]>();
let dohServer: HttpServer;
let a: Intermediary;
let b: Intermediary;
let notReverse: TlsServer;
let agent: Agent;
let aHttp: number;
let bHttp: number;
const events: AgentEvent[] = [];
let notReverseClosed = 0;

function svcb(owner: string, rdata: string): void {
  zone.set(canonicalName(owner), [{ name: owner, type: RRType.SVCB, class: 1, ttl: 300, data: { kind: 'svcb', svcb: parseSvcbRdata(rdata) } }]);
}

function get(port: number, via?: string): Promise<{ status: number; body: string }> {
  return httpGet(port, 'app.example.com', '/', { headers: via ? { via } : {} }).then((r) => ({ status: r.status, body: r.body.toString('utf8') }));
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1500; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  const started = await startDohServer(zone);
  dohServer = started.server;
  const doh = started.url;

  const ca = await createDevCa({ commonName: 'Via Test CA', days: 30 });
  const aCert = await issueCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const bCert = await issueCertificate(ca, { dnsNames: ['b.rhttp.test'] });
  const cCert = await issueCertificate(ca, { dnsNames: ['c.rhttp.test'] });
  const originCert = await issueCertificate(ca, { dnsNames: ['app.example.com'], extendedKeyUsage: ['serverAuth'] });
  const start = async (cert: typeof aCert) => {
    const i = new Intermediary({ agents: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 }, cert: cert.chainPem, key: cert.keyPem, trust: ca.certPem });
    return { i, addresses: await i.start() };
  };
  const startedA = await start(aCert);
  const startedB = await start(bCert);
  a = startedA.i;
  b = startedB.i;
  aHttp = startedA.addresses.http!.port;
  bHttp = startedB.addresses.http!.port;
  svcb('_http-reverse.b.rhttp.test', `1 b.rhttp.test. alpn=h2-reverse port=${startedB.addresses.agents.port} ipv4hint=127.0.0.1`);
  // c.rhttp.test answers TLS but not Reverse HTTP: no ALPN is agreed.
  notReverse = createTlsServer({ cert: cCert.chainPem, key: cCert.keyPem }, (socket) => socket.on('error', () => {}));
  notReverse.on('tlsClientError', () => {});
  // Counted on the TCP socket: the agent may close before this side calls the handshake done.
  notReverse.on('connection', (socket) => socket.once('close', () => notReverseClosed++));
  await new Promise<void>((resolve) => notReverse.listen(0, '127.0.0.1', resolve));
  svcb('_http-reverse.c.rhttp.test', `1 c.rhttp.test. alpn=h2-reverse port=${(notReverse.address() as AddressInfo).port} ipv4hint=127.0.0.1`);

  agent = new Agent({
    intermediary: `tls://127.0.0.1:${startedA.addresses.agents.port}`,
    servername: 'localhost',
    origins: [ORIGIN],
    handler: (request: Request) => new Response(`served; via: ${request.headers.get('via')}`),
    cert: originCert.chainPem,
    key: originCert.keyPem,
    ca: ca.certPem,
    connections: 1,
    doh,
    viaDiscovery: true,
    backoff: { refusedMs: 60_000 },
    log: (event) => events.push(event),
  });
  agent.start();
  await until(() => a.servedOrigins().includes(ORIGIN), 'the agent at A');
});

afterAll(async () => {
  await agent?.stop({ graceful: false });
  await a?.stop();
  await b?.stop();
  await new Promise<void>((resolve) => notReverse.close(() => resolve()));
  await new Promise<void>((resolve) => dohServer.close(() => resolve()));
});

describe('Via discovery (draft §3.2)', () => {
  it('parses Via members and keeps only DNS names (RFC 9110 §7.6.3: pseudonyms and addresses are not looked up)', () => {
    expect(parseVia('1.1 b.rhttp.test (proxy, v2), HTTP/2 rhttp, 1.0 10.0.0.1:8080')).toEqual([
      { protocol: '1.1', receivedBy: 'b.rhttp.test' },
      { protocol: 'HTTP/2', receivedBy: 'rhttp' },
      { protocol: '1.0', receivedBy: '10.0.0.1:8080' },
    ]);
    expect(viaHost('B.rhttp.test:3128')).toBe('b.rhttp.test');
    expect(viaHost('rhttp')).toBeUndefined();
    expect(viaHost('10.0.0.1:8080')).toBeUndefined();
    expect(viaHost('[2001:db8::1]:80')).toBeUndefined();
  });

  it('a request via an unknown intermediary makes the agent connect to it; it then serves the origin there', async () => {
    expect(b.servedOrigins()).not.toContain(ORIGIN);
    const first = await get(aHttp, '1.1 b.rhttp.test');
    expect(first.status).toBe(200);
    await until(() => b.servedOrigins().includes(ORIGIN), 'the agent at B');
    const viaB = await get(bHttp);
    expect(viaB.status).toBe(200);
    expect(viaB.body).toMatch(/^served/);
    expect(agent.viaDiscovery?.discovered).toEqual(['b.rhttp.test']);
  });

  it('an endpoint that does not confirm h2-reverse by ALPN is closed and dropped', async () => {
    const closedBefore = notReverseClosed;
    await get(aHttp, '1.1 c.rhttp.test');
    await until(() => events.some((e) => e.type === 'refused' && /ALPN|h2-reverse/i.test(e.reason)), 'the ALPN refusal');
    await until(() => notReverseClosed > closedBefore, 'the connection to close');
    await until(() => !agent.viaDiscovery!.discovered.includes('c.rhttp.test'), 'c to be dropped');
    // Not tried again: another request via c opens nothing new.
    const closedAfter = notReverseClosed;
    await get(aHttp, '1.1 c.rhttp.test');
    await get(aHttp, '1.1 c.rhttp.test');
    expect(notReverseClosed).toBe(closedAfter);
  });
});
