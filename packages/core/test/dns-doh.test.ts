/**
 * DNS over HTTPS (RFC 8484): GET with `?dns=` base64url (§4.1, §6), POST with
 * `application/dns-message` (§4.1), ID 0 (§4.1), status and content-type checks, timeouts, and
 * RCODE errors — against a fake `fetch` so every byte on the wire can be checked.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  base64UrlDecode,
  base64UrlEncode,
  decodeMessage,
  DnsRcodeError,
  dohQuery,
  DohError,
  encodeMessage,
  encodeQuery,
  Rcode,
  RRType,
  SvcbFormatError,
  type DnsMessage,
} from '../src/dns/index.js';

const DOH = 'https://doh.test/dns-query';

/** A fetch that records requests and answers each query with `answer(query)`. */
function fakeFetch(answer: (query: DnsMessage) => Partial<DnsMessage> | Response) {
  const requests: { url: string; method: string; headers: Headers; body?: Uint8Array }[] = [];
  const f = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    const headers = new Headers(init?.headers);
    const body = init?.body ? new Uint8Array(init.body as Uint8Array) : undefined;
    requests.push({ url: url.href, method: init?.method ?? 'GET', headers, body });
    const wire = body ?? base64UrlDecode(url.searchParams.get('dns')!);
    const query = decodeMessage(wire);
    const a = answer(query);
    if (a instanceof Response) return a;
    return new Response(encodeMessage({ id: query.id, qr: true, rd: true, ra: true, questions: query.questions, ...a }), { headers: { 'content-type': 'application/dns-message' } });
  }) as typeof fetch;
  return { fetch: f, requests };
}

const svcbAnswer = (q: DnsMessage): Partial<DnsMessage> => ({
  answers: [{ name: q.questions[0].name, type: RRType.SVCB, class: 1, ttl: 300, data: { kind: 'svcb', svcb: { priority: 1, target: '.', params: { alpn: ['h2-reverse'] } } } }],
});

describe('RFC 8484 §4.1 DoH requests', () => {
  it('GET carries the query, ID 0, as base64url without padding in ?dns=', async () => {
    const { fetch, requests } = fakeFetch(svcbAnswer);
    const reply = await dohQuery('_http-reverse.proxy.example.net', RRType.SVCB, { doh: `${DOH}?ct=1`, fetch });
    expect(reply.answers).toHaveLength(1);
    const [r] = requests;
    expect(r.method).toBe('GET');
    const url = new URL(r.url);
    expect(url.searchParams.get('ct')).toBe('1');
    const dns = url.searchParams.get('dns')!;
    expect(dns).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(base64UrlDecode(dns)).toEqual(encodeQuery('_http-reverse.proxy.example.net.', RRType.SVCB, { id: 0 }));
    expect(r.headers.get('accept')).toBe('application/dns-message');
  });
  it('POST carries the query as the body with Content-Type application/dns-message', async () => {
    const { fetch, requests } = fakeFetch(svcbAnswer);
    await dohQuery('proxy.example.net.', RRType.SVCB, { doh: DOH, fetch, method: 'POST' });
    const [r] = requests;
    expect(r.method).toBe('POST');
    expect(r.url).toBe(DOH);
    expect(r.headers.get('content-type')).toBe('application/dns-message');
    expect(r.body).toEqual(encodeQuery('proxy.example.net.', RRType.SVCB, { id: 0 }));
  });
  it('base64url round-trips and has no padding (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
        const s = base64UrlEncode(b);
        expect(s).not.toMatch(/[=+/]/);
        expect(base64UrlDecode(s)).toEqual(b);
      }),
    );
  });
});

describe('RFC 8484 DoH answers and errors', () => {
  it('NXDOMAIN and SERVFAIL become DnsRcodeError naming the query', async () => {
    for (const rcode of [Rcode.NXDOMAIN, Rcode.SERVFAIL]) {
      const { fetch } = fakeFetch(() => ({ rcode }));
      const err = await dohQuery('nope.example', RRType.SVCB, { doh: DOH, fetch }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DnsRcodeError);
      expect((err as DnsRcodeError).rcode).toBe(rcode);
      expect((err as Error).message).toBe(`${rcode === 3 ? 'NXDOMAIN' : 'SERVFAIL'} for nope.example. SVCB`);
    }
  });
  it('a non-2xx status is a DohError with the status', async () => {
    const { fetch } = fakeFetch(() => new Response('busy', { status: 503 }));
    const err = await dohQuery('x.example', RRType.A, { doh: DOH, fetch }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DohError);
    expect((err as DohError).status).toBe(503);
    expect((err as Error).message).toMatch(/answered HTTP 503 for x\.example\. A/);
  });
  it('a wrong content type is a DohError (RFC 8484 §6)', async () => {
    const { fetch } = fakeFetch(() => new Response('{"Status":0}', { headers: { 'content-type': 'application/dns-json' } }));
    await expect(dohQuery('x.example', RRType.A, { doh: DOH, fetch })).rejects.toThrow(/content type "application\/dns-json", not application\/dns-message/);
  });
  it('an undecodable body, a mismatched answer and a truncated answer are DohErrors', async () => {
    const garbage = fakeFetch(() => new Response(Uint8Array.of(1, 2, 3), { headers: { 'content-type': 'application/dns-message' } }));
    await expect(dohQuery('x.example', RRType.A, { doh: DOH, fetch: garbage.fetch })).rejects.toThrow(/sent a bad DNS message/);
    const other = fakeFetch(() => ({ questions: [{ name: 'y.example.', type: RRType.A, class: 1 }] }));
    await expect(dohQuery('x.example', RRType.A, { doh: DOH, fetch: other.fetch })).rejects.toThrow(/does not match the query/);
    const tc = fakeFetch(() => ({ tc: true }));
    await expect(dohQuery('x.example', RRType.A, { doh: DOH, fetch: tc.fetch })).rejects.toThrow(/truncated answer/);
  });
  it('a malformed SVCB RRset surfaces as SvcbFormatError', async () => {
    const { fetch } = fakeFetch(
      (q) =>
        new Response(
          encodeMessage({
            qr: true,
            questions: q.questions,
            answers: [{ name: q.questions[0].name, type: RRType.SVCB, class: 1, ttl: 1, data: { kind: 'raw', bytes: Uint8Array.of(0, 1, 0, 0, 3, 0, 1, 5) } }],
          }),
          { headers: { 'content-type': 'application/dns-message' } },
        ),
    );
    await expect(dohQuery('x.example', RRType.SVCB, { doh: DOH, fetch })).rejects.toThrow(SvcbFormatError);
  });
  it('network failures and timeouts are DohErrors', async () => {
    const down = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    await expect(dohQuery('x.example', RRType.A, { doh: DOH, fetch: down })).rejects.toThrow(/could not reach the DoH server https:\/\/doh\.test/);
    const hang = ((_: unknown, init?: RequestInit) =>
      new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))))) as typeof fetch;
    await expect(dohQuery('x.example', RRType.A, { doh: DOH, fetch: hang, timeoutMs: 20 })).rejects.toThrow(/no answer from https:\/\/doh\.test for x\.example\. A within 20 ms/);
  });
  it('rejects a DoH URL that is not http(s)', async () => {
    await expect(dohQuery('x.example', RRType.A, { doh: 'not a url' })).rejects.toThrow(/is not a URL/);
    await expect(dohQuery('x.example', RRType.A, { doh: 'ftp://doh.test/' })).rejects.toThrow(/must be https/);
  });
});
