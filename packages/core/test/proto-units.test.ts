/**
 * The two small pieces the connection builds on, tested on their own (issue 12): flow-control
 * arithmetic (RFC 9113 §6.9) and the stream state machine (§5.1), named by RFC section. The
 * connection-level behaviour they produce is in conformance-streams.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ConnectionError, ErrorCode, StreamError } from '../src/errors.js';
import { DEFAULT_INITIAL_WINDOW_SIZE, FlowWindow, MAX_WINDOW_SIZE, ReceiveWindow, windowOverflow } from '../src/proto/flow-control.js';
import { localCanSend, peerCanSend, transition, type StreamEvent, type StreamState } from '../src/proto/stream-state.js';

describe('RFC 9113 §6.9 flow-control windows', () => {
  it('§6.9.2: every window starts at 65,535 octets', () => {
    expect(DEFAULT_INITIAL_WINDOW_SIZE).toBe(65_535);
    expect(new FlowWindow(DEFAULT_INITIAL_WINDOW_SIZE).available).toBe(65_535);
  });

  it('§6.9.1: WINDOW_UPDATE adds credit up to 2^31-1; one octet more is refused (the caller raises FLOW_CONTROL_ERROR)', () => {
    const w = new FlowWindow(65_535);
    expect(w.increase(MAX_WINDOW_SIZE - 65_535)).toBe(true);
    expect(w.window).toBe(MAX_WINDOW_SIZE);
    expect(w.increase(1)).toBe(false);
    expect(w.window).toBe(MAX_WINDOW_SIZE);
  });

  it('§6.9.2: a smaller SETTINGS_INITIAL_WINDOW_SIZE can make a window negative; nothing may be sent until it is positive again', () => {
    const w = new FlowWindow(65_535);
    w.consume(60_000);
    expect(w.adjust(-65_535 + 1_000)).toBe(true);
    expect(w.window).toBe(1_000 - 60_000);
    expect(w.available).toBe(0);
    expect(w.increase(59_500)).toBe(true);
    expect(w.available).toBe(500);
    expect(w.adjust(MAX_WINDOW_SIZE)).toBe(false);
  });

  it('§6.9.1: a receiver treats DATA beyond the window it granted as an error', () => {
    const r = new ReceiveWindow(100);
    expect(r.receive(100)).toBe(true);
    expect(r.remaining).toBe(0);
    expect(r.receive(1)).toBe(false);
  });

  it('credit goes back in batches: one WINDOW_UPDATE once half the target window was released, for exactly what was released', () => {
    const r = new ReceiveWindow(1_000);
    r.receive(1_000);
    expect(r.release(400)).toBe(0);
    expect(r.remaining).toBe(0);
    expect(r.release(100)).toBe(500);
    expect(r.remaining).toBe(500);
    expect(r.release(499)).toBe(0);
    expect(r.release(1)).toBe(500);
    expect(r.remaining).toBe(1_000);
  });

  it('grow widens both what the peer may send and the target the batching works against', () => {
    const r = new ReceiveWindow(65_535);
    expect(r.grow(1_000_000)).toBe(1_000_000);
    expect(r.remaining).toBe(1_065_535);
    expect(r.target).toBe(1_065_535);
  });

  it('§6.9.1: an overflowing WINDOW_UPDATE is a connection error on stream 0 and a stream error on a stream', () => {
    expect(() => windowOverflow(0)).toThrow(ConnectionError);
    try {
      windowOverflow(5);
    } catch (error) {
      expect(error).toBeInstanceOf(StreamError);
      expect((error as StreamError).errorCode).toBe(ErrorCode.FLOW_CONTROL_ERROR);
      expect((error as StreamError).streamId).toBe(5);
    }
    expect.assertions(4);
  });
});

describe('RFC 9113 §5.1 stream states', () => {
  const next = (state: StreamState, ...events: StreamEvent[]) => events.reduce((s, e) => transition(1, s, e), state);

  it('idle → open on HEADERS sent or received', () => {
    expect(next('idle', 'send-headers')).toBe('open');
    expect(next('idle', 'recv-headers')).toBe('open');
  });

  it('open → half-closed by the side that sends END_STREAM → closed when the other side ends too', () => {
    expect(next('idle', 'send-headers', 'send-end-stream')).toBe('half-closed-local');
    expect(next('idle', 'recv-headers', 'recv-end-stream')).toBe('half-closed-remote');
    expect(next('idle', 'send-headers', 'send-end-stream', 'recv-headers', 'recv-end-stream')).toBe('closed');
    expect(next('idle', 'recv-headers', 'recv-end-stream', 'send-headers', 'send-end-stream')).toBe('closed');
  });

  it('RST_STREAM sent or received closes any stream that is not idle', () => {
    for (const state of ['open', 'half-closed-local', 'half-closed-remote', 'closed'] as const) {
      expect(transition(1, state, 'send-reset')).toBe('closed');
      expect(transition(1, state, 'recv-reset')).toBe('closed');
    }
  });

  it('§6.4: RST_STREAM on an idle stream is a connection error of type PROTOCOL_ERROR', () => {
    expect(() => transition(1, 'idle', 'recv-reset')).toThrow(ConnectionError);
  });

  it('§5.1 half-closed (remote): frames other than WINDOW_UPDATE, PRIORITY or RST_STREAM are a stream error of type STREAM_CLOSED', () => {
    for (const event of ['recv-headers', 'recv-end-stream'] as const) {
      try {
        transition(3, 'half-closed-remote', event);
        expect.unreachable();
      } catch (error) {
        expect((error as StreamError).errorCode).toBe(ErrorCode.STREAM_CLOSED);
        expect((error as StreamError).streamId).toBe(3);
      }
    }
  });

  it('§5.1 closed: a frame received on a closed stream is a stream error of type STREAM_CLOSED', () => {
    expect(() => transition(1, 'closed', 'recv-headers')).toThrow(/closed stream/);
  });

  it('events the diagram does not allow are PROTOCOL_ERROR (e.g. END_STREAM on an idle stream)', () => {
    try {
      transition(1, 'idle', 'send-end-stream');
      expect.unreachable();
    } catch (error) {
      expect((error as StreamError).errorCode).toBe(ErrorCode.PROTOCOL_ERROR);
    }
  });

  it('who may still send: the peer in open and half-closed (local), we in open and half-closed (remote)', () => {
    const states: StreamState[] = ['idle', 'open', 'half-closed-local', 'half-closed-remote', 'closed'];
    expect(states.filter(peerCanSend)).toEqual(['open', 'half-closed-local']);
    expect(states.filter(localCanSend)).toEqual(['open', 'half-closed-remote']);
  });
});
