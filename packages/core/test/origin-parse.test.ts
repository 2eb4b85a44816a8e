import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  OriginError,
  originCovers,
  parseAuthority,
  parseOrigin,
  parseOriginList,
  registrableDomain,
  serializeOrigin,
  serializeOriginList,
  unbracketHost,
} from '../src/origin/index.js';

describe('RFC 6454 §4 origins: parseOrigin', () => {
  it.each([
    ['https://app.example.com', { scheme: 'https', host: 'app.example.com', port: 443, wildcard: false }],
    ['http://app.example.com', { scheme: 'http', host: 'app.example.com', port: 80, wildcard: false }],
    ['HTTPS://App.Example.COM:8443', { scheme: 'https', host: 'app.example.com', port: 8443, wildcard: false }],
    ['https://*.example.com', { scheme: 'https', host: '*.example.com', port: 443, wildcard: true }],
    ['https://127.0.0.1:8443', { scheme: 'https', host: '127.0.0.1', port: 8443, wildcard: false }],
    ['https://[::1]', { scheme: 'https', host: '[::1]', port: 443, wildcard: false }],
    ['https://[2001:DB8:0:0:0:0:0:1]:444', { scheme: 'https', host: '[2001:db8::1]', port: 444, wildcard: false }],
    ['http://localhost:3000', { scheme: 'http', host: 'localhost', port: 3000, wildcard: false }],
    ['https://xn--bcher-kva.example', { scheme: 'https', host: 'xn--bcher-kva.example', port: 443, wildcard: false }],
    ['https://_acme.example.com', { scheme: 'https', host: '_acme.example.com', port: 443, wildcard: false }],
  ])('parses %s', (text, expected) => {
    expect(parseOrigin(text)).toEqual(expected);
  });

  it.each([
    ['app.example.com', /not of the form scheme:\/\/host\[:port\]/],
    ['ftp://app.example.com', /scheme "ftp"; only https:\/\/ and http:\/\//],
    ['https://app.example.com/', /a trailing "\/"; an origin is only scheme:\/\/host\[:port\], e.g. "https:\/\/app.example.com"/],
    ['https://app.example.com/path', /has a path/],
    ['https://app.example.com?q=1', /has a query/],
    ['https://app.example.com#x', /has a fragment/],
    ['https://user@app.example.com', /contains userinfo/],
    ['https://', /has no host/],
    ['https://app.example.com:0', /port "0"; a port is a number from 1 to 65535/],
    ['https://app.example.com:65536', /port "65536"/],
    ['https://app.example.com:', /port ""/],
    ['https://app.example.com:https', /port "https"/],
    ['https://a*.example.com', /"\*" is only allowed as the whole left-most label/],
    ['https://app.*.example.com', /"\*" is only allowed as the whole left-most label/],
    ['https://*', /"\*" is only allowed as the whole left-most label/],
    ['https://*.*.example.com', /"\*" is only allowed as the whole left-most label/],
    ['https://bücher.example', /non-ASCII host; write internationalized names in A-label/],
    ['https://app example.com', /contains whitespace/],
    ['https://app..example.com', /empty label/],
    ['https://app.example.com.', /empty label/],
    ['https://::1', /IPv6 address must be written in brackets/],
    ['https://[::1', /without a closing "\]"/],
    ['https://[::1]x', /unexpected text after "\]"/],
    ['https://[fe80::1%25eth0]', /zone id/],
    ['https://[1:2:3]', /not a valid IPv6 address/],
    ['https://256.1.1.1', /not a valid IPv4 address or DNS name/],
    ['https://127.1', /not a valid IPv4 address or DNS name/],
    ['https://*.1.2.3', /not a valid IPv4 address or DNS name/],
    ['https://a$b.example.com', /characters not allowed in a DNS name/],
    [`https://${'a'.repeat(64)}.example.com`, /label longer than 63/],
    [`https://${'a.'.repeat(130)}com`, /longer than 253/],
    [`https://${'a'.repeat(600)}`, /longer than 512 characters/],
  ])('refuses %s', (text, message) => {
    expect(() => parseOrigin(text)).toThrow(OriginError);
    expect(() => parseOrigin(text)).toThrow(message);
  });

  it('throws errors carrying the stable code ERR_RHTTP_ORIGIN', () => {
    try {
      parseOrigin('nope');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(OriginError);
      expect((e as OriginError).code).toBe('ERR_RHTTP_ORIGIN');
    }
  });
});

describe('RFC 6454 §6.2 ASCII serialization: serializeOrigin', () => {
  it.each([
    ['https://app.example.com:443', 'https://app.example.com'],
    ['http://app.example.com:80', 'http://app.example.com'],
    ['http://app.example.com:443', 'http://app.example.com:443'],
    ['https://app.example.com:80', 'https://app.example.com:80'],
    ['HTTPS://*.Example.com', 'https://*.example.com'],
    ['https://[0:0:0:0:0:0:0:1]:8443', 'https://[::1]:8443'],
    ['https://[::ffff:192.0.2.1]', 'https://[::ffff:c000:201]'],
  ])('%s → %s', (text, serialized) => {
    expect(serializeOrigin(parseOrigin(text))).toBe(serialized);
  });

  it('agrees with the WHATWG URL parser on hosts both accept', () => {
    for (const text of ['https://App.Example.com:443', 'http://[2001:db8:0:0:1:0:0:1]:8080', 'https://[::ffff:1.2.3.4]']) {
      expect(serializeOrigin(parseOrigin(text))).toBe(new URL(text).origin);
    }
  });

  const label = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,10}$/);
  const hostArb = fc.oneof(
    fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.') + '.example'),
    fc.array(label, { minLength: 1, maxLength: 3 }).map((ls) => '*.' + ls.join('.') + '.test'),
    fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.')),
    fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((gs) => `[${gs.map((g) => g.toString(16)).join(':')}]`),
  );
  const originText = fc
    .tuple(fc.constantFrom('http', 'https', 'HTTP', 'Https'), hostArb, fc.option(fc.integer({ min: 1, max: 65535 })), fc.boolean())
    .map(([scheme, host, port, upper]) => `${scheme}://${upper ? host.toUpperCase() : host}${port === null ? '' : `:${port}`}`);

  it('property: serializeOrigin(parseOrigin(x)) is stable (a fixed point after one round)', () => {
    fc.assert(
      fc.property(originText, (text) => {
        const once = serializeOrigin(parseOrigin(text));
        expect(serializeOrigin(parseOrigin(once))).toBe(once);
        expect(parseOrigin(once)).toEqual(parseOrigin(text));
      }),
    );
  });

  it('property: any string either parses to a stable origin or throws OriginError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), originText.map((t) => t + '/'), fc.string().map((s) => 'https://' + s)), (text) => {
        let once: string;
        try {
          once = serializeOrigin(parseOrigin(text));
        } catch (e) {
          expect(e).toBeInstanceOf(OriginError);
          return;
        }
        expect(serializeOrigin(parseOrigin(once))).toBe(once);
      }),
    );
  });
});

describe('draft-bt-httpbis-reverse-http §3 origin-set wildcards: originCovers', () => {
  const target = (authority: string, scheme: 'http' | 'https' = 'https') => ({ scheme, ...parseAuthority(authority, scheme) });
  it.each([
    ['https://app.example.com', 'app.example.com', true],
    ['https://app.example.com', 'APP.example.com', true],
    ['https://app.example.com', 'app.example.com:443', true],
    ['https://app.example.com', 'app.example.com:8443', false],
    ['https://app.example.com', 'other.example.com', false],
    ['https://*.example.com', 'a.example.com', true],
    ['https://*.example.com', 'A.Example.COM', true],
    ['https://*.example.com', 'example.com', false],
    ['https://*.example.com', 'a.b.example.com', false],
    ['https://*.example.com', 'aexample.com', false],
    ['https://*.example.com', 'a.example.org', false],
    ['https://*.example.com:8443', 'a.example.com:8443', true],
    ['https://*.example.com:8443', 'a.example.com', false],
    ['https://[::1]:8443', '[0::1]:8443', true],
    ['https://127.0.0.1', '127.0.0.1', true],
  ])('%s covers %s: %s', (entry, authority, expected) => {
    expect(originCovers(parseOrigin(entry), target(authority))).toBe(expected);
  });

  it('requires the scheme to match', () => {
    expect(originCovers(parseOrigin('https://app.example.com'), target('app.example.com', 'http'))).toBe(false);
    expect(originCovers(parseOrigin('http://app.example.com'), target('app.example.com', 'http'))).toBe(true);
    expect(originCovers(parseOrigin('https://*.example.com:80'), target('a.example.com', 'http'))).toBe(false);
  });

  it('covers an identical wildcard entry but not a deeper one', () => {
    const entry = parseOrigin('https://*.example.com');
    expect(originCovers(entry, parseOrigin('https://*.example.com'))).toBe(true);
    expect(originCovers(entry, parseOrigin('https://*.a.example.com'))).toBe(false);
  });
});

describe('RFC 9113 §8.3.1 :authority / RFC 9110 §7.2 Host: parseAuthority', () => {
  it.each([
    ['app.example.com', 'https', { host: 'app.example.com', port: 443 }],
    ['app.example.com', 'http', { host: 'app.example.com', port: 80 }],
    ['App.Example.COM:8080', 'http', { host: 'app.example.com', port: 8080 }],
    ['app.example.com.', 'https', { host: 'app.example.com', port: 443 }],
    ['[::1]', 'https', { host: '[::1]', port: 443 }],
    ['[2001:DB8::0:1]:8443', 'https', { host: '[2001:db8::1]', port: 8443 }],
    ['192.0.2.1:81', 'http', { host: '192.0.2.1', port: 81 }],
  ] as const)('%s (%s)', (authority, scheme, expected) => {
    expect(parseAuthority(authority, scheme)).toEqual(expected);
  });

  it.each([
    ['', /has no host/],
    ['user:pw@app.example.com', /userinfo/],
    ['app.example.com/x', /contains "\/", "\?" or "#"/],
    ['*.example.com', /contains "\*"/],
    ['app.example.com:99999', /a port is a number from 1 to 65535/],
    ['::1', /IPv6 address must be written in brackets/],
    ['[::1', /without a closing/],
    ['exa mple.com', /whitespace/],
    ['app..example.com', /empty label/],
  ])('refuses %j', (authority, message) => {
    expect(() => parseAuthority(authority, 'https')).toThrow(OriginError);
    expect(() => parseAuthority(authority, 'https')).toThrow(message);
  });
});

describe('PTTH (draft-kazuho-ptth-ptth-01) origin list path segment', () => {
  it('serializes as in DESIGN.md', () => {
    expect(serializeOriginList(['https://app.example.com', 'https://*.app.example.com'])).toBe(
      'https%3A%2F%2Fapp.example.com,https%3A%2F%2F*.app.example.com',
    );
  });

  it('normalizes entries and encodes ports and IPv6', () => {
    const segment = serializeOriginList(['HTTPS://App.Example.com:443', 'http://[::1]:8080']);
    expect(segment).toBe('https%3A%2F%2Fapp.example.com,http%3A%2F%2F%5B%3A%3A1%5D%3A8080');
    expect(parseOriginList(segment).map(serializeOrigin)).toEqual(['https://app.example.com', 'http://[::1]:8080']);
  });

  it('round-trips random origin lists', () => {
    const host = fc.array(fc.stringMatching(/^[a-z0-9]{1,8}$/), { minLength: 1, maxLength: 3 }).map((ls) => ls.join('.') + '.example');
    const origin = fc
      .tuple(fc.constantFrom('http', 'https'), fc.boolean(), host, fc.option(fc.integer({ min: 1, max: 65535 })))
      .map(([s, w, h, p]) => serializeOrigin(parseOrigin(`${s}://${w ? '*.' : ''}${h}${p === null ? '' : `:${p}`}`)));
    fc.assert(
      fc.property(fc.array(origin, { minLength: 1, maxLength: 10 }), (origins) => {
        expect(parseOriginList(serializeOriginList(origins)).map(serializeOrigin)).toEqual(origins);
      }),
    );
  });

  it.each([
    ['', /the origin list is empty/],
    ['https%3A%2F%2Fa.example,', /entry 2 is empty/],
    ['https%3A%2F%2Fa.example,%E0%A4%A', /entry 2 \("%E0%A4%A"\) is not valid percent-encoding/],
    ['https%3A%2F%2Fa.example%2Fpath', /has a path/],
    [Array(101).fill('https%3A%2F%2Fa.example').join(','), /101 origins listed; at most 100/],
  ])('refuses %j', (segment, message) => {
    expect(() => parseOriginList(segment)).toThrow(OriginError);
    expect(() => parseOriginList(segment)).toThrow(message);
  });

  it('refuses to serialize an empty or bad list', () => {
    expect(() => serializeOriginList([])).toThrow(/empty/);
    expect(() => serializeOriginList(['https://a.example/'])).toThrow(OriginError);
  });
});

describe('registrableDomain (Public Suffix List eTLD+1)', () => {
  it.each([
    ['example.com', 'example.com'],
    ['app.example.com', 'example.com'],
    ['a.b.example.co.uk', 'example.co.uk'],
    ['A.B.Example.CO.UK', 'example.co.uk'],
    ['*.app.example.com', 'example.com'],
    ['*.example.com', 'example.com'],
    ['localhost', 'localhost'],
    ['co.uk', 'co.uk'],
    ['127.0.0.1', '127.0.0.1'],
    ['[::1]', '[::1]'],
    ['alice.github.io', 'alice.github.io'],
    ['www.alice.github.io', 'alice.github.io'],
  ])('%s → %s', (host, domain) => {
    expect(registrableDomain(host)).toBe(domain);
  });

  it('keys a wildcard origin and its parent together', () => {
    expect(registrableDomain(parseOrigin('https://*.app.example.com').host)).toBe(registrableDomain(parseOrigin('https://app.example.com').host));
  });
});

describe('unbracketHost: a host as sockets and certificate checks take it', () => {
  it('drops the brackets of an IPv6 literal, as URL and parseOrigin write it', () => {
    expect(unbracketHost(new URL('https://[::1]:8443/').hostname)).toBe('::1');
    expect(unbracketHost(parseOrigin('https://[2001:DB8::1]').host)).toBe('2001:db8::1');
  });

  it('leaves names, IPv4 and lone or unpaired brackets as they are', () => {
    for (const host of ['app.example.com', '127.0.0.1', '[', '[x', 'x]', '']) expect(unbracketHost(host)).toBe(host);
  });
});
