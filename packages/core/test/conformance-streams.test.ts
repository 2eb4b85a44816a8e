/**
 * Scripted-peer conformance, streams and flow control (RFC 9113 §5.1–§5.4, §6.8, §6.9), in both
 * roles where the rule applies to both.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, FrameType, GOAWAY_ANNOUNCE_LAST_STREAM_ID, GOAWAY_FINAL_DELAY_MS, SessionClosedError, SettingId, StreamResetError, type Stream } from '../src/index.js';
import { ScriptedPeer } from './support/scripted-peer.js';

const roles = ['server', 'client'] as const;
const raw = ScriptedPeer.rawFrame;

/** A stream on which the peer may send DATA (engine: open or half-closed local). */
async function peerSendingStream(peer: ScriptedPeer, engineEnds = false): Promise<number> {
  if (peer.options.role === 'server') {
    peer.request(1, false, [], 'POST');
    if (engineEnds) peer.connection.sendHeaders(peer.connection.streams.get(1)!, [[':status', '200']], true);
    return 1;
  }
  const stream = peer.open(undefined, engineEnds);
  await peer.expectFrame('headers', { streamId: stream.id });
  peer.headers(stream.id, [[':status', '200']], false);
  return stream.id;
}

/** A stream on which the engine may send DATA, with its response/request headers already out. */
async function engineSendingStream(peer: ScriptedPeer): Promise<Stream> {
  if (peer.options.role === 'server') {
    peer.request(1, true);
    const stream = peer.connection.streams.get(1)!;
    peer.connection.sendHeaders(stream, [[':status', '200']], false);
    await peer.expectFrame('headers', { streamId: 1 });
    return stream;
  }
  const stream = peer.open(undefined, false);
  await peer.expectFrame('headers', { streamId: stream.id });
  return stream;
}

/** DATA frames the engine wrote (lengths), after letting it run. */
async function dataSizes(peer: ScriptedPeer): Promise<number[]> {
  return (await peer.drain()).flatMap((f) => (f.kind === 'data' ? [f.data.length] : []));
}

describe('RFC 9113 §5.1 stream states: idle', () => {
  for (const role of roles) {
    const idle = role === 'server' ? 1 : 2;
    it(`${role}: DATA on an idle stream is a connection error of type PROTOCOL_ERROR`, async () => {
      const peer = await ScriptedPeer.start({ role });
      peer.data(idle, 'x');
      await peer.expectGoaway(ErrorCode.PROTOCOL_ERROR);
    });

    it(`${role}: RST_STREAM on an idle stream is a PROTOCOL_ERROR (§6.4)`, async () => {
      const peer = await ScriptedPeer.start({ role });
      peer.send({ kind: 'rst-stream', streamId: idle, errorCode: ErrorCode.CANCEL });
      await peer.expectGoaway(ErrorCode.PROTOCOL_ERROR);
    });

    it(`${role}: WINDOW_UPDATE on an idle stream is a PROTOCOL_ERROR`, async () => {
      const peer = await ScriptedPeer.start({ role });
      peer.send({ kind: 'window-update', streamId: idle, increment: 100 });
      await peer.expectGoaway(ErrorCode.PROTOCOL_ERROR);
    });

    it(`${role}: CONTINUATION on an idle stream is a PROTOCOL_ERROR`, async () => {
      const peer = await ScriptedPeer.start({ role });
      peer.send({ kind: 'continuation', streamId: idle, endHeaders: true, fragment: new Uint8Array(0) });
      await peer.expectGoaway(ErrorCode.PROTOCOL_ERROR);
    });
  }

  it('client: HEADERS on a stream the client never opened is a PROTOCOL_ERROR', async () => {
    const peer = await ScriptedPeer.start({ role: 'client' });
    peer.headers(1, [[':status', '200']], true);
    await peer.expectGoaway(ErrorCode.PROTOCOL_ERROR);
  });
});

describe('RFC 9113 §5.1 stream states: half-closed (remote) and closed', () => {
  for (const role of roles) {
    it(`${role}: DATA after END_STREAM is a stream error of type STREAM_CLOSED`, async () => {
      const peer = await ScriptedPeer.start({ role });
      const id = await peerSendingStream(peer);
      peer.data(id, 'end', true);
      peer.data(id, 'more');
      await peer.expectRst(id, ErrorCode.STREAM_CLOSED);
      await peer.expectAlive();
    });

    it(`${role}: HEADERS after END_STREAM is a stream error of type STREAM_CLOSED`, async () => {
      const peer = await ScriptedPeer.start({ role });
      const id = await peerSendingStream(peer);
      peer.data(id, 'end', true);
      peer.headers(id, [['x-trailer', '1']], true);
      await peer.expectRst(id, ErrorCode.STREAM_CLOSED);
      await peer.expectAlive();
    });

    it(`${role}: WINDOW_UPDATE, PRIORITY and RST_STREAM are allowed in half-closed (remote)`, async () => {
      const peer = await ScriptedPeer.start({ role });
      const id = await peerSendingStream(peer);
      peer.data(id, 'end', true);
      peer.send({ kind: 'window-update', streamId: id, increment: 1 });
      peer.send({ kind: 'priority', streamId: id, priority: { exclusive: false, dependency: 0, weight: 1 } });
      await peer.expectAlive();
      peer.send({ kind: 'rst-stream', streamId: id, errorCode: ErrorCode.CANCEL });
      await peer.expectAlive();
      expect(peer.connection.streams.has(id)).toBe(false);
    });

    it(`${role}: HEADERS on a stream closed in both directions is STREAM_CLOSED`, async () => {
      const peer = await ScriptedPeer.start({ role });
      const id = await peerSendingStream(peer, true);
      peer.data(id, 'end', true);
      await peer.settle();
      expect(peer.connection.streams.has(id)).toBe(false);
      peer.headers(id, [['x-late', '1']], true);
      const frame = await peer.expectEventually('goaway');
      expect(frame.errorCode).toBe(ErrorCode.STREAM_CLOSED);
    });

    it(`${role}: DATA on a stream closed in both directions is a stream error of type STREAM_CLOSED`, async () => {
      const peer = await ScriptedPeer.start({ role });
      const id = await peerSendingStream(peer, true);
      peer.data(id, 'end', true);
      peer.data(id, 'late');
      await peer.expectRst(id, ErrorCode.STREAM_CLOSED);
    });

    it(`${role}: DATA or HEADERS after the peer's own RST_STREAM is a stream error of type STREAM_CLOSED`, async () => {
      const peer = await ScriptedPeer.start({ role });
      const id = await peerSendingStream(peer);
      peer.send({ kind: 'rst-stream', streamId: id, errorCode: ErrorCode.CANCEL });
      peer.send({ kind: 'priority', streamId: id, priority: { exclusive: false, dependency: 0, weight: 16 } });
      await peer.expectAlive();
      peer.data(id, 'after reset');
      await peer.expectRst(id, ErrorCode.STREAM_CLOSED);
      // Our RST closes the matter: later frames on the stream are ignored, not answered again.
      peer.headers(id, [['x-trailer', '1']], true);
      peer.data(id, 'again');
      await peer.expectSilence();
    });

    it(`${role}: HEADERS after the peer's own RST_STREAM is a stream error of type STREAM_CLOSED`, async () => {
      const peer = await ScriptedPeer.start({ role });
      const id = await peerSendingStream(peer);
      peer.send({ kind: 'rst-stream', streamId: id, errorCode: ErrorCode.CANCEL });
      peer.headers(id, [['x-trailer', '1']], true);
      await peer.expectRst(id, ErrorCode.STREAM_CLOSED);
      await peer.expectAlive();
    });

    it(`${role}: frames in flight after our RST_STREAM are ignored, and their DATA is credited back`, async () => {
      const peer = await ScriptedPeer.start({ role, connectionWindow: 65_535 });
      const id = await peerSendingStream(peer);
      const stream = peer.connection.streams.get(id)!;
      peer.connection.resetStream(stream, ErrorCode.CANCEL);
      await peer.expectRst(id, ErrorCode.CANCEL);
      peer.data(id, new Uint8Array(20_000));
      peer.send({ kind: 'window-update', streamId: id, increment: 10 });
      peer.data(id, new Uint8Array(20_000));
      peer.headers(id, [['x-trailer', '1']], true);
      peer.send({ kind: 'rst-stream', streamId: id, errorCode: ErrorCode.CANCEL });
      const frames = await peer.drain();
      // Nothing about the stream, but the connection window comes back (§6.9: DATA counts even on closed streams).
      expect(frames.filter((f) => f.kind !== 'window-update')).toEqual([]);
      const credited = frames.reduce((n, f) => n + (f.kind === 'window-update' && f.streamId === 0 ? f.increment : 0), 0);
      expect(credited).toBe(40_000);
      await peer.expectAlive();
    });
  }
});

describe('RFC 9113 §5.1.1 stream identifiers', () => {
  it('server: a client stream with an even id is a PROTOCOL_ERROR', async () => {
    const peer = await ScriptedPeer.start({ role: 'server' });
    peer.request(2);
    await peer.expectGoaway(ErrorCode.PROTOCOL_ERROR);
  });

  it('server: a stream id lower than one already used is a PROTOCOL_ERROR', async () => {
    const peer = await ScriptedPeer.start({ role: 'server' });
    peer.request(5);
    peer.request(3);
    await peer.expectGoaway(ErrorCode.PROTOCOL_ERROR, 5);
  });

  it('server: reusing the id of a stream the client reset is a PROTOCOL_ERROR or STREAM_CLOSED, never a new request', async () => {
    const peer = await ScriptedPeer.start({ role: 'server' });
    peer.request(1, false);
    peer.send({ kind: 'rst-stream', streamId: 1, errorCode: ErrorCode.CANCEL });
    peer.request(1);
    await peer.settle();
    expect(peer.streams.get(1)!.headers).toHaveLength(1);
  });

  it('client: stream ids go up by two from 1', async () => {
    const peer = await ScriptedPeer.start({ role: 'client' });
    const ids = [peer.open().id, peer.open().id, peer.open().id];
    expect(ids).toEqual([1, 3, 5]);
  });

  it('client: once ids are exhausted the engine sends GOAWAY and opening fails retryably', async () => {
    const peer = await ScriptedPeer.start({ role: 'client', limits: { maxStreamId: 3 } });
    peer.open();
    peer.open();
    let error: unknown;
    try {
      peer.open();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SessionClosedError);
    expect((error as SessionClosedError).retryable).toBe(true);
    await peer.expectEventually('goaway', (f) => f.errorCode === ErrorCode.NO_ERROR);
  });
});

describe('RFC 9113 §5.1.2 stream concurrency', () => {
  it('server: streams above our SETTINGS_MAX_CONCURRENT_STREAMS are refused with REFUSED_STREAM', async () => {
    const peer = await ScriptedPeer.start({ role: 'server', settings: { maxConcurrentStreams: 2 } });
    peer.request(1, false);
    peer.request(3, false);
    peer.request(5, false);
    await peer.expectRst(5, ErrorCode.REFUSED_STREAM);
    // A slot frees up: the next stream is accepted.
    peer.send({ kind: 'rst-stream', streamId: 1, errorCode: ErrorCode.CANCEL });
    peer.request(7, false);
    await peer.expectAlive();
    expect(peer.connection.streams.has(7)).toBe(true);
  });

  it('client: the engine opens no more streams than the peer allows', async () => {
    const peer = await ScriptedPeer.start({ role: 'client' }, { settings: [[SettingId.MAX_CONCURRENT_STREAMS, 1]] });
    const first = peer.open(undefined, true);
    expect(peer.connection.canOpenStream).toBe(false);
    expect(() => peer.open()).toThrow(/concurrent/);
    peer.headers(first.id, [[':status', '204']], true);
    await peer.settle();
    expect(peer.connection.canOpenStream).toBe(true);
  });
});

describe('RFC 9113 §5.4.1 connection error handling', () => {
  for (const role of roles) {
    it(`${role}: GOAWAY carries the last peer stream id and a reason in its debug data, then the transport closes`, async () => {
      const peer = await ScriptedPeer.start({ role });
      if (role === 'server') {
        peer.request(1, false);
        peer.request(3, false);
      }
      peer.sendRaw(raw(FrameType.PING, 0, 0, new Uint8Array(7)));
      const goaway = await peer.expectGoaway(ErrorCode.FRAME_SIZE_ERROR, role === 'server' ? 3 : 0);
      expect(new TextDecoder().decode(goaway.debugData)).toMatch(/PING/);
      expect(peer.closeError).toMatchObject({ errorCode: ErrorCode.FRAME_SIZE_ERROR });
      // Nothing is processed after a connection error.
      peer.send({ kind: 'ping', ack: false, opaque: new Uint8Array(8) });
      await peer.expectSilence();
    });
  }
});

describe('RFC 9113 §6.8 GOAWAY', () => {
  it('client: streams above last-stream-id fail retryably; those below finish', async () => {
    const peer = await ScriptedPeer.start({ role: 'client' });
    const a = peer.open(undefined, true);
    const b = peer.open(undefined, true);
    peer.send({ kind: 'goaway', lastStreamId: a.id, errorCode: ErrorCode.NO_ERROR, debugData: new Uint8Array(0) });
    await peer.settle();
    const reset = peer.streams.get(b.id)!.reset as StreamResetError;
    expect(reset).toBeInstanceOf(StreamResetError);
    expect(reset.retryable).toBe(true);
    expect(peer.streams.get(a.id)!.reset).toBeUndefined();
    expect(() => peer.open()).toThrow(SessionClosedError);
    peer.headers(a.id, [[':status', '200']], true);
    await peer.settle();
    expect(peer.streams.get(a.id)!.ended).toBe(true);
    expect(peer.transportClosed).toBe(true);
    expect(peer.closeError).toBeUndefined();
  });

  it('client: a session fetch on a stream above last-stream-id rejects with a retryable error', async () => {
    const peer = await ScriptedPeer.start({ role: 'client', session: {} });
    const pending = peer.session!.fetch('https://example.com/');
    const headers = await peer.expectFrame('headers');
    peer.send({ kind: 'goaway', lastStreamId: 0, errorCode: ErrorCode.NO_ERROR, debugData: new Uint8Array(0) });
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamResetError);
    expect((error as StreamResetError).retryable).toBe(true);
    expect(headers.streamId).toBe(1);
  });

  it('server: graceful GOAWAY goes in two phases: 2^31-1 first, streams racing it are served, then the real last id, then close after the drain', async () => {
    const peer = await ScriptedPeer.start({ role: 'server' });
    peer.request(1, true);
    await peer.settle();
    peer.connection.goaway();
    // §6.8: the initial GOAWAY carries the last stream identifier 2^31-1 and NO_ERROR ...
    const first = await peer.expectGoaway(ErrorCode.NO_ERROR, GOAWAY_ANNOUNCE_LAST_STREAM_ID);
    expect(first.lastStreamId).toBe(2 ** 31 - 1);
    // ... followed by a PING that measures the round trip.
    const ping = await peer.expectFrame('ping', { ack: false });
    expect(peer.connection.draining).toBe(true);
    expect(() => peer.open()).toThrow(SessionClosedError);
    // A request the peer sent before it read the GOAWAY is still served.
    peer.request(3, false);
    await peer.settle();
    expect(peer.streams.get(3)?.headers).toHaveLength(1);
    expect(peer.connection.streams.has(3)).toBe(true);
    await peer.expectSilence();
    // The PING ACK ends the wait: the final GOAWAY names the last stream the peer opened.
    peer.send({ kind: 'ping', ack: true, opaque: ping.opaque });
    const final = await peer.expectGoaway(ErrorCode.NO_ERROR, 3);
    expect(final.lastStreamId).toBe(3);
    // Streams above the final last-stream-id are never processed, nor the frames that follow on them.
    peer.request(5, true);
    peer.request(7, false);
    peer.data(7, 'body');
    peer.headers(7, [['x-trailer', '1']], true);
    await peer.expectSilence();
    expect(peer.streams.has(5)).toBe(false);
    expect(peer.streams.has(7)).toBe(false);
    // The stream opened between the two GOAWAYs works as any other.
    peer.data(3, 'late body', true);
    await peer.settle();
    expect(new TextDecoder().decode(peer.streams.get(3)!.data[0])).toBe('late body');
    expect(peer.streams.get(3)!.ended).toBe(true);
    peer.connection.sendHeaders(peer.connection.streams.get(1)!, [[':status', '204']], true);
    await peer.expectFrame('headers', { streamId: 1, endStream: true });
    expect(peer.transportClosed).toBe(false);
    peer.connection.sendHeaders(peer.connection.streams.get(3)!, [[':status', '204']], true);
    await peer.expectFrame('headers', { streamId: 3, endStream: true });
    expect(peer.transportClosed).toBe(true);
    expect(peer.closeError).toBeUndefined();
  });

  it('server: a peer that never answers the PING gets the final GOAWAY after GOAWAY_FINAL_DELAY_MS', async () => {
    const peer = await ScriptedPeer.start({ role: 'server' });
    peer.connection.goaway();
    await peer.expectGoaway(ErrorCode.NO_ERROR, GOAWAY_ANNOUNCE_LAST_STREAM_ID);
    await peer.expectFrame('ping', { ack: false });
    peer.request(1, true);
    peer.clock.advance(GOAWAY_FINAL_DELAY_MS - 1);
    await peer.expectSilence();
    expect(peer.connection.streams.has(1)).toBe(true);
    peer.clock.advance(1);
    await peer.expectGoaway(ErrorCode.NO_ERROR, 1);
    expect(peer.transportClosed).toBe(false);
    peer.connection.sendHeaders(peer.connection.streams.get(1)!, [[':status', '204']], true);
    await peer.expectFrame('headers', { streamId: 1, endStream: true });
    expect(peer.transportClosed).toBe(true);
    expect(peer.clock.pendingTimers).toBe(0);
  });

  for (const role of roles) {
    it(`${role}: an idle connection stays open until the final GOAWAY, then closes`, async () => {
      const peer = await ScriptedPeer.start({ role });
      peer.connection.goaway(ErrorCode.NO_ERROR, 'shutting down');
      const first = await peer.expectGoaway(ErrorCode.NO_ERROR, GOAWAY_ANNOUNCE_LAST_STREAM_ID);
      expect(new TextDecoder().decode(first.debugData)).toBe('shutting down');
      const ping = await peer.expectFrame('ping', { ack: false });
      await peer.settle();
      expect(peer.transportClosed).toBe(false);
      peer.send({ kind: 'ping', ack: true, opaque: ping.opaque });
      const final = await peer.expectGoaway(ErrorCode.NO_ERROR, 0);
      expect(new TextDecoder().decode(final.debugData)).toBe('shutting down');
      await peer.settle();
      expect(peer.transportClosed).toBe(true);
      expect(peer.closeError).toBeUndefined();
      // Calling it again changes nothing.
      peer.connection.goaway();
      await peer.expectSilence();
    });

    it(`${role}: a connection error during the first phase sends the real last stream id`, async () => {
      const peer = await ScriptedPeer.start({ role });
      if (role === 'server') peer.request(1, false);
      peer.connection.goaway();
      await peer.expectGoaway(ErrorCode.NO_ERROR, GOAWAY_ANNOUNCE_LAST_STREAM_ID);
      await peer.expectFrame('ping', { ack: false });
      peer.sendRaw(raw(FrameType.PING, 0, 0, new Uint8Array(7)));
      await peer.expectGoaway(ErrorCode.FRAME_SIZE_ERROR, role === 'server' ? 1 : 0);
      expect(peer.clock.pendingTimers).toBe(0);
    });
  }

  it('client: graceful GOAWAY lets our in-flight request finish and closes after the final GOAWAY', async () => {
    const peer = await ScriptedPeer.start({ role: 'client' });
    const a = peer.open(undefined, true);
    await peer.expectFrame('headers', { streamId: a.id });
    peer.connection.goaway();
    await peer.expectGoaway(ErrorCode.NO_ERROR, GOAWAY_ANNOUNCE_LAST_STREAM_ID);
    const ping = await peer.expectFrame('ping', { ack: false });
    peer.send({ kind: 'ping', ack: true, opaque: ping.opaque });
    // A client's last-stream-id counts server-initiated (pushed) streams: none.
    await peer.expectGoaway(ErrorCode.NO_ERROR, 0);
    expect(peer.transportClosed).toBe(false);
    peer.headers(a.id, [[':status', '200']], true);
    await peer.settle();
    expect(peer.streams.get(a.id)!.ended).toBe(true);
    expect(peer.transportClosed).toBe(true);
    expect(peer.closeError).toBeUndefined();
  });

  for (const role of roles) {
    it(`${role}: GOAWAY with an error code ends the connection at once`, async () => {
      const peer = await ScriptedPeer.start({ role });
      peer.send({ kind: 'goaway', lastStreamId: 0, errorCode: ErrorCode.INTERNAL_ERROR, debugData: new TextEncoder().encode('bye') });
      await peer.settle();
      expect(peer.transportClosed).toBe(true);
      expect(peer.closeError?.message).toMatch(/INTERNAL_ERROR: bye/);
    });
  }
});

describe('RFC 9113 §6.9 flow control', () => {
  for (const role of roles) {
    it(`${role}: DATA beyond the stream window is a stream error of type FLOW_CONTROL_ERROR`, async () => {
      const peer = await ScriptedPeer.start({ role, settings: { initialWindowSize: 100 } });
      const id = await peerSendingStream(peer);
      peer.data(id, new Uint8Array(100));
      await peer.expectAlive();
      peer.data(id, new Uint8Array(1));
      await peer.expectRst(id, ErrorCode.FLOW_CONTROL_ERROR);
    });

    it(`${role}: DATA beyond the connection window is a connection error of type FLOW_CONTROL_ERROR`, async () => {
      const peer = await ScriptedPeer.start({ role, connectionWindow: 65_535 });
      const id = await peerSendingStream(peer);
      // One frame fills the window exactly; the credit comes back on receipt (see below), so the
      // window is 65,535 again and one frame one octet larger overruns it.
      peer.data(id, new Uint8Array(65_535));
      await peer.expectEventually('window-update', (f) => f.streamId === 0 && f.increment === 65_535);
      peer.data(id, new Uint8Array(65_536));
      await peer.expectGoaway(ErrorCode.FLOW_CONTROL_ERROR);
    });

    it(`${role}: a stream whose reader does not read holds its stream window, never the connection's`, async () => {
      const peer = await ScriptedPeer.start({ role, connectionWindow: 65_535, settings: { initialWindowSize: 65_535 } });
      const stalled = await peerSendingStream(peer);
      // Nobody consumes stream 1's DATA (the bare Connection's listener records without consuming).
      peer.data(stalled, new Uint8Array(65_535));
      const update = await peer.expectEventually('window-update', (f) => f.streamId === 0);
      expect(update.increment).toBe(65_535);
      expect(peer.connection.bufferedBytes).toBe(65_535);
      // The stalled stream's own window stays closed: one more octet on it is its error alone.
      peer.data(stalled, new Uint8Array(1));
      await peer.expectRst(stalled, ErrorCode.FLOW_CONTROL_ERROR);
      await peer.expectAlive();
      expect(peer.connection.bufferedBytes).toBe(0);
    });

    it(`${role}: beyond limits.maxBufferedBytes the stream whose reader went longest without reading is reset with CANCEL`, async () => {
      const peer = await ScriptedPeer.start({ role, limits: { maxBufferedBytes: 100_000 } });
      const ids: number[] = [];
      if (role === 'server') {
        for (const id of [1, 3, 5]) peer.request(id, false, [], 'POST');
        ids.push(1, 3, 5);
      } else {
        for (let i = 0; i < 3; i++) {
          const s = peer.open(undefined, true);
          await peer.expectFrame('headers', { streamId: s.id });
          peer.headers(s.id, [[':status', '200']], false);
          ids.push(s.id);
        }
      }
      const [first, second, third] = ids;
      peer.data(first, new Uint8Array(40_000));
      peer.data(second, new Uint8Array(40_000));
      await peer.settle();
      // The second stream's reader takes its DATA: the first is now the longest without reading.
      peer.connection.consume(peer.connection.streams.get(second)!, 40_000);
      peer.data(second, new Uint8Array(30_000));
      peer.data(third, new Uint8Array(40_000));
      await peer.expectRst(first, ErrorCode.CANCEL);
      expect(peer.streams.get(first)!.reset?.message).toMatch(/maxBufferedBytes/);
      expect(peer.streams.get(second)!.reset).toBeUndefined();
      expect(peer.streams.get(third)!.reset).toBeUndefined();
      expect(peer.connection.bufferedBytes).toBe(70_000);
      expect(peer.connection.budgetResets).toBe(1);
      await peer.expectAlive();
    });

    it(`${role}: a stream opened later that never reads is reset before an earlier one that keeps up (staleness counts from the first unread DATA)`, async () => {
      const peer = await ScriptedPeer.start({ role, limits: { maxBufferedBytes: 100_000 } });
      let nextPeerId = 1;
      const open = async (): Promise<number> => {
        if (role === 'server') {
          const id = nextPeerId;
          nextPeerId += 2;
          peer.request(id, false, [], 'POST');
          return id;
        }
        const s = peer.open(undefined, true);
        await peer.expectFrame('headers', { streamId: s.id });
        peer.headers(s.id, [[':status', '200']], false);
        return s.id;
      };
      const keepsUp = await open();
      peer.data(keepsUp, new Uint8Array(40_000));
      await peer.settle();
      peer.connection.consume(peer.connection.streams.get(keepsUp)!, 40_000);
      // Two streams opened after its last read, which never read what they get.
      const late = [await open(), await open()];
      for (const id of late) peer.data(id, new Uint8Array(40_000));
      await peer.settle();
      // More for the stream that keeps up, just arrived: over the budget.
      peer.data(keepsUp, new Uint8Array(30_000));
      await peer.expectRst(late[0], ErrorCode.CANCEL);
      expect(peer.streams.get(keepsUp)?.reset).toBeUndefined();
      expect(peer.connection.budgetResets).toBe(1);
      await peer.expectAlive();
    });

    it(`${role}: a stream that ended with its DATA unread stays in the buffer budget until it is read`, async () => {
      const peer = await ScriptedPeer.start({ role, limits: { maxBufferedBytes: 50_000 } });
      const id = await peerSendingStream(peer, true);
      peer.data(id, new Uint8Array(40_000), true);
      await peer.settle();
      expect(peer.connection.streams.has(id)).toBe(false);
      expect(peer.connection.bufferedBytes).toBe(40_000);
      const other = role === 'server' ? (peer.request(3, false, [], 'POST'), 3) : await (async () => {
        const s = peer.open(undefined, true);
        await peer.expectFrame('headers', { streamId: s.id });
        peer.headers(s.id, [[':status', '200']], false);
        return s.id;
      })();
      peer.data(other, new Uint8Array(20_000));
      await peer.settle();
      // The ended stream is written off (its reader hears a reset); nothing goes on the wire for it.
      expect(peer.streams.get(id)!.reset?.message).toMatch(/maxBufferedBytes/);
      expect(peer.connection.bufferedBytes).toBe(20_000);
      expect(peer.streams.get(other)!.reset).toBeUndefined();
    });

    it(`${role}: WINDOW_UPDATE of 0 on a stream is a stream error of type PROTOCOL_ERROR`, async () => {
      const peer = await ScriptedPeer.start({ role });
      const id = await peerSendingStream(peer);
      peer.send({ kind: 'window-update', streamId: id, increment: 0 });
      await peer.expectRst(id, ErrorCode.PROTOCOL_ERROR);
    });

    it(`${role}: WINDOW_UPDATE of 0 on the connection is a PROTOCOL_ERROR`, async () => {
      const peer = await ScriptedPeer.start({ role });
      peer.send({ kind: 'window-update', streamId: 0, increment: 0 });
      await peer.expectGoaway(ErrorCode.PROTOCOL_ERROR);
    });

    it(`${role}: WINDOW_UPDATE of the wrong length is a FRAME_SIZE_ERROR`, async () => {
      const peer = await ScriptedPeer.start({ role });
      peer.sendRaw(raw(FrameType.WINDOW_UPDATE, 0, 0, [0, 0, 1]));
      await peer.expectGoaway(ErrorCode.FRAME_SIZE_ERROR);
    });

    it(`${role}: a connection window above 2^31-1 is a FLOW_CONTROL_ERROR (§6.9.1)`, async () => {
      const peer = await ScriptedPeer.start({ role });
      peer.send({ kind: 'window-update', streamId: 0, increment: 2 ** 31 - 1 });
      await peer.expectGoaway(ErrorCode.FLOW_CONTROL_ERROR);
    });

    it(`${role}: a stream window above 2^31-1 is a stream error of type FLOW_CONTROL_ERROR (§6.9.1)`, async () => {
      const peer = await ScriptedPeer.start({ role });
      const id = await peerSendingStream(peer);
      peer.send({ kind: 'window-update', streamId: id, increment: 2 ** 31 - 1 });
      await peer.expectRst(id, ErrorCode.FLOW_CONTROL_ERROR);
      await peer.expectAlive();
    });

    it(`${role}: the engine never sends more than the peer's stream window`, async () => {
      const peer = await ScriptedPeer.start({ role }, { settings: [[SettingId.INITIAL_WINDOW_SIZE, 10]] });
      const stream = await engineSendingStream(peer);
      const sent = peer.connection.sendData(stream, new Uint8Array(25), true);
      expect(await dataSizes(peer)).toEqual([10]);
      peer.send({ kind: 'window-update', streamId: stream.id, increment: 5 });
      expect(await dataSizes(peer)).toEqual([5]);
      peer.send({ kind: 'window-update', streamId: stream.id, increment: 100 });
      const last = await peer.expectFrame('data', { endStream: true });
      expect(last.data.length).toBe(10);
      await sent;
    });

    it(`${role}: the engine never sends more than the peer's connection window`, async () => {
      const peer = await ScriptedPeer.start({ role }, { settings: [[SettingId.INITIAL_WINDOW_SIZE, 1 << 20]] });
      const stream = await engineSendingStream(peer);
      void peer.connection.sendData(stream, new Uint8Array(70_000), true);
      const first = await dataSizes(peer);
      expect(first.reduce((a, b) => a + b, 0)).toBe(65_535);
      peer.send({ kind: 'window-update', streamId: 0, increment: 4_465 });
      expect(await dataSizes(peer)).toEqual([4_465]);
    });

    it(`${role}: several SETTINGS_INITIAL_WINDOW_SIZE values in one frame apply in order (§6.5.3)`, async () => {
      const peer = await ScriptedPeer.start({ role }, { settings: [[SettingId.INITIAL_WINDOW_SIZE, 100], [SettingId.INITIAL_WINDOW_SIZE, 1]] });
      const stream = await engineSendingStream(peer);
      void peer.connection.sendData(stream, new Uint8Array(50), true);
      expect(await dataSizes(peer)).toEqual([1]);
    });

    it(`${role}: §6.9.2 a smaller SETTINGS_INITIAL_WINDOW_SIZE makes the window negative; sending resumes only when it is positive again`, async () => {
      const peer = await ScriptedPeer.start({ role }, { settings: [[SettingId.INITIAL_WINDOW_SIZE, 1_000]] });
      const stream = await engineSendingStream(peer);
      void peer.connection.sendData(stream, new Uint8Array(2_000), true);
      expect(await dataSizes(peer)).toEqual([1_000]);
      peer.send({ kind: 'settings', ack: false, settings: [[SettingId.INITIAL_WINDOW_SIZE, 500]] });
      await peer.expectFrame('settings', { ack: true });
      expect(stream.sendWindow.window).toBe(-500);
      peer.send({ kind: 'window-update', streamId: stream.id, increment: 400 });
      expect(await dataSizes(peer)).toEqual([]);
      peer.send({ kind: 'window-update', streamId: stream.id, increment: 300 });
      expect(await dataSizes(peer)).toEqual([200]);
      // A larger value later adds the difference to the open stream.
      peer.send({ kind: 'settings', ack: false, settings: [[SettingId.INITIAL_WINDOW_SIZE, 1_300]] });
      const after = await peer.drain();
      expect(after.filter((f) => f.kind === 'data').map((f) => (f.kind === 'data' ? f.data.length : 0))).toEqual([800]);
    });

    it(`${role}: a SETTINGS_INITIAL_WINDOW_SIZE change that overflows a stream window is a FLOW_CONTROL_ERROR (§6.9.2)`, async () => {
      const peer = await ScriptedPeer.start({ role });
      const stream = await engineSendingStream(peer);
      peer.send({ kind: 'window-update', streamId: stream.id, increment: 2 ** 31 - 1 - 65_535 });
      peer.send({ kind: 'settings', ack: false, settings: [[SettingId.INITIAL_WINDOW_SIZE, 65_536]] });
      await peer.expectGoaway(ErrorCode.FLOW_CONTROL_ERROR);
    });

    it(`${role}: WINDOW_UPDATE is sent only as the application consumes body bytes`, async () => {
      const peer = await ScriptedPeer.start({ role, settings: { initialWindowSize: 65_536 } });
      const id = await peerSendingStream(peer);
      for (let i = 0; i < 4; i++) peer.data(id, new Uint8Array(16_384));
      expect((await peer.drain()).filter((f) => f.kind === 'window-update')).toEqual([]);
      const stream = peer.connection.streams.get(id)!;
      peer.connection.consume(stream, 16_384);
      expect((await peer.drain()).filter((f) => f.kind === 'window-update')).toEqual([]);
      peer.connection.consume(stream, 16_384);
      const updates = (await peer.drain()).filter((f) => f.kind === 'window-update' && f.streamId === id);
      expect(updates).toMatchObject([{ increment: 32_768 }]);
      // The window is full again for what was consumed: 32 KiB more is accepted, 1 octet beyond is not.
      peer.data(id, new Uint8Array(32_768));
      await peer.expectAlive();
      peer.data(id, new Uint8Array(1));
      await peer.expectRst(id, ErrorCode.FLOW_CONTROL_ERROR);
    });
  }
});
