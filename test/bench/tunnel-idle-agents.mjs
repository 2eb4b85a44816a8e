// Idle agent sessions for bench:tunnel's memory figure: N minimal agents in one process — TLS 1.3
// with ALPN h2-reverse and the origin certificate, @rhttp/core (built) in the HTTP/2 server role
// sending SETTINGS and ORIGIN — that then hold their sessions without traffic (PINGs are answered).
//
//   node test/bench/tunnel-idle-agents.mjs --certs DIR --port AGENTS_PORT --count 1000
//     prints "connected N" once all N TLS connections are up; SIGTERM closes them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { parseArgs } from 'node:util';
import { connectSocket } from '../../packages/core/dist/index.js';

const { values } = parseArgs({
  options: { certs: { type: 'string' }, port: { type: 'string' }, count: { type: 'string', default: '1000' }, origin: { type: 'string', default: 'https://app.localhost' } },
});
const read = (name) => readFileSync(join(values.certs, name), 'utf8');
const ca = read('ca.pem');
const cert = read('origin.pem');
const key = read('origin.key');
const COUNT = Number(values.count);
/** Handshakes in flight at once: enough to be quick, few enough not to hit the handshake timeout. */
const PARALLEL = 32;

const sockets = [];
function connectOne() {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: Number(values.port), servername: 'localhost', ca, cert, key, ALPNProtocols: ['h2-reverse'] });
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      socket.removeListener('error', reject);
      socket.on('error', () => {});
      connectSocket(socket, { role: 'server', origins: [values.origin], handler: () => new Response('idle agent') });
      sockets.push(socket);
      resolve();
    });
  });
}

let next = 0;
async function worker() {
  while (next < COUNT) {
    next++;
    await connectOne();
  }
}
await Promise.all(Array.from({ length: Math.min(PARALLEL, COUNT) }, worker));
console.log(`connected ${sockets.length}`);
process.on('SIGTERM', () => {
  for (const s of sockets) s.destroy();
  process.exit(0);
});
