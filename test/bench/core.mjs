// @rhttp/core against node:http2 (requests/s under h2load, bulk MB/s over one stream each way)
// and our HPACK against hpack.js, measured side by side in one run: the contenders alternate
// (A B A B …) over several rounds and the medians are compared. Prints one table and writes it
// into docs/benchmarks.md between the bench:core markers. Figures only, no assertions.
//
//   npm run bench:core                 (= tsc -b && node test/bench/core.mjs)
//
// Environment: BENCH_ROUNDS (default 5), BENCH_DURATION (h2load seconds per run, default 4),
// BENCH_BULK_MIB (default 256), BENCH_NO_DOCS=1 to leave docs/benchmarks.md alone.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchHpack } from './hpack.mjs';
import { cpuSeconds, median, writeBenchSection } from './support.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const DURATION = Number(process.env.BENCH_DURATION ?? 4);
const BULK_MIB = Number(process.env.BENCH_BULK_MIB ?? 256);
const H2LOAD = '/usr/bin/h2load';
/** h2load load shape: 10 connections × 50 concurrent streams, one client thread. */
const H2LOAD_ARGS = ['-c', '10', '-m', '50', '-t', '1', '-D', String(DURATION), '--warm-up-time', '1'];
const COMMAND = 'npm run bench:core';


/** Start a server script in its own process; resolves with its port once it prints "listening on". */
function startServer(args, label) {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolvePort, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`${label} exited (${code}) before listening: ${out}`)));
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on https?:\/\/[^:]+:(\d+)/.exec(out);
      if (m) {
        child.removeAllListeners('exit');
        child.stdout.resume();
        resolvePort({ port: Number(m[1]), pid: child.pid, stop: () => child.kill('SIGTERM') });
      }
    });
  });
}

function run(cmd, args) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolveRun(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err || out}`))));
  });
}

/** One h2load run against a server; with its pid, also the server's CPU µs per request (CPU / (wall × req/s), warm-up included in both). */
async function h2load(port, extra, pid) {
  const cpu0 = pid ? cpuSeconds(pid) : 0;
  const t0 = performance.now();
  const out = await run(H2LOAD, [...H2LOAD_ARGS, ...extra, `http://127.0.0.1:${port}/`]);
  const wall = (performance.now() - t0) / 1000;
  const cpu = pid ? cpuSeconds(pid) - cpu0 : NaN;
  const rate = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out);
  const counts = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  const status = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  // In duration mode (-D) h2load's totals and status counts differ by the requests cut at the end,
  // so only outright failures and error statuses disqualify a run.
  if (Number(counts[4]) + Number(counts[5]) > 0 || !status || Number(status[3]) + Number(status[4]) > 0) {
    throw new Error(`h2load saw failures (${counts[4]} failed, ${counts[5]} errored, ${status?.[3]} 4xx, ${status?.[4]} 5xx):\n${out}`);
  }
  const reqPerSec = Number(rate[1]);
  return { reqPerSec, cpuUsPerRequest: (cpu * 1e6) / (wall * reqPerSec) };
}

/** Our two server APIs, each compared with node:http2's `stream` API doing the same work. */
const OUR_APIS = [
  { key: 'fetch', label: 'Fetch API (Request in, Response out)' },
  { key: 'fetchFast', label: 'Fetch API, FastResponse as the global Response (opt-in `installFastResponse()`)' },
  { key: 'stream', label: 'stream API (ServerStream, `onStream`)' },
];

async function benchRequests(rows, cpuRows) {
  if (!existsSync(H2LOAD)) {
    console.log(`SKIP requests/s: ${H2LOAD} not found — install it with \`apt-get install nghttp2-client\``);
    rows.push({ section: 'Requests/s (h2load)', name: 'skipped: h2load not installed (apt-get install nghttp2-client)', ours: NaN, node: NaN, unit: 'req/s' });
    return;
  }
  const tmp = mkdtempSync(join(os.tmpdir(), 'bench-core-'));
  const bodyFile = join(tmp, 'body-1k');
  writeFileSync(bodyFile, new Uint8Array(1024).fill(0x62));
  const servers = {
    fetch: await startServer(['examples/dist/h2-server.js', '--port', '0', '--api', 'fetch'], 'examples h2-server --api fetch'),
    fetchFast: await startServer(['examples/dist/h2-server.js', '--port', '0', '--api', 'fetch-fast'], 'examples h2-server --api fetch-fast'),
    stream: await startServer(['examples/dist/h2-server.js', '--port', '0', '--api', 'stream'], 'examples h2-server --api stream'),
    node: await startServer(['test/bench/node-h2-server.mjs', '--port', '0'], 'node-h2-server'),
  };
  const contenders = ['fetch', 'fetchFast', 'stream', 'node'];
  try {
    const variants = [
      { name: `GET, ${H2LOAD_ARGS.slice(0, 4).join(' ')}`, extra: [] },
      { name: `POST 1 KiB echoed, ${H2LOAD_ARGS.slice(0, 4).join(' ')}`, extra: ['-d', bodyFile] },
    ];
    for (const variant of variants) {
      const samples = Object.fromEntries(contenders.map((c) => [c, []]));
      const cpu = Object.fromEntries(contenders.map((c) => [c, []]));
      for (let round = 0; round < ROUNDS; round++) {
        // Rotate which contender goes first, so drift (thermal, other load) hits all alike.
        const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]);
        for (const who of order) {
          const r = await h2load(servers[who].port, variant.extra, servers[who].pid);
          samples[who].push(r.reqPerSec);
          cpu[who].push(r.cpuUsPerRequest);
        }
        process.stderr.write(`  req/s ${variant.name} round ${round + 1}/${ROUNDS}: ${contenders.map((c) => `${c} ${samples[c].at(-1).toFixed(0)} (${cpu[c].at(-1).toFixed(1)} µs CPU/req)`).join(', ')}\n`);
      }
      for (const api of OUR_APIS) {
        rows.push({ section: 'Requests/s (h2load), against node:http2\'s `stream` API', name: `${variant.name} — ours: ${api.label}`, ours: median(samples[api.key]), node: median(samples.node), unit: 'req/s' });
      }
      cpuRows.push({ name: variant.name, fetch: median(cpu.fetch), fetchFast: median(cpu.fetchFast), stream: median(cpu.stream), node: median(cpu.node) });
    }
  } finally {
    for (const c of contenders) servers[c].stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function bulkOnce(client, port, direction, bytes) {
  const out = await run(process.execPath, ['test/bench/bulk-client.mjs', '--impl', client, '--url', `http://127.0.0.1:${port}`, '--direction', direction, '--bytes', String(bytes)]);
  const { bytes: moved, seconds } = JSON.parse(out.trim().split('\n').at(-1));
  return moved / seconds / 1e6;
}

async function benchBulk(rows) {
  const bytes = BULK_MIB * 1024 * 1024;
  const servers = {
    ours: await startServer(['test/bench/bulk-server.mjs', '--impl', 'ours', '--port', '0'], 'bulk-server ours'),
    node: await startServer(['test/bench/bulk-server.mjs', '--impl', 'node', '--port', '0'], 'bulk-server node'),
  };
  // Pairs of (client, server): same kind on both ends, then each of ours against node's other half.
  const pairings = [
    { label: 'both ends', ours: ['ours', 'ours'], node: ['node', 'node'] },
    { label: 'our server (node client)', ours: ['node', 'ours'], node: ['node', 'node'] },
    { label: 'our client (node server)', ours: ['ours', 'node'], node: ['node', 'node'] },
  ];
  try {
    for (const direction of ['download', 'upload']) {
      const combos = ['ours,ours', 'node,node', 'node,ours', 'ours,node'];
      const samples = Object.fromEntries(combos.map((c) => [c, []]));
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 ? [...combos].reverse() : combos;
        for (const combo of order) {
          const [client, server] = combo.split(',');
          samples[combo].push(await bulkOnce(client, servers[server].port, direction, bytes));
        }
        process.stderr.write(`  bulk ${direction} round ${round + 1}/${ROUNDS}: ${combos.map((c) => `${c} ${samples[c].at(-1).toFixed(0)}`).join(', ')} MB/s\n`);
      }
      for (const p of pairings) {
        const what = direction === 'download' ? 'server sends' : 'client sends';
        rows.push({
          section: `Bulk, ${BULK_MIB} MiB over one stream (MB/s)`,
          name: `${direction} (${what}), ${p.label}`,
          ours: median(samples[p.ours.join(',')]),
          node: median(samples[p.node.join(',')]),
          unit: 'MB/s',
        });
      }
    }
  } finally {
    servers.ours.stop();
    servers.node.stop();
  }
}

async function benchHpackRows(rows) {
  const { table } = await benchHpack();
  const [title, , ...lines] = table.split('\n');
  for (const line of lines) {
    const m = /^(\w+)\s+([\d,]+)\s+([\d,]+)/.exec(line);
    if (!m) continue;
    const num = (s) => Number(s.replaceAll(',', ''));
    rows.push({ section: 'HPACK (headers/s), vs hpack.js', name: `${m[1]} (${title.replace(/^HPACK over /, '').replace(/;.*$/, '')})`, ours: num(m[2]), node: num(m[3]), unit: 'headers/s' });
  }
}

const fmt = (n) => (Number.isNaN(n) ? '—' : n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1));
const ratio = (r) => (Number.isNaN(r.ours / r.node) ? '—' : `${(r.ours / r.node).toFixed(2)}×`);

function markdown(rows) {
  const lines = ['| Benchmark | @rhttp/core | baseline | ours / baseline |', '|---|---:|---:|---:|'];
  let section;
  for (const r of rows) {
    if (r.section !== section) {
      section = r.section;
      lines.push(`| **${section}** | | | |`);
    }
    lines.push(`| ${r.name} | ${fmt(r.ours)} | ${fmt(r.node)} | ${ratio(r)} |`);
  }
  return lines.join('\n');
}

function cpuMarkdown(cpuRows) {
  if (cpuRows.length === 0) return '';
  const lines = [
    '**Server CPU per request** (µs of user + system CPU of the server process, from `/proc/PID/stat` around each h2load run, divided by wall time × req/s; medians)',
    '',
    '| Load | ours: Fetch API | ours: Fetch API, FastResponse global | ours: stream API | node:http2 `stream` API | Fetch / node | Fetch FastResponse / node | stream / node |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of cpuRows) lines.push(`| ${r.name} | ${r.fetch.toFixed(1)} | ${r.fetchFast.toFixed(1)} | ${r.stream.toFixed(1)} | ${r.node.toFixed(1)} | ${(r.fetch / r.node).toFixed(2)}× | ${(r.fetchFast / r.node).toFixed(2)}× | ${(r.stream / r.node).toFixed(2)}× |`);
  return lines.join('\n');
}

function plain(rows) {
  const w = Math.max(...rows.map((r) => r.name.length)) + 2;
  const lines = [`${''.padEnd(w)}${'@rhttp/core'.padStart(14)}${'baseline'.padStart(14)}${'ours/base'.padStart(11)}`];
  let section;
  for (const r of rows) {
    if (r.section !== section) {
      section = r.section;
      lines.push(section);
    }
    lines.push(`  ${r.name.padEnd(w - 2)}${fmt(r.ours).padStart(14)}${fmt(r.node).padStart(14)}${ratio(r).padStart(11)}`);
  }
  return lines.join('\n');
}

function machine() {
  const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
  let h2loadVersion = 'not installed';
  try {
    h2loadVersion = execFileSync(H2LOAD, ['--version'], { encoding: 'utf8' }).trim().split('\n')[0];
  } catch {}
  return `${os.availableParallelism()} cores (${cpu}), ${os.platform()} ${os.release()}, Node ${process.version}, ${h2loadVersion}`;
}

function writeDocs(table, cpuTable, date) {
  const lines = [
    '## Core: @rhttp/core against node:http2 and hpack.js',
    '',
    `Measured ${date} on ${machine()}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' / ')} (1/5/15 min) at the end of the run — other work on the box makes the figures noisy.`,
    '',
    `Command: \`${COMMAND}\` (= \`tsc -b && node test/bench/core.mjs\`; BENCH_ROUNDS=${ROUNDS}, BENCH_DURATION=${DURATION}, BENCH_BULK_MIB=${BULK_MIB}).`,
    '',
    table,
    '',
    ...(cpuTable ? [cpuTable, ''] : []),
    `Medians of ${ROUNDS} rounds; within a round the contenders run one after the other, order alternating between rounds.`,
    '',
    '- Requests/s: `h2load ' + H2LOAD_ARGS.join(' ') + ' http://127.0.0.1:PORT/` (POST adds `-d` with a 1 KiB file) against `examples/dist/h2-server.js` three times — `--api fetch` (our Fetch API: Request in, Response out, the handler making the runtime\'s own `Response`), `--api fetch-fast` (the same handler after the opt-in `installFastResponse()` made `FastResponse` the global `Response`) and `--api stream` (our low-level ServerStream API, `onStream`, the counterpart of node\'s) — and `test/bench/node-h2-server.mjs` (node:http2 `stream` API); all four do the same work (200, the request body echoed or "ok", content-type copied), each server in its own process. Each of our rows is divided by the same node:http2 median. The four run one after the other, the first one rotating every round. h2load takes one core, the server the other.',
    '- Bulk: `test/bench/bulk-client.mjs` → `test/bench/bulk-server.mjs`, one stream over loopback TCP, timed in the client from request to last byte (download) or to the response (upload), after a 4 MiB warm-up on the same connection. node:http2 runs with our window sizes (1 MiB stream window, 16 MiB connection window, 64 KiB frames; `test/bench/bulk-settings.mjs`), not its 64 KiB defaults. "our server (node client)" compares node client → our server with node → node; "our client (node server)" compares our client → node server with node → node.',
    '- HPACK: `test/bench/hpack.mjs` (encode and decode every raw-data story of hpack-test-case, fresh context per story), against hpack.js.',
    '- Targets (not tests): ≥ 1.0× node:http2 for requests/s and bulk, ≥ 2× hpack.js for HPACK.',
  ];
  return writeBenchSection('core', lines);
}

const rows = [];
console.error(`bench:core — ${machine()}; ${ROUNDS} rounds`);
const cpuRows = [];
await benchRequests(rows, cpuRows);
await benchBulk(rows);
await benchHpackRows(rows);
const date = new Date().toISOString().slice(0, 10);
console.log(`\n@rhttp/core vs node:http2 / hpack.js — ${date}, ${machine()}\n`);
console.log(plain(rows));
if (cpuRows.length > 0) console.log(`\nserver CPU µs/request (Fetch API / Fetch API with FastResponse global / stream API / node:http2):\n${cpuRows.map((r) => `  ${r.name}: ${r.fetch.toFixed(1)} / ${r.fetchFast.toFixed(1)} / ${r.stream.toFixed(1)} / ${r.node.toFixed(1)}`).join('\n')}`);
if (process.env.BENCH_NO_DOCS !== '1') console.log(`\nwritten to ${writeDocs(markdown(rows), cpuMarkdown(cpuRows), date)}`);
