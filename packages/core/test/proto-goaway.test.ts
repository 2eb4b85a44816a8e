/**
 * The GOAWAY state on its own (RFC 9113 §6.8): the two-phase graceful shutdown, the GOAWAY a
 * closing connection sends, and what the peer's GOAWAY says about our streams. The wire behaviour
 * through a scripted peer is in conformance-streams.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../src/errors.js';
import type { GoawayFrame } from '../src/frame/types.js';
import { Goaway, GOAWAY_ANNOUNCE_LAST_STREAM_ID, GOAWAY_FINAL_DELAY_MS, unprocessedByGoaway } from '../src/proto/goaway.js';
import { manualTimers } from './support/manual.js';


const text = (frame: GoawayFrame | undefined) => new TextDecoder().decode(frame?.debugData);

describe('RFC 9113 §6.8 GOAWAY', () => {
  it('§6.8: a graceful shutdown first announces last-stream-id 2^31-1 with NO_ERROR, once', () => {
    const goaway = new Goaway(manualTimers().setTimer);
    expect(goaway.active).toBe(false);
    const first = goaway.announce('bye');
    expect(first).toMatchObject({ kind: 'goaway', lastStreamId: GOAWAY_ANNOUNCE_LAST_STREAM_ID, errorCode: ErrorCode.NO_ERROR });
    expect(GOAWAY_ANNOUNCE_LAST_STREAM_ID).toBe(2 ** 31 - 1);
    expect(text(first)).toBe('bye');
    expect(goaway.active).toBe(true);
    expect(goaway.announce('again')).toBeUndefined();
  });

  it(`§6.8: the final GOAWAY follows after ${GOAWAY_FINAL_DELAY_MS} ms at the latest, with the real last stream id`, () => {
    const { timers, setTimer } = manualTimers();
    const goaway = new Goaway(setTimer);
    goaway.announce('');
    let fired = 0;
    goaway.awaitFinal(() => fired++);
    expect(goaway.announcing).toBe(true);
    expect(goaway.waitsForFinal).toBe(true);
    expect(timers[0].ms).toBe(GOAWAY_FINAL_DELAY_MS);
    timers[0].fn();
    expect(fired).toBe(1);
    const final = goaway.final(7);
    expect(final).toMatchObject({ lastStreamId: 7, errorCode: ErrorCode.NO_ERROR });
    expect(goaway.sent).toBe(final);
    expect(goaway.announcing).toBe(false);
    expect(timers[0].cancelled).toBe(true);
    // Once only: a late PING ACK after the timer finds nothing left to send.
    expect(goaway.final(9)).toBeUndefined();
  });

  it('§6.8: streams the peer opens above our GOAWAY last-stream-id are ignored; at or below are served', () => {
    const goaway = new Goaway(manualTimers().setTimer);
    expect(goaway.ignoresPeerStream(101)).toBe(false);
    goaway.announce('');
    expect(goaway.ignoresPeerStream(101)).toBe(false);
    goaway.awaitFinal(() => {});
    goaway.final(5);
    expect(goaway.ignoresPeerStream(5)).toBe(false);
    expect(goaway.ignoresPeerStream(7)).toBe(true);
  });

  it('§5.4.1: a connection error sends GOAWAY with its code and the last peer stream id, even after a graceful final GOAWAY', () => {
    const goaway = new Goaway(manualTimers().setTimer);
    goaway.announce('');
    goaway.awaitFinal(() => {});
    goaway.final(3);
    const last = goaway.closing(ErrorCode.PROTOCOL_ERROR, 5, 'bad frame');
    expect(last).toMatchObject({ lastStreamId: 5, errorCode: ErrorCode.PROTOCOL_ERROR });
    expect(text(last)).toBe('bad frame');
  });

  it('§6.8: closing with NO_ERROR after the final GOAWAY sends nothing more; during the first phase it sends the real last stream id', () => {
    const done = new Goaway(manualTimers().setTimer);
    done.announce('');
    done.awaitFinal(() => {});
    done.final(3);
    expect(done.closing(ErrorCode.NO_ERROR, 3, '')).toBeUndefined();

    const { timers, setTimer } = manualTimers();
    const phaseOne = new Goaway(setTimer);
    phaseOne.announce('');
    phaseOne.awaitFinal(() => {});
    expect(phaseOne.closing(ErrorCode.NO_ERROR, 9, '')).toMatchObject({ lastStreamId: 9, errorCode: ErrorCode.NO_ERROR });
    phaseOne.cancel();
    expect(timers[0].cancelled).toBe(true);
    expect(phaseOne.waitsForFinal).toBe(false);
  });

  it('§6.8: a GOAWAY received ends the wait for our final GOAWAY and stops new streams', () => {
    const goaway = new Goaway(manualTimers().setTimer);
    goaway.announce('');
    goaway.awaitFinal(() => {});
    goaway.receive({ kind: 'goaway', lastStreamId: 0, errorCode: ErrorCode.NO_ERROR, debugData: new Uint8Array(0) });
    expect(goaway.waitsForFinal).toBe(false);
    expect(goaway.announcing).toBe(true);
    expect(goaway.active).toBe(true);
  });

  it('§6.8: streams we opened above the peer’s last-stream-id were not processed; the peer’s own streams never are', () => {
    const frame: GoawayFrame = { kind: 'goaway', lastStreamId: 3, errorCode: ErrorCode.NO_ERROR, debugData: new Uint8Array(0) };
    expect(unprocessedByGoaway('client', frame, 3)).toBe(false);
    expect(unprocessedByGoaway('client', frame, 5)).toBe(true);
    expect(unprocessedByGoaway('server', frame, 5)).toBe(false);
    expect(unprocessedByGoaway('server', frame, 4)).toBe(true);
  });
});
