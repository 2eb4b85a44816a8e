// The intermediary of bench:tunnel, in its own process (the built library, apps/intermediary/dist),
// forked by tunnel.mjs with an IPC channel so that it can be asked for its own memory figures.
//
//   node --expose-gc test/bench/tunnel-intermediary.mjs --certs DIR
//     prints "listening on http://127.0.0.1:HTTP agents 127.0.0.1:AGENTS"
//   IPC { type: 'memory' } → { type: 'memory', sessions, authorized, rss, heapUsed, external, arrayBuffers }
//     after two full GCs (when --expose-gc is given), with the session counts from status().
//   IPC { type: 'snapshot', file } → { type: 'snapshot', file }: a V8 heap snapshot written there.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeHeapSnapshot } from 'node:v8';
import { Intermediary } from '../../apps/intermediary/dist/index.js';
import { tuneForProxying } from '../../packages/node/dist/v8-tuning.js';

// As the rhttp-intermediary CLI does before it serves (packages/node/src/v8-tuning.ts).
tuneForProxying();

const { values } = parseArgs({ options: { certs: { type: 'string' } } });
const read = (name) => readFileSync(join(values.certs, name), 'utf8');

const intermediary = new Intermediary({
  agents: { host: '127.0.0.1', port: 0 },
  http: { host: '127.0.0.1', port: 0 },
  cert: read('intermediary.pem'),
  key: read('intermediary.key'),
  trust: read('ca.pem'),
  // Quiet: a thousand "agent connected" lines would cost more than the sessions being measured.
  log: process.env.BENCH_LOG ? (line) => console.error(line) : () => {},
});
const addresses = await intermediary.start();
console.log(`listening on http://127.0.0.1:${addresses.http.port} agents 127.0.0.1:${addresses.agents.port}`);

process.on('message', async (message) => {
  if (message?.type === 'snapshot') {
    // For finding what the sessions hold (Chrome DevTools → Memory → Load).
    process.send({ type: 'snapshot', file: writeHeapSnapshot(message.file) });
    return;
  }
  if (message?.type !== 'memory') return;
  if (globalThis.gc) {
    // Two passes with a turn between them, so that finalizers and weak callbacks have run.
    globalThis.gc();
    await new Promise((resolve) => setImmediate(resolve));
    globalThis.gc();
  }
  const sessions = intermediary.status().sessions;
  const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
  process.send({ type: 'memory', sessions: sessions.length, authorized: sessions.filter((s) => s.state === 'authorized').length, rss, heapUsed, heapTotal, external, arrayBuffers });
});
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));
