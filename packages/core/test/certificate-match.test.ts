import { describe, expect, it } from 'vitest';
import { certificateCoversOrigin, unauthorizedOrigins, type CertificateIdentity } from '../src/origin/certificate.js';
import { parseOrigin, serializeOrigin } from '../src/origin/origin.js';

function identity(sans: { dns?: string[]; ip?: string[]; subject?: string }): CertificateIdentity {
  return {
    subject: sans.subject ?? 'CN=test',
    dnsNames: sans.dns ?? [],
    ipAddresses: sans.ip ?? [],
    notBefore: new Date(0),
    notAfter: new Date(0),
    fingerprintSha256: '',
  };
}

describe('RFC 9525 §6.3 certificateCoversOrigin', () => {
  it.each([
    // exact dNSName
    [{ dns: ['app.example.com'] }, 'https://app.example.com', true],
    [{ dns: ['APP.Example.com'] }, 'https://app.example.com', true],
    [{ dns: ['app.example.com'] }, 'https://app.example.com:8443', true], // ports are not certified
    [{ dns: ['app.example.com'] }, 'http://app.example.com', true],
    [{ dns: ['app.example.com'] }, 'https://other.example.com', false],
    [{ dns: ['example.com'] }, 'https://app.example.com', false],
    // wildcard SAN: whole left-most label, exactly one label
    [{ dns: ['*.example.com'] }, 'https://a.example.com', true],
    [{ dns: ['*.example.com'] }, 'https://example.com', false],
    [{ dns: ['*.example.com'] }, 'https://a.b.example.com', false],
    [{ dns: ['*.example.com'] }, 'https://aexample.com', false],
    [{ dns: ['a*.example.com'] }, 'https://ab.example.com', false],
    [{ dns: ['*a.example.com'] }, 'https://ba.example.com', false],
    [{ dns: ['a.*.example.com'] }, 'https://a.b.example.com', false],
    [{ dns: ['*.*.example.com'] }, 'https://a.b.example.com', false],
    [{ dns: ['*'] }, 'https://localhost', false],
    // a wildcard directly over a public suffix matches nothing
    [{ dns: ['*.com'] }, 'https://example.com', false],
    [{ dns: ['*.co.uk'] }, 'https://example.co.uk', false],
    [{ dns: ['*.example.co.uk'] }, 'https://www.example.co.uk', true],
    // IP addresses need an iPAddress SAN
    [{ ip: ['127.0.0.1'] }, 'https://127.0.0.1:8443', true],
    [{ ip: ['::1'] }, 'https://[::1]', true],
    [{ ip: ['0:0:0:0:0:0:0:1'] }, 'https://[::1]', true],
    [{ ip: ['127.0.0.2'] }, 'https://127.0.0.1', false],
    [{ dns: ['127.0.0.1'] }, 'https://127.0.0.1', false],
    [{ ip: ['127.0.0.1'] }, 'https://localhost', false],
    // no fallback to the subject common name
    [{ subject: 'CN=app.example.com' }, 'https://app.example.com', false],
    // wildcard origin entries: only the same wildcard SAN covers them
    [{ dns: ['*.example.com'] }, 'https://*.example.com', true],
    [{ dns: ['*.Example.COM'] }, 'https://*.example.com:8443', true],
    [{ dns: ['a.example.com', 'b.example.com', 'example.com'] }, 'https://*.example.com', false],
    [{ dns: ['*.example.com'] }, 'https://*.a.example.com', false],
    [{ dns: ['*.a.example.com'] }, 'https://*.example.com', false],
    [{ dns: ['*.com'] }, 'https://*.com', false],
  ])('%j covers %s: %s', (sans, origin, expected) => {
    expect(certificateCoversOrigin(identity(sans), parseOrigin(origin))).toBe(expected);
  });
});

describe('draft-bt-httpbis-reverse-http: ORIGIN entries checked against the certificate', () => {
  it('unauthorizedOrigins lists exactly the entries not covered', () => {
    const id = identity({ dns: ['app.example.com', '*.app.example.com'], ip: ['192.0.2.1'] });
    const claimed = ['https://app.example.com', 'https://*.app.example.com', 'https://x.app.example.com', 'https://evil.example.net', 'https://192.0.2.1', 'https://*.example.com'].map(parseOrigin);
    expect(unauthorizedOrigins(id, claimed).map(serializeOrigin)).toEqual(['https://evil.example.net', 'https://*.example.com']);
    expect(unauthorizedOrigins(id, claimed.slice(0, 3))).toEqual([]);
  });
});
