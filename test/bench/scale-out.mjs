// bench:scale-out — requests/s through one intermediary process against `--workers 2` (two
// processes sharing the --http port through node:cluster), same agent, same upstream, same load.
// Issue 10 item 7. Not a test: it prints figures; nothing is asserted about them.
//
//   npm run bench:scale-out            (builds first)
//   node test/bench/scale-out.mjs      (needs `npx tsc -b` done)
//
// Environment: BENCH_ROUNDS (default 3), BENCH_DURATION (h2load seconds per run, default 4).
//
// Parties, each its own process, all on 127.0.0.1: the built `rhttp-intermediary` (once plain, once
// with --workers 2), one built `rhttp-agent` per setup given a bare name that this script's
// DNS-over-HTTPS server answers with the records `--print-svcb NAME [--workers 2]` prints (so the
// agent holds its 2 connections to each worker), the upstream test/bench/tunnel-upstream.mjs
// (node:http, GET / → 1 KiB), and h2load (-c 10 -m 10, h2c) against the shared browser port. Both
// setups run side by side; within a round they are measured one after the other, the order
// reversed every other round. On a 2-core machine h2load, the agent, the upstream and the
// intermediary processes share the same two cores, so a second intermediary process can only
// help as far as the intermediary was the bottleneck.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import os, { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, median, sleep, track, withChildren } from './support.mjs';
import { base64UrlDecode, canonicalName, decodeMessage, encodeMessage, parseSvcbRdata, Rcode, RRType } from '@rhttp/core';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const agentCli = join(root, 'packages/agent/dist/cli.js');
const intermediaryCli = join(root, 'apps/intermediary/dist/cli.js');
const H2LOAD = '/usr/bin/h2load';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION = Number(process.env.BENCH_DURATION ?? 4);
const ORIGIN_HOST = 'app.localhost';
/** h2load load shape: 10 connections × 10 concurrent streams, one client thread (as bench:tunnel). */
const h2loadArgs = (authority) => ['-c', '10', '-m', '10', '-t', '1', '-D', String(DURATION), '--warm-up-time', '1', '-H', `:authority: ${authority}`];


function start(label, args) {
  const child = track(spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return {
    child,
    output: () => out,
    async waitFor(pattern, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = pattern.exec(out);
        if (m) return m;
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${label}: no ${pattern} (exit ${child.exitCode}):\n${out}`);
        await sleep(50);
      }
    },
  };
}

/** A port whose `count` successors were free a moment ago (worker i listens on base + i). */
async function freePorts(count) {
  const bind = (port) =>
    new Promise((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(undefined));
      s.listen(port, '127.0.0.1', () => resolve(s));
    });
  for (;;) {
    const first = await bind(0);
    const base = first.address().port;
    const rest = [];
    for (let i = 1; i < count; i++) rest.push(await bind(base + i));
    for (const s of [first, ...rest]) if (s) await new Promise((r) => s.close(r));
    if (rest.every(Boolean)) return base;
  }
}

/** The zone this script's DoH server answers from: owner → records. */
const zone = new Map();
function addRecord(owner, rr) {
  const key = canonicalName(owner);
  zone.set(key, [...(zone.get(key) ?? []), rr]);
}
async function startDoh() {
  const server = http.createServer((req, res) => {
    const query = decodeMessage(base64UrlDecode(new URL(req.url ?? '/', 'http://x').searchParams.get('dns') ?? ''));
    const q = query.questions[0];
    const records = zone.get(canonicalName(q.name));
    const reply = encodeMessage({ id: query.id, qr: true, rd: true, ra: true, rcode: records ? Rcode.NOERROR : Rcode.NXDOMAIN, questions: query.questions, answers: (records ?? []).filter((rr) => rr.type === q.type) });
    res.writeHead(200, { 'content-type': 'application/dns-message', 'content-length': reply.length }).end(reply);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${server.address().port}/dns-query` };
}

function get(port, authority) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host: authority }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
  });
}

/** One setup: `rhttp-intermediary [--workers N]` and an agent that finds every worker through SVCB. */
async function startSetup(name, workers, dir, doh, upstreamUrl) {
  const agents = await freePorts(workers);
  const httpPort = await freePorts(1);
  const printArgs = [intermediaryCli, '--print-svcb', name, '--agents', `127.0.0.1:${agents}`, ...(workers > 1 ? ['--workers', String(workers)] : [])];
  for (const line of execFileSync(process.execPath, printArgs, { encoding: 'utf8' }).split('\n')) {
    if (!line.startsWith(`_http-reverse.${name}.`)) continue;
    const [owner, ttl, , , ...rdata] = line.split(/\s+/);
    addRecord(owner, { name: owner, type: RRType.SVCB, class: 1, ttl: Number(ttl), data: { kind: 'svcb', svcb: parseSvcbRdata(rdata.join(' ')) } });
  }
  addRecord(name, { name: `${name}.`, type: RRType.A, class: 1, ttl: 300, data: { kind: 'a', address: '127.0.0.1' } });
  const intermediary = start(`intermediary ${name}`, [
    intermediaryCli,
    ...(workers > 1 ? ['--workers', String(workers)] : []),
    '--agents', `127.0.0.1:${agents}`,
    '--http', `127.0.0.1:${httpPort}`,
    '--cert', join(dir, 'intermediary.pem'),
    '--key', join(dir, 'intermediary.key'),
    '--trust', join(dir, 'ca.pem'),
  ]);
  await intermediary.waitFor(/rhttp intermediary is running/);
  const agent = start(`agent ${name}`, [
    agentCli,
    '--intermediary', name,
    '--doh', doh,
    '--servername', 'localhost',
    '--origin', `https://${ORIGIN_HOST}`,
    '--upstream', upstreamUrl,
    '--cert', join(dir, 'origin.pem'),
    '--key', join(dir, 'origin.key'),
    '--ca', join(dir, 'ca.pem'),
  ]);
  const authority = `${ORIGIN_HOST}:${httpPort}`;
  // Ready when every connection (2 per worker) is up and 20 requests in a row, each on a new
  // connection (so spread over the workers), answer 200.
  for (let i = 0; i < 600; i++) {
    const connected = (agent.output().match(/: connected to /g) ?? []).length;
    if (connected >= 2 * workers) {
      const statuses = [];
      for (let n = 0; n < 20; n++) statuses.push(await get(httpPort, authority));
      if (statuses.every((s) => s === 200)) return { name, workers, httpPort, authority, intermediary, agent };
    }
    await sleep(100);
  }
  throw new Error(`setup ${name} never served:\n${intermediary.output()}\n${agent.output()}`);
}

/** One h2load run: req/s, and requests that failed or got a 4xx/5xx (reported, not hidden). */
function h2load(setup) {
  return new Promise((resolve, reject) => {
    const child = spawn(H2LOAD, [...h2loadArgs(setup.authority), `http://127.0.0.1:${setup.httpPort}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('exit', () => {
      const rate = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out);
      const counts = /requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed, (\d+) errored/.exec(out);
      const status = /status codes: \d+ 2xx, \d+ 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
      if (!rate || !counts || !status) return reject(new Error(`h2load against ${setup.name} printed no summary:\n${out}`));
      resolve({ rps: Number(rate[1]), bad: Number(counts[1]) + Number(counts[2]) + Number(status[1]) + Number(status[2]) });
    });
  });
}


const dir = mkdtempSync(join(tmpdir(), 'rhttp-bench-scale-out-'));
try {
  execFileSync(process.execPath, [agentCli, 'certs', '--dir', dir, '--origin', `https://${ORIGIN_HOST}`], { stdio: 'ignore' });
  const doh = await startDoh();
  const upstream = start('upstream', [join(here, 'tunnel-upstream.mjs')]);
  const upstreamUrl = (await upstream.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1];
  const setups = [await startSetup('one.bench.test', 1, dir, doh.url, upstreamUrl), await startSetup('two.bench.test', 2, dir, doh.url, upstreamUrl)];
  const samples = new Map(setups.map((s) => [s.name, []]));
  const failures = new Map(setups.map((s) => [s.name, 0]));
  const cpu = new Map(setups.map((s) => [s.name, { intermediary: [], agent: [], upstream: [] }]));
  const loadBefore = os.loadavg()[0];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? setups : [...setups].reverse();
    for (const s of order) {
      const parties = { intermediary: withChildren(s.intermediary.child.pid), agent: [s.agent.child.pid], upstream: [upstream.child.pid] };
      const before = Object.fromEntries(Object.entries(parties).map(([k, pids]) => [k, cpuSeconds(pids)]));
      const started = performance.now();
      const { rps, bad } = await h2load(s);
      const wall = (performance.now() - started) / 1000;
      // CPU per request of each party: its CPU over the run (warm-up included) / (wall time × rate).
      for (const [k, pids] of Object.entries(parties)) cpu.get(s.name)[k].push(((cpuSeconds(pids) - before[k]) / (wall * rps)) * 1000);
      samples.get(s.name).push(rps);
      failures.set(s.name, failures.get(s.name) + bad);
      console.error(`round ${round + 1}: ${s.workers === 1 ? '1 process ' : `${s.workers} workers`} ${rps.toFixed(0)} req/s${bad ? `, ${bad} failed or 4xx/5xx` : ''}`);
      if (bad) console.error(`  intermediary log tail:\n${s.intermediary.output().split('\n').slice(-8).join('\n')}\n  agent log tail:\n${s.agent.output().split('\n').slice(-8).join('\n')}`);
    }
  }
  const cpuModel = os.cpus()[0]?.model ?? 'unknown CPU';
  const one = median(samples.get('one.bench.test'));
  const two = median(samples.get('two.bench.test'));
  console.log(`\nbench:scale-out — ${os.availableParallelism()} cores (${cpuModel}), Node ${process.version}, load average before ${loadBefore.toFixed(2)}`);
  console.log(`h2load ${h2loadArgs('app.localhost:PORT').join(' ')} http://127.0.0.1:PORT/ ; GET / → 1 KiB; ${ROUNDS} rounds, alternating order\n`);
  console.log('| intermediary | req/s per round | median | failed or 4xx/5xx | CPU ms/request: intermediary (all processes) / agent / upstream |');
  console.log('| --- | --- | ---: | ---: | --- |');
  for (const s of setups) {
    const label = s.workers === 1 ? '1 process' : `--workers ${s.workers}`;
    console.log(`| ${label} | ${samples.get(s.name).map((x) => x.toFixed(0)).join(', ')} | ${median(samples.get(s.name)).toFixed(0)} | ${failures.get(s.name)} | ${['intermediary', 'agent', 'upstream'].map((k) => median(cpu.get(s.name)[k]).toFixed(3)).join(' / ')} |`);
  }
  console.log(`\n--workers 2 / 1 process: ${(two / one).toFixed(2)}×`);
  for (const s of setups) s.agent.child.kill('SIGTERM');
  for (const s of setups) s.intermediary.child.kill('SIGTERM');
  upstream.child.kill('SIGTERM');
  doh.server.close();
  await sleep(500);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
