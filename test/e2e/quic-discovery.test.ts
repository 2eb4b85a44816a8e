/**
 * Discovery of the QUIC carrier (DESIGN.md "Discovery", RFC 9460): one SVCB record listing
 * `alpn=h2-reverse,h3-reverse` for a Deno intermediary whose `--quic` listener shares the
 * `--agents` port number (UDP beside TCP). A Deno agent given only the bare name dials
 * `quic://` (h3-reverse first where QUIC exists) and serves; a Node agent given the same name
 * dials `tls://` (no QUIC on Node) and serves. The record is the one `--print-svcb … --quic …`
 * prints, served by a DNS-over-HTTPS server on 127.0.0.1. The Node agent runs first (see the
 * comment where it stops).
 * Skipped, with the reason printed, when Deno cannot start.
 */
import { spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalName, parseSvcbRdata, RRType, type DnsRecord } from '@rhttp/core';
import { startDohServer, type DohServer } from '../support/doh-server.js';
import { agentCli, APP_ORIGIN, freePort, intermediaryCli, makeCertificates, removeDir, requireBuiltClis, startProcess, startUpstream, stopAll, tempDir, waitForRoute, waitUntil, type CertPaths } from './support.js';
import { denoUnavailable, startDenoAgent, startDenoIntermediary } from './support/deno.js';

const unavailable = denoUnavailable();
if (unavailable) console.warn(`quic-discovery.test: skipping SVCB discovery of h3-reverse: ${unavailable}`);

/** Whether UDP `port` on 127.0.0.1 can be bound right now. */
function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', () => resolve(false));
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}

/** A port number free for both TCP (--agents) and UDP (--quic) on 127.0.0.1. */
async function freeTcpAndUdpPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    if (await udpFree(port)) return port;
  }
  throw new Error('no port number free for both TCP and UDP');
}

describe.skipIf(unavailable)('SVCB discovery of h3-reverse (Deno)', () => {
  let dir: string;
  let certs: CertPaths;
  let doh: DohServer;
  const zone = new Map<string, DnsRecord[]>();

  beforeAll(async () => {
    requireBuiltClis();
    dir = tempDir('quic-discovery');
    certs = await makeCertificates(join(dir, 'certs'), [APP_ORIGIN]);
    doh = await startDohServer(zone);
  });

  afterAll(async () => {
    await stopAll();
    await doh?.close();
    removeDir(dir);
  });

  it('a record with alpn=h2-reverse,h3-reverse: a Node agent given the bare name serves over TLS, a Deno agent over QUIC', async () => {
    const upstream = await startUpstream();
    const port = await freeTcpAndUdpPort();
    const ports = { agents: port, http: await freePort(), quic: port };
    const intermediary = await startDenoIntermediary(certs, ports);

    // The record the intermediary prints for these listeners, published at _http-reverse.proxy.test.
    const printed = spawnSync(process.execPath, [intermediaryCli, '--print-svcb', 'proxy.test', '--agents', `127.0.0.1:${port}`, '--quic', `127.0.0.1:${port}`], { encoding: 'utf8' });
    expect(printed.status, printed.stderr).toBe(0);
    const line = printed.stdout.split('\n').find((l) => l.startsWith('_http-reverse.proxy.test.'))!;
    expect(line).toBe(`_http-reverse.proxy.test. 300 IN SVCB 1 proxy.test. alpn=h2-reverse,h3-reverse port=${port}`);
    // Target localhost (the name the dev certificate holds), with an address hint.
    const rdata = `1 localhost. alpn=h2-reverse,h3-reverse port=${port} ipv4hint=127.0.0.1`;
    zone.set(canonicalName('_http-reverse.proxy.test'), [{ name: '_http-reverse.proxy.test.', type: RRType.SVCB, class: 1, ttl: 300, data: { kind: 'svcb', svcb: parseSvcbRdata(rdata) } }]);

    const host = `app.localhost:${ports.http}`;
    const node = startProcess('rhttp-agent (node, discovery)', process.execPath, [
      agentCli,
      '--intermediary',
      'proxy.test',
      '--doh',
      doh.url,
      '--origin',
      APP_ORIGIN,
      '--upstream',
      upstream.url,
      '--cert',
      certs.originCert,
      '--key',
      certs.originKey,
      '--ca',
      certs.ca,
      '--connections',
      '1',
    ]);
    await node.waitFor(new RegExp(`found proxy\\.test through SVCB: tls://localhost:${port} \\(127\\.0\\.0\\.1\\)`));
    await node.waitFor(new RegExp(`connection 1: connected to tls://localhost:${port} \\(127\\.0\\.0\\.1\\) \\(TLSv1\\.3, h2-reverse\\)`));
    expect((await waitForRoute(ports.http, host)).toString()).toBe('hello from upstream\n');
    expect(node.output()).not.toMatch(/quic:/);
    // TLS first: the intermediary drops a stopped agent's TLS session at once; the QUIC session of a
    // stopped Deno agent stays listed (and takes requests) for now, so the QUIC agent goes last.
    await node.stop();
    const statusUrl = `http://127.0.0.1:${ports.http}/.rhttp/status?format=json`;
    const sessions = async () => ((await (await fetch(statusUrl)).json()) as { sessions: { state: string }[] }).sessions;
    await waitUntil('the TLS session to close', async () => ((await sessions()).length === 0 ? true : undefined));
    const deno = await startDenoAgent({ intermediary: 'proxy.test', origins: [APP_ORIGIN], upstream: upstream.url, cert: certs.originCert, key: certs.originKey, ca: certs.ca, extra: ['--doh', doh.url, '--connections', '1'], name: 'rhttp-agent (deno, discovery)' });
    await deno.waitFor(new RegExp(`found proxy\\.test through SVCB: quic://localhost:${port} \\(127\\.0\\.0\\.1\\) or tls://localhost:${port}`));
    await deno.waitFor(new RegExp(`connection 1: connected to quic://localhost:${port} \\(127\\.0\\.0\\.1\\) \\(QUIC, h3-reverse\\)`));
    await intermediary.waitFor(/agent connected over QUIC from 127\.0\.0\.1:\d+/);
    expect((await waitForRoute(ports.http, host)).toString()).toBe('hello from upstream\n');
    expect(deno.output()).not.toMatch(/connecting to tls:/);
    expect(await sessions()).toEqual([expect.objectContaining({ state: 'authorized', origins: [APP_ORIGIN] })]);
    await deno.stop();

    expect(await intermediary.stop()).toBe(0);
  });
});
