/**
 * The cleartext listener's first-bytes sniffing (HTTP/1.1 or h2c) leaves nothing behind on a socket
 * it hands to the HTTP/1.1 server.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bytesBody } from '@rhttp/core';
import { createCleartextListener, type BrowserListener } from '../src/browser-listeners.js';
import type { Answer } from '../src/browser-exchange.js';
import { until } from './harness.js';

const open: Array<() => void> = [];
afterEach(() => {
  for (const close of open.splice(0)) close();
});

describe('createCleartextListener', () => {
  it('removes its first-bytes timeout from a socket it hands to the HTTP/1.1 server', async () => {
    // Left attached, the first-bytes deadline's destroy would fire with the HTTP/1.1 server's own
    // inactivity timeout, and end a busy connection whose response is quiet (Server-Sent Events).
    const answer: Answer = async () => ({ status: 200, fields: [], body: bytesBody(new TextEncoder().encode('ok')), trailers: undefined });
    const listener: BrowserListener = createCleartextListener(answer);
    const accepted: Socket[] = [];
    listener.server.on('connection', (socket: Socket) => accepted.push(socket));
    await new Promise<void>((resolve) => listener.server.listen(0, '127.0.0.1', resolve));
    open.push(() => (listener.destroyAll(), listener.server.close()));
    const client = connect((listener.server.address() as { port: number }).port, '127.0.0.1');
    open.push(() => client.destroy());
    let received = '';
    client.on('data', (d: Buffer) => (received += d.toString('latin1')));
    client.write('GET / HTTP/1.1\r\nHost: app.example\r\n\r\n');
    await until(() => received.endsWith('ok'), 'the response');
    expect(accepted).toHaveLength(1);
    // Only the HTTP/1.1 connection's own keep-alive timeout listens.
    expect(accepted[0].listenerCount('timeout')).toBe(1);
  });
});
