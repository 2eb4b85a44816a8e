import { describe, expect, it } from 'vitest';
import { fieldsToHeaders, headersToFields } from '@rhttp/core';
import { forwardedNode, forwardRequestFields, rewriteResponseFields, stripHopByHop, type RequestForwarding } from '../src/index.js';

/** The request fields the broker sends, read as Headers. */
const forwardRequestHeaders = (incoming: Headers, f: RequestForwarding) => fieldsToHeaders(forwardRequestFields(incoming, f));
/** The response fields the broker sends, read as Headers. */
function forwardResponseHeaders(incoming: Headers, name?: string): Headers {
  const fields = headersToFields(incoming);
  rewriteResponseFields(fields, name);
  return fieldsToHeaders(fields);
}

const base = { clientAddress: '203.0.113.7', scheme: 'https' as const, host: 'app.example.com', httpVersion: '1.1' };

describe('RFC 9110 §7.6.1 hop-by-hop fields', () => {
  it('removes Connection, the fields it names, and the always-connection-specific fields', () => {
    const h = new Headers({
      connection: 'keep-alive, X-Secret, close',
      'x-secret': 'internal',
      'keep-alive': 'timeout=5',
      'proxy-connection': 'keep-alive',
      'transfer-encoding': 'chunked',
      upgrade: 'websocket',
      'proxy-authorization': 'Basic Zm9vOmJhcg==',
      te: 'gzip, trailers',
      accept: 'text/html',
    });
    stripHopByHop(h);
    expect([...h.keys()]).toEqual(['accept']);
  });

  it('RFC 9113 §8.2.2: keeps TE only when it is exactly "trailers"', () => {
    const h = new Headers({ te: 'trailers' });
    stripHopByHop(h);
    expect(h.get('te')).toBe('trailers');
  });
});

describe('RFC 9110 §7.6.3 Via, RFC 7239 Forwarded, X-Forwarded-*', () => {
  it('adds Via with the inbound protocol version and pseudonym, appending to an existing one', () => {
    expect(forwardRequestHeaders(new Headers(), base).get('via')).toBe('1.1 rhttp');
    expect(forwardRequestHeaders(new Headers({ via: '1.0 fred' }), { ...base, httpVersion: '2', viaName: 'edge' }).get('via')).toBe('1.0 fred, 2 edge');
    // A pseudonym that is not a token is not written into the field.
    expect(forwardRequestHeaders(new Headers(), { ...base, viaName: 'bad name, 1.1 x' }).get('via')).toBe('1.1 rhttp');
  });

  it('appends a Forwarded element with for, proto and host', () => {
    const h = forwardRequestHeaders(new Headers({ forwarded: 'for=192.0.2.60;proto=http' }), { ...base, host: 'app.example.com:8443' });
    expect(h.get('forwarded')).toBe('for=192.0.2.60;proto=http, for=203.0.113.7;proto=https;host="app.example.com:8443"');
  });

  it('RFC 7239 §6: quotes and brackets IPv6 client addresses', () => {
    expect(forwardedNode('2001:db8:cafe::17')).toBe('"[2001:db8:cafe::17]"');
    expect(forwardedNode('::1')).toBe('"[::1]"');
    expect(forwardedNode('192.0.2.43')).toBe('192.0.2.43');
    expect(forwardedNode('')).toBe('unknown');
    const h = forwardRequestHeaders(new Headers(), { ...base, clientAddress: '::1' });
    expect(h.get('forwarded')).toBe('for="[::1]";proto=https;host=app.example.com');
    expect(h.get('x-forwarded-for')).toBe('::1');
  });

  it('appends to X-Forwarded-For and sets X-Forwarded-Proto and X-Forwarded-Host', () => {
    const h = forwardRequestHeaders(new Headers({ 'x-forwarded-for': '198.51.100.1', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'evil.example' }), base);
    expect(h.get('x-forwarded-for')).toBe('198.51.100.1, 203.0.113.7');
    expect(h.get('x-forwarded-proto')).toBe('https');
    expect(h.get('x-forwarded-host')).toBe('app.example.com');
  });

  it('strips hop-by-hop and Host from requests, keeps end-to-end fields', () => {
    const h = forwardRequestHeaders(new Headers({ host: 'app.example.com', connection: 'x-hop', 'x-hop': '1', cookie: 'a=1', authorization: 'Bearer t' }), base);
    expect(h.has('host')).toBe(false);
    expect(h.has('x-hop')).toBe(false);
    expect(h.has('connection')).toBe(false);
    expect(h.get('cookie')).toBe('a=1');
    expect(h.get('authorization')).toBe('Bearer t');
  });

  it('response side: strips hop-by-hop, adds Via 2, keeps every Set-Cookie', () => {
    const incoming = new Headers([['connection', 'x-internal'], ['x-internal', '1'], ['keep-alive', 'timeout=5'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['content-type', 'text/plain']]);
    const h = forwardResponseHeaders(incoming, 'edge');
    expect(h.get('via')).toBe('2 edge');
    expect(h.has('x-internal')).toBe(false);
    expect(h.has('keep-alive')).toBe(false);
    expect(h.getSetCookie()).toEqual(['a=1', 'b=2']);
  });
});
