/**
 * Bounds on what a peer can make the HTTP/3 engine keep, found reviewing it as an attacker would:
 * the peer's origin set (RFC 9412), and request streams reset before QUIC opened them.
 */
import { describe, expect, it } from 'vitest';
import { connectQuic, encodeH3Frame, H3Connection, H3ErrorCode, type H3Frame, H3FrameReader, type H3RequestStream, type H3StreamIo, type H3Transport } from '../src/h3/index.js';
import { RHTTP_RESET_STREAM_FRAME, SETTINGS_RHTTP_IN_BAND_RESET } from '../src/h3/in-band-reset.js';
import { ErrorCode } from '../src/errors.js';
import type { ServerStream } from '../src/http/server-stream.js';
import { MAX_PEER_ORIGINS } from '../src/origin/origin-set.js';
import { quicPair } from './support/quic-pair.js';
import { H3ScriptedPeer } from './support/h3-scripted-peer.js';
import { until } from './support/until.js';

describe('the peer origin set (RFC 9412) is bounded', () => {
  it(`origins up to ${MAX_PEER_ORIGINS} are kept; one more closes the connection with H3_EXCESSIVE_LOAD`, async () => {
    const { client: c, server: s } = quicPair();
    const session = connectQuic(c, { role: 'client' });
    const peer = new H3ScriptedPeer(s);
    const origins = Array.from({ length: MAX_PEER_ORIGINS }, (_, i) => `https://o${i}.example`);
    // Several frames, each under the control-frame budget: the set grows across frames.
    const frames = [];
    for (let at = 0; at < origins.length; at += 256) frames.push(encodeH3Frame({ kind: 'origin', origins: origins.slice(at, at + 256) }));
    const writer = await peer.openUni(0x00, { kind: 'settings', settings: [] }, ...frames);
    await until(() => session.peerOrigins.length === MAX_PEER_ORIGINS);
    expect(session.connection.isClosed).toBe(false);
    // Origins already in the set add nothing and cost nothing.
    await writer.write(encodeH3Frame({ kind: 'origin', origins: origins.slice(0, 8) }));
    await writer.write(encodeH3Frame({ kind: 'origin', origins: ['https://one-more.example'] }));
    await until(() => session.connection.isClosed || session.peerOrigins.includes('https://one-more.example'));
    expect(session.peerOrigins).not.toContain('https://one-more.example');
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_EXCESSIVE_LOAD);
  });
});

describe('a request reset before QUIC opened its stream', () => {
  it('is not kept by id once the stream opens (no entry per cancelled request)', () => {
    const pending: H3RequestStream[] = [];
    const resets: number[] = [];
    const io = (): H3StreamIo => ({ write: () => Promise.resolve(), end: () => Promise.resolve(), reset: (code) => void resets.push(code), stopSending: () => {} });
    const transport: H3Transport = { openUnidirectional: io, openBidirectional: (stream) => void pending.push(stream), close: () => {} };
    const connection = new H3Connection(transport, { role: 'client' });
    connection.start();
    const fields: Array<[string, string]> = [[':method', 'GET'], [':scheme', 'https'], [':authority', 'a.example'], [':path', '/']];
    for (let i = 0; i < 3; i++) {
      const stream = connection.openRequest(fields, true, undefined);
      connection.resetStream(stream, H3ErrorCode.H3_REQUEST_CANCELLED);
    }
    expect(connection.openStreams).toBe(0);
    pending.forEach((stream, i) => connection.opened(stream, i * 4, io()));
    // Each late-opened stream is reset on the wire at once...
    expect(resets).toEqual([H3ErrorCode.H3_REQUEST_CANCELLED, H3ErrorCode.H3_REQUEST_CANCELLED, H3ErrorCode.H3_REQUEST_CANCELLED]);
    // ...and nothing keeps it: the by-id index holds only live streams.
    expect((connection as unknown as { byId: Map<number, H3RequestStream> }).byId.size).toBe(0);
  });
});

describe('RHTTP_RESET_STREAM is the last frame before the FIN (in-band-reset.ts)', () => {
  it('a response body reset while a large chunk is being written sends no DATA after it', async () => {
    const { client: c, server: s } = quicPair({ streamWindow: 8 * 1024 });
    let served: ServerStream | undefined;
    connectQuic(s, {
      role: 'server',
      onStream: (stream) => {
        served = stream;
        stream.respond(200, {});
        // One chunk of several DATA frames (64 KiB each): the reset comes while it is being written.
        void stream.write(new Uint8Array(512 * 1024).fill(7)).catch(() => {});
      },
    });
    const peer = new H3ScriptedPeer(c);
    await peer.control({ kind: 'settings', settings: [[SETTINGS_RHTTP_IN_BAND_RESET, 1]] });
    await peer.controlFrameCount(1);
    const request = await peer.request([peer.headers([[':method', 'GET'], [':scheme', 'https'], [':authority', 'a.example'], [':path', '/']])]);
    const reader = new H3FrameReader({ maxFrameBytes: () => 1 << 20 });
    const frames: H3Frame[] = [];
    let reset = false;
    for (;;) {
      const { value, done } = await request.reader.read();
      if (done) break;
      frames.push(...reader.push(value));
      if (!reset && served && frames.some((f) => f.kind === 'data')) {
        reset = true;
        served.reset(ErrorCode.INTERNAL_ERROR);
      }
    }
    const at = frames.findIndex((f) => f.kind === 'unknown' && f.type === RHTTP_RESET_STREAM_FRAME);
    expect(at).toBeGreaterThan(0);
    expect(frames.slice(at + 1).map((f) => f.kind)).toEqual([]);
  });
});
