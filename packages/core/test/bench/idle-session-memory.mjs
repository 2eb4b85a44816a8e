/**
 * V8 heap (and ArrayBuffer backing stores, which live outside it) per idle Http2Session after the handshake, in both roles (the intermediary holds
 * client-role sessions, the agent a server-role one). Run after `npx tsc -b`:
 *
 *   node --expose-gc packages/core/test/bench/idle-session-memory.mjs [sessions]
 *
 * The peer's handshake bytes are recorded once from a real session pair and replayed into each
 * session under test, whose output goes to a sink that drops it: only the sessions are measured.
 */
import { Http2Session } from '../../dist/index.js';

const N = Number(process.argv[2] ?? 1000);
const ORIGINS = ['https://app.example.com'];

/** The bytes `role`'s peer writes during a handshake with a session of `role`. */
function recordPeerBytes(role) {
  const fromPeer = [];
  let underTest;
  const peer = new Http2Session({ write: (b) => { fromPeer.push(b.slice()); underTest?.receive(b); }, close() {} }, { role: role === 'client' ? 'server' : 'client', origins: ORIGINS });
  underTest = new Http2Session({ write: (b) => peer.receive(b), close() {} }, { role, origins: role === 'server' ? ORIGINS : undefined });
  return new Promise((resolve) => setTimeout(() => resolve(fromPeer), 50));
}

async function measure(role) {
  const bytes = await recordPeerBytes(role);
  const held = [];
  const settle = () => new Promise((r) => setTimeout(r, 20));
  const open = () => {
    const s = new Http2Session({ write() {}, close() {} }, { role, origins: role === 'server' ? ORIGINS : undefined });
    for (const b of bytes) s.receive(b.slice());
    return s;
  };
  for (let i = 0; i < 50; i++) open(); // warm code paths
  await settle();
  gc(); gc();
  const before = process.memoryUsage();
  for (let i = 0; i < N; i++) held.push(open());
  await settle();
  gc(); gc();
  const after = process.memoryUsage();
  if (held.some((s) => s.isClosed || s.connection.remote.maxConcurrentStreams === Infinity)) throw new Error('handshake did not complete');
  const per = (key) => Math.round((after[key] - before[key]) / N);
  console.log(`${role}: ${N} idle sessions, per session: heapUsed ${per('heapUsed')} B + arrayBuffers ${per('arrayBuffers')} B = ${per('heapUsed') + per('arrayBuffers')} B`);
  return held;
}

globalThis.keep = [await measure('client'), await measure('server')];
