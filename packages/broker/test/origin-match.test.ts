import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { originCovers, originMatch, originOf, parseOriginEntry, requestOrigin, serializeOrigin } from '../src/index.js';

const covers = (entry: string, url: string) => originCovers(parseOriginEntry(entry)!, requestOrigin(url)!);

describe('RFC 8336 §2.3 origin-set entries', () => {
  it('parses ASCII-serialized origins, filling in default ports', () => {
    expect(parseOriginEntry('https://App.Example.com')).toEqual({ scheme: 'https', host: 'app.example.com', port: 443, wildcard: false });
    expect(parseOriginEntry('http://example.com:8080')).toEqual({ scheme: 'http', host: 'example.com', port: 8080, wildcard: false });
    expect(parseOriginEntry('https://*.example.com')).toEqual({ scheme: 'https', host: 'example.com', port: 443, wildcard: true });
    expect(parseOriginEntry('http://[::1]:3000')).toEqual({ scheme: 'http', host: '::1', port: 3000, wildcard: false });
  });

  it('rejects what is not an origin', () => {
    for (const bad of ['example.com', 'https://example.com/path', 'https://user@example.com', 'ftp://example.com',
      'https://', 'https://a..b', 'https://*.com', 'https://a.*.example.com', 'https://example.com:0', 'https://example.com:70000']) {
      expect(parseOriginEntry(bad), bad).toBeUndefined();
    }
  });

  it('serializes back, omitting default ports', () => {
    for (const o of ['https://app.example.com', 'http://example.com:8080', 'https://*.example.com', 'http://[::1]:3000']) {
      expect(serializeOrigin(parseOriginEntry(o)!)).toBe(o);
    }
    expect(serializeOrigin(parseOriginEntry('https://example.com:443')!)).toBe('https://example.com');
  });
});

describe('draft-bt-httpbis-reverse-http wildcard entries', () => {
  it('exact entries match only the same scheme, host and port', () => {
    expect(originMatch(parseOriginEntry('https://app.example.com')!, requestOrigin('https://app.example.com/x?y')!)).toBe('exact');
    expect(covers('https://app.example.com', 'https://app.example.com:443/')).toBe(true);
    expect(covers('https://app.example.com', 'http://app.example.com/')).toBe(false);
    expect(covers('https://app.example.com', 'https://app.example.com:8443/')).toBe(false);
    expect(covers('https://app.example.com', 'https://www.example.com/')).toBe(false);
  });

  it('*.example.com covers exactly one extra left-most label', () => {
    expect(originMatch(parseOriginEntry('https://*.example.com')!, requestOrigin('https://app.example.com/')!)).toBe('wildcard');
    expect(covers('https://*.example.com', 'https://example.com/')).toBe(false);
    expect(covers('https://*.example.com', 'https://a.b.example.com/')).toBe(false);
    expect(covers('https://*.example.com', 'https://app.example.org/')).toBe(false);
    expect(covers('https://*.example.com', 'https://appexample.com/')).toBe(false);
    expect(covers('https://*.example.com', 'http://app.example.com/')).toBe(false);
    expect(covers('https://*.example.com:8443', 'https://app.example.com:8443/')).toBe(true);
    expect(covers('https://*.example.com:8443', 'https://app.example.com/')).toBe(false);
  });

  it('originOf: the origin a request carries, else its URL\'s (parsed from the URL the caller passes, if any)', () => {
    const carried = requestOrigin('https://api.example.com/')!;
    expect(originOf({ url: 'https://www.example.com/', origin: carried })).toBe(carried);
    expect(originOf({ url: 'https://WWW.example.com:8443/x' })).toEqual({ scheme: 'https', host: 'www.example.com', port: 8443, wildcard: false });
    expect(originOf({ url: 'not a url' }, new URL('http://app.example.com/'))).toEqual({ scheme: 'http', host: 'app.example.com', port: 80, wildcard: false });
    expect(originOf({ url: 'ftp://app.example.com/' })).toBeUndefined();
  });

  it('wildcards never cover IP literals', () => {
    expect(covers('https://*.0.0.1', 'https://127.0.0.1/')).toBe(false);
  });

  it('property: a wildcard covers a host iff it is one label plus the suffix', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
    // The last label is alphabetic: WHATWG URL parses a numeric last label as IPv4.
    const tld = fc.stringMatching(/^[a-z]{2,6}$/);
    fc.assert(fc.property(fc.array(label, { minLength: 0, maxLength: 3 }), fc.array(label, { minLength: 1, maxLength: 2 }), tld, (prefix, middle, top) => {
      const suffix = [...middle, top];
      const host = [...prefix, ...suffix].join('.');
      const entry = parseOriginEntry(`https://*.${suffix.join('.')}`)!;
      const target = requestOrigin(`https://${host}/`)!;
      expect(originCovers(entry, target)).toBe(prefix.length === 1);
    }));
  });
});
