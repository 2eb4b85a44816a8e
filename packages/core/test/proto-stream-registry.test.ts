/**
 * The stream registry on its own (RFC 9113 §5.1, §5.1.1): which ids are idle, how closed streams
 * are remembered and forgotten, and what a frame for a stream no longer held costs. The same rules
 * seen through a scripted peer are in conformance-streams.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ConnectionError, ErrorCode, StreamError } from '../src/errors.js';
import { Stream } from '../src/proto/stream.js';
import { CLOSED_STREAMS_REMEMBERED, StreamRegistry } from '../src/proto/stream-registry.js';
import { caught } from './support/manual.js';


describe('RFC 9113 §5.1 stream registry', () => {
  it('§5.1.1: a client opens odd ids from 1, a server even ids from 2; ours not yet reached are idle', () => {
    const client = new StreamRegistry('client');
    const server = new StreamRegistry('server');
    expect(client.nextStreamId).toBe(1);
    expect(server.nextStreamId).toBe(2);
    expect(client.isIdle(1)).toBe(true);
    client.nextStreamId = 3;
    expect(client.isIdle(1)).toBe(false);
    expect(client.isIdle(3)).toBe(true);
  });

  it('§5.1: a peer id above the last the peer opened is idle; at or below it is not', () => {
    const server = new StreamRegistry('server');
    server.lastPeerStreamId = 5;
    expect(server.isIdle(7)).toBe(true);
    expect(server.isIdle(5)).toBe(false);
    expect(server.isIdle(3)).toBe(false);
  });

  it('open counts follow the initiator: add and remove count each side apart; a second remove is a no-op', () => {
    const server = new StreamRegistry('server');
    const peer = new Stream(1, 65_535, 65_535);
    const ours = new Stream(2, 65_535, 65_535);
    server.add(peer);
    server.add(ours);
    expect([server.openPeer, server.openLocal]).toEqual([1, 1]);
    expect(server.get(1)).toBe(peer);
    expect(server.remove(peer, 'ended')).toBe(true);
    expect(server.remove(peer, 'ended')).toBe(false);
    expect([server.openPeer, server.openLocal]).toEqual([0, 1]);
    expect(server.get(1)).toBeUndefined();
    expect(server.howClosed(1)).toBe('ended');
  });

  it('§5.1: a frame on an idle stream is a connection error of type PROTOCOL_ERROR', () => {
    const server = new StreamRegistry('server');
    const error = caught(() => server.frameForMissingStream(9, 'WINDOW_UPDATE'));
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).errorCode).toBe(ErrorCode.PROTOCOL_ERROR);
  });

  it('§5.1: after the peer reset a stream, any frame on it is a stream error of type STREAM_CLOSED', () => {
    const server = new StreamRegistry('server');
    server.lastPeerStreamId = 1;
    server.rememberClosed(1, 'peer-reset');
    const error = caught(() => server.frameForMissingStream(1, 'DATA'));
    expect(error).toBeInstanceOf(StreamError);
    expect((error as StreamError).errorCode).toBe(ErrorCode.STREAM_CLOSED);
  });

  it('§5.1: after END_STREAM both ways, DATA is a stream error and HEADERS a connection error, both STREAM_CLOSED', () => {
    const server = new StreamRegistry('server');
    server.lastPeerStreamId = 1;
    server.rememberClosed(1, 'ended');
    const data = caught(() => server.frameForMissingStream(1, 'DATA'));
    const headers = caught(() => server.frameForMissingStream(1, 'HEADERS'));
    expect(data).toBeInstanceOf(StreamError);
    expect((data as StreamError).errorCode).toBe(ErrorCode.STREAM_CLOSED);
    expect(headers).toBeInstanceOf(ConnectionError);
    expect((headers as ConnectionError).errorCode).toBe(ErrorCode.STREAM_CLOSED);
  });

  it('§5.1: frames in flight on a stream we reset are ignored', () => {
    const server = new StreamRegistry('server');
    server.lastPeerStreamId = 3;
    server.rememberClosed(3, 'reset');
    expect(caught(() => server.frameForMissingStream(3, 'DATA'))).toBeUndefined();
  });

  it('§5.1.1: a peer id skipped over (below one the peer opened later, never used) is a connection error of type PROTOCOL_ERROR', () => {
    const server = new StreamRegistry('server');
    server.lastPeerStreamId = 7;
    const error = caught(() => server.frameForMissingStream(5, 'DATA'));
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).errorCode).toBe(ErrorCode.PROTOCOL_ERROR);
  });

  it(`§5.1: only the last ${CLOSED_STREAMS_REMEMBERED} closed ids are remembered; a frame on a forgotten one is ignored, not mistaken for a skipped id`, () => {
    const server = new StreamRegistry('server');
    const total = CLOSED_STREAMS_REMEMBERED + 2;
    for (let i = 0; i < total; i++) server.rememberClosed(2 * i + 1, 'ended');
    server.lastPeerStreamId = 2 * (total - 1) + 1;
    expect(server.howClosed(1)).toBeUndefined();
    expect(server.howClosed(3)).toBeUndefined();
    expect(server.howClosed(5)).toBe('ended');
    expect(caught(() => server.frameForMissingStream(1, 'HEADERS'))).toBeUndefined();
    expect(caught(() => server.frameForMissingStream(3, 'DATA'))).toBeUndefined();
    expect(caught(() => server.frameForMissingStream(5, 'HEADERS'))).toBeInstanceOf(ConnectionError);
  });

  it('remembering an id again changes only how it ended; over many windows exactly the last ids are remembered, in closing order', () => {
    const server = new StreamRegistry('server');
    const total = 3 * CLOSED_STREAMS_REMEMBERED + 17;
    for (let i = 0; i < total; i++) {
      server.rememberClosed(2 * i + 1, 'reset');
      server.rememberClosed(2 * i + 1, 'ended'); // an id remembered twice takes one place
    }
    const remembered: number[] = [];
    for (let i = 0; i < total; i++) if (server.howClosed(2 * i + 1) !== undefined) remembered.push(i);
    expect(remembered).toEqual(Array.from({ length: CLOSED_STREAMS_REMEMBERED }, (_, k) => total - CLOSED_STREAMS_REMEMBERED + k));
    expect(server.howClosed(2 * (total - 1) + 1)).toBe('ended');
  });
});
