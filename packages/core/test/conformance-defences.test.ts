/**
 * Scripted-peer conformance, defences (the `Limits` of the connection) and stream-id exhaustion.
 * Time-based rules run on the peer's manual clock.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, SessionClosedError, SettingId, type HeaderField } from '../src/index.js';
import { ScriptedPeer } from './support/scripted-peer.js';

const roles = ['server', 'client'] as const;

/** Resolve to the promise's outcome, or 'pending' if it does not settle while the engine runs. */
async function outcome<T>(promise: Promise<T>, peer: ScriptedPeer): Promise<T | unknown> {
  return Promise.race([promise.then((v) => v, (e: unknown) => e), peer.settle(20).then(() => 'pending')]);
}

describe('Rapid Reset (CVE-2023-44487): limits.maxResetsPerWindow', () => {
  it('server: more peer resets than the limit within the window is ENHANCE_YOUR_CALM', async () => {
    const peer = await ScriptedPeer.start({ role: 'server', limits: { maxResetsPerWindow: 5, resetWindowMs: 1_000 } });
    for (let i = 0; i < 5; i++) {
      peer.request(1 + 2 * i, false);
      peer.send({ kind: 'rst-stream', streamId: 1 + 2 * i, errorCode: ErrorCode.CANCEL });
    }
    await peer.expectAlive();
    peer.request(11, false);
    peer.send({ kind: 'rst-stream', streamId: 11, errorCode: ErrorCode.CANCEL });
    await peer.expectGoaway(ErrorCode.ENHANCE_YOUR_CALM, 11);
  });

  it('server: resets spread over time stay within the budget', async () => {
    const peer = await ScriptedPeer.start({ role: 'server', limits: { maxResetsPerWindow: 5, resetWindowMs: 1_000 } });
    for (let i = 0; i < 20; i++) {
      peer.request(1 + 2 * i, false);
      peer.send({ kind: 'rst-stream', streamId: 1 + 2 * i, errorCode: ErrorCode.CANCEL });
      peer.clock.advance(300);
    }
    await peer.expectAlive();
  });
});

describe('Empty DATA frame flood: limits.maxEmptyDataFrames', () => {
  for (const role of roles) {
    it(`${role}: more consecutive empty DATA frames than the limit is ENHANCE_YOUR_CALM`, async () => {
      const peer = await ScriptedPeer.start({ role, limits: { maxEmptyDataFrames: 10 } });
      const id = role === 'server' ? (peer.request(1, false, [], 'POST'), 1) : peer.open(undefined, false).id;
      if (role === 'client') peer.headers(id, [[':status', '200']], false);
      for (let i = 0; i < 10; i++) peer.data(id, '');
      await peer.expectAlive();
      peer.data(id, 'x'); // a non-empty frame ends the run
      for (let i = 0; i < 10; i++) peer.data(id, '');
      await peer.expectAlive();
      for (let i = 0; i < 11; i++) peer.data(id, '');
      await peer.expectGoaway(ErrorCode.ENHANCE_YOUR_CALM);
    });
  }
});

describe('SETTINGS/PING flood while our output is blocked: limits.maxQueuedControlFrames', () => {
  for (const role of roles) {
    it(`${role}: PINGs answered into a full transport beyond the limit are ENHANCE_YOUR_CALM`, async () => {
      const peer = await ScriptedPeer.start({ role, limits: { maxQueuedControlFrames: 20 } });
      peer.writable = false; // the transport's buffer is full from now on
      for (let i = 0; i < 20; i++) peer.send({ kind: 'ping', ack: false, opaque: new Uint8Array(8) });
      expect(peer.connection.isClosed).toBe(false);
      for (let i = 0; i < 5; i++) peer.send({ kind: 'settings', ack: false, settings: [] });
      await peer.expectGoaway(ErrorCode.ENHANCE_YOUR_CALM);
    });

    it(`${role}: once the transport drains (resume), the count starts again`, async () => {
      const peer = await ScriptedPeer.start({ role, limits: { maxQueuedControlFrames: 20 } });
      peer.writable = false;
      for (let i = 0; i < 15; i++) peer.send({ kind: 'ping', ack: false, opaque: new Uint8Array(8) });
      peer.writable = true;
      peer.connection.resume();
      peer.writable = false;
      for (let i = 0; i < 15; i++) peer.send({ kind: 'settings', ack: false, settings: [] });
      peer.writable = true;
      peer.connection.resume();
      await peer.expectAlive();
    });
  }
});

describe('HPACK bomb: our SETTINGS_MAX_HEADER_LIST_SIZE', () => {
  /** A header list far larger than its block: one dynamic entry referenced again and again. */
  function bomb(peer: ScriptedPeer, first: HeaderField[]): Uint8Array {
    const big: HeaderField = ['x-bomb', 'b'.repeat(1_000)];
    // The peer's encoder indexes the field once; later references cost one octet each.
    return peer.block([...first, big, ...Array.from({ length: 100 }, () => big)]);
  }

  for (const role of roles) {
    it(`${role}: a header list above the limit resets the stream, and later streams decode fine`, async () => {
      const peer = await ScriptedPeer.start({ role, settings: { maxHeaderListSize: 8_192 } });
      const first: HeaderField[] = role === 'server' ? [[':method', 'GET'], [':scheme', 'https'], [':authority', 'a'], [':path', '/']] : [[':status', '200']];
      const id = role === 'server' ? 1 : peer.open().id;
      const block = bomb(peer, first);
      expect(block.length).toBeLessThan(2_000);
      peer.send({ kind: 'headers', streamId: id, endStream: false, endHeaders: true, fragment: block });
      await peer.expectRst(id, ErrorCode.PROTOCOL_ERROR);
      // The bomb's dynamic entry is in both tables: a later small block that references it decodes.
      const next = role === 'server' ? 3 : peer.open().id;
      peer.headers(next, [...first, ['x-bomb', 'b'.repeat(1_000)]], false);
      await peer.expectAlive();
      expect(peer.streams.get(next)!.headers[0]).toContainEqual(['x-bomb', 'b'.repeat(1_000)]);
    });
  }
});

describe('Zero-window stall: limits.stallTimeoutMs', () => {
  for (const role of roles) {
    it(`${role}: a stream the peer keeps at a zero window is reset after the stall timeout`, async () => {
      const peer = await ScriptedPeer.start({ role, limits: { stallTimeoutMs: 5_000 } }, { settings: [[SettingId.INITIAL_WINDOW_SIZE, 0]] });
      const stream = role === 'server' ? (peer.request(1, true), peer.connection.streams.get(1)!) : peer.open(undefined, false);
      if (role === 'server') peer.connection.sendHeaders(stream, [[':status', '200']], false);
      await peer.expectFrame('headers', { streamId: stream.id });
      const sent = peer.connection.sendData(stream, new Uint8Array(10), true);
      sent.catch(() => {});
      await peer.expectSilence();
      peer.clock.advance(4_999);
      await peer.expectSilence();
      peer.clock.advance(1);
      // Not FLOW_CONTROL_ERROR: a closed window is the peer's right (RFC 9113 §6.9), so we cancel.
      await peer.expectRst(stream.id, ErrorCode.CANCEL);
      await expect(sent).rejects.toBeDefined();
      expect(peer.streams.get(stream.id)!.reset).toBeDefined();
    });

    it(`${role}: a window that reopens in time avoids the reset`, async () => {
      const peer = await ScriptedPeer.start({ role, limits: { stallTimeoutMs: 5_000 } }, { settings: [[SettingId.INITIAL_WINDOW_SIZE, 0]] });
      const stream = role === 'server' ? (peer.request(1, true), peer.connection.streams.get(1)!) : peer.open(undefined, false);
      if (role === 'server') peer.connection.sendHeaders(stream, [[':status', '200']], false);
      await peer.expectFrame('headers', { streamId: stream.id });
      const sent = peer.connection.sendData(stream, new Uint8Array(10), true);
      peer.clock.advance(4_000);
      peer.send({ kind: 'window-update', streamId: stream.id, increment: 10 });
      await peer.expectFrame('data', { streamId: stream.id, endStream: true });
      await sent;
      peer.clock.advance(10_000);
      await peer.expectSilence();
    });
  }
});

describe('RFC 9113 §5.1.1 stream-id exhaustion: limits.maxStreamId', () => {
  it('client: fetch past the last stream id sends GOAWAY and fails retryably (no hang)', async () => {
    const peer = await ScriptedPeer.start({ role: 'client', session: {}, limits: { maxStreamId: 3 } });
    const first = peer.session!.fetch('https://example.com/1');
    const second = peer.session!.fetch('https://example.com/2');
    await peer.expectFrame('headers', { streamId: 1 });
    await peer.expectFrame('headers', { streamId: 3 });
    const third = await outcome(peer.session!.fetch('https://example.com/3'), peer);
    expect(third).toBeInstanceOf(SessionClosedError);
    expect((third as SessionClosedError).retryable).toBe(true);
    await peer.expectEventually('goaway', (f) => f.errorCode === ErrorCode.NO_ERROR);
    // Streams in flight still complete.
    peer.headers(1, [[':status', '200']], true);
    peer.headers(3, [[':status', '200']], true);
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
  });
});
