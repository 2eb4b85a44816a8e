import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { backoffDelay, DEFAULT_BACKOFF } from '../src/backoff.js';
import { formatDelay } from '../src/agent-events.js';
import { parseIntermediary } from '../src/agent.js';

describe('reconnect backoff (exponential, full jitter)', () => {
  it('stays within [0, min(cap, base·2^n)] for any attempt and random value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (n, r) => {
        const d = backoffDelay(n, DEFAULT_BACKOFF, () => r);
        return d >= 0 && d <= Math.min(DEFAULT_BACKOFF.capMs, DEFAULT_BACKOFF.baseMs * 2 ** n) && Number.isFinite(d);
      }),
    );
  });

  it('doubles the ceiling per attempt up to the cap', () => {
    const top = (n: number) => backoffDelay(n, { baseMs: 250, capMs: 30_000 }, () => 0.999999);
    expect(top(0)).toBe(249);
    expect(top(1)).toBe(499);
    expect(top(3)).toBe(1999);
    expect(top(20)).toBe(29_999);
  });

  it('formats delays for people', () => {
    expect(formatDelay(40)).toBe('40ms');
    expect(formatDelay(1500)).toBe('1.5s');
    expect(formatDelay(12_400)).toBe('12s');
    expect(formatDelay(300_000)).toBe('5 min');
  });
});

describe('--intermediary addresses', () => {
  it('parses tls://host:port, IPv6 literals and the default port', () => {
    expect(parseIntermediary('tls://127.0.0.1:8443')).toEqual({ carrier: 'tls', host: '127.0.0.1', port: 8443 });
    expect(parseIntermediary('tls://[::1]:8443')).toEqual({ carrier: 'tls', host: '::1', port: 8443 });
    expect(parseIntermediary('tls://proxy.example.net')).toEqual({ carrier: 'tls', host: 'proxy.example.net', port: 443 });
  });

  it('refuses other carriers and malformed values with a plain sentence', () => {
    expect(parseIntermediary('ws://127.0.0.1:8787')).toEqual({ carrier: 'ws', host: '127.0.0.1', port: 8787, url: 'ws://127.0.0.1:8787' });
    expect(parseIntermediary('wss://edge.example.net/')).toEqual({ carrier: 'ws', host: 'edge.example.net', port: 443, url: 'wss://edge.example.net' });
    expect(() => parseIntermediary('ws://edge.example.net/path')).toThrow(/must be ws:\/\/host\[:port\]/);
    expect(() => parseIntermediary('proxy.example.net')).toThrow(/is a bare name: it is found through SVCB discovery/);
    expect(parseIntermediary('https://proxy.example.net')).toEqual({ carrier: 'ptth', host: 'proxy.example.net', port: 443, url: 'https://proxy.example.net' });
    expect(parseIntermediary('https://[::1]:8444/')).toEqual({ carrier: 'ptth', host: '::1', port: 8444, url: 'https://[::1]:8444' });
    expect(() => parseIntermediary('https://proxy.example.net/.well-known/ptth/x/')).toThrow(/must be https:\/\/host\[:port\] \(the PTTH path is added by the agent\)/);
    expect(() => parseIntermediary('http://proxy.example.net')).toThrow(/must be tls:\/\/host:port, quic:\/\/host:port, https:\/\/host\[:port\], ws/);
    expect(() => parseIntermediary('tls://proxy.example.net/path')).toThrow(/must be tls:\/\/host:port/);
  });
});
