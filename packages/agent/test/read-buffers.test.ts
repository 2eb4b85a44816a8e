/**
 * ReadBuffers (read-buffers.ts): the agent's upstream reads, sized by what the socket brings and
 * capped by the stream's credit. Driven through its `onread` by hand, as the runtime drives it,
 * and through a real socket.
 */
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { READ_MAX, READ_MIN, READ_WITHOUT_CREDIT, ReadBuffers } from '../src/read-buffers.js';

/** Fill the next buffer with `length` bytes of `value`, as a read of that length would. */
function read(reads: ReadBuffers, length: number, value: number): Uint8Array {
  const buffer = reads.onread.buffer();
  const n = Math.min(length, buffer.length);
  buffer.fill(value, 0, n);
  reads.onread.callback(n, buffer);
  return buffer;
}

describe('ReadBuffers', () => {
  it('doubles after full reads up to READ_MAX, within the credit, and halves after short ones', () => {
    let credit: number | undefined = 10 * READ_MAX;
    const reads = new ReadBuffers(() => {}, () => credit);
    const sizes: number[] = [];
    for (let i = 0; i < 7; i++) sizes.push(read(reads, Infinity, 1).length);
    expect(sizes).toEqual([READ_MIN, 2 * READ_MIN, 4 * READ_MIN, 8 * READ_MIN, READ_MAX, READ_MAX, READ_MAX]);
    credit = 3 * READ_MIN + 100; // rounded down to whole READ_MINs
    expect(read(reads, Infinity, 1).length).toBe(3 * READ_MIN);
    credit = 0; // a stalled stream still reads READ_MIN at a time
    expect(read(reads, Infinity, 1).length).toBe(READ_MIN);
    credit = undefined; // unknown credit: what the runtime would read
    expect(read(reads, Infinity, 1).length).toBe(READ_WITHOUT_CREDIT);
    credit = 10 * READ_MAX;
    const big = read(reads, 10, 1).length; // a short read: the next buffer is halved
    expect(read(reads, 10, 1).length).toBe(big / 2);
  });

  it('an idle socket waits with a READ_MIN buffer', () => {
    const reads = new ReadBuffers(() => {}, () => READ_MAX);
    for (let i = 0; i < 6; i++) read(reads, Infinity, 1);
    reads.idle();
    expect(reads.onread.buffer().length).toBe(READ_MIN);
  });

  it('delivered bytes stay as they were: a short read is copied out, a long one keeps its buffer to itself', () => {
    const delivered: Uint8Array[] = [];
    const reads = new ReadBuffers((bytes) => delivered.push(bytes), () => READ_MAX);
    read(reads, 10, 0xaa); // short: copied, the buffer is read into again
    read(reads, 10, 0xbb);
    read(reads, READ_MIN, 0xcc); // full: handed on
    read(reads, READ_MIN, 0xdd);
    expect(delivered.map((b) => [b.length, b[0], b[b.length - 1]])).toEqual([
      [10, 0xaa, 0xaa],
      [10, 0xbb, 0xbb],
      [READ_MIN, 0xcc, 0xcc],
      [READ_MIN, 0xdd, 0xdd],
    ]);
    // A short read is its own copy, not a view of a buffer many times its size.
    expect(delivered[0].buffer.byteLength).toBe(10);
  });

  it('carries a socket’s bytes whole and in order', async () => {
    const payload = new Uint8Array(3 * 1024 * 1024 + 123);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 11)) & 0xff;
    const server = net.createServer((socket) => socket.end(payload));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const hash = createHash('sha256');
    let total = 0;
    const reads = new ReadBuffers(
      (bytes) => {
        hash.update(bytes);
        total += bytes.length;
      },
      () => READ_MAX,
    );
    const socket = net.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, onread: reads.onread });
    await new Promise<void>((resolve, reject) => {
      socket.on('end', resolve);
      socket.on('error', reject);
    });
    server.close();
    expect(total).toBe(payload.length);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));
  });
});
