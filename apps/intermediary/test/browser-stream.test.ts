/**
 * writeBody (browser-stream.ts): an agent's response body onto a browser's HTTP/2 stream. A body
 * that has arrived whole leaves with its end in one call (joined when it came in pieces, as a
 * DATA frame split across TLS records does); a longer or still-arriving one goes chunk by chunk,
 * END_STREAM on the last.
 */
import { describe, expect, it } from 'vitest';
import { SettingId, type BodyReader, type HeaderField, type ServerStream } from '@rhttp/core';
import { ScriptedPeer } from '../../../packages/core/test/support/scripted-peer.js';
import { writeBody } from '../src/browser-stream.js';

const GET: HeaderField[] = [[':method', 'GET'], [':scheme', 'https'], [':authority', 'example.com'], [':path', '/']];

/** A BodyReader over `chunks`; `arrived` says whether its end is here from the start, else the end comes on the first wait. */
function bodyOf(chunks: Uint8Array[], arrived: boolean): BodyReader & { reads: number } {
  const queue = [...chunks];
  let done = arrived;
  const body = {
    reads: 0,
    read() {
      body.reads++;
      if (queue.length > 0) return queue.shift()!;
      return done ? null : undefined;
    },
    get ended() {
      return done && queue.length === 0;
    },
    get arrived() {
      return done;
    },
    wait() {
      done = true;
      return Promise.resolve();
    },
    cancel() {},
  };
  return body;
}

function pattern(size: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 7 + seed) & 0xff);
}

async function serverStream(): Promise<{ peer: ScriptedPeer; stream: ServerStream }> {
  let stream!: ServerStream;
  // The browser's windows are large: this is about framing, not flow control.
  const peer = await ScriptedPeer.start({ role: 'server', session: { onStream: (s) => (stream = s) } }, { settings: [[SettingId.INITIAL_WINDOW_SIZE, 1 << 20]] });
  peer.send({ kind: 'window-update', streamId: 0, increment: 1 << 20 });
  peer.headers(1, GET, true);
  await peer.settle();
  stream.respond(200, [['content-type', 'application/octet-stream']]);
  return { peer, stream };
}

async function dataFrames(peer: ScriptedPeer) {
  await peer.settle();
  return (await peer.drain()).filter((f) => f.kind === 'data') as { kind: 'data'; data: Uint8Array; endStream: boolean }[];
}

describe('writeBody', () => {
  it('a body that arrived whole in pieces leaves as one DATA frame with END_STREAM, its bytes counted once', async () => {
    const { peer, stream } = await serverStream();
    const pieces = [pattern(100, 1), pattern(200, 2), new Uint8Array(0), pattern(300, 3)];
    const counted: number[] = [];
    expect(await writeBody(stream, bodyOf(pieces, true), { countBytes: (n) => counted.push(n) })).toBe(true);
    const frames = await dataFrames(peer);
    expect(frames).toHaveLength(1);
    expect(frames[0].endStream).toBe(true);
    expect(Buffer.from(frames[0].data).equals(Buffer.concat(pieces))).toBe(true);
    expect(counted).toEqual([600]);
  });

  it('a whole body longer than one write goes chunk by chunk, in order, END_STREAM on the last', async () => {
    const { peer, stream } = await serverStream();
    const pieces = [pattern(16_384, 1), pattern(16_384, 2), pattern(16_384, 3), pattern(16_384, 4), pattern(16_384, 5), pattern(1_000, 6)];
    const counted: number[] = [];
    expect(await writeBody(stream, bodyOf(pieces, true), { countBytes: (n) => counted.push(n) })).toBe(true);
    const frames = await dataFrames(peer);
    expect(Buffer.concat(frames.map((f) => f.data)).equals(Buffer.concat(pieces))).toBe(true);
    expect(frames.filter((f) => f.endStream)).toHaveLength(1);
    expect(frames.at(-1)!.endStream).toBe(true);
    expect(counted.reduce((a, b) => a + b, 0)).toBe(5 * 16_384 + 1_000);
  });

  it('a body still arriving is written as it comes, the end after the last chunk', async () => {
    const { peer, stream } = await serverStream();
    const pieces = [pattern(500, 1), pattern(700, 2)];
    expect(await writeBody(stream, bodyOf(pieces, false))).toBe(true);
    const frames = await dataFrames(peer);
    expect(Buffer.concat(frames.map((f) => f.data)).equals(Buffer.concat(pieces))).toBe(true);
    expect(frames.at(-1)!.endStream).toBe(true);
  });

  it('trailers follow a whole body on the same call', async () => {
    const { peer, stream } = await serverStream();
    expect(await writeBody(stream, bodyOf([pattern(10, 1), pattern(10, 2)], true), { trailers: () => [['grpc-status', '0']] })).toBe(true);
    await peer.settle();
    const frames = await peer.drain();
    const data = frames.filter((f) => f.kind === 'data') as { data: Uint8Array; endStream: boolean }[];
    expect(data).toHaveLength(1);
    expect(data[0].endStream).toBe(false);
    const trailers = frames.filter((f) => f.kind === 'headers').at(-1) as { fields: HeaderField[]; endStream: boolean } | undefined; // after the response's own HEADERS
    expect(trailers?.fields).toEqual([['grpc-status', '0']]);
    expect(trailers?.endStream).toBe(true);
  });
});
