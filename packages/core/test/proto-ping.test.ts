/**
 * Outstanding PINGs and the round-trip estimate (RFC 9113 §6.7), on their own with an injected
 * clock. The connection's PING behaviour on the wire is in conformance-framing.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { OutstandingPings } from '../src/proto/ping.js';

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
