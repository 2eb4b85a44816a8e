/**
 * Http2BrokerSession over a real @rhttp/core session pair: the engine's stream-closed and GOAWAY
 * events reach the broker through `onSlotFree`, so a request queued behind
 * SETTINGS_MAX_CONCURRENT_STREAMS goes out when a stream ends, without polling.
 */
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, Http2Session, type Handler } from '@rhttp/core';
import { Broker, Http2BrokerSession, KEEPALIVE_TIMEOUT_MS } from '../src/index.js';
import { sessionPair } from '../../core/test/support/session-pair.js';
import { INFO, get } from './fake-session.js';

/** Long enough that only a notification, never the queue timeout, can let a waiter through within the test. */
const NEVER_MS = 3_600_000;

class PairedSession extends Http2BrokerSession {
  readonly id = 'paired';
  readonly http2: Http2Session;
  readonly server: Http2Session;
  /** Times the engine told us a slot may have freed. */
  notifications = 0;

  constructor(handler: Handler, maxConcurrentStreams: number) {
    super();
    const { client, server } = sessionPair(handler, { settings: { maxConcurrentStreams } }, {
      onSlotFree: () => {
        this.notifications++;
        this.onSlotFree?.();
      },
    });
    this.http2 = client;
    this.server = server;
  }
  get origins() {
    return ['https://app.example.com'];
  }
  close(): void {
    this.http2.goaway(ErrorCode.NO_ERROR);
  }
}

/** A handler whose responses stream until the test ends them. */
function streaming() {
  const bodies: Array<ReadableStreamDefaultController<Uint8Array>> = [];
  const handler: Handler = () => new Response(new ReadableStream<Uint8Array>({ start: (c) => void bodies.push(c) }));
  return { bodies, handler };
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setImmediate(r));
}

describe('Http2BrokerSession: the engine tells the broker when a stream slot frees', () => {
  it('a request queued behind MAX_CONCURRENT_STREAMS = 1 goes out when the first stream ends', async () => {
    const { bodies, handler } = streaming();
    const session = new PairedSession(handler, 1);
    await session.http2.ping(); // the server's SETTINGS are in
    expect(session.maxConcurrentStreams).toBe(1);
    const broker = new Broker({ queueTimeoutMs: NEVER_MS });
    broker.register(session);
    const first = await broker.dispatch(get('https://app.example.com/first'), INFO);
    expect(first.status).toBe(200);
    const second = broker.dispatch(get('https://app.example.com/second'), INFO);
    await until(() => broker.status().queued === 1);
    expect(bodies).toHaveLength(1);
    const before = session.notifications;
    bodies[0].enqueue(new TextEncoder().encode('first body'));
    bodies[0].close();
    expect(await first.text()).toBe('first body');
    const answer = await second;
    expect(answer.status).toBe(200);
    expect(session.notifications).toBeGreaterThan(before);
    expect(bodies).toHaveLength(2);
    bodies[1].close();
    expect(await answer.text()).toBe('');
    session.http2.close();
  });

  it('GOAWAY from the agent ends the wait at once with 503 (the only session drains)', async () => {
    const { bodies, handler } = streaming();
    const session = new PairedSession(handler, 1);
    await session.http2.ping();
    const broker = new Broker({ queueTimeoutMs: NEVER_MS });
    broker.register(session);
    const first = await broker.dispatch(get('https://app.example.com/first'), INFO);
    const second = broker.dispatch(get('https://app.example.com/second'), INFO);
    await until(() => broker.status().queued === 1);
    session.server.goaway(ErrorCode.NO_ERROR, 'restarting');
    const refused = await second;
    expect(refused.status).toBe(503);
    expect(refused.headers.get('proxy-status')).toMatch(/destination_unavailable/);
    expect(bodies).toHaveLength(1);
    bodies[0].close();
    await first.text();
  });

  it('registration hands the session the broker\'s callback; unregistering takes it back', () => {
    const session = new PairedSession(streaming().handler, 1);
    const broker = new Broker();
    broker.register(session);
    expect(session.onSlotFree).toBeTypeOf('function');
    broker.unregister(session);
    expect(session.onSlotFree).toBeUndefined();
    session.http2.close();
  });
});

/** A session whose agent receives everything written to it and never answers (a vanished peer), with its clock under the test's control. */
class SilentPeerSession extends Http2BrokerSession {
  readonly id = 'silent';
  readonly http2: Http2Session;
  readonly written: Uint8Array[] = [];
  timeouts = 0;
  constructor() {
    super();
    // It never acknowledges our SETTINGS either: that timeout must not be what closes it here.
    this.http2 = new Http2Session({ write: (chunk) => void this.written.push(chunk.slice()), close: () => {} }, { role: 'client', limits: { settingsTimeoutMs: 3_600_000 } });
  }
  get origins() {
    return ['https://app.example.com'];
  }
  close(): void {
    this.http2.goaway(ErrorCode.NO_ERROR);
  }
  admit(): void {
    this.admitted(() => this.timeouts++);
  }
}

describe('Http2BrokerSession.admitted: admission PING, then keepalive', () => {
  it('sends the admission PING (opaque "rhttp-ok") at once, and closes a session whose PING goes unanswered for KEEPALIVE_TIMEOUT_MS', async () => {
    vi.useFakeTimers();
    try {
      const session = new SilentPeerSession();
      session.admit();
      await vi.advanceTimersByTimeAsync(0);
      const sent = Buffer.concat(session.written);
      // PING frame: length 8, type 0x6, flags 0, stream 0, then the opaque data.
      expect(sent.includes(Buffer.concat([Buffer.from([0, 0, 8, 6, 0, 0, 0, 0, 0]), Buffer.from('rhttp-ok')]))).toBe(true);
      await vi.advanceTimersByTimeAsync(KEEPALIVE_TIMEOUT_MS - 1);
      expect(session.timeouts).toBe(0);
      expect(session.isClosed).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(session.timeouts).toBe(1);
      expect(session.isClosed).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});
