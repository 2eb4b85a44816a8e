// The floor under bench:tunnel's memory figure: a bare node:tls server with the intermediary's
// agent-listener options (TLS 1.3, ALPN h2-reverse, client certificate requested) that holds the
// same idle connections and does nothing else — no HTTP/2 engine, no certificate checks, no broker. What
// the intermediary uses above this is rhttp's own; this much is Node's and OpenSSL's.
//
//   node --expose-gc test/bench/tunnel-tls-floor.mjs --certs DIR
//     prints "listening on http://127.0.0.1:0 agents 127.0.0.1:PORT" (the same line and IPC
//     protocol as tunnel-intermediary.mjs; "authorized" = connections whose handshake finished)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:tls';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { certs: { type: 'string' } } });
const read = (name) => readFileSync(join(values.certs, name), 'utf8');

/** Client connection preface, empty SETTINGS, SETTINGS with ACK (RFC 9113 §3.4, §6.5). */
const PREFACE_AND_ACK = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
  Buffer.from([0, 0, 0, 0x4, 0x0, 0, 0, 0, 0]),
  Buffer.from([0, 0, 0, 0x4, 0x1, 0, 0, 0, 0]),
]);
const sockets = new Set();
const server = createServer({
  cert: read('intermediary.pem'),
  key: read('intermediary.key'),
  ALPNProtocols: ['h2-reverse'],
  requestCert: true,
  rejectUnauthorized: false,
  minVersion: 'TLSv1.3',
});
server.on('secureConnection', (socket) => {
  sockets.add(socket);
  socket.on('error', () => {});
  socket.on('close', () => sockets.delete(socket));
  // Just enough HTTP/2 that the agent keeps the connection: our preface (RFC 9113 §3.4) with an
  // empty SETTINGS and an ACK of the agent's SETTINGS; what the agent sends is read and dropped.
  socket.write(PREFACE_AND_ACK);
  socket.resume();
});
server.listen(0, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:0 agents 127.0.0.1:${server.address().port}`));

process.on('message', async (message) => {
  if (message?.type !== 'memory') return;
  if (globalThis.gc) {
    globalThis.gc();
    await new Promise((resolve) => setImmediate(resolve));
    globalThis.gc();
  }
  const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
  process.send({ type: 'memory', sessions: sockets.size, authorized: sockets.size, rss, heapUsed, heapTotal, external, arrayBuffers });
});
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));
