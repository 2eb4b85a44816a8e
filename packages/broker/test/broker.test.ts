import { describe, expect, it, vi } from 'vitest';
import { Broker, DEFAULT_QUEUE_TIMEOUT_MS, requestOrigin, SLOW_START_DURATION_MS, SLOW_START_INITIAL_STREAMS, type DispatchInfo, type OutgoingRequest } from '../src/index.js';
import { fieldsToHeaders } from '@rhttp/core';
import { deferred, exchangeOf, FakeSession, FakeStreamError, get, INFO } from './fake-session.js';
import { parseSfList } from './structured-field.js';

/** A broker whose clock the test moves; sessions registered at t=0 are past slow start once `settle()` is called. */
function setup(options: ConstructorParameters<typeof Broker>[0] = {}) {
  const clock = { t: 1_000_000 };
  const broker = new Broker({ key: 'example.com', now: () => clock.t, ...options });
  return { broker, clock, settle: () => { clock.t += SLOW_START_DURATION_MS; } };
}

/** A handler that parks every request until the test releases it. */
function holding() {
  const parked: Array<{ request: Request; release: (r?: Response) => void }> = [];
  const handler = (request: Request) => {
    const d = deferred<Response>();
    parked.push({ request, release: (r) => d.resolve(r ?? new Response('released')) });
    return d.promise;
  };
  return { parked, handler };
}

function proxyStatus(response: Response) {
  const field = response.headers.get('proxy-status');
  expect(field).not.toBeNull();
  const members = parseSfList(field!);
  expect(members).toHaveLength(1);
  // RFC 9209 §2.1.2 next-hop would leak the origin's address: never sent.
  expect(members[0].params.has('next-hop')).toBe(false);
  expect(members[0].item).toBe('rhttp');
  return members[0];
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('DESIGN Broker semantics: routing (RFC 8336 origin sets, exact beats wildcard)', () => {
  it('sends a request to the session with an exact entry, even when a wildcard session also covers it', async () => {
    const { broker } = setup();
    const exact = new FakeSession('exact', ['https://app.example.com']);
    const wild = new FakeSession('wild', ['https://*.example.com']);
    broker.register(wild);
    broker.register(exact);
    for (let i = 0; i < 3; i++) expect(await (await broker.dispatch(get('https://app.example.com/'), INFO)).text()).toBe('hello from exact for app.example.com');
    expect(await (await broker.dispatch(get('https://www.example.com/'), INFO)).text()).toBe('hello from wild for www.example.com');
    expect(wild.requests.map((r) => r.url)).toEqual(['https://www.example.com/']);
  });

  it('a wildcard covers one label only, and scheme and port must match', async () => {
    const { broker } = setup();
    broker.register(new FakeSession('wild', ['https://*.example.com']));
    for (const url of ['https://a.b.example.com/', 'https://example.com/', 'http://app.example.com/', 'https://app.example.com:8443/']) {
      expect((await broker.dispatch(get(url), INFO)).status, url).toBe(503);
    }
  });

  it('falls back to wildcard sessions when the exact one is draining', async () => {
    const { broker } = setup();
    const exact = new FakeSession('exact', ['https://app.example.com']);
    const wild = new FakeSession('wild', ['https://*.example.com']);
    broker.register(exact);
    broker.register(wild);
    exact.draining = true;
    expect(await (await broker.dispatch(get('https://app.example.com/'), INFO)).text()).toBe('hello from wild for app.example.com');
  });

  it('re-reads origin sets (ORIGIN frames can arrive after registration)', async () => {
    const { broker } = setup();
    const s = new FakeSession('s', ['https://app.example.com']);
    broker.register(s);
    expect((await broker.dispatch(get('https://api.example.com/'), INFO)).status).toBe(503);
    s.origins = [...s.origins, 'https://api.example.com'];
    expect((await broker.dispatch(get('https://api.example.com/'), INFO)).status).toBe(200);
    expect(broker.origins()).toEqual(['https://app.example.com', 'https://api.example.com']);
  });

  it('routes by the origin a request carries (ForwardRequest.origin, parsed by the listener), not by its URL parsed again', async () => {
    const { broker } = setup();
    broker.register(new FakeSession('www', ['https://www.example.com']));
    broker.register(new FakeSession('api', ['https://api.example.com']));
    // The carried origin differs from the URL's here only so the test can see which one routes; a listener carries the URL's own.
    const carried = { method: 'GET', url: new URL('https://www.example.com/x'), origin: requestOrigin('https://api.example.com/'), headers: [], body: null };
    expect(await (await broker.dispatch(carried, INFO)).text()).toBe('hello from api for www.example.com');
    expect(await (await broker.dispatch({ ...carried, origin: undefined }, INFO)).text()).toBe('hello from www for www.example.com');
    // An origin nobody serves is 503 even though the URL's origin is served.
    const nobody = await broker.dispatch({ ...carried, origin: requestOrigin('https://old.example.com/') }, INFO);
    expect(nobody.status).toBe(503);
  });
});

describe('DESIGN Broker semantics: balancing', () => {
  it('picks the session with the fewest open streams', async () => {
    const { broker, settle } = setup();
    const a = holding();
    const s1 = new FakeSession('s1', ['https://app.example.com'], { handler: a.handler });
    const s2 = new FakeSession('s2', ['https://app.example.com'], { handler: a.handler });
    broker.register(s1);
    broker.register(s2);
    settle();
    const pending = Array.from({ length: 6 }, () => broker.dispatch(get('https://app.example.com/'), INFO));
    await vi.waitFor(() => expect(a.parked).toHaveLength(6));
    expect([s1.requests.length, s2.requests.length]).toEqual([3, 3]);
    // s1 frees two streams; the next two requests go to s1.
    a.parked.filter((p) => s1.requests.includes(p.request)).slice(0, 2).forEach((p) => p.release());
    await vi.waitFor(() => expect(s1.openStreams).toBe(1));
    const more = [broker.dispatch(get('https://app.example.com/'), INFO), broker.dispatch(get('https://app.example.com/'), INFO)];
    await vi.waitFor(() => expect(a.parked).toHaveLength(8));
    expect([s1.requests.length, s2.requests.length]).toEqual([5, 3]);
    a.parked.forEach((p) => p.release());
    expect((await Promise.all([...pending, ...more])).map((r) => r.status)).toEqual(Array(8).fill(200));
  });

  it('RFC 9113 §5.1.2: never exceeds SETTINGS_MAX_CONCURRENT_STREAMS; queued requests go out as streams free up', async () => {
    const { broker } = setup();
    const a = holding();
    const s = new FakeSession('s', ['https://app.example.com'], { maxConcurrentStreams: 2, handler: a.handler });
    broker.register(s);
    const responses = Array.from({ length: 4 }, (_, i) => broker.dispatch(get(`https://app.example.com/${i}`), INFO));
    await vi.waitFor(() => expect(a.parked).toHaveLength(2));
    await flush();
    expect(s.requests).toHaveLength(2);
    expect(broker.status().queued).toBe(2);
    a.parked[0].release();
    await vi.waitFor(() => expect(a.parked).toHaveLength(3));
    expect(s.openStreams).toBeLessThanOrEqual(2);
    a.parked[1].release();
    await vi.waitFor(() => expect(a.parked).toHaveLength(4));
    a.parked.slice(2).forEach((p) => p.release());
    expect((await Promise.all(responses)).map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(s.requests.map((r) => new URL(r.url).pathname)).toEqual(['/0', '/1', '/2', '/3']);
  });

  it('answers 503 connection_limit_reached when every session stays full past the queue timeout', async () => {
    const { broker } = setup({ queueTimeoutMs: 5 });
    const a = holding();
    broker.register(new FakeSession('s', ['https://app.example.com'], { maxConcurrentStreams: 1, handler: a.handler }));
    const first = broker.dispatch(get('https://app.example.com/'), INFO);
    const second = await broker.dispatch(get('https://app.example.com/'), INFO);
    expect(second.status).toBe(503);
    expect(second.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(proxyStatus(second).params.get('error')).toBe('connection_limit_reached');
    a.parked[0].release();
    expect((await first).status).toBe(200);
  });

  it('answers 503 at once when the wait queue is full', async () => {
    const { broker } = setup({ maxQueued: 1 });
    const a = holding();
    broker.register(new FakeSession('s', ['https://app.example.com'], { maxConcurrentStreams: 1, handler: a.handler }));
    const first = broker.dispatch(get('https://app.example.com/'), INFO);
    const queued = broker.dispatch(get('https://app.example.com/'), INFO);
    await vi.waitFor(() => expect(broker.status().queued).toBe(1));
    const refused = await broker.dispatch(get('https://app.example.com/'), INFO);
    expect(refused.status).toBe(503);
    expect(proxyStatus(refused).params.get('error')).toBe('connection_limit_reached');
    a.parked[0].release();
    await vi.waitFor(() => expect(a.parked).toHaveLength(2));
    a.parked[1].release();
    expect([(await first).status, (await queued).status]).toEqual([200, 200]);
  });

  it('slow start: a new session takes a few streams first, then grows to its limit', async () => {
    const { broker, clock, settle } = setup();
    const a = holding();
    const old = new FakeSession('old', ['https://app.example.com'], { handler: a.handler });
    broker.register(old);
    settle();
    const all: Promise<Response>[] = [];
    for (let i = 0; i < 10; i++) all.push(broker.dispatch(get('https://app.example.com/'), INFO));
    await vi.waitFor(() => expect(old.requests).toHaveLength(10));
    const fresh = new FakeSession('fresh', ['https://app.example.com'], { handler: a.handler });
    broker.register(fresh);
    for (let i = 0; i < 10; i++) all.push(broker.dispatch(get('https://app.example.com/'), INFO));
    await vi.waitFor(() => expect(a.parked).toHaveLength(20));
    // Fewest-open-streams alone would give all ten to `fresh`; the ramp caps it while `old` has room.
    expect(fresh.requests).toHaveLength(SLOW_START_INITIAL_STREAMS);
    expect(old.requests).toHaveLength(20 - SLOW_START_INITIAL_STREAMS);
    clock.t += SLOW_START_DURATION_MS;
    all.push(broker.dispatch(get('https://app.example.com/'), INFO));
    await vi.waitFor(() => expect(a.parked).toHaveLength(21));
    expect(fresh.requests).toHaveLength(SLOW_START_INITIAL_STREAMS + 1);
    a.parked.forEach((p) => p.release());
    await Promise.all(all);
  });

  it('slow start never refuses: a lone new session takes everything up to its limit', async () => {
    const { broker } = setup();
    const a = holding();
    const s = new FakeSession('s', ['https://app.example.com'], { maxConcurrentStreams: 50, handler: a.handler });
    broker.register(s);
    const all = Array.from({ length: 30 }, () => broker.dispatch(get('https://app.example.com/'), INFO));
    await vi.waitFor(() => expect(s.requests).toHaveLength(30));
    expect(broker.status().queued).toBe(0);
    a.parked.forEach((p) => p.release());
    await Promise.all(all);
  });
});

/** Lets every pending promise callback run, without any timer: only microtasks. */
async function settleMicrotasks(): Promise<void> {
  for (let i = 0; i < 100; i++) await Promise.resolve();
}

describe('RFC 9113 §5.1.2 waiting for a stream slot: sessions notify, the broker never polls', () => {
  /** One session at its limit whose only stream outlives its response (the body still streams), and one request queued behind it. */
  async function fullSession(maxConcurrentStreams = 1) {
    const { broker } = setup();
    const s = new FakeSession('s', ['https://app.example.com'], {
      maxConcurrentStreams,
      handler: (_req, _init, self) => {
        self.openStreams++; // the stream stays open past its response headers: the test ends it
        return new Response('streaming');
      },
    });
    broker.register(s);
    const first = await broker.dispatch(get('https://app.example.com/first'), INFO);
    expect([first.status, s.openStreams]).toEqual([200, maxConcurrentStreams]);
    const waiting = broker.dispatch(get('https://app.example.com/second'), INFO);
    await settleMicrotasks();
    expect(broker.status().queued).toBe(1);
    expect(s.requests).toHaveLength(1);
    return { broker, s, waiting };
  }

  it('the broker sets onSlotFree on register and clears it on unregister', () => {
    const { broker } = setup();
    const s = new FakeSession('s', ['https://app.example.com']);
    broker.register(s);
    expect(typeof s.onSlotFree).toBe('function');
    broker.unregister(s);
    expect(s.onSlotFree).toBeUndefined();
  });

  it('a queued request goes out when the session says a stream closed, with no timer advanced', async () => {
    vi.useFakeTimers();
    try {
      const { broker, s, waiting } = await fullSession();
      // Nothing changed yet: with no timers running, the waiter stays put (a poll could not fire).
      await settleMicrotasks();
      expect(s.requests).toHaveLength(1);
      s.endStream(); // the first stream's body ended: openStreams 0, onSlotFree()
      const second = await waiting;
      expect(second.status).toBe(200);
      expect(s.requests.map((r) => new URL(r.url).pathname)).toEqual(['/first', '/second']);
      expect(broker.status().queued).toBe(0);
      expect(vi.getTimerCount()).toBe(0); // the queue and response timers were cleared, no interval left behind
    } finally {
      vi.useRealTimers();
    }
  });

  it('a queued request goes out when the peer raises SETTINGS_MAX_CONCURRENT_STREAMS', async () => {
    vi.useFakeTimers();
    try {
      const { s, waiting } = await fullSession();
      s.maxConcurrentStreams = 2;
      s.onSlotFree?.();
      expect((await waiting).status).toBe(200);
      expect(s.requests).toHaveLength(2);
      expect(s.openStreams).toBe(2); // the first stream is still open: the second used the new slot
    } finally {
      vi.useRealTimers();
    }
  });

  it('a queued request hears 503 at once when its only session drains (GOAWAY), not at the queue timeout', async () => {
    vi.useFakeTimers();
    try {
      const { s, waiting } = await fullSession();
      s.draining = true;
      s.onSlotFree?.();
      const r = await waiting;
      expect(r.status).toBe(503);
      expect(proxyStatus(r).params.get('error')).toBe('destination_unavailable');
      expect(s.requests).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('without a notification the wait ends only at the queue timeout (503 connection_limit_reached)', async () => {
    vi.useFakeTimers();
    try {
      const { s, waiting } = await fullSession();
      s.openStreams--; // a slot frees, but the session does not say so
      await vi.advanceTimersByTimeAsync(DEFAULT_QUEUE_TIMEOUT_MS - 1);
      expect(s.requests).toHaveLength(1); // nobody looked: there is no polling
      await vi.advanceTimersByTimeAsync(1);
      // The timeout wakes the waiter for one last look: the slot is free, so it goes out.
      expect((await waiting).status).toBe(200);
      expect(s.requests).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a session another broker took over calls that broker, not the old one', () => {
    const { broker: a } = setup();
    const { broker: b } = setup();
    const s = new FakeSession('s', ['https://app.example.com']);
    a.register(s);
    const fromA = s.onSlotFree;
    a.unregister(s);
    b.register(s);
    expect(s.onSlotFree).not.toBe(fromA);
    a.unregister(s); // not registered there any more: leaves b's callback alone
    expect(typeof s.onSlotFree).toBe('function');
  });
});

describe('RFC 9113 §6.8 drain (GOAWAY)', () => {
  it('a draining session gets no new requests, and its in-flight requests complete', async () => {
    const { broker, settle } = setup();
    const a = holding();
    const s1 = new FakeSession('s1', ['https://app.example.com'], { handler: a.handler });
    const s2 = new FakeSession('s2', ['https://app.example.com']);
    broker.register(s1);
    settle();
    const inflight = broker.dispatch(get('https://app.example.com/'), INFO);
    await vi.waitFor(() => expect(a.parked).toHaveLength(1));
    broker.register(s2);
    s1.draining = true;
    for (let i = 0; i < 3; i++) expect(await (await broker.dispatch(get('https://app.example.com/'), INFO)).text()).toMatch(/^hello from s2/);
    expect(s1.requests).toHaveLength(1);
    expect(broker.origins()).toEqual(['https://app.example.com']);
    a.parked[0].release(new Response('finished on s1'));
    expect(await (await inflight).text()).toBe('finished on s1');
  });

  it('closed sessions are dropped on dispatch; a draining-only origin answers 503', async () => {
    const { broker } = setup();
    const s1 = new FakeSession('s1', ['https://app.example.com']);
    const s2 = new FakeSession('s2', ['https://app.example.com']);
    broker.register(s1);
    broker.register(s2);
    s1.isClosed = true;
    expect(await (await broker.dispatch(get('https://app.example.com/'), INFO)).text()).toMatch(/^hello from s2/);
    expect(broker.sessions).toEqual([s2]);
    s2.draining = true;
    expect((await broker.dispatch(get('https://app.example.com/'), INFO)).status).toBe(503);
    broker.unregister(s2);
    expect(broker.sessions).toEqual([]);
    expect(broker.idle).toBe(true);
  });
});

describe('RFC 9113 §8.7 retries of refused streams', () => {
  const refuse = () => { throw new FakeStreamError('REFUSED_STREAM', true); };

  it('retries a body-less request once on another session', async () => {
    const { broker, settle } = setup();
    const s1 = new FakeSession('s1', ['https://app.example.com'], { handler: refuse });
    const s2 = new FakeSession('s2', ['https://app.example.com']);
    broker.register(s1);
    settle();
    broker.register(s2);
    settle();
    const r = await broker.dispatch(get('https://app.example.com/'), INFO);
    expect(await r.text()).toBe('hello from s2 for app.example.com');
    expect(s1.requests).toHaveLength(1);
    expect(broker.status().counters.retries).toBe(1);
  });

  it('retries on the same session when it is the only one', async () => {
    const { broker } = setup();
    let calls = 0;
    const s = new FakeSession('s', ['https://app.example.com'], { handler: () => (++calls === 1 ? refuse() : new Response('second time')) });
    broker.register(s);
    expect(await (await broker.dispatch(get('https://app.example.com/'), INFO)).text()).toBe('second time');
  });

  it('retries a request whose body stream was never read, sending the same bytes', async () => {
    const { broker } = setup();
    const s1 = new FakeSession('s1', ['https://app.example.com'], { handler: refuse });
    const s2 = new FakeSession('s2', ['https://app.example.com'], { handler: async (req) => new Response(`got ${await req.text()}`) });
    broker.register(s1);
    broker.register(s2);
    const body = new ReadableStream<Uint8Array>({ start(c) { c.enqueue(new TextEncoder().encode('payload')); c.close(); } });
    const req = new Request('https://app.example.com/upload', { method: 'POST', body, duplex: 'half' } as RequestInit);
    const r = await broker.dispatch(req, INFO);
    expect(await r.text()).toBe('got payload');
  });

  it('does not retry when the first session consumed the body: 503 with Retry-After (not processed, safe to repeat)', async () => {
    const { broker } = setup();
    const s1 = new FakeSession('s1', ['https://app.example.com'], { handler: async (req) => { await req.text(); return refuse(); } });
    const s2 = new FakeSession('s2', ['https://app.example.com']);
    broker.register(s1);
    broker.register(s2);
    const req = new Request('https://app.example.com/upload', { method: 'POST', body: 'payload' });
    const r = await broker.dispatch(req, INFO);
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).not.toBeNull();
    expect(proxyStatus(r).params.get('error')).toBe('destination_unavailable');
    expect(s1.requests.length + s2.requests.length).toBe(1);
    expect(broker.status().counters.retries).toBe(0);
  });

  it('does not retry a non-retryable rejection', async () => {
    const { broker } = setup();
    const s1 = new FakeSession('s1', ['https://app.example.com'], { handler: () => { throw new FakeStreamError('INTERNAL_ERROR', false, 0x2); } });
    const s2 = new FakeSession('s2', ['https://app.example.com'], { handler: () => { throw new FakeStreamError('INTERNAL_ERROR', false, 0x2); } });
    broker.register(s1);
    broker.register(s2);
    const r = await broker.dispatch(get('https://app.example.com/'), INFO);
    expect(r.status).toBe(502);
    expect(s1.requests.length + s2.requests.length).toBe(1);
  });

  it('retries only once', async () => {
    const { broker } = setup();
    const s1 = new FakeSession('s1', ['https://app.example.com'], { handler: refuse });
    const s2 = new FakeSession('s2', ['https://app.example.com'], { handler: refuse });
    broker.register(s1);
    broker.register(s2);
    const r = await broker.dispatch(get('https://app.example.com/'), INFO);
    expect(r.status).toBe(503);
    expect([s1.requests.length, s2.requests.length]).toEqual([1, 1]);
  });
});

describe('RFC 9209 Proxy-Status on broker errors', () => {
  it('no session → 503 destination_unavailable with Retry-After and a plain-text explanation', async () => {
    const { broker } = setup();
    const r = await broker.dispatch(get('https://app.example.com/'), INFO);
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('5');
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await r.text()).toMatch(/app\.example\.com is not connected/);
    expect(proxyStatus(r).params.get('error')).toBe('destination_unavailable');
  });

  it('session dies before the response → 502 connection_terminated', async () => {
    const { broker } = setup();
    broker.register(new FakeSession('s', ['https://app.example.com'], {
      handler: (_req, _init, self) => { self.isClosed = true; throw new FakeStreamError('connection lost', false, 0x0, 'ERR_HTTP2_SESSION_CLOSED'); },
    }));
    const r = await broker.dispatch(get('https://app.example.com/'), INFO);
    expect(r.status).toBe(502);
    expect(proxyStatus(r).params.get('error')).toBe('connection_terminated');
    expect(broker.sessions).toEqual([]);
  });

  it('stream reset before the response → 502 http_protocol_error naming the HTTP/2 error code', async () => {
    const { broker } = setup();
    broker.register(new FakeSession('s', ['https://app.example.com'], { handler: () => { throw new FakeStreamError('reset', false, 0x2); } }));
    const r = await broker.dispatch(get('https://app.example.com/'), INFO);
    expect(r.status).toBe(502);
    const member = proxyStatus(r);
    expect(member.params.get('error')).toBe('http_protocol_error');
    expect(member.params.get('details')).toContain('0x2');
    const status = broker.status();
    expect(status.counters.errors).toEqual({ ERR_BROKER_STREAM_RESET: 1 });
    expect(status.recentErrors[0]).toMatchObject({ code: 'ERR_BROKER_STREAM_RESET', status: 502, sessionId: 's' });
  });

  it('no response headers in time → 504 http_response_timeout, and the stream is cancelled', async () => {
    const { broker } = setup({ responseTimeoutMs: 10 });
    let seen: AbortSignal | undefined;
    broker.register(new FakeSession('s', ['https://app.example.com'], {
      // Ignores the signal on purpose: the broker must not wait for a session that never answers.
      handler: (_req, init) => { seen = init?.signal; return new Promise<Response>(() => {}); },
    }));
    const r = await broker.dispatch(get('https://app.example.com/'), INFO);
    expect(r.status).toBe(504);
    expect(proxyStatus(r).params.get('error')).toBe('http_response_timeout');
    expect(seen?.aborted).toBe(true);
  });

  it('the browser going away cancels the stream and rejects dispatch with the abort reason', async () => {
    const { broker } = setup();
    let seen: AbortSignal | undefined;
    broker.register(new FakeSession('s', ['https://app.example.com'], { handler: (_req, init) => { seen = init?.signal; return new Promise<Response>(() => {}); } }));
    const browser = new AbortController();
    const info: DispatchInfo = { ...INFO, signal: browser.signal };
    const pending = broker.dispatch(get('https://app.example.com/'), info);
    await vi.waitFor(() => expect(seen).toBeDefined());
    browser.abort(new Error('browser left'));
    await expect(pending).rejects.toThrow('browser left');
    expect(seen!.aborted).toBe(true);
    expect(broker.status().counters.aborted).toBe(1);
  });

  it('keeps a bounded list of recent errors and counts responses by status class', async () => {
    const { broker } = setup();
    for (let i = 0; i < 60; i++) await broker.dispatch(get('https://app.example.com/'), INFO);
    broker.register(new FakeSession('s', ['https://app.example.com']));
    await broker.dispatch(get('https://app.example.com/'), INFO);
    const status = broker.status();
    expect(status.recentErrors.length).toBe(50);
    expect(status.counters.requests).toEqual({ '1xx': 0, '2xx': 1, '3xx': 0, '4xx': 0, '5xx': 60 });
    expect(JSON.parse(JSON.stringify(status))).toEqual(status);
  });
});

describe('RFC 9110 §7.6 header rewriting through dispatch', () => {
  it('the origin sees Via, Forwarded (IPv6 quoted), X-Forwarded-*; hop-by-hop fields are gone', async () => {
    const { broker } = setup();
    const s = new FakeSession('s', ['https://app.example.com'], {
      handler: () => new Response('ok', { headers: { connection: 'x-internal', 'x-internal': 'secret', 'keep-alive': 'timeout=1', 'x-app': 'kept' } }),
    });
    broker.register(s);
    const req = new Request('https://app.example.com/', {
      headers: { connection: 'x-trace', 'x-trace': 'hop', 'x-forwarded-for': '198.51.100.9', te: 'trailers', 'proxy-authorization': 'Basic eA==' },
    });
    const r = await broker.dispatch(req, { clientAddress: '2001:db8::1', scheme: 'https', httpVersion: '2', viaName: 'edge' });
    const sent = s.requests[0].headers;
    expect(sent.get('via')).toBe('2 edge');
    expect(sent.get('forwarded')).toBe('for="[2001:db8::1]";proto=https;host=app.example.com');
    expect(sent.get('x-forwarded-for')).toBe('198.51.100.9, 2001:db8::1');
    expect(sent.get('x-forwarded-proto')).toBe('https');
    expect(sent.get('x-forwarded-host')).toBe('app.example.com');
    expect(sent.get('te')).toBe('trailers');
    for (const name of ['connection', 'x-trace', 'proxy-authorization']) expect(sent.has(name), name).toBe(false);
    expect(r.headers.get('via')).toBe('2 edge');
    expect(r.headers.get('x-app')).toBe('kept');
    for (const name of ['connection', 'x-internal', 'keep-alive']) expect(r.headers.has(name), name).toBe(false);
  });

  it('open() gets the rewritten fields and the browser body as is, with no Request built', async () => {
    const { broker } = setup();
    const s = new FakeSession('s', ['https://app.example.com']);
    const sent: OutgoingRequest[] = [];
    s.open = (request: OutgoingRequest) => {
      sent.push(request);
      return exchangeOf(new Response(request.body).text().then((text) => new Response(text, { headers: { connection: 'close', 'x-app': 'kept' } })));
    };
    broker.register(s);
    const body = new ReadableStream<Uint8Array>({ start(c) { c.enqueue(new TextEncoder().encode('posted')); c.close(); } });
    const req = new Request('https://app.example.com/p?q=1', { method: 'POST', body, headers: { connection: 'x-trace', 'x-trace': 'hop' }, duplex: 'half' } as RequestInit);
    const r = await broker.dispatch(req, INFO);
    expect(sent).toHaveLength(1);
    expect([sent[0].method, sent[0].url.href]).toEqual(['POST', 'https://app.example.com/p?q=1']);
    expect('protocol' in sent[0]).toBe(false); // only tunnels carry one
    expect(sent[0].body).toBe(req.body);
    expect(fieldsToHeaders(sent[0].fields).get('via')).toBe('1.1 rhttp');
    expect(fieldsToHeaders(sent[0].fields).has('x-trace')).toBe(false);
    expect(await r.text()).toBe('posted');
    expect(r.headers.get('via')).toBe('2 rhttp');
    expect(r.headers.get('x-app')).toBe('kept');
    expect(r.headers.has('connection')).toBe(false);
  });

  it('a response with immutable headers (from fetch()) is copied, its fields rewritten all the same', async () => {
    const { broker } = setup();
    const immutable = Response.redirect('https://app.example.com/next', 302);
    broker.register(new FakeSession('s', ['https://app.example.com'], { handler: () => immutable }));
    const r = await broker.dispatch(get('https://app.example.com/'), INFO);
    expect(r).not.toBe(immutable);
    expect([r.status, r.headers.get('location'), r.headers.get('via')]).toEqual([302, 'https://app.example.com/next', '2 rhttp']);
  });

  it('keeps status and null-body statuses (HTTP/2 carries no reason phrase, RFC 9113 §8.3.2)', async () => {
    const { broker } = setup();
    broker.register(new FakeSession('s', ['https://app.example.com'], { handler: () => new Response(null, { status: 304, statusText: 'Not Modified' }) }));
    const r = await broker.dispatch(get('https://app.example.com/'), INFO);
    expect([r.status, r.body]).toEqual([304, null]);
  });
});

describe('DESIGN Broker semantics: bodies stream without buffering', () => {
  it('a response body arrives chunk by chunk (Server-Sent Events)', async () => {
    const { broker } = setup();
    let origin!: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({ start(c) { origin = c; } });
    broker.register(new FakeSession('s', ['https://app.example.com'], {
      handler: () => new Response(stream, { headers: { 'content-type': 'text/event-stream' } }),
    }));
    const r = await broker.dispatch(get('https://app.example.com/events'), INFO);
    const reader = r.body!.getReader();
    const enc = new TextEncoder();
    const dec = new TextDecoder();
    origin.enqueue(enc.encode('data: one\n\n'));
    expect(dec.decode((await reader.read()).value)).toBe('data: one\n\n');
    // The second event does not exist yet when the first one has been read.
    origin.enqueue(enc.encode('data: two\n\n'));
    expect(dec.decode((await reader.read()).value)).toBe('data: two\n\n');
    origin.close();
    expect((await reader.read()).done).toBe(true);
  });

  it('a request body reaches the origin chunk by chunk', async () => {
    const { broker } = setup();
    let browser!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start(c) { browser = c; } });
    const got: string[] = [];
    const firstChunk = deferred<void>();
    broker.register(new FakeSession('s', ['https://app.example.com'], {
      handler: async (req) => {
        const reader = req.body!.getReader();
        const dec = new TextDecoder();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          got.push(dec.decode(value));
          firstChunk.resolve();
        }
        return new Response(got.join('|'));
      },
    }));
    const req = new Request('https://app.example.com/upload', { method: 'POST', body, duplex: 'half' } as RequestInit);
    const pending = broker.dispatch(req, INFO);
    browser.enqueue(new TextEncoder().encode('part1'));
    await firstChunk.promise;
    expect(got).toEqual(['part1']);
    browser.enqueue(new TextEncoder().encode('part2'));
    browser.close();
    expect(await (await pending).text()).toBe('part1|part2');
  });
});

describe('status()', () => {
  it('reports origins and sessions with open streams, RTT, draining and age as JSON-able data', async () => {
    const { broker, clock } = setup();
    broker.register(new FakeSession('s1', ['https://app.example.com', 'https://*.example.com'], { rttMs: 12.5, maxConcurrentStreams: 100 }));
    clock.t += 1234;
    const s2 = new FakeSession('s2', ['https://api.example.com']);
    broker.register(s2);
    s2.draining = true;
    const status = broker.status();
    expect(status.key).toBe('example.com');
    expect(status.origins).toEqual(['https://app.example.com', 'https://*.example.com']);
    expect(status.sessions).toEqual([
      { id: 's1', origins: ['https://app.example.com', 'https://*.example.com'], openStreams: 0, maxConcurrentStreams: 100, draining: false, rttMs: 12.5, ageMs: 1234 },
      { id: 's2', origins: ['https://api.example.com'], openStreams: 0, maxConcurrentStreams: null, draining: true, rttMs: null, ageMs: 0 },
    ]);
  });
});
