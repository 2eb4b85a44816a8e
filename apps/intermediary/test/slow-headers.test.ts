/**
 * A browser that never finishes its request head (slowloris) must not hold an HTTP/1.1 connection
 * for ever. Our node:http servers are handed their sockets and never listen themselves, and
 * node:http starts enforcing `headersTimeout` only on `'listening'`: `listensWith` gives them
 * that event from the listener that accepts their sockets.
 */
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { listensWith } from '../src/browser-listeners.js';

const servers: Array<{ close: () => void }> = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A handed-over node:http server behind a net listener; the client sends half a request head. Resolves with what the client saw. */
async function halfHead(handOver: boolean): Promise<{ closedByServer: boolean; firstLine: string }> {
  // Small timeouts so the check runs within the test: the rule, not the numbers, is under test.
  const http1 = createHttpServer({ headersTimeout: 300, requestTimeout: 0, connectionsCheckingInterval: 50 }, (_req, res) => res.end('ok'));
  const listener = createServer((socket) => http1.emit('connection', socket));
  if (handOver) listensWith(http1, listener);
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  servers.push(listener);
  const port = (listener.address() as { port: number }).port;
  const client: Socket = connect(port, '127.0.0.1');
  servers.push({ close: () => client.destroy() });
  let received = '';
  client.on('data', (d) => (received += d.toString('latin1')));
  client.write('GET / HTTP/1.1\r\nHost: app.example.com\r\n');
  // Either the server closes it (then we know), or it is still open after many check intervals.
  const closedByServer = await new Promise<boolean>((resolve) => {
    client.once('close', () => resolve(true));
    let checks = 0;
    const poll = setInterval(() => {
      if (++checks >= 40) {
        clearInterval(poll);
        resolve(false);
      }
    }, 50);
    client.once('close', () => clearInterval(poll));
  });
  return { closedByServer, firstLine: received.split('\r\n')[0] };
}

describe('HTTP/1.1 request heads that never end (slowloris)', () => {
  it('listensWith: the handed-over server enforces headersTimeout (408, connection closed)', async () => {
    expect(await halfHead(true)).toEqual({ closedByServer: true, firstLine: 'HTTP/1.1 408 Request Timeout' });
  });

  it('without it, node:http never checks: the half head holds its connection (what the rule is for)', async () => {
    expect(await halfHead(false)).toEqual({ closedByServer: false, firstLine: '' });
  });
});
