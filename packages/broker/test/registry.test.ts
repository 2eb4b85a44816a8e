import { describe, expect, it } from 'vitest';
import { BrokerError, BrokerRegistry, lastTwoLabels, SessionRefusedError } from '../src/index.js';
import { FakeSession, get, INFO } from './fake-session.js';
import { parseSfList } from './structured-field.js';

describe('DESIGN Broker semantics: one broker per registrable domain', () => {
  it('lastTwoLabels is the stand-in key function', () => {
    expect(lastTwoLabels('app.example.com')).toBe('example.com');
    expect(lastTwoLabels('Example.COM.')).toBe('example.com');
    expect(lastTwoLabels('localhost')).toBe('localhost');
    expect(lastTwoLabels('127.0.0.1')).toBe('127.0.0.1');
    expect(lastTwoLabels('::1')).toBe('::1');
  });

  it('refuses a session whose origins span several registrable domains, saying which', () => {
    const registry = new BrokerRegistry();
    const s = new FakeSession('multi', ['https://app.example.com', 'https://*.example.com', 'https://shop.example.org']);
    let thrown: unknown;
    try {
      registry.register(s);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(SessionRefusedError);
    expect(thrown).toBeInstanceOf(BrokerError);
    expect((thrown as SessionRefusedError).code).toBe('ERR_BROKER_SESSION_REFUSED');
    expect((thrown as Error).message).toMatch(/example\.com.*example\.org/);
    expect(registry.status().brokers).toEqual([]);
  });

  it('refuses sessions with no origins or a malformed one', () => {
    const registry = new BrokerRegistry();
    expect(() => registry.register(new FakeSession('none', []))).toThrow(SessionRefusedError);
    expect(() => registry.register(new FakeSession('bad', ['https://app.example.com/path']))).toThrow(/malformed origin/);
  });

  it('routes each request by host to its broker; 503 when no broker serves the host', async () => {
    const registry = new BrokerRegistry();
    const com = new FakeSession('com', ['https://app.example.com', 'https://*.example.com']);
    const org = new FakeSession('org', ['https://shop.example.org']);
    expect(registry.register(com).key).toBe('example.com');
    expect(registry.register(org).key).toBe('example.org');
    expect(await (await registry.dispatch(get('https://www.example.com/'), INFO)).text()).toBe('hello from com for www.example.com');
    expect(await (await registry.dispatch(get('https://shop.example.org/'), INFO)).text()).toBe('hello from org for shop.example.org');
    const none = await registry.dispatch(get('https://app.example.net/'), INFO);
    expect(none.status).toBe(503);
    expect(none.headers.get('retry-after')).not.toBeNull();
    const [member] = parseSfList(none.headers.get('proxy-status')!);
    expect(member.params.get('error')).toBe('destination_unavailable');
    expect(member.params.has('next-hop')).toBe(false);
    expect(registry.brokerFor('x.example.org').sessions).toEqual([org]);
  });

  it('uses the keyFor function it is given', () => {
    const registry = new BrokerRegistry({ keyFor: (host) => host.split('.').slice(-3).join('.') });
    const s = new FakeSession('uk', ['https://app.example.co.uk', 'https://*.example.co.uk']);
    expect(registry.register(s).key).toBe('example.co.uk');
  });

  it('drops a broker once its last session is unregistered; status() lists the rest', async () => {
    const registry = new BrokerRegistry();
    const com = new FakeSession('com', ['https://app.example.com']);
    const org = new FakeSession('org', ['https://shop.example.org']);
    registry.register(com);
    registry.register(org);
    registry.unregister(org);
    const status = registry.status();
    expect(status.brokers.map((b) => b.key)).toEqual(['example.com']);
    expect(status.brokers[0].sessions.map((s) => s.id)).toEqual(['com']);
    expect((await registry.dispatch(get('https://shop.example.org/'), INFO)).status).toBe(503);
  });
});
