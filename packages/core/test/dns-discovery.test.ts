/**
 * Discovery's carriers (DESIGN.md "Discovery", RFC 9460): the SVCB `alpn` ids `h2-reverse` (TLS),
 * `h3-reverse` (QUIC) and `h2-reverse-ws` (WebSocket) become endpoints in the client's order of
 * preference (`carriers`), and `rhttpSvcbRecord` publishes them — against a fake DoH `fetch`
 * answering from a small zone, so no network is involved.
 */
import { describe, expect, it } from 'vitest';
import {
  CARRIER_ALPN,
  canonicalName,
  decodeMessage,
  base64UrlDecode,
  DEFAULT_CARRIER_ORDER,
  DiscoveryError,
  encodeMessage,
  lookupIntermediary,
  parseSvcbRdata,
  rhttpSvcbRecord,
  RRType,
  type DnsRecord,
} from '../src/dns/index.js';

const DOH = 'https://doh.test/dns-query';

/** A DoH fetch answering SVCB queries from `zone` (owner → RDATA in presentation format); other names are empty. */
function zoneFetch(zone: Record<string, string[]>): typeof fetch {
  return (async (input: string | URL | Request) => {
    const url = new URL(String(input));
    const query = decodeMessage(base64UrlDecode(url.searchParams.get('dns')!));
    const q = query.questions[0];
    const rdatas = q.type === RRType.SVCB ? (zone[canonicalName(q.name)] ?? []) : [];
    const answers: DnsRecord[] = rdatas.map((rdata) => ({ name: q.name, type: RRType.SVCB, class: 1, ttl: 300, data: { kind: 'svcb', svcb: parseSvcbRdata(rdata) } }));
    return new Response(encodeMessage({ id: query.id, qr: true, rd: true, ra: true, questions: query.questions, answers }), { headers: { 'content-type': 'application/dns-message' } });
  }) as typeof fetch;
}

const OWNER = canonicalName('_http-reverse.proxy.example.net');
const lookup = (zone: Record<string, string[]>, carriers?: ('tls' | 'quic' | 'ws')[]) => lookupIntermediary('proxy.example.net', { doh: DOH, fetch: zoneFetch(zone), rng: () => 0, carriers });

describe('discovery of the QUIC carrier (alpn=h3-reverse)', () => {
  it('the alpn ids of the three carriers', () => {
    expect(CARRIER_ALPN).toEqual({ tls: 'h2-reverse', quic: 'h3-reverse', ws: 'h2-reverse-ws' });
    expect(DEFAULT_CARRIER_ORDER).toEqual(['tls', 'quic', 'ws']);
  });

  it('a record with h3-reverse yields a quic endpoint to target:port', async () => {
    const found = await lookup({ [OWNER]: ['1 proxy.example.net. alpn=h3-reverse port=8443 ipv4hint=192.0.2.7'] });
    expect(found.endpoints).toEqual([
      {
        target: 'proxy.example.net',
        port: 8443,
        alpn: ['h3-reverse'],
        carrier: 'quic',
        addresses: ['192.0.2.7'],
        priority: 1,
        url: 'quic://proxy.example.net:8443',
        record: '_http-reverse.proxy.example.net. 300 IN SVCB 1 proxy.example.net. alpn=h3-reverse port=8443 ipv4hint=192.0.2.7',
      },
    ]);
  });

  it("a record listing h2-reverse and h3-reverse yields both carriers of the same target:port, in the client's order", async () => {
    const zone = { [OWNER]: ['1 proxy.example.net. alpn=h2-reverse,h3-reverse port=8443 ipv4hint=192.0.2.7'] };
    expect((await lookup(zone, ['quic', 'tls', 'ws'])).endpoints.map((e) => e.url)).toEqual(['quic://proxy.example.net:8443', 'tls://proxy.example.net:8443']);
    expect((await lookup(zone, ['tls', 'quic'])).endpoints.map((e) => e.url)).toEqual(['tls://proxy.example.net:8443', 'quic://proxy.example.net:8443']);
    // The default order, whatever order alpn lists them in.
    expect((await lookup({ [OWNER]: ['1 proxy.example.net. alpn=h3-reverse,h2-reverse port=8443 ipv4hint=192.0.2.7'] })).endpoints.map((e) => e.carrier)).toEqual(['tls', 'quic']);
    // A client without QUIC gets the TLS endpoint only.
    const noQuic = await lookup(zone, ['tls', 'ws']);
    expect(noQuic.endpoints.map((e) => e.url)).toEqual(['tls://proxy.example.net:8443']);
    expect(noQuic.skipped).toEqual([]);
  });

  it('a record listing only carriers the client cannot dial is skipped, and says why; none usable is a DiscoveryError', async () => {
    const zone = { [OWNER]: ['1 proxy.example.net. alpn=h3-reverse port=8443 ipv4hint=192.0.2.7', '2 proxy.example.net. alpn=h3 port=8443 ipv4hint=192.0.2.7'] };
    const err = await lookup(zone, ['tls', 'ws']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscoveryError);
    expect((err as Error).message).toBe(
      'no usable SVCB record at _http-reverse.proxy.example.net:\n' +
        '  _http-reverse.proxy.example.net. 300 IN SVCB 1 proxy.example.net. alpn=h3-reverse port=8443 ipv4hint=192.0.2.7\n' +
        '    unusable: its alpn (h3-reverse) lists only carriers this client cannot dial (it dials h2-reverse, h2-reverse-ws; h3-reverse needs QUIC)\n' +
        '  _http-reverse.proxy.example.net. 300 IN SVCB 2 proxy.example.net. alpn=h3 port=8443 ipv4hint=192.0.2.7\n' +
        '    unusable: its alpn (h3) lists none of h2-reverse, h3-reverse, h2-reverse-ws',
    );
  });

  it('rhttpSvcbRecord publishes h3-reverse beside h2-reverse on one port, or alone in a record of its own', async () => {
    const both = rhttpSvcbRecord({ name: 'proxy.example.net', port: 8443, carrier: ['quic', 'tls'] });
    expect(both).toBe('_http-reverse.proxy.example.net. 300 IN SVCB 1 proxy.example.net. alpn=h2-reverse,h3-reverse port=8443');
    const quicOnly = rhttpSvcbRecord({ name: 'proxy.example.net', port: 8444, carrier: 'quic' });
    expect(quicOnly).toBe('_http-reverse.proxy.example.net. 300 IN SVCB 1 proxy.example.net. alpn=h3-reverse port=8444');
    // What is published is what discovery reads back.
    const rdata = (line: string) => line.split(' ').slice(4).join(' ');
    const found = await lookup({ [OWNER]: [`${rdata(both)} ipv4hint=192.0.2.7`] }, ['quic', 'tls']);
    expect(found.endpoints.map((e) => [e.carrier, e.port])).toEqual([
      ['quic', 8443],
      ['tls', 8443],
    ]);
  });
});
