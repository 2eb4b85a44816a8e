import { describe, expect, it } from 'vitest';
import { BrokerError, BrokerRegistry, lastTwoLabels, requestOrigin, secureOrigin, SessionRefusedError } from '../src/index.js';
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

  it('picks the broker by the origin a request carries (ForwardRequest.origin), not by its URL parsed again', async () => {
    const registry = new BrokerRegistry();
    registry.register(new FakeSession('com', ['https://app.example.com']));
    registry.register(new FakeSession('org', ['https://app.example.org']));
    // The carried origin differs from the URL's here only so the test can see which one routes; a listener carries the URL's own.
    const carried = { method: 'GET', url: new URL('https://app.example.org/'), origin: requestOrigin('https://app.example.com/'), headers: [], body: null };
    expect(await (await registry.dispatch(carried, INFO)).text()).toBe('hello from com for app.example.org');
    expect(await (await registry.dispatch({ ...carried, origin: undefined }, INFO)).text()).toBe('hello from org for app.example.org');
    const elsewhere = await registry.dispatch({ ...carried, origin: requestOrigin('https://app.example.net/') }, INFO);
    expect(elsewhere.status).toBe(503);
  });

  it('uses the keyFor function it is given', () => {
    const registry = new BrokerRegistry({ keyFor: (host) => host.split('.').slice(-3).join('.') });
    const s = new FakeSession('uk', ['https://app.example.co.uk', 'https://*.example.co.uk']);
    expect(registry.register(s).key).toBe('example.co.uk');
  });

  it('serves(): true only for an origin a live, non-draining session covers', () => {
    const registry = new BrokerRegistry();
    const s = new FakeSession('s', ['https://app.example.com', 'https://*.shop.example.com']);
    registry.register(s);
    expect(registry.serves(requestOrigin('https://app.example.com/x')!)).toBe(true);
    expect(registry.serves(requestOrigin('https://a.shop.example.com/')!)).toBe(true);
    expect(registry.serves(requestOrigin('http://app.example.com/')!)).toBe(false); // scheme differs
    expect(registry.serves(requestOrigin('https://app.example.com:8443/')!)).toBe(false); // port differs
    expect(registry.serves(requestOrigin('https://app.example.org/')!)).toBe(false); // no broker for the domain
    expect(registry.serves(secureOrigin(requestOrigin('http://app.example.com:8080/')!))).toBe(true);
    s.draining = true;
    expect(registry.serves(requestOrigin('https://app.example.com/')!)).toBe(false);
  });

  it('asks keyFor once per host, and its memory of hosts is bounded', async () => {
    const asked: string[] = [];
    const registry = new BrokerRegistry({ keyFor: (host) => (asked.push(host), lastTwoLabels(host)) });
    registry.register(new FakeSession('s', ['https://app.example.com']));
    for (let i = 0; i < 3; i++) expect(registry.serves(requestOrigin('https://app.example.com/')!)).toBe(true);
    expect(asked).toEqual(['app.example.com']); // at registration, then remembered
    // A browser naming ever new hosts: each is asked once, and the memory starts over instead of growing.
    for (let i = 0; i < 10_000; i++) registry.serves(requestOrigin(`https://h${i}.example.org/`)!);
    expect(asked).toHaveLength(10_001);
    asked.length = 0;
    registry.serves(requestOrigin('https://app.example.com/')!);
    expect(asked).toEqual(['app.example.com']); // forgotten when the memory started over
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
