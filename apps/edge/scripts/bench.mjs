#!/usr/bin/env node
/**
 * `npm run bench:edge`: requests/s through Worker → Durable Object → agent (WebSocket carrier,
 * HTTP/2) against a Worker that proxies the same upstream with a plain `fetch`, side by side in
 * local workerd, alternating rounds; prints medians and the ratio. Not a test: numbers depend on
 * the machine. Flags: --rounds 3 --seconds 5 --concurrency 32 --shards 1 (BROKER_SHARDS, and as
 * many agent connections, which the Worker spreads over the shards). The agent is the real
 * `Agent` (packages/agent/dist), serving the upstream on its stream path.
 */
import { Agent as HttpAgent, createServer, request } from 'node:http';
import { parseArgs } from 'node:util';
import { Miniflare } from 'miniflare';
import { Agent } from '../../../packages/agent/dist/index.js';
import { createDevCa, issueCertificate } from '../../../packages/node/dist/certs.js';
import { buildEdge, compatibilityDate, startEdge } from './local-edge.mjs';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '32' }, shards: { type: 'string', default: '1' } } });
const shards = Number(values.shards);
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const HOST = 'app.example.com';

const upstream = createServer((req, res) => res.end('hello from the upstream\n'));
await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
const upstreamUrl = `http://127.0.0.1:${upstream.address().port}`;

const ca = await createDevCa();
const origin = await issueCertificate(ca, { dnsNames: [HOST] });
console.log('bundling the Worker…');
const edge = await startEdge({ scriptPath: await buildEdge(), bindings: { TRUST_ANCHORS: ca.certPem, BROKER_SHARDS: String(shards) } });
const rhttpAgent = new Agent({ intermediary: edge.url.replace(/^http/, 'ws'), origins: [`https://${HOST}`], cert: origin.chainPem, key: origin.keyPem, upstream: upstreamUrl, connections: shards });
rhttpAgent.start();

const direct = new Miniflare({
  modules: true,
  script: `export default { fetch(request, env) { const u = new URL(request.url); return fetch(env.UPSTREAM + u.pathname + u.search, { method: request.method, headers: request.headers, body: request.body }); } };`,
  compatibilityDate: compatibilityDate(),
  bindings: { UPSTREAM: upstreamUrl },
  cf: false,
  host: '127.0.0.1',
  port: 0,
});
const directUrl = (await direct.ready).toString().replace(/\/$/, '');

// Wait for every agent connection to be registered (spread over the shards by the Worker).
for (;;) {
  const status = JSON.parse(await get(edge.url, '/.rhttp/status', new HttpAgent()));
  if (status.sessions.length >= shards) {
    if (shards > 1) console.log(`sessions on shards: ${status.sessions.map((s) => s.shard).join(', ')}`);
    break;
  }
  await new Promise((r) => setTimeout(r, 50));
}

function get(base, path, agent) {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, headers: { host: HOST }, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}: ${body}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

async function load(base) {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: concurrency });
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        await get(base, '/', agent);
        done++;
      }
    }),
  );
  agent.destroy();
  return done / seconds;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = { rhttp: [], direct: [] };
await load(edge.url); // warm-up
await load(directUrl);
for (let i = 0; i < rounds; i++) {
  results.rhttp.push(await load(edge.url));
  results.direct.push(await load(directUrl));
  console.log(`round ${i + 1}: rhttp ${results.rhttp[i].toFixed(0)} req/s, direct fetch ${results.direct[i].toFixed(0)} req/s`);
}
const r = median(results.rhttp);
const d = median(results.direct);
console.log(`\nmedian over ${rounds} rounds of ${seconds} s, ${concurrency} concurrent HTTP/1.1 keep-alive clients, local workerd, ${shards} shard(s) and agent connection(s):`);
console.log(`  Worker → Durable Object → agent (WebSocket, HTTP/2) → upstream: ${r.toFixed(0)} req/s`);
console.log(`  Worker → fetch → upstream:                                      ${d.toFixed(0)} req/s`);
console.log(`  ratio: ${(r / d).toFixed(2)}× (target ≥ 0.5×)`);
await rhttpAgent.stop({ graceful: false });
await edge.close();
await direct.dispose();
upstream.close();
process.exit(0);
