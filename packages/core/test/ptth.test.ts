import { describe, expect, it } from 'vitest';
import { OriginError, offersAlpn, parseAlpnField, parsePtthPath, ptthOriginSegment, ptthPath } from '../src/index.js';

describe('draft-kazuho-ptth-ptth-01 path template', () => {
  it('lists the origins percent-encoded and comma-separated, and parses back', () => {
    const path = ptthPath(['https://App.Example.com:443', 'https://*.app.example.com']);
    expect(path).toBe('/.well-known/ptth/https%3A%2F%2Fapp.example.com,https%3A%2F%2F*.app.example.com/');
    expect(ptthOriginSegment(path)).toBe('https%3A%2F%2Fapp.example.com,https%3A%2F%2F*.app.example.com');
    expect(parsePtthPath(`${path}?x=1`).map((o) => `${o.scheme}://${o.host}:${o.port}`)).toEqual(['https://app.example.com:443', 'https://*.app.example.com:443']);
  });

  it('refuses a path outside the template and an empty list', () => {
    expect(() => parsePtthPath('/hello')).toThrow(OriginError);
    expect(() => parsePtthPath('/.well-known/ptth/')).toThrow(/empty/);
    expect(() => parsePtthPath('/.well-known/ptth/not-an-origin/')).toThrow(OriginError);
  });
});

describe('RFC 7639 ALPN field', () => {
  it('decodes percent-encoded ids, skips empty elements, compares octets exactly', () => {
    expect(parseAlpnField('http%2F1.1, h2,,h3')).toEqual(['http/1.1', 'h2', 'h3']);
    expect(offersAlpn('http%2F1.1, h2', 'h2')).toBe(true);
    expect(offersAlpn('H2', 'h2')).toBe(false);
    expect(offersAlpn('http%2F1.1', 'h2')).toBe(false);
    expect(offersAlpn(null, 'h2')).toBe(false);
    expect(offersAlpn('%zz', 'h2')).toBe(false);
    expect(() => parseAlpnField('%zz')).toThrow(/percent-encoding/);
  });
});
