import { EventEmitter, once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { Writable, type Duplex, type Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { drained, pumpToSocket, readableFromSocket, TURN_WRITER_QUEUE_BYTES, TurnWriter } from '../src/socket-streams.js';

/** A node-style source whose pause/resume/destroy are recorded, and whose events the test emits. */
class FakeSource extends EventEmitter {
  paused = false;
  resumes = 0;
  destroyed = false;
  pause(): this {
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    this.resumes++;
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
  asReadable(): Readable {
    return this as unknown as Readable;
  }
}

const bytes = (...values: number[]) => Buffer.from(values);

async function readAll(stream: ReadableStream<Uint8Array>): Promise<number[]> {
  const out: number[] = [];
  for await (const chunk of stream) out.push(...chunk);
  return out;
}

describe('drained', () => {
  for (const event of ['drain', 'close'] as const) {
    it(`resolves on '${event}' and leaves no listener behind`, async () => {
      const target = new EventEmitter();
      const done = drained(target);
      expect(target.listenerCount('drain')).toBe(1);
      expect(target.listenerCount('close')).toBe(1);
      target.emit(event);
      await done;
      expect(target.listenerCount('drain')).toBe(0);
      expect(target.listenerCount('close')).toBe(0);
    });
  }
});

describe('readableFromSocket', () => {
  it('delivers the head first, then the socket bytes, and calls onEnd before it closes on end', async () => {
    const source = new FakeSource();
    let ended = 0;
    const stream = readableFromSocket(source.asReadable(), { head: bytes(1, 2), highWaterMark: 4, onEnd: () => ended++, abruptClose: () => new Error('abrupt') });
    source.emit('data', bytes(3));
    source.emit('data', bytes(4, 5));
    source.emit('end');
    source.emit('close', false); // after 'end': ignored
    expect(await readAll(stream)).toEqual([1, 2, 3, 4, 5]);
    expect(ended).toBe(1);
  });

  it('starts paused, resumes only when read, and pauses again once highWaterMark chunks wait', async () => {
    const source = new FakeSource();
    const stream = readableFromSocket(source.asReadable(), { highWaterMark: 2, abruptClose: () => undefined });
    expect(source.paused).toBe(true);
    const reader = stream.getReader();
    const first = reader.read(); // pulls: the socket is resumed
    await Promise.resolve();
    expect(source.resumes).toBeGreaterThan(0);
    expect(source.paused).toBe(false);
    source.emit('data', bytes(1)); // goes straight to the pending read
    expect((await first).value).toEqual(new Uint8Array([1]));
    source.emit('data', bytes(2));
    expect(source.paused).toBe(false);
    source.emit('data', bytes(3)); // two chunks wait now: the queue is full
    expect(source.paused).toBe(true);
    const resumesBefore = source.resumes;
    expect((await reader.read()).value).toEqual(new Uint8Array([2]));
    await Promise.resolve();
    expect(source.resumes).toBeGreaterThan(resumesBefore);
    expect(source.paused).toBe(false);
    reader.releaseLock();
  });

  it("fails the stream with abruptClose's error on 'close' without 'end', told whether it had an error", async () => {
    const source = new FakeSource();
    const seen: boolean[] = [];
    const stream = readableFromSocket(source.asReadable(), { highWaterMark: 4, abruptClose: (hadError) => (seen.push(hadError), new Error('reset by peer')) });
    source.emit('data', bytes(9));
    source.emit('close', true);
    await expect(readAll(stream)).rejects.toThrow('reset by peer');
    expect(seen).toEqual([true]);
  });

  it("ends the stream cleanly on 'close' when abruptClose returns undefined", async () => {
    const source = new FakeSource();
    let ended = 0;
    const stream = readableFromSocket(source.asReadable(), { highWaterMark: 4, onEnd: () => ended++, abruptClose: () => undefined });
    source.emit('data', bytes(7, 8));
    source.emit('close', false);
    expect(await readAll(stream)).toEqual([7, 8]);
    expect(ended).toBe(0);
  });

  it('destroys the socket when the reader cancels, and ignores what it says afterwards', async () => {
    const source = new FakeSource();
    const stream = readableFromSocket(source.asReadable(), { highWaterMark: 4, abruptClose: () => new Error('abrupt') });
    await stream.cancel(new Error('browser went away'));
    expect(source.destroyed).toBe(true);
    source.emit('data', bytes(1)); // no enqueue on a cancelled stream (that would throw)
    source.emit('close', true);
  });
});

/** Lets queued callbacks run until `condition` holds (a bounded number of event-loop turns). */
async function until(condition: () => boolean): Promise<void> {
  for (let turn = 0; turn < 1000 && !condition(); turn++) await new Promise((resolve) => setImmediate(resolve));
  expect(condition()).toBe(true);
}

describe('pumpToSocket', () => {
  it("writes the next chunk only after 'drain' when write() says the socket is full", async () => {
    /** A socket that is always full: every write() asks to wait for 'drain'. */
    const socket = Object.assign(new EventEmitter(), {
      destroyed: false,
      writes: [] as number[][],
      ended: 0,
      write(chunk: Uint8Array) {
        socket.writes.push([...chunk]);
        return false;
      },
      end() {
        socket.ended++;
      },
      destroy() {
        socket.destroyed = true;
      },
    });
    const chunks = [new Uint8Array([1]), new Uint8Array([2]), new Uint8Array([3])];
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (i < chunks.length) controller.enqueue(chunks[i++]!);
        else controller.close();
      },
    });
    const pumped = pumpToSocket(body, socket as unknown as Duplex);
    for (let n = 1; n <= chunks.length; n++) {
      await until(() => socket.listenerCount('drain') === 1);
      expect(socket.writes.length).toBe(n);
      expect(socket.ended).toBe(0);
      socket.emit('drain');
    }
    await pumped;
    expect(socket.writes).toEqual([[1], [2], [3]]);
    expect(socket.ended).toBe(1);
    expect(socket.destroyed).toBe(false);
    expect(socket.listenerCount('drain') + socket.listenerCount('close')).toBe(0);
  });
});

describe('pumpToSocket (a real 127.0.0.1 connection)', () => {
  let server: Server | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
  });

  /** A listening server and a client socket to it; `accepted` is the server's side, which may stay half-open. */
  async function socketPair(): Promise<{ client: Socket; accepted: Socket }> {
    server = createServer({ allowHalfOpen: true });
    const acceptedP = once(server, 'connection') as Promise<[Socket]>;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await once(client, 'connect');
    const [accepted] = await acceptedP;
    sockets.push(client, accepted);
    return { client, accepted };
  }

  /** Everything `socket` receives until its peer half-closes, and whether it saw that 'end'. */
  function collect(socket: Socket): Promise<{ received: Buffer; ended: boolean }> {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    return new Promise((resolve) => {
      socket.on('end', () => resolve({ received: Buffer.concat(chunks), ended: true }));
      socket.on('close', () => resolve({ received: Buffer.concat(chunks), ended: false }));
    });
  }

  function bodyOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
    let i = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (i < chunks.length) controller.enqueue(chunks[i++]!);
        else controller.close();
      },
    });
  }

  it('copies every byte to the peer and half-closes at the end of the body', async () => {
    const { client, accepted } = await socketPair();
    const chunks = Array.from({ length: 32 }, (_, n) => new Uint8Array(64 * 1024).fill(n));
    const result = collect(accepted);
    await pumpToSocket(bodyOf(chunks), client);
    const { received, ended } = await result;
    expect(ended).toBe(true);
    expect(received.equals(Buffer.concat(chunks))).toBe(true);
    // Half-closed: the other direction still works.
    const back = once(client, 'data');
    accepted.end('reply');
    expect(String((await back)[0])).toBe('reply');
  });

  it("destroys the socket when the body errors, and resolves (the body's failure is the caller's to report)", async () => {
    const { client, accepted } = await socketPair();
    const result = collect(accepted);
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(new Uint8Array([1, 2, 3]));
        } else controller.error(new Error('stream reset'));
      },
    });
    await pumpToSocket(body, client);
    expect(client.destroyed).toBe(true);
    // TCP says FIN for destroy() as for end(); what tells them apart is destroyed, not the peer.
    expect([...(await result).received]).toEqual([1, 2, 3]);
  });

  it('cancels the body when the socket is already gone', async () => {
    const { client } = await socketPair();
    client.destroy();
    const cancelled: unknown[] = [];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new Uint8Array([1]));
      },
      cancel(reason) {
        cancelled.push(reason);
      },
    });
    await pumpToSocket(body, client);
    expect(cancelled).toHaveLength(1);
    expect(String(cancelled[0])).toMatch(/upstream connection closed/);
  });
});

/** A writable that records each batch it is handed (one batch = one socket write) and completes writes when told. */
function recordingSink() {
  const batches: number[][] = [];
  const pending: Array<() => void> = [];
  const sink = new Writable({
    writev(chunks, callback) {
      batches.push(chunks.map((c) => c.chunk.length));
      pending.push(callback);
    },
    write(chunk: Buffer, _encoding, callback) {
      batches.push([chunk.length]);
      pending.push(callback);
    },
  });
  const complete = () => {
    for (const done of pending.splice(0)) done();
  };
  return { sink, batches, complete };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('TurnWriter', () => {
  it("sends a turn's chunks as one write, and asks to wait only once its queue bound is reached", async () => {
    const { sink, batches, complete } = recordingSink();
    const out = new TurnWriter(sink);
    const record = 16_384;
    const waits: Array<Promise<void> | undefined> = [];
    for (let i = 0; i < TURN_WRITER_QUEUE_BYTES / record; i++) waits.push(out.write(new Uint8Array(record)));
    // Node's own mark (16 KiB) says "full" after the first chunk; the writer lets the turn fill 64 KiB.
    expect(waits.map((w) => w !== undefined)).toEqual([false, false, false, true]);
    expect(batches).toEqual([]);
    await turn();
    expect(batches).toEqual([[record, record, record, record]]);
    let drainedNow = false;
    void waits[3]!.then(() => (drainedNow = true));
    await turn();
    expect(drainedNow).toBe(false);
    complete();
    await turn();
    expect(drainedNow).toBe(true);
  });

  it('release sends what is held at once', async () => {
    const { sink, batches } = recordingSink();
    const out = new TurnWriter(sink);
    out.write(new Uint8Array(10));
    out.write(new Uint8Array(20));
    out.release();
    expect(batches).toEqual([[10, 20]]);
  });

  it('a writable without cork is written chunk by chunk, and every full write waits for drain', async () => {
    const target = Object.assign(new EventEmitter(), { writes: 0, write: () => ++target.writes < 2 });
    const out = new TurnWriter(target);
    expect(out.write(new Uint8Array(1))).toBeUndefined();
    const wait = out.write(new Uint8Array(1));
    expect(wait).toBeInstanceOf(Promise);
    target.emit('drain');
    await wait;
    expect(target.writes).toBe(2);
  });
});
