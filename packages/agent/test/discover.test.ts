/**
 * `--intermediary` resolution and `rhttp-agent discover` output (DESIGN.md "Discovery"): SVCB
 * discovery (RFC 9460) over a real DNS-over-HTTPS server (RFC 8484) that this test starts on
 * 127.0.0.1, answering with records built by @rhttp/core's encoder.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  base64UrlDecode,
  canonicalName,
  decodeMessage,
  DiscoveryError,
  type DnsRecord,
  encodeMessage,
  Rcode,
  RRType,
  rhttpSvcbRecord,
  parseSvcbRdata,
  SvcbFormatError,
  svcbQueryName,
} from '@rhttp/core';
import { discoverIntermediaryDetails, formatDiscovery, parseBareIntermediary, resolveIntermediary } from '../src/discover.js';
import { dialableCarriers } from '../src/carriers/quic.js';

/** The test's zone: owner name → records. Names not in it are NXDOMAIN. */
const zone = new Map<string, DnsRecord[]>();
const queries: string[] = [];
let server: Server;
let doh: string;

function svcb(owner: string, rdata: string): void {
  add(owner, { name: owner, type: RRType.SVCB, class: 1, ttl: 300, data: { kind: 'svcb', svcb: parseSvcbRdata(rdata) } });
}
function add(owner: string, rr: DnsRecord): void {
  const key = canonicalName(owner);
  zone.set(key, [...(zone.get(key) ?? []), rr]);
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname !== '/dns-query') {
        res.writeHead(404).end();
        return;
      }
      const wire = req.method === 'POST' ? new Uint8Array(Buffer.concat(chunks)) : base64UrlDecode(url.searchParams.get('dns') ?? '');
      const query = decodeMessage(wire);
      const q = query.questions[0];
      queries.push(`${req.method} ${q.name} ${q.type}`);
      const records = zone.get(canonicalName(q.name));
      const answers = (records ?? []).filter((rr) => rr.type === q.type || rr.type === RRType.CNAME);
      const reply = encodeMessage({ id: query.id, qr: true, rd: true, ra: true, rcode: records ? Rcode.NOERROR : Rcode.NXDOMAIN, questions: query.questions, answers });
      res.writeHead(200, { 'content-type': 'application/dns-message', 'content-length': reply.length }).end(reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  doh = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dns-query`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  zone.clear();
  queries.length = 0;
});

const stable = () => 0; // keep the answer's order among equal priorities

describe('DESIGN.md Discovery: SVCB at _http-reverse.<name> over DoH (RFC 9460, RFC 8484)', () => {
  it('uses port and ipv4hint of a ServiceMode record, without A/AAAA lookups', async () => {
    svcb('_http-reverse.proxy.example.net', '1 proxy.example.net. alpn=h2-reverse port=8443 ipv4hint=127.0.0.1');
    const endpoints = await resolveIntermediary('proxy.example.net', { doh, rng: stable });
    expect(endpoints).toEqual([
      {
        target: 'proxy.example.net',
        port: 8443,
        alpn: ['h2-reverse'],
        carrier: 'tls',
        addresses: ['127.0.0.1'],
        priority: 1,
        url: 'tls://proxy.example.net:8443',
        record: '_http-reverse.proxy.example.net. 300 IN SVCB 1 proxy.example.net. alpn=h2-reverse port=8443 ipv4hint=127.0.0.1',
      },
    ]);
    expect(queries).toEqual([`GET _http-reverse.proxy.example.net. ${RRType.SVCB}`]);
  });

  it('RFC 9460 §2.4.1: orders ServiceMode records by priority; equal priorities keep the order the rng gives', async () => {
    svcb('_http-reverse.p.example', '3 c.example. alpn=h2-reverse ipv4hint=192.0.2.3');
    svcb('_http-reverse.p.example', '1 a.example. alpn=h2-reverse ipv4hint=192.0.2.1');
    svcb('_http-reverse.p.example', '2 b1.example. alpn=h2-reverse ipv4hint=192.0.2.21');
    svcb('_http-reverse.p.example', '2 b2.example. alpn=h2-reverse ipv4hint=192.0.2.22');
    expect((await resolveIntermediary('p.example', { doh, rng: stable })).map((e) => e.target)).toEqual(['a.example', 'b1.example', 'b2.example', 'c.example']);
    // An rng that ranks later records first reverses the equal-priority pair only.
    let n = 0;
    const descending = () => 1 - (n++ + 1) / 100;
    expect((await resolveIntermediary('p.example', { doh, rng: descending })).map((e) => e.target)).toEqual(['a.example', 'b2.example', 'b1.example', 'c.example']);
  });

  it('RFC 9460 §2.3: NAME:PORT uses port-prefix naming _<port>._http-reverse.<name>', async () => {
    svcb('_8443._http-reverse.proxy.example.net', '1 . alpn=h2-reverse port=8443 ipv6hint=::1');
    const [e] = await resolveIntermediary('proxy.example.net:8443', { doh });
    // RFC 9460 §2.5.2: TargetName "." in ServiceMode means the owner name.
    expect(e).toMatchObject({ target: '_8443._http-reverse.proxy.example.net', port: 8443, addresses: ['::1'] });
    expect(queries[0]).toBe(`GET _8443._http-reverse.proxy.example.net. ${RRType.SVCB}`);
    expect(svcbQueryName('proxy.example.net', 443)).toBe('_http-reverse.proxy.example.net.');
  });

  it('falls back to A and AAAA over DoH when the record has no address hints', async () => {
    svcb('_http-reverse.proxy.example.net', '1 edge.example.net. alpn=h2-reverse');
    add('edge.example.net', { name: 'edge.example.net', type: RRType.A, class: 1, ttl: 60, data: { kind: 'a', address: '192.0.2.10' } });
    add('edge.example.net', { name: 'edge.example.net', type: RRType.AAAA, class: 1, ttl: 60, data: { kind: 'aaaa', address: '2001:db8::10' } });
    const [e] = await resolveIntermediary('proxy.example.net', { doh, method: 'POST' });
    expect(e).toMatchObject({ target: 'edge.example.net', port: 443, addresses: ['192.0.2.10', '2001:db8::10'] });
    expect(queries.sort()).toEqual([`POST _http-reverse.proxy.example.net. ${RRType.SVCB}`, `POST edge.example.net. ${RRType.A}`, `POST edge.example.net. ${RRType.AAAA}`].sort());
  });

  it('a record whose target has no address is not usable, and says so', async () => {
    svcb('_http-reverse.proxy.example.net', '1 gone.example.net. alpn=h2-reverse');
    await expect(resolveIntermediary('proxy.example.net', { doh })).rejects.toThrow(/gone\.example\.net has no address: NXDOMAIN for gone\.example\.net\. A/);
  });

  it('follows AliasMode chains (RFC 9460 §2.4.2) and ignores ServiceMode records beside an alias', async () => {
    svcb('_http-reverse.proxy.example.net', '0 svc1.example.org.');
    svcb('_http-reverse.proxy.example.net', '1 ignored.example. alpn=h2-reverse ipv4hint=192.0.2.99');
    svcb('svc1.example.org', '0 svc2.example.org.');
    svcb('svc2.example.org', '1 edge.example.org. alpn=h2-reverse-ws ipv4hint=192.0.2.2');
    const endpoints = await resolveIntermediary('proxy.example.net', { doh });
    expect(endpoints).toHaveLength(1);
    expect(endpoints[0]).toMatchObject({
      target: 'edge.example.org',
      carrier: 'ws',
      url: 'wss://edge.example.org:443',
      aliases: ['_http-reverse.proxy.example.net', 'svc1.example.org', 'svc2.example.org'],
    });
  });

  it('rejects an AliasMode loop and a chain longer than the limit', async () => {
    svcb('_http-reverse.loop.example', '0 a.loop.example.');
    svcb('a.loop.example', '0 b.loop.example.');
    svcb('b.loop.example', '0 a.loop.example.');
    await expect(resolveIntermediary('loop.example', { doh })).rejects.toThrow('AliasMode loop: _http-reverse.loop.example → a.loop.example → b.loop.example → a.loop.example');
    svcb('_http-reverse.long.example', '0 h1.long.example.');
    for (let i = 1; i <= 3; i++) svcb(`h${i}.long.example`, `0 h${i + 1}.long.example.`);
    svcb('h4.long.example', '1 . alpn=h2-reverse ipv4hint=192.0.2.4');
    await expect(resolveIntermediary('long.example', { doh, maxAliasChain: 3 })).rejects.toThrow(/AliasMode chain longer than 3 hops/);
    expect(await resolveIntermediary('long.example', { doh, maxAliasChain: 4 })).toHaveLength(1);
  });

  it('RFC 9460 §2.5.1: AliasMode to "." means the service is not available', async () => {
    svcb('_http-reverse.off.example', '0 .');
    await expect(resolveIntermediary('off.example', { doh })).rejects.toThrow('off.example says the service is not available');
  });

  it('alpn is required: records without it (or without an rhttp carrier) are skipped; none usable is a clear error', async () => {
    svcb('_http-reverse.proxy.example.net', '1 a.example. port=8443 ipv4hint=192.0.2.1');
    svcb('_http-reverse.proxy.example.net', '2 b.example. alpn=h2,h3 ipv4hint=192.0.2.2');
    const err = await resolveIntermediary('proxy.example.net', { doh }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscoveryError);
    expect((err as Error).message).toBe(
      'no usable SVCB record at _http-reverse.proxy.example.net:\n' +
        '  _http-reverse.proxy.example.net. 300 IN SVCB 1 a.example. port=8443 ipv4hint=192.0.2.1\n' +
        '    unusable: it has no alpn (required: one or more of h2-reverse, h3-reverse, h2-reverse-ws)\n' +
        '  _http-reverse.proxy.example.net. 300 IN SVCB 2 b.example. alpn=h2,h3 ipv4hint=192.0.2.2\n' +
        '    unusable: its alpn (h2,h3) lists none of h2-reverse, h3-reverse, h2-reverse-ws',
    );
    svcb('_http-reverse.proxy.example.net', '3 c.example. alpn=h2-reverse,h2-reverse-ws ipv4hint=192.0.2.3');
    const details = await discoverIntermediaryDetails('proxy.example.net', { doh });
    // A record listing both carriers gives two endpoints, TLS first.
    expect(details.endpoints.map((e) => e.url)).toEqual(['tls://c.example:443', 'wss://c.example:443']);
    expect(details.skipped.map((s) => s.reason)).toEqual(['it has no alpn (required: one or more of h2-reverse, h3-reverse, h2-reverse-ws)', 'its alpn (h2,h3) lists none of h2-reverse, h3-reverse, h2-reverse-ws']);
  });

  it('h3-reverse in alpn is the QUIC carrier: first where QUIC can be dialed, left out (and said why) where it cannot', async () => {
    svcb('_http-reverse.proxy.example.net', '1 a.example. alpn=h2-reverse,h3-reverse port=8443 ipv4hint=192.0.2.1');
    svcb('_http-reverse.proxy.example.net', '2 b.example. alpn=h3-reverse port=9443 ipv4hint=192.0.2.2');
    // Deno with --unstable-net: QUIC first, TLS the fallback of the same target:port.
    const withQuic = await discoverIntermediaryDetails('proxy.example.net', { doh, rng: stable, carriers: ['quic', 'tls', 'ws'] });
    expect(withQuic.endpoints.map((e) => [e.url, e.carrier, e.port, e.addresses])).toEqual([
      ['quic://a.example:8443', 'quic', 8443, ['192.0.2.1']],
      ['tls://a.example:8443', 'tls', 8443, ['192.0.2.1']],
      ['quic://b.example:9443', 'quic', 9443, ['192.0.2.2']],
    ]);
    expect(withQuic.skipped).toEqual([]);
    // No QUIC (Node and Bun, where these tests run; the agent passes dialableCarriers()): TLS only, the QUIC-only record unusable.
    expect(dialableCarriers()).toEqual(['tls', 'ws']);
    const withoutQuic = await discoverIntermediaryDetails('proxy.example.net', { doh, rng: stable, carriers: dialableCarriers() });
    expect(withoutQuic.endpoints.map((e) => e.url)).toEqual(['tls://a.example:8443']);
    expect(withoutQuic.skipped).toEqual([
      {
        record: '_http-reverse.proxy.example.net. 300 IN SVCB 2 b.example. alpn=h3-reverse port=9443 ipv4hint=192.0.2.2',
        reason: 'its alpn (h3-reverse) lists only carriers this client cannot dial (it dials h2-reverse, h2-reverse-ws; h3-reverse needs QUIC)',
      },
    ]);
    // In core's default order (DEFAULT_CARRIER_ORDER): TLS, QUIC, WebSocket, whatever order alpn lists them in.
    svcb('_http-reverse.all.example', '1 c.example. alpn=h2-reverse-ws,h3-reverse,h2-reverse ipv4hint=192.0.2.3');
    const all = await discoverIntermediaryDetails('all.example', { doh, carriers: ['tls', 'quic', 'ws'] });
    expect(all.endpoints.map((e) => e.url)).toEqual(['tls://c.example:443', 'quic://c.example:443', 'wss://c.example:443']);
    expect(formatDiscovery('all.example', all)).toContain('  2. quic://c.example:443 — QUIC carrier (ALPN h3-reverse, HTTP/3) at 192.0.2.3, priority 1');
  });

  it('RFC 9460 §8: a record that makes an unsupported key mandatory is ignored', async () => {
    svcb('_http-reverse.proxy.example.net', '1 a.example. mandatory=ech alpn=h2-reverse ech=AQID ipv4hint=192.0.2.1');
    svcb('_http-reverse.proxy.example.net', '2 b.example. mandatory=ipv4hint alpn=h2-reverse ipv4hint=192.0.2.2');
    const details = await discoverIntermediaryDetails('proxy.example.net', { doh });
    expect(details.endpoints.map((e) => e.target)).toEqual(['b.example']);
    expect(details.skipped[0].reason).toBe('it makes ech mandatory, which rhttp does not support');
  });

  it('NXDOMAIN and an empty answer are DiscoveryErrors that ask the right question', async () => {
    await expect(resolveIntermediary('nope.example.net', { doh })).rejects.toThrow(
      new DiscoveryError('no SVCB record at _http-reverse.nope.example.net (NXDOMAIN) — is this an rhttp intermediary?'),
    );
    add('_http-reverse.txt.example', { name: '_http-reverse.txt.example', type: RRType.TXT, class: 1, ttl: 1, data: { kind: 'raw', bytes: Uint8Array.of(1, 0x78) } });
    await expect(resolveIntermediary('txt.example', { doh })).rejects.toThrow(/no SVCB record at _http-reverse\.txt\.example \(the name exists but has no SVCB records\)/);
  });

  it('follows a CNAME inside the answer to the SVCB RRset', async () => {
    add('_http-reverse.cn.example', { name: '_http-reverse.cn.example', type: RRType.CNAME, class: 1, ttl: 1, data: { kind: 'cname', target: 'real.cn.example.' } });
    add('_http-reverse.cn.example', { name: 'real.cn.example', type: RRType.SVCB, class: 1, ttl: 1, data: { kind: 'svcb', svcb: parseSvcbRdata('1 edge.cn.example. alpn=h2-reverse ipv4hint=192.0.2.5') } });
    expect((await resolveIntermediary('cn.example', { doh }))[0].target).toBe('edge.cn.example');
  });

  it('a malformed record set is rejected with what was wrong (RFC 9460 §2.2)', async () => {
    // port value of 1 octet, written raw so the encoder does not refuse it.
    add('_http-reverse.bad.example', { name: '_http-reverse.bad.example', type: RRType.SVCB, class: 1, ttl: 1, data: { kind: 'raw', bytes: Uint8Array.of(0, 1, 0, 0, 3, 0, 1, 5) } });
    const err = await resolveIntermediary('bad.example', { doh }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SvcbFormatError);
    expect((err as Error).message).toMatch(/malformed SVCB record at _http-reverse\.bad\.example\. .*port value of 1 octets, expected 2/);
  });

  it('the record an intermediary prints for operators is found by discovery', async () => {
    const line = rhttpSvcbRecord({ name: 'proxy.example.net', port: 8443, ipv4hint: ['127.0.0.1'] });
    expect(line).toBe('_http-reverse.proxy.example.net. 300 IN SVCB 1 proxy.example.net. alpn=h2-reverse port=8443 ipv4hint=127.0.0.1');
    const [owner, , , , ...rdata] = line.split(' ');
    svcb(owner, rdata.join(' '));
    expect((await resolveIntermediary('proxy.example.net', { doh }))[0].url).toBe('tls://proxy.example.net:8443');
    expect(rhttpSvcbRecord({ name: 'proxy.example.net', port: 8443, portPrefix: true, carrier: ['ws', 'tls'], host: 'edge.example.net' })).toBe(
      '_8443._http-reverse.proxy.example.net. 300 IN SVCB 1 edge.example.net. alpn=h2-reverse,h2-reverse-ws port=8443',
    );
    expect(rhttpSvcbRecord({ name: 'proxy.example.net' })).toBe('_http-reverse.proxy.example.net. 300 IN SVCB 1 proxy.example.net. alpn=h2-reverse');
    const both = rhttpSvcbRecord({ name: 'proxy.example.net', port: 8443, carrier: ['quic', 'tls'], ipv4hint: ['127.0.0.1'] });
    expect(both).toBe('_http-reverse.proxy.example.net. 300 IN SVCB 1 proxy.example.net. alpn=h2-reverse,h3-reverse port=8443 ipv4hint=127.0.0.1');
    zone.clear();
    const [owner2, , , , ...rdata2] = both.split(' ');
    svcb(owner2, rdata2.join(' '));
    expect((await resolveIntermediary('proxy.example.net', { doh, carriers: ['quic', 'tls'] })).map((e) => e.url)).toEqual(['quic://proxy.example.net:8443', 'tls://proxy.example.net:8443']);
  });
});

describe('--intermediary URL forms pass through without DNS', () => {
  it('tls://, quic://, ws:// and wss:// are single endpoints', async () => {
    expect(await resolveIntermediary('tls://127.0.0.1:8443', { doh })).toEqual([
      { target: '127.0.0.1', port: 8443, alpn: ['h2-reverse'], carrier: 'tls', addresses: [], priority: 0, url: 'tls://127.0.0.1:8443' },
    ]);
    expect(await resolveIntermediary('ws://127.0.0.1:8787', { doh })).toMatchObject([{ carrier: 'ws', port: 8787, url: 'ws://127.0.0.1:8787' }]);
    expect(await resolveIntermediary('wss://edge.example.net', { doh })).toMatchObject([{ carrier: 'ws', port: 443, target: 'edge.example.net' }]);
    expect(await resolveIntermediary('tls://[::1]:9', { doh })).toMatchObject([{ target: '::1', port: 9 }]);
    expect(await resolveIntermediary('quic://127.0.0.1:8443', { doh })).toEqual([
      { target: '127.0.0.1', port: 8443, alpn: ['h3-reverse'], carrier: 'quic', addresses: [], priority: 0, url: 'quic://127.0.0.1:8443' },
    ]);
    expect(queries).toEqual([]);
  });
  it('rejects other schemes, IP addresses as bare names and junk', async () => {
    await expect(resolveIntermediary('https://x.example', { doh })).rejects.toThrow(/tls:\/\/, quic:\/\/, ws:\/\/, wss:\/\/ or a DNS name/);
    await expect(resolveIntermediary('127.0.0.1:8443', { doh })).rejects.toThrow(/IP address, which has no SVCB records: give tls:\/\/127\.0\.0\.1:8443/);
    await expect(resolveIntermediary('[::1]:8443', { doh })).rejects.toThrow(/IP address/);
    await expect(resolveIntermediary('tls://h:1/path', { doh })).rejects.toThrow(/must be tls:\/\/host:port/);
    await expect(resolveIntermediary('quic://h:1/path', { doh })).rejects.toThrow(/must be quic:\/\/host:port/);
    expect(() => parseBareIntermediary('bad name')).toThrow(TypeError);
    expect(() => parseBareIntermediary('x.example:70000')).toThrow(/not in 1\.\.65535/);
    expect(parseBareIntermediary('Proxy.Example.net.:8443')).toEqual({ name: 'Proxy.Example.net', port: 8443 });
  });
});

describe('rhttp-agent discover NAME output', () => {
  it('prints the query, alias hops, the SVCB answer, what is unusable, and the endpoints in order', async () => {
    svcb('_http-reverse.proxy.example.net', '0 svc.example.org.');
    svcb('svc.example.org', '1 edge.example.org. alpn=h2-reverse port=8443 ipv4hint=127.0.0.1');
    svcb('svc.example.org', '2 backup.example.org. alpn=h2-reverse-ws ipv6hint=2001:db8::2');
    svcb('svc.example.org', '3 old.example.org. port=443');
    const details = await discoverIntermediaryDetails('proxy.example.net', { doh, rng: stable });
    expect(formatDiscovery('proxy.example.net', details, { doh })).toBe(
      [
        `Looked up SVCB _http-reverse.proxy.example.net via ${doh}.`,
        '  _http-reverse.proxy.example.net is an alias (AliasMode) for svc.example.org',
        'SVCB answer at svc.example.org (3 records):',
        '  svc.example.org. 300 IN SVCB 1 edge.example.org. alpn=h2-reverse port=8443 ipv4hint=127.0.0.1',
        '  svc.example.org. 300 IN SVCB 2 backup.example.org. alpn=h2-reverse-ws ipv6hint=2001:db8::2',
        '  svc.example.org. 300 IN SVCB 3 old.example.org. port=443',
        'Not usable:',
        '  svc.example.org. 300 IN SVCB 3 old.example.org. port=443',
        '    it has no alpn (required: one or more of h2-reverse, h3-reverse, h2-reverse-ws)',
        'The agent would hold connections to each of these (one target:port is one intermediary; its addresses and carriers are alternatives, tried in order):',
        '  1. tls://edge.example.org:8443 — TLS carrier (ALPN h2-reverse) at 127.0.0.1, priority 1',
        '  2. wss://backup.example.org:443 — WebSocket carrier at 2001:db8::2, priority 2',
        '',
      ].join('\n'),
    );
    // From the endpoints alone (what resolveIntermediary returns): same answer lines for the usable records.
    const text = formatDiscovery('proxy.example.net', details.endpoints);
    expect(text).toContain('  _http-reverse.proxy.example.net is an alias (AliasMode) for svc.example.org');
    expect(text).toContain('SVCB answer at svc.example.org (2 records):');
    expect(text).toContain('  1. tls://edge.example.org:8443 — TLS carrier (ALPN h2-reverse) at 127.0.0.1, priority 1');
  });
});
