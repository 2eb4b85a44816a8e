import { describe, expect, it } from 'vitest';
import { decodeEnrollmentToken, encodeEnrollmentToken, EnrollmentTokenError, randomEnrollmentSecret } from '@rhttp/core';
import { renewalDelayMs } from '../src/enroll.js';

/** The token text (core enrollment-token.ts) and the agent's renewal point (enroll.ts). */
describe('enrollment token', () => {
  const token = { address: '[::1]:8443', fingerprint: 'ab'.repeat(32), id: '0123456789ab', secret: randomEnrollmentSecret() };

  it('round-trips, with a secret of at least 128 bits', () => {
    const text = encodeEnrollmentToken(token);
    expect(text).toMatch(/^rhttp1\.[A-Za-z0-9_-]+$/);
    expect(decodeEnrollmentToken(`  ${text}\n`)).toEqual(token);
    expect(Buffer.from(token.secret, 'base64url').length).toBeGreaterThanOrEqual(16);
  });

  it.each([
    ['no prefix', 'eyJ2IjoxfQ', /does not start with "rhttp1\."/],
    ['truncated', encodeEnrollmentToken(token).slice(0, 40), /damaged/],
    ['no fingerprint', encodeEnrollmentToken({ ...token, fingerprint: 'xyz' }), /fingerprint/],
    ['short secret', encodeEnrollmentToken({ ...token, secret: 'abc' }), /128 bits/],
    ['no port', encodeEnrollmentToken({ ...token, address: 'proxy.example.net' }), /host:port/],
  ])('refuses a token with %s', (_, text, message) => {
    expect(() => decodeEnrollmentToken(text)).toThrow(EnrollmentTokenError);
    expect(() => decodeEnrollmentToken(text)).toThrow(message);
  });
});

describe('renewalDelayMs', () => {
  const issuedAt = new Date('2030-01-01T00:00:00Z');
  const notAfter = new Date('2030-01-31T00:00:00Z'); // 30 days

  it('is two thirds of the life from when the certificate came', () => {
    expect(renewalDelayMs({ issuedAt, notAfter }, issuedAt.getTime())).toBe(20 * 24 * 3600 * 1000);
    expect(renewalDelayMs({ issuedAt, notAfter }, issuedAt.getTime() + 19 * 24 * 3600 * 1000)).toBe(24 * 3600 * 1000);
  });

  it('is 0 once that point has passed', () => {
    expect(renewalDelayMs({ issuedAt, notAfter }, notAfter.getTime())).toBe(0);
  });
});
