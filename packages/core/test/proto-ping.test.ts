/**
 * Outstanding PINGs and the round-trip estimate (RFC 9113 §6.7), on their own with an injected
 * clock. The connection's PING behaviour on the wire is in conformance-framing.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { keepAlive, OutstandingPings } from '../src/proto/ping.js';

function clock(start = 1_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('RFC 9113 §6.7 PING', () => {
  it('§6.7: the ACK carries the PING payload; it resolves that PING with the time since it was sent', () => {
    const c = clock();
    const pings = new OutstandingPings(c.now);
    const got: number[] = [];
    const opaque = pings.start((ms) => got.push(ms), () => {});
    expect(opaque).toHaveLength(8);
    c.advance(37);
    expect(pings.acked(opaque.slice())).toBe(true);
    expect(got).toEqual([37]);
    expect(pings.rttMs).toBe(37);
    expect(pings.size).toBe(0);
  });

  it('§6.7: each PING without given data gets distinct opaque data, so two in flight are told apart', () => {
    const c = clock();
    const pings = new OutstandingPings(c.now);
    const order: string[] = [];
    const a = pings.start((ms) => order.push(`a:${ms}`), () => {});
    c.advance(10);
    const b = pings.start((ms) => order.push(`b:${ms}`), () => {});
    expect([...a]).not.toEqual([...b]);
    c.advance(5);
    pings.acked(b);
    c.advance(20);
    pings.acked(a);
    expect(order).toEqual(['b:5', 'a:35']);
    expect(pings.rttMs).toBe(35);
  });

  it('§6.7: given opaque data is sent as is and matched by its 8 octets', () => {
    const c = clock();
    const pings = new OutstandingPings(c.now);
    const given = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    let rtt: number | undefined;
    expect(pings.start((ms) => (rtt = ms), () => {}, given)).toBe(given);
    c.advance(3);
    expect(pings.acked(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 9]))).toBe(false);
    expect(rtt).toBeUndefined();
    expect(pings.acked(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))).toBe(true);
    expect(rtt).toBe(3);
  });

  it('§6.7: an ACK that answers no PING of ours is ignored and leaves the estimate alone', () => {
    const c = clock();
    const pings = new OutstandingPings(c.now);
    const opaque = pings.start(() => {}, () => {});
    c.advance(8);
    pings.acked(opaque);
    c.advance(100);
    expect(pings.acked(opaque)).toBe(false);
    expect(pings.rttMs).toBe(8);
  });

  it('a PING still waiting when the connection closes fails with the close error', () => {
    const pings = new OutstandingPings(clock().now);
    const errors: Error[] = [];
    pings.start(() => {}, (e) => errors.push(e));
    pings.start(() => {}, (e) => errors.push(e));
    expect(pings.size).toBe(2);
    const closed = new Error('closed');
    pings.rejectAll(closed);
    expect(errors).toEqual([closed, closed]);
    expect(pings.size).toBe(0);
  });
});

/** A manual clock of timers, and a peer whose PING answers the test gives. */
function keepAliveHost() {
  let now = 0;
  let timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  const sent: Array<{ opaque: Uint8Array | undefined; answer: () => void; fail: () => void }> = [];
  const host = {
    isClosed: false,
    ping: (opaque?: Uint8Array) =>
      new Promise<number>((resolve, reject) => sent.push({ opaque, answer: () => resolve(1), fail: () => reject(new Error('closed')) })),
    setTimer: (fn: () => void, ms: number) => {
      const timer = { at: now + ms, fn, live: true };
      timers.push(timer);
      return () => (timer.live = false);
    },
  };
  const advance = async (ms: number) => {
    now += ms;
    for (;;) {
      const due = timers.find((t) => t.live && t.at <= now);
      if (!due) break;
      due.live = false;
      due.fn();
      await Promise.resolve();
    }
    timers = timers.filter((t) => t.live);
    await new Promise((r) => setImmediate(r));
  };
  return { host, sent, advance };
}

describe('keepAlive: PINGs on a period, and a peer that stops answering', () => {
  it('the first PING carries firstOpaque at once; the next goes one interval after the answer', async () => {
    const { host, sent, advance } = keepAliveHost();
    const timeouts: number[] = [];
    keepAlive(host, { intervalMs: 100, timeoutMs: 50, firstOpaque: new Uint8Array(8).fill(7), onTimeout: () => timeouts.push(1) });
    expect(sent).toHaveLength(1);
    expect(sent[0].opaque).toEqual(new Uint8Array(8).fill(7));
    sent[0].answer();
    await advance(0); // the answer settles
    await advance(99);
    expect(sent).toHaveLength(1);
    await advance(1);
    expect(sent).toHaveLength(2);
    expect(sent[1].opaque).toBeUndefined();
    expect(timeouts).toEqual([]);
  });

  it('without firstOpaque it waits one interval; a PING unanswered for timeoutMs calls onTimeout once and stops', async () => {
    const { host, sent, advance } = keepAliveHost();
    let timeouts = 0;
    keepAlive(host, { intervalMs: 100, timeoutMs: 50, onTimeout: () => timeouts++ });
    expect(sent).toHaveLength(0);
    await advance(100);
    expect(sent).toHaveLength(1);
    await advance(50);
    expect(timeouts).toBe(1);
    sent[0].answer();
    await advance(1_000);
    expect(sent).toHaveLength(1);
    expect(timeouts).toBe(1);
  });

  it('stops when its stop function is called, and when the connection closed (a failed PING schedules nothing)', async () => {
    const { host, sent, advance } = keepAliveHost();
    const stop = keepAlive(host, { intervalMs: 100, timeoutMs: 50, onTimeout: () => {} });
    stop();
    await advance(1_000);
    expect(sent).toHaveLength(0);

    const second = keepAliveHost();
    let timeouts = 0;
    keepAlive(second.host, { intervalMs: 100, timeoutMs: 50, onTimeout: () => timeouts++, firstOpaque: new Uint8Array(8) });
    second.host.isClosed = true;
    second.sent[0].fail();
    await second.advance(1_000);
    expect(second.sent).toHaveLength(1);
    expect(timeouts).toBe(0);
  });
});
