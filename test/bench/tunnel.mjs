// rhttp's tunnel against the same upstream reached directly and through nginx as a classic
// reverse proxy, side by side in one run: requests/s and latency under h2load, bulk MB/s for one
// 256 MiB download and upload, and the intermediary's memory per idle held agent session. The
// contenders alternate (A B C … then reversed) over several rounds and the medians are compared.
// Prints the tables and writes them into docs/benchmarks.md between the bench:tunnel markers.
// Figures only, no assertions.
//
//   npm run bench:tunnel                 (= tsc -b && node test/bench/tunnel.mjs)
//
// Every party runs in its own process (built code: apps/intermediary/dist, packages/agent/dist,
// packages/core/dist): the upstream (tunnel-upstream.mjs, node:http and a node:http2 h2c twin),
// the intermediary (tunnel-intermediary.mjs), the agent (tunnel-agent.mjs), nginx, h2load, curl.
//
// Environment: BENCH_ROUNDS (default 5), BENCH_DURATION (h2load seconds per run, default 4),
// BENCH_BULK_MIB (default 256), BENCH_BULK_ROUNDS (default 3), BENCH_BULK_WARMUP (default 2), BENCH_IDLE_SESSIONS (default 1000),
// BENCH_NGINX_WORKERS (default 1), BENCH_NO_DOCS=1 to leave docs/benchmarks.md alone,
// BENCH_ONLY=requests,bulk,ssh,memory,h3,h3-bulk to run a subset ("ssh" needs Debian's openssh-server: the
// HTTP/1.1 keep-alive leg against `ssh -R` to a private sshd on loopback, skipped without it; "h3"
// and "h3-bulk" need Deno (node_modules/@deno/linux-x64-glibc, or BENCH_DENO=PATH): requests/s and
// bulk of the tunnel over h3-reverse (QUIC) against h2-reverse, Deno intermediary and Deno agent for
// both, skipped without Deno and written to their own part of docs/benchmarks.md, between the
// bench:tunnel-h3 markers; BENCH_DENO_LOGS=DIR keeps the Deno processes' output there).
import { execFileSync, fork, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeDevCertificates } from '../../packages/node/dist/certs.js';
import { cpuSeconds, median, sleep, track, withChildren, writeBenchSection } from './support.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const DURATION = Number(process.env.BENCH_DURATION ?? 4);
const BULK_MIB = Number(process.env.BENCH_BULK_MIB ?? 256);
const BULK_ROUNDS = Number(process.env.BENCH_BULK_ROUNDS ?? 3);
/** Unmeasured transfers per contender before the bulk rounds (see warmUp). */
const BULK_WARMUP = Number(process.env.BENCH_BULK_WARMUP ?? 2);
const IDLE_SESSIONS = Number(process.env.BENCH_IDLE_SESSIONS ?? 1000);
const NGINX_WORKERS = Number(process.env.BENCH_NGINX_WORKERS ?? 1);
const ONLY = new Set((process.env.BENCH_ONLY ?? 'requests,bulk,ssh,memory,h3,h3-bulk').split(','));
const SSH = '/usr/bin/ssh';
const SSHD = '/usr/sbin/sshd';
const SSH_KEYGEN = '/usr/bin/ssh-keygen';
const H2LOAD = '/usr/bin/h2load';
const NGINX = '/usr/sbin/nginx';
const CURL = '/usr/bin/curl';
const DENO = process.env.BENCH_DENO ?? join(root, 'node_modules/@deno/linux-x64-glibc/deno');
/** Deno's flags for the built CLIs: all permissions, and the unstable QUIC API (Deno.QuicEndpoint). */
const DENO_RUN = ['run', '-A', '--unstable-net'];
const HOST = 'app.localhost';
const ORIGIN = `https://${HOST}`;
/** h2load load shape: 10 connections × 10 concurrent streams, one client thread. */
const H2LOAD_ARGS = ['-c', '10', '-m', '10', '-t', '1', '-D', String(DURATION), '--warm-up-time', '1', '-H', `:authority: ${HOST}`];
/** HTTP/1.1 keep-alive load for the ssh -R comparison: 8 connections, one request at a time on each (no pipelining, as browsers do). */
const H1_ARGS = ['--h1', '-c', '8', '-m', '1', '-t', '1', '-D', String(DURATION), '--warm-up-time', '1', '-H', `:authority: ${HOST}`];
/** Agent connections in the throughput runs: the agent's default (`--connections 2`). */
const AGENT_CONNECTIONS = 2;
/** When the memory figures are read after the last idle session was authorized: the storm's, and the idle state's (V8's memory reducer has run). */
const STORM_SETTLE_MS = 2_000;
const IDLE_SETTLE_MS = 12_000;
/** Per-session memory above the bare node:tls floor that issue 10 asks for at most (KiB). */
const TARGET_KIB_ABOVE_FLOOR = 16;
const COMMAND = 'npm run bench:tunnel';
/** Arguments as one would type them (quoted where they hold spaces). */
const shellJoin = (args) => args.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ');


// ------------------------------------------------------------------ processes

/** Waits until the child's stdout matches `pattern`; resolves with the match. */
function awaitLine(child, pattern, label) {
  return new Promise((resolveLine, reject) => {
    let out = '';
    const onExit = (code) => reject(new Error(`${label} exited (${code}) before printing ${pattern}: ${out}`));
    child.once('exit', onExit);
    const onData = (d) => {
      out += d;
      const m = pattern.exec(out);
      if (m) {
        child.removeListener('exit', onExit);
        child.stdout.removeListener('data', onData);
        child.stdout.resume();
        resolveLine(m);
      }
    };
    child.stdout.on('data', onData);
  });
}

function startNode(args, label, nodeArgs = []) {
  return track(spawn(process.execPath, [...nodeArgs, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] }));
}

/** The intermediary (or, for the memory floor, tunnel-tls-floor.mjs) in a forked process, with IPC for its memory figures. */
async function startIntermediary(certs, script = 'tunnel-intermediary.mjs') {
  const child = track(fork(join(here, script), ['--certs', certs], { cwd: root, execArgv: ['--expose-gc'], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] }));
  const m = await awaitLine(child, /listening on http:\/\/127\.0\.0\.1:(\d+) agents 127\.0\.0\.1:(\d+)/, script);
  const ask = (message) =>
    new Promise((resolveAnswer) => {
      child.once('message', resolveAnswer);
      child.send(message);
    });
  return { child, http: Number(m[1]), agents: Number(m[2]), memory: () => ask({ type: 'memory' }), ask, stop: () => child.kill('SIGTERM') };
}

async function waitAuthorized(intermediary, n, what) {
  for (let i = 0; i < 600; i++) {
    const m = await intermediary.memory();
    if (m.authorized >= n) return m;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${n} authorized ${what}`);
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolvePort(port));
    });
  });
}

/** Debian's nginx as a classic reverse proxy: h2c in front (prior knowledge), HTTP/1.1 keep-alive behind. */
async function startNginx(dir, upstreamPort) {
  const h2cPort = await freePort();
  const h1Port = await freePort();
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d), { recursive: true });
  const config = `# generated by test/bench/tunnel.mjs
${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes ${NGINX_WORKERS};
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  # nginx closes a connection (GOAWAY for h2) after 1000 requests by default; h2load counts the
  # streams in flight then as failed, and neither the tunnel nor the direct upstream does it.
  keepalive_requests 1000000;
  upstream app {
    server 127.0.0.1:${upstreamPort};
    keepalive 32;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${h2cPort} http2;   # h2c, prior knowledge (nginx 1.22: "listen … http2")
    listen 127.0.0.1:${h1Port};         # HTTP/1.1, for curl's bulk transfers
    server_name ${HOST};
    client_max_body_size 0;             # the 256 MiB upload
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      # Stream both ways like the tunnel does, rather than spooling 256 MiB bodies to disk.
      proxy_request_buffering off;
      proxy_buffering off;
    }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), config);
  const child = track(spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'inherit', 'inherit'] }));
  for (let i = 0; i < 100; i++) {
    try {
      await run(CURL, ['-sS', '-o', '/dev/null', `http://127.0.0.1:${h1Port}/`]);
      return { h2cPort, h1Port, pids: () => withChildren(child.pid), stop: () => child.kill('SIGQUIT') };
    } catch {
      if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}); see ${dir}/error.log`);
      await sleep(50);
    }
  }
  throw new Error('nginx did not come up');
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

// ------------------------------------------------------------------ requests/s

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

/** One h2load run; req/s from its summary, p50/p99 (ms) from its per-request log. */
async function h2load(label, url, extra, logFile, proxyPids, upstreamPids, base = H2LOAD_ARGS, { tolerateFailures = false } = {}) {
  const started = performance.now();
  const cpu0 = [cpuSeconds(proxyPids), cpuSeconds(upstreamPids)];
  const out = await run(H2LOAD, [...base, ...extra, '--log-file', logFile, url]);
  const wall = (performance.now() - started) / 1000;
  const cpu = [cpuSeconds(proxyPids) - cpu0[0], cpuSeconds(upstreamPids) - cpu0[1]];
  const rate = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out);
  const counts = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  const status = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  // In duration mode (-D) h2load's totals and status counts differ by the requests cut at the end,
  // so only outright failures and error statuses disqualify a run.
  const failures = Number(counts?.[4]) + Number(counts?.[5]);
  const errorStatuses = Number(status?.[3]) + Number(status?.[4]);
  if (!rate || !counts || !status || (!tolerateFailures && failures + errorStatuses > 0)) {
    throw new Error(`h2load against ${label} (${url}) saw failures (${counts?.[4]} failed, ${counts?.[5]} errored, ${status?.[3]} 4xx, ${status?.[4]} 5xx):\n${out}`);
  }
  // Columns: start (µs since epoch), status, µs until the end of the response.
  const times = [];
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    const [, code, us] = line.split('\t');
    if (code === '200') times.push(Number(us) / 1000);
  }
  rmSync(logFile, { force: true });
  times.sort((a, b) => a - b);
  const rps = Number(rate[1]);
  // CPU per request: the processes' CPU over the whole run (warm-up included) divided by the
  // requests of the same span, estimated as wall time × the measured rate.
  const perRequestMs = (seconds) => (seconds / (wall * rps)) * 1000;
  return { rps, p50: percentile(times, 50), p99: percentile(times, 99), proxyCpuMs: perRequestMs(cpu[0]), upstreamCpuMs: perRequestMs(cpu[1]), failed: Number(counts[4]), errorStatuses, total: Number(counts[1]) };
}

async function benchRequests(setup, tmp) {
  const contenders = [
    { key: 'rhttp', name: 'rhttp: h2c → intermediary → agent → HTTP/1.1 upstream', url: `http://127.0.0.1:${setup.intermediary.http}/`, extra: [], proxy: () => [setup.intermediary.child.pid, setup.agent.pid], upstream: [setup.upH1.pid] },
    { key: 'nginx', name: `nginx ${setup.nginxVersion}: h2c → nginx → HTTP/1.1 upstream`, url: `http://127.0.0.1:${setup.nginx.h2cPort}/`, extra: [], proxy: setup.nginx.pids, upstream: [setup.upH1.pid] },
    { key: 'direct-h2c', name: 'direct: h2c → upstream (node:http2 twin)', url: `http://127.0.0.1:${setup.upstreamH2c}/`, extra: [], proxy: () => [], upstream: [setup.upH2c.pid] },
    { key: 'direct-h1', name: 'direct: HTTP/1.1 → upstream (h2load --h1, -m 10 = pipelined)', url: `http://127.0.0.1:${setup.upstreamH1}/`, extra: ['--h1'], proxy: () => [], upstream: [setup.upH1.pid] },
  ];
  const samples = Object.fromEntries(contenders.map((c) => [c.key, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate the order, so drift (thermal, other load) hits every contender alike.
    const order = round % 2 ? [...contenders].reverse() : contenders;
    for (const c of order) samples[c.key].push(await h2load(c.key, c.url, c.extra, join(tmp, `h2load-${c.key}.log`), c.proxy(), c.upstream));
    process.stderr.write(`  req/s round ${round + 1}/${ROUNDS}: ${contenders.map((c) => `${c.key} ${samples[c.key].at(-1).rps.toFixed(0)}`).join(', ')}\n`);
  }
  return contenders.map((c) => ({
    ...c,
    rps: median(samples[c.key].map((s) => s.rps)),
    p50: median(samples[c.key].map((s) => s.p50)),
    p99: median(samples[c.key].map((s) => s.p99)),
    proxyCpuMs: median(samples[c.key].map((s) => s.proxyCpuMs)),
    upstreamCpuMs: median(samples[c.key].map((s) => s.upstreamCpuMs)),
  }));
}

// ------------------------------------------------------------------ bulk

/** One curl transfer; MB/s = bytes moved / curl's total time (connect included, negligible at 256 MiB). */
async function curlOnce(c, direction, bytes, uploadFile) {
  const args = ['-sS', '--fail', '-o', '/dev/null', '-w', '%{size_download} %{size_upload} %{time_total}', ...c.curl];
  if (direction === 'download') args.push(`${c.base}/bulk?bytes=${bytes}`);
  else args.push('-T', uploadFile, '-H', 'Expect:', `${c.base}/upload`);
  const [down, up, seconds] = (await run(CURL, args)).trim().split(' ').map(Number);
  const moved = direction === 'download' ? down : up;
  if (moved !== bytes) throw new Error(`${c.key} ${direction}: moved ${moved} bytes, expected ${bytes}`);
  return moved / seconds / 1e6;
}

/**
 * Unmeasured transfers before a bulk section's rounds, BULK_WARMUP per contender: rhttp's proxies
 * are JavaScript, and V8 optimises their byte path over the first few hundred MiB (measured: the
 * first 256 MiB download through a fresh intermediary and agent at 180–260 MB/s, the third at
 * 300–520; under `node --no-opt` it stays at 180–220). The rounds then measure the steady state of
 * every contender alike; the first transfer of each is kept and reported as the cold figure.
 */
async function warmUp(contenders, once) {
  const cold = {};
  for (let i = 0; i < BULK_WARMUP; i++) {
    for (const c of contenders) {
      const mbps = await once(c);
      if (i === 0) cold[c.key] = mbps;
    }
  }
  if (BULK_WARMUP > 0) process.stderr.write(`  warm-up (first transfers, cold): ${contenders.map((c) => `${c.key} ${cold[c.key].toFixed(0)}`).join(', ')} MB/s\n`);
  return cold;
}

async function benchBulk(setup, tmp) {
  const bytes = BULK_MIB * 1024 * 1024;
  const uploadFile = join(tmp, 'upload.bin');
  const fd = openSync(uploadFile, 'w');
  const block = Buffer.alloc(1024 * 1024, 0x63);
  for (let i = 0; i < BULK_MIB; i++) writeSync(fd, block);
  closeSync(fd);
  const host = ['-H', `host: ${HOST}`];
  const contenders = [
    { key: 'rhttp', name: 'rhttp, HTTP/1.1 browser leg', base: `http://127.0.0.1:${setup.intermediary.http}`, curl: host },
    { key: 'rhttp-h2c', name: 'rhttp, h2c browser leg (curl --http2-prior-knowledge)', base: `http://127.0.0.1:${setup.intermediary.http}`, curl: [...host, '--http2-prior-knowledge'] },
    { key: 'nginx', name: 'nginx, HTTP/1.1 browser leg', base: `http://127.0.0.1:${setup.nginx.h1Port}`, curl: host },
    { key: 'direct', name: 'direct: curl → upstream, HTTP/1.1', base: `http://127.0.0.1:${setup.upstreamH1}`, curl: host },
  ];
  const result = Object.fromEntries(contenders.map((c) => [c.key, { ...c, download: [], upload: [] }]));
  const cold = {};
  for (const direction of ['download', 'upload']) {
    cold[direction] = await warmUp(contenders, (c) => curlOnce(c, direction, bytes, uploadFile));
    for (let round = 0; round < BULK_ROUNDS; round++) {
      const order = round % 2 ? [...contenders].reverse() : contenders;
      for (const c of order) result[c.key][direction].push(await curlOnce(c, direction, bytes, uploadFile));
      process.stderr.write(`  bulk ${direction} round ${round + 1}/${BULK_ROUNDS}: ${contenders.map((c) => `${c.key} ${result[c.key][direction].at(-1).toFixed(0)}`).join(', ')} MB/s\n`);
    }
  }
  rmSync(uploadFile, { force: true });
  return contenders.map((c) => ({ ...c, download: median(result[c.key].download), upload: median(result[c.key].upload), coldDownload: cold.download[c.key], coldUpload: cold.upload[c.key] }));
}

// ------------------------------------------------------------------ ssh -R

/**
 * `ssh -R`, the plain tunnel behind localhost.run-style services: a private sshd on loopback (its
 * own host key, config and authorized key in `dir`) and `ssh -N -R 127.0.0.1:PORT:upstream` into
 * it. Browsers then reach the upstream at 127.0.0.1:PORT through sshd → ssh → upstream.
 */
async function startSshTunnel(dir, upstreamPort) {
  mkdirSync(dir, { recursive: true });
  mkdirSync('/run/sshd', { recursive: true }); // sshd's privilege-separation directory
  for (const key of ['host', 'client']) execFileSync(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, key)]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client.pub')));
  const sshdPort = await freePort();
  const forwardPort = await freePort();
  writeFileSync(
    join(dir, 'sshd_config'),
    [`Port ${sshdPort}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, `PidFile ${join(dir, 'sshd.pid')}`, 'PasswordAuthentication no', 'UsePAM no', 'StrictModes no', 'PermitRootLogin prohibit-password', 'AllowTcpForwarding yes', ''].join('\n'),
  );
  const sshd = track(spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] }));
  await sleep(300);
  const user = os.userInfo().username;
  const ssh = track(
    spawn(SSH, ['-N', '-T', '-p', String(sshdPort), '-i', join(dir, 'client'), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ExitOnForwardFailure=yes', '-o', 'LogLevel=ERROR', '-R', `127.0.0.1:${forwardPort}:127.0.0.1:${upstreamPort}`, `${user}@127.0.0.1`], { stdio: ['ignore', 'ignore', 'inherit'] }),
  );
  for (let i = 0; i < 100; i++) {
    try {
      await run(CURL, ['-sS', '--fail', '-o', '/dev/null', `http://127.0.0.1:${forwardPort}/`]);
      return { port: forwardPort, pids: () => withChildren(sshd.pid).concat(ssh.pid), stop: () => (ssh.kill('SIGTERM'), sshd.kill('SIGTERM')) };
    } catch {
      if (ssh.exitCode !== null || sshd.exitCode !== null) break;
      await sleep(100);
    }
  }
  throw new Error('the ssh -R tunnel did not come up');
}

/** HTTP/1.1 keep-alive browsers through rhttp's --http listener and through ssh -R, same upstream, alternating. */
async function benchSsh(setup, tmp) {
  const tunnel = await startSshTunnel(join(tmp, 'ssh'), setup.upstreamH1);
  try {
    const contenders = [
      { key: 'rhttp', name: 'rhttp: HTTP/1.1 → intermediary → agent → HTTP/1.1 upstream', port: setup.intermediary.http, proxy: () => [setup.intermediary.child.pid, setup.agent.pid] },
      { key: 'ssh', name: 'ssh -R: HTTP/1.1 → sshd → ssh → HTTP/1.1 upstream', port: tunnel.port, proxy: tunnel.pids },
      { key: 'direct', name: 'direct: HTTP/1.1 → upstream', port: setup.upstreamH1, proxy: () => [] },
    ];
    const bytes = BULK_MIB * 1024 * 1024;
    const samples = Object.fromEntries(contenders.map((c) => [c.key, { req: [], bulk: [], bulkCpuMs: [] }]));
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 ? [...contenders].reverse() : contenders;
      for (const c of order) samples[c.key].req.push(await h2load(c.key, `http://127.0.0.1:${c.port}/`, [], join(tmp, `h2load-h1-${c.key}.log`), c.proxy(), [setup.upH1.pid], H1_ARGS));
      process.stderr.write(`  HTTP/1.1 req/s round ${round + 1}/${ROUNDS}: ${contenders.map((c) => `${c.key} ${samples[c.key].req.at(-1).rps.toFixed(0)}`).join(', ')}\n`);
    }
    const download = (c) => curlOnce({ key: c.key, base: `http://127.0.0.1:${c.port}`, curl: ['-H', `host: ${HOST}`] }, 'download', bytes);
    const cold = await warmUp(contenders, download);
    for (let round = 0; round < BULK_ROUNDS; round++) {
      const order = round % 2 ? [...contenders].reverse() : contenders;
      for (const c of order) {
        // MB/s moves with whatever else the two cores run; the proxies' CPU per byte much less.
        const before = cpuSeconds(c.proxy());
        samples[c.key].bulk.push(await download(c));
        samples[c.key].bulkCpuMs.push((cpuSeconds(c.proxy()) - before) * 1000);
      }
      process.stderr.write(`  HTTP/1.1 download round ${round + 1}/${BULK_ROUNDS}: ${contenders.map((c) => `${c.key} ${samples[c.key].bulk.at(-1).toFixed(0)} MB/s (proxy CPU ${samples[c.key].bulkCpuMs.at(-1).toFixed(0)} ms)`).join(', ')}\n`);
    }
    return contenders.map((c) => ({
      ...c,
      rps: median(samples[c.key].req.map((s) => s.rps)),
      p50: median(samples[c.key].req.map((s) => s.p50)),
      p99: median(samples[c.key].req.map((s) => s.p99)),
      proxyCpuMs: median(samples[c.key].req.map((s) => s.proxyCpuMs)),
      download: median(samples[c.key].bulk),
      downloadCpuMs: median(samples[c.key].bulkCpuMs),
      coldDownload: cold[c.key],
    }));
  } finally {
    tunnel.stop();
  }
}

// ------------------------------------------------------------------ memory per idle session

/** Memory of `script`'s process with no agent sessions and with IDLE_SESSIONS idle ones. */
async function idleSessions(certs, script) {
  // A fresh process of its own, so the throughput runs leave nothing behind in it.
  const server = await startIntermediary(certs, script);
  const idleAgents = (count) => startNode(['test/bench/tunnel-idle-agents.mjs', '--certs', certs, '--port', String(server.agents), '--count', String(count)], 'idle agents');
  try {
    // One session first and closed again: loads the code paths (TLS context, certificate parsing,
    // broker) that the first session would otherwise be charged with.
    const warm = idleAgents(1);
    await awaitLine(warm, /connected (\d+)/, 'idle agents');
    await waitAuthorized(server, 1, 'warm-up session');
    warm.kill('SIGTERM');
    for (let i = 0; i < 100 && (await server.memory()).sessions > 0; i++) await sleep(50);
    await sleep(500);
    const before = await server.memory();
    const agents = idleAgents(IDLE_SESSIONS);
    await awaitLine(agents, /connected (\d+)/, 'idle agents');
    await waitAuthorized(server, IDLE_SESSIONS, 'idle sessions');
    // Let the first PINGs and any deferred work settle before measuring. RSS 2 s after the storm
    // still holds its garbage (the old generation's pages, measured 2026-12-06): V8's memory reducer
    // gives them back once allocation has been low for 8 s (--gc-memory-reducer-start-delay-ms),
    // so the idle state is measured after that, and the storm figure is kept beside it.
    await sleep(STORM_SETTLE_MS);
    const storm = await server.memory();
    await sleep(IDLE_SETTLE_MS - STORM_SETTLE_MS);
    const after = await server.memory();
    if (process.env.BENCH_HEAP_SNAPSHOT && script === 'tunnel-intermediary.mjs') {
      const { file } = await server.ask({ type: 'snapshot', file: resolve(process.env.BENCH_HEAP_SNAPSHOT) });
      process.stderr.write(`  heap snapshot with ${after.authorized} sessions: ${file}\n`);
    }
    agents.kill('SIGTERM');
    process.stderr.write(`  memory (${script}): ${before.sessions} → ${after.authorized} sessions, RSS ${mib(before.rss)} → ${mib(storm.rss)} MiB after ${STORM_SETTLE_MS / 1000} s, ${mib(after.rss)} MiB after ${IDLE_SETTLE_MS / 1000} s, heap used ${mib(before.heapUsed)} → ${mib(after.heapUsed)} MiB\n`);
    return { before, storm, after, n: after.authorized - before.authorized };
  } finally {
    server.stop();
  }
}

async function benchMemory(certs) {
  return { rhttp: await idleSessions(certs, 'tunnel-intermediary.mjs'), floor: await idleSessions(certs, 'tunnel-tls-floor.mjs') };
}

// ------------------------------------------------------------------ h3-reverse (QUIC, Deno)

/** Why Deno cannot run the QUIC carrier here (the section is then skipped), or undefined. */
function denoUnavailable() {
  if (!existsSync(DENO)) return `no Deno binary at ${DENO} (the optional dependency @deno/linux-x64-glibc: npm ci; or BENCH_DENO=PATH)`;
  const r = spawnSync(DENO, ['eval', '--unstable-net', 'if (typeof Deno.QuicEndpoint !== "function") Deno.exit(3)'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error) return `Deno cannot start: ${r.error.message}`;
  if (r.status === 3) return 'this Deno has no Deno.QuicEndpoint even with --unstable-net';
  if (r.status !== 0) return `Deno cannot start (exit ${r.status}): ${(r.stderr || r.stdout).trim().slice(0, 300)}`;
  return undefined;
}

const denoVersion = () => /deno ([\d.]+)/.exec(spawnSync(DENO, ['--version'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? '?';

function freeUdpPort() {
  return new Promise((resolvePort, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolvePort(port));
    });
  });
}

/** `deno run -A --unstable-net SCRIPT ARGS…`; its stdout and stderr are kept (the CLIs log to both) and matched by `waitFor`. */
function startDeno(script, args, label) {
  const child = track(spawn(DENO, [...DENO_RUN, script, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  const waiters = new Set();
  const onData = (d) => {
    out += d;
    if (out.length > 1 << 20) out = out.slice(-(1 << 19));
    for (const w of waiters) w();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const waitFor = (pattern) =>
    new Promise((resolveLine, reject) => {
      const check = () => {
        const m = pattern.exec(out);
        if (m) {
          waiters.delete(check);
          child.removeListener('exit', onExit);
          resolveLine(m);
        }
      };
      const onExit = (code) => (waiters.delete(check), reject(new Error(`${label} exited (${code}) before printing ${pattern}:\n${out}`)));
      child.once('exit', onExit);
      waiters.add(check);
      check();
    });
  return { child, pid: child.pid, waitFor, output: () => out, stop: () => child.kill('SIGTERM') };
}

/** Authorized agent sessions in the intermediary's status JSON (its --http listener, loopback only). */
async function waitAuthorizedStatus(httpPort, n, label) {
  for (let i = 0; i < 600; i++) {
    try {
      const status = await (await fetch(`http://127.0.0.1:${httpPort}/.rhttp/status?format=json`)).json();
      if (status.sessions.filter((s) => s.state === 'authorized').length >= n) return;
    } catch {}
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${n} authorized ${label} sessions`);
}

/**
 * One carrier's setup: the built intermediary CLI under Deno (`--agents`, `--http`, `--quic`, the
 * same listeners for both carriers) and the built agent CLI under Deno dialing `scheme://` (tls for
 * h2-reverse, quic for h3-reverse) with AGENT_CONNECTIONS connections to the shared upstream.
 */
async function startDenoTunnel(carrier, certs, upstreamPort) {
  const ports = { agents: await freePort(), http: await freePort(), quic: await freeUdpPort() };
  const intermediary = startDeno(
    'apps/intermediary/dist/cli.js',
    ['--agents', `127.0.0.1:${ports.agents}`, '--http', `127.0.0.1:${ports.http}`, '--quic', `127.0.0.1:${ports.quic}`, '--cert', join(certs, 'intermediary.pem'), '--key', join(certs, 'intermediary.key'), '--trust', join(certs, 'ca.pem')],
    `deno intermediary (${carrier.key})`,
  );
  await intermediary.waitFor(/listening for agents and browsers on quic:\/\//);
  const dial = carrier.scheme === 'quic' ? `quic://127.0.0.1:${ports.quic}` : `tls://127.0.0.1:${ports.agents}`;
  const agent = startDeno(
    'packages/agent/dist/cli.js',
    ['--intermediary', dial, '--origin', ORIGIN, '--upstream', `http://127.0.0.1:${upstreamPort}`, '--cert', join(certs, 'origin.pem'), '--key', join(certs, 'origin.key'), '--ca', join(certs, 'ca.pem'), '--servername', 'localhost', '--connections', String(AGENT_CONNECTIONS)],
    `deno agent (${carrier.key})`,
  );
  try {
    await waitAuthorizedStatus(ports.http, AGENT_CONNECTIONS, carrier.key);
  } catch (e) {
    throw new Error(`${e.message}\nintermediary:\n${intermediary.output()}\nagent:\n${agent.output()}`);
  }
  return { ...carrier, ports, intermediary, agent, stop: () => (agent.stop(), intermediary.stop()) };
}

/** BENCH_DENO_LOGS=DIR: the Deno processes' output is written there at the end (what the 5xx were, if any). */
function keepDenoLogs(setups) {
  const dir = process.env.BENCH_DENO_LOGS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  for (const s of setups) {
    writeFileSync(join(dir, `${s.key}-intermediary.log`), s.intermediary.output());
    writeFileSync(join(dir, `${s.key}-agent.log`), s.agent.output());
  }
}

/**
 * The tunnel over h3-reverse (QUIC) against the same tunnel over h2-reverse (TLS), both with the
 * Deno intermediary and the Deno agent, so the runtime is the same and the ratio shows the carrier.
 * The browser leg is h2c to --http for both. Requests/s with the proxy's CPU split by process, and
 * bulk transfers with curl.
 */
async function benchH3(certs, tmp) {
  const upH1 = startNode(['test/bench/tunnel-upstream.mjs'], 'upstream (h3 section)');
  const upstreamPort = Number((await awaitLine(upH1, /listening on http:\/\/127\.0\.0\.1:(\d+)/, 'upstream'))[1]);
  const setups = [];
  try {
    for (const carrier of [
      { key: 'h2-reverse', scheme: 'tls', name: 'h2-reverse: h2c → Deno intermediary → TLS, HTTP/2 → Deno agent → HTTP/1.1 upstream' },
      { key: 'h3-reverse', scheme: 'quic', name: 'h3-reverse: h2c → Deno intermediary → QUIC, HTTP/3 → Deno agent → HTTP/1.1 upstream' },
    ]) {
      setups.push(await startDenoTunnel(carrier, certs, upstreamPort));
    }
    for (const s of setups) {
      const size = (await run(CURL, ['-sS', '--fail', '-o', '/dev/null', '-w', '%{size_download}', '-H', `host: ${HOST}`, '--http2-prior-knowledge', `http://127.0.0.1:${s.ports.http}/`])).trim();
      if (size !== '1024') throw new Error(`${s.key} answered ${size} bytes, not 1024`);
    }
    const samples = Object.fromEntries(setups.map((s) => [s.key, { req: [], download: [], upload: [] }]));
    for (let round = 0; ONLY.has('h3') && round < ROUNDS; round++) {
      const order = round % 2 ? [...setups].reverse() : setups;
      for (const s of order) {
        // CPU per process too: which side of the carrier the time goes to.
        const cpu0 = [cpuSeconds(s.intermediary.pid), cpuSeconds(s.agent.pid)];
        const started = performance.now();
        // Failed requests and 4xx/5xx answers are counted and shown, not fatal: the carrier is new.
        const r = await h2load(s.key, `http://127.0.0.1:${s.ports.http}/`, [], join(tmp, `h2load-${s.key}.log`), [s.intermediary.pid, s.agent.pid], [upH1.pid], H2LOAD_ARGS, { tolerateFailures: true });
        const requests = ((performance.now() - started) / 1000) * r.rps;
        r.intermediaryCpuMs = ((cpuSeconds(s.intermediary.pid) - cpu0[0]) / requests) * 1000;
        r.agentCpuMs = ((cpuSeconds(s.agent.pid) - cpu0[1]) / requests) * 1000;
        samples[s.key].req.push(r);
      }
      const line = (r) => `${r.rps.toFixed(0)}${r.failed > 0 ? ` (${r.failed} of ${r.total} failed, ${r.errorStatuses} of them 4xx/5xx)` : ''}`;
      process.stderr.write(`  h3 section req/s round ${round + 1}/${ROUNDS}: ${setups.map((s) => `${s.key} ${line(samples[s.key].req.at(-1))}`).join(', ')}\n`);
    }
    if (ONLY.has('h3-bulk')) {
      const bytes = BULK_MIB * 1024 * 1024;
      const uploadFile = join(tmp, 'upload-h3.bin');
      const fd = openSync(uploadFile, 'w');
      const block = Buffer.alloc(1024 * 1024, 0x63);
      for (let i = 0; i < BULK_MIB; i++) writeSync(fd, block);
      closeSync(fd);
      for (const direction of ['download', 'upload']) {
        for (let round = 0; round < BULK_ROUNDS; round++) {
          const order = round % 2 ? [...setups].reverse() : setups;
          for (const s of order) samples[s.key][direction].push(await curlOnce({ key: s.key, base: `http://127.0.0.1:${s.ports.http}`, curl: ['-H', `host: ${HOST}`, '--http2-prior-knowledge'] }, direction, bytes, uploadFile));
          process.stderr.write(`  h3 section bulk ${direction} round ${round + 1}/${BULK_ROUNDS}: ${setups.map((s) => `${s.key} ${samples[s.key][direction].at(-1).toFixed(0)}`).join(', ')} MB/s\n`);
        }
      }
      rmSync(uploadFile, { force: true });
    }
    const med = (xs) => (xs.length ? median(xs) : NaN);
    return {
      deno: denoVersion(),
      rows: setups.map((s) => {
        const req = samples[s.key].req;
        return {
          key: s.key,
          name: s.name,
          rps: med(req.map((r) => r.rps)),
          p50: med(req.map((r) => r.p50)),
          p99: med(req.map((r) => r.p99)),
          proxyCpuMs: med(req.map((r) => r.proxyCpuMs)),
          intermediaryCpuMs: med(req.map((r) => r.intermediaryCpuMs)),
          agentCpuMs: med(req.map((r) => r.agentCpuMs)),
          upstreamCpuMs: med(req.map((r) => r.upstreamCpuMs)),
          // h2load's "failed" counts 4xx/5xx answers and errored streams alike.
          failures: req.reduce((n, r) => n + r.failed, 0),
          total: req.reduce((n, r) => n + r.total, 0),
          download: med(samples[s.key].download),
          upload: med(samples[s.key].upload),
        };
      }),
    };
  } finally {
    keepDenoLogs(setups);
    for (const s of setups) s.stop();
    upH1.kill('SIGTERM');
  }
}

// ------------------------------------------------------------------ output

const int = (n) => (Number.isNaN(n) ? '—' : Math.round(n).toLocaleString('en-US'));
const ms = (n) => (n < 10 ? n.toFixed(2) : n.toFixed(1));
const x = (a, b) => `${(a / b).toFixed(2)}×`;
/** A cold (first-transfer) figure, or a dash when the bench ran without warm-up transfers. */
const cold = (n) => (n === undefined ? '—' : int(n));
const kib = (bytes) => (bytes / 1024).toFixed(1);
const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);

function tables(requests, bulk, memory, ssh) {
  const out = [];
  if (requests) {
    const nginx = requests.find((r) => r.key === 'nginx');
    const direct = requests.find((r) => r.key === 'direct-h2c');
    out.push(`**Requests/s and latency** (h2load \`${shellJoin(H2LOAD_ARGS)}\`, GET / → 1 KiB body; medians of ${ROUNDS} rounds)`, '');
    out.push('| Path | req/s | p50 ms | p99 ms | req/s vs nginx | req/s vs direct h2c | proxy CPU ms/req | upstream CPU ms/req |', '|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of requests) {
      const proxyCpu = r.key.startsWith('direct') ? '—' : r.proxyCpuMs.toFixed(3);
      out.push(`| ${r.name} | ${int(r.rps)} | ${ms(r.p50)} | ${ms(r.p99)} | ${x(r.rps, nginx.rps)} | ${x(r.rps, direct.rps)} | ${proxyCpu} | ${r.upstreamCpuMs.toFixed(3)} |`);
    }
    out.push('');
  }
  if (bulk) {
    const direct = bulk.find((r) => r.key === 'direct');
    out.push(`**Bulk, one ${BULK_MIB} MiB transfer with curl** (MB/s; medians of ${BULK_ROUNDS} rounds after ${BULK_WARMUP} unmeasured transfers per path and direction; cold = the first of those, through processes that had carried only small requests)`, '');
    out.push('| Path | download | upload | download vs direct | upload vs direct | cold download | cold upload |', '|---|---:|---:|---:|---:|---:|---:|');
    for (const r of bulk) out.push(`| ${r.name} | ${int(r.download)} | ${int(r.upload)} | ${x(r.download, direct.download)} | ${x(r.upload, direct.upload)} | ${cold(r.coldDownload)} | ${cold(r.coldUpload)} |`);
    out.push('');
  }
  if (ssh) {
    const sshRow = ssh.find((r) => r.key === 'ssh');
    out.push(`**HTTP/1.1 keep-alive browsers: rhttp against \`ssh -R\`** (h2load \`${shellJoin(H1_ARGS)}\`, GET / → 1 KiB body, medians of ${ROUNDS} rounds; one ${BULK_MIB} MiB curl download, medians of ${BULK_ROUNDS} after ${BULK_WARMUP} unmeasured ones; cold = the first of those)`, '');
    out.push('| Path | req/s | p50 ms | p99 ms | proxy CPU ms/req | download MB/s | proxy CPU ms/download | req/s vs ssh -R | MB/s vs ssh -R | cold download MB/s |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of ssh) {
      const proxied = r.key !== 'direct';
      out.push(`| ${r.name} | ${int(r.rps)} | ${ms(r.p50)} | ${ms(r.p99)} | ${proxied ? r.proxyCpuMs.toFixed(3) : '—'} | ${int(r.download)} | ${proxied ? int(r.downloadCpuMs) : '—'} | ${x(r.rps, sshRow.rps)} | ${x(r.download, sshRow.download)} | ${cold(r.coldDownload)} |`);
    }
    out.push('');
  }
  if (memory) {
    const { rhttp, floor } = memory;
    const per = (m, key, at = 'after') => (m[at][key] - m.before[key]) / m.n;
    out.push(`**Intermediary memory per idle held session** (${rhttp.n} authorized sessions, ${IDLE_SETTLE_MS / 1000} s after the last one came, after two forced GCs; KiB per session = (with − without) / sessions)`, '');
    out.push('| Measure | 0 sessions | with sessions | per session (KiB) |', '|---|---:|---:|---:|');
    out.push(`| RSS | ${mib(rhttp.before.rss)} MiB | ${mib(rhttp.after.rss)} MiB | **${kib(per(rhttp, 'rss'))}** |`);
    out.push(`| V8 heap committed (heapTotal) | ${mib(rhttp.before.heapTotal)} MiB | ${mib(rhttp.after.heapTotal)} MiB | ${kib(per(rhttp, 'heapTotal'))} |`);
    out.push(`| V8 heap used | ${mib(rhttp.before.heapUsed)} MiB | ${mib(rhttp.after.heapUsed)} MiB | ${kib(per(rhttp, 'heapUsed'))} |`);
    out.push(`| external (ArrayBuffers, TLS wraps) | ${mib(rhttp.before.external)} MiB | ${mib(rhttp.after.external)} MiB | ${kib(per(rhttp, 'external'))} |`);
    out.push(`| floor: RSS of a bare node:tls server holding the same ${floor.n} connections | ${mib(floor.before.rss)} MiB | ${mib(floor.after.rss)} MiB | ${kib(per(floor, 'rss'))} |`);
    out.push(`| floor: its V8 heap used | ${mib(floor.before.heapUsed)} MiB | ${mib(floor.after.heapUsed)} MiB | ${kib(per(floor, 'heapUsed'))} |`);
    out.push(`| rhttp above the floor (RSS) | | | **${kib(per(rhttp, 'rss') - per(floor, 'rss'))}** (target ≤ ${TARGET_KIB_ABOVE_FLOOR}) |`);
    out.push(`| the same ${STORM_SETTLE_MS / 1000} s after the last session came: rhttp RSS / floor RSS / rhttp above the floor | | ${mib(rhttp.storm.rss)} / ${mib(floor.storm.rss)} MiB | ${kib(per(rhttp, 'rss', 'storm'))} / ${kib(per(floor, 'rss', 'storm'))} / ${kib(per(rhttp, 'rss', 'storm') - per(floor, 'rss', 'storm'))} |`);
    out.push('');
  }
  return out.join('\n');
}

function tablesH3(h3) {
  const out = [];
  const h2 = h3.rows.find((r) => r.key === 'h2-reverse');
  if (ONLY.has('h3')) {
    out.push(`**Requests/s and latency** (h2load \`${shellJoin(H2LOAD_ARGS)}\` against the intermediary's \`--http\` (h2c), GET / → 1 KiB body; medians of ${ROUNDS} rounds)`, '');
    out.push('| Carrier | req/s | p50 ms | p99 ms | req/s vs h2-reverse | proxy CPU ms/req | intermediary CPU ms/req | agent CPU ms/req | upstream CPU ms/req | failed (all rounds) |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of h3.rows) {
      out.push(`| ${r.name} | ${int(r.rps)} | ${ms(r.p50)} | ${ms(r.p99)} | ${x(r.rps, h2.rps)} | ${r.proxyCpuMs.toFixed(3)} | ${r.intermediaryCpuMs.toFixed(3)} | ${r.agentCpuMs.toFixed(3)} | ${r.upstreamCpuMs.toFixed(3)} | ${int(r.failures)} of ${int(r.total)} |`);
    }
    out.push('');
  }
  if (ONLY.has('h3-bulk')) {
    out.push(`**Bulk, one ${BULK_MIB} MiB transfer with curl over h2c** (MB/s; medians of ${BULK_ROUNDS} rounds)`, '');
    out.push('| Carrier | download | upload | download vs h2-reverse | upload vs h2-reverse |', '|---|---:|---:|---:|---:|');
    for (const r of h3.rows) out.push(`| ${r.key} | ${int(r.download)} | ${int(r.upload)} | ${x(r.download, h2.download)} | ${x(r.upload, h2.upload)} |`);
    out.push('');
  }
  return out.join('\n');
}

/** The h3-reverse part of docs/benchmarks.md, between its own markers (after the tunnel's), so either can be re-run alone. */
function writeDocsH3(body, date, nginxVersion, loadBefore, deno) {
  const only = process.env.BENCH_ONLY ? `BENCH_ONLY=${process.env.BENCH_ONLY} ` : '';
  const lines = [
    '### h3-reverse: the tunnel over QUIC against h2-reverse, both under Deno',
    '',
    `Measured ${date} on ${machine(nginxVersion)}, Deno ${deno}; load average ${loadBefore} before and ${os.loadavg().map((l) => l.toFixed(1)).join(' / ')} (1/5/15 min) after the run.`,
    '',
    `Command: \`${only}BENCH_ROUNDS=${ROUNDS} BENCH_DURATION=${DURATION} BENCH_BULK_MIB=${BULK_MIB} BENCH_BULK_ROUNDS=${BULK_ROUNDS} ${COMMAND}\` (the "h3" and "h3-bulk" parts of \`test/bench/tunnel.mjs\`).`,
    '',
    body,
    `Both rows run the built CLIs under Deno (\`deno run -A --unstable-net apps/intermediary/dist/cli.js --agents … --http … --quic … --cert … --key … --trust …\` and \`deno run -A --unstable-net packages/agent/dist/cli.js --intermediary tls://…|quic://… --connections ${AGENT_CONNECTIONS} …\`), one intermediary and one agent per carrier, the same Node upstream (\`test/bench/tunnel-upstream.mjs\`) behind both; so the runtime is the same and the ratio shows the carrier: TLS over TCP with reversed HTTP/2 against QUIC with reversed HTTP/3 (our own HTTP/3 and QPACK in @rhttp/core over Deno's QUIC: Deno.QuicEndpoint and Deno.connectQuic). The browser leg is the same h2c to \`--http\` in both. Within a round the two run one after the other, the order reversed every other round. CPU ms/req: user + system CPU of each Deno process (all its threads) from /proc/PID/stat around each h2load run, divided by wall time × req/s, medians; "proxy" is intermediary + agent. Skipped, with the reason printed, when Deno cannot start.`,
    '',
    "- Where the time goes (measured 2026-12-05 by hand, not re-measured by the script; Deno has no `--cpu-prof`, so the intermediary ran with `--inspect` and was profiled over the inspector protocol for 4 s of the same h2load load (`test/bench/deno-cpu-profile.mjs`, summarised by `test/bench/profile-top.mjs`), and each thread's CPU read from /proc/PID/task/TID/stat): over both carriers about 70% of each Deno process's CPU is its main thread and 30% V8's worker threads (concurrent GC). In the intermediary's JavaScript, h3-reverse adds Deno's Web Streams (`ext:deno_web/06_streams.js`: every request is a QUIC bidirectional stream handed to us as a ReadableStream/WritableStream pair, read and written chunk by chunk), \u224826% of its busy main-thread time, which the TLS carrier (one socket, HTTP/2 framing in @rhttp/core) does not have; GC is \u224820% of it on both. QUIC's own packet work (quinn, packet protection, UDP sends) runs in Rust during the event loop and is not in a JavaScript profile. The agent's profile under `--inspect` was dominated by the inspector's own network events for node:http (its upstream client then), so only its /proc figures are used.",
  ];
  return writeBenchSection('tunnel-h3', lines, 'tunnel');
}

function machine(nginxVersion) {
  const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
  let h2loadVersion = 'h2load not installed';
  try {
    h2loadVersion = execFileSync(H2LOAD, ['--version'], { encoding: 'utf8' }).trim().split('\n')[0];
  } catch {}
  return `${os.availableParallelism()} cores (${cpu}), ${os.platform()} ${os.release()}, Node ${process.version}, ${h2loadVersion}, nginx ${nginxVersion}`;
}

function writeDocs(body, date, nginxVersion, loadBefore) {
  const lines = [
    '## Tunnel: rhttp against direct and against nginx',
    '',
    `Measured ${date} on ${machine(nginxVersion)}; load average ${loadBefore} before and ${os.loadavg().map((l) => l.toFixed(1)).join(' / ')} (1/5/15 min) after the run — other work on the box makes the figures noisy.`,
    '',
    `Command: \`${COMMAND}\` (= \`tsc -b && node test/bench/tunnel.mjs\`; BENCH_ROUNDS=${ROUNDS}, BENCH_DURATION=${DURATION}, BENCH_BULK_MIB=${BULK_MIB}, BENCH_BULK_ROUNDS=${BULK_ROUNDS}, BENCH_IDLE_SESSIONS=${IDLE_SESSIONS}, BENCH_NGINX_WORKERS=${NGINX_WORKERS}).`,
    '',
    body,
    'Within a round the contenders run one after the other, the order reversed every other round. Every party is its own process; on 2 cores they share the CPU with h2load or curl.',
    '',
    '- Upstream: `test/bench/tunnel-upstream.mjs`, node:http with keep-alive (`GET /` answers a fixed 1 KiB body, `GET /bulk?bytes=N` streams N bytes, `PUT /upload` reads the body); the same handler behind node:http2 (`--h2c`) is "direct h2c", so that h2load can reach the upstream without a proxy in the same protocol it uses against the proxies.',
    `- rhttp: the built \`Intermediary\` (\`test/bench/tunnel-intermediary.mjs\`, \`--http\` listener, HTTP/1.1 and h2c) and the built \`Agent\` (\`test/bench/tunnel-agent.mjs\`, \`--upstream http://127.0.0.1:PORT\`, ${AGENT_CONNECTIONS} connections, the CLI default), each after \`tuneForProxying()\` as their CLIs (two V8 flags: allocation-site pretenuring off, the old generation's growing factor at 4; packages/node/src/v8-tuning.ts), over TLS 1.3 \`h2-reverse\` with dev certificates from \`writeDevCertificates\`; the agent talks HTTP/1.1 keep-alive to the upstream. h2load is given \`-H ':authority: ${HOST}'\`, which routes to the origin \`${ORIGIN}\` (its \`-H 'host: …'\` would add a second field beside \`:authority: 127.0.0.1:PORT\`, and the intermediary routes by the authority: 503).`,
    `- nginx: Debian's nginx with a generated config in a temp dir (\`nginx -p DIR -c DIR/nginx.conf -g 'daemon off;'\`): \`worker_processes ${NGINX_WORKERS}\`, \`listen 127.0.0.1:PORT http2\` (h2c with prior knowledge) plus a plain HTTP/1.1 listener for curl, \`proxy_pass\` to an \`upstream { keepalive 32; }\` with \`proxy_http_version 1.1; proxy_set_header Connection "";\`, access log off, \`proxy_buffering off; proxy_request_buffering off\` (streams bodies as the tunnel does).`,
    `- Requests/s: \`h2load ${shellJoin(H2LOAD_ARGS)} --log-file FILE http://127.0.0.1:PORT/\`; req/s from h2load's summary, p50/p99 from the per-request response times of \`--log-file\` (h2load itself prints only min/max/mean/sd), medians over rounds. "direct HTTP/1.1" adds \`--h1\`, where \`-m 10\` means 10 pipelined requests per connection.`,
    '- CPU ms/req: user + system CPU of the proxy processes (rhttp: intermediary + agent; nginx: master + workers) and of the upstream, read from /proc/PID/stat around each h2load run and divided by wall time × req/s (warm-up included in both); medians over rounds. On a shared 2-core box requests/s follows CPU per request.',
    `- Bulk: \`curl -sS --fail -o /dev/null -w '%{size_download} %{size_upload} %{time_total}' -H 'host: ${HOST}' URL/bulk?bytes=${BULK_MIB * 1024 * 1024}\` (download) and \`curl … -T FILE -H 'Expect:' URL/upload\` (upload of a ${BULK_MIB} MiB file); MB/s = bytes / curl's total time. Before the rounds every path makes ${BULK_WARMUP} unmeasured transfers each way: V8 optimises the proxies' byte path over the first few hundred MiB (a fresh intermediary and agent moved their first 256 MiB download at 180–260 MB/s and the third at 300–520; under \`node --no-opt\` they stay at 180–220; glibc malloc thresholds set by environment made no difference to that warm-up; since 2026-12-06 core raises them itself once a connection has moved 4 MiB, \`transport/bulk-allocator.ts\`), so the medians are the steady state and the "cold" columns the first transfer, through processes that had carried only small requests. The h2c upload row is bound by curl, not the proxies: curl's HTTP/2 upload of 256 MiB costs it 0.8–1.1 s of CPU (its HTTP/1.1 upload 0.12 s, either download ≈0.15 s; measured 2026-12-06 with \`/usr/bin/time\`), while the intermediary's and the agent's CPU per upload is the same for h2c and HTTP/1.1 browsers (≈460–510 ms each, from /proc).`,
    `- Memory: a fresh intermediary forked with \`--expose-gc\`; one agent session opened and closed first (warms code paths), then ${IDLE_SESSIONS} minimal agents (\`test/bench/tunnel-idle-agents.mjs\`: TLS \`h2-reverse\` + client certificate, @rhttp/core \`connectSocket\` in the server role sending SETTINGS and ORIGIN, nothing else) until the intermediary's \`status()\` shows them all authorized, then ${IDLE_SETTLE_MS / 1000} s to settle, then two \`gc()\` calls and \`process.memoryUsage()\` inside the intermediary; per session = (with − without) / sessions. The idle state is read after V8's memory reducer has run (it starts after 8 s of low allocation): ${STORM_SETTLE_MS / 1000} s after the storm of connections, RSS still holds that storm's garbage, more of it since the CLIs pin the old generation's growing factor at 4 (packages/node/src/v8-tuning.ts; measured 2026-12-06: at 2 s, ≈ 9 KiB per session more with the flag than without; at 12 s the same within 1.4 KiB). The last row gives the figures read at ${STORM_SETTLE_MS / 1000} s. The floor is the same measurement against \`test/bench/tunnel-tls-floor.mjs\`, a bare node:tls server with the agent listener's options that answers the HTTP/2 preface and holds the sockets: what any Node TLS server pays per connection. \`BENCH_HEAP_SNAPSHOT=FILE\` writes the intermediary's heap snapshot with the sessions held.`,
    "- Where it goes (measured 2026-12-05 by hand with `node --cpu-prof`, `perf record` and `strace -c` on the bench's processes; not re-measured by the script): **Requests.** Every hop passes one exchange shape with no web objects (core's `ClientExchange` and `ServerStream`, field lists from listener to HPACK, a plain `Abort` for the browser leaving). The agent forwards to its upstream with rhttp's own HTTP/1.1 client (the sans-I/O codec in `packages/core/src/http1/`, the keep-alive pool in `packages/agent/src/upstream-pool.ts`, one headers-timeout sweep per upstream) instead of node:http: under `h2load -c 10 -m 10` the agent's CPU per request fell from \u22480.12 to \u22480.05 ms and its GC share from 12% to 4%; what remains is mostly the write system calls and the HTTP/2 engine. In the intermediary, routing asks the broker registry whether an origin is served (it rebuilt and sorted every agent's origin list per request), a GET's body is dropped without an async iterator, a broker slot is taken without an await, and DATA framed in a flush goes right behind its own stream's HEADERS (before, one flush wrote every stream's HEADERS first, and 39% of responses reached the intermediary as HEADERS in one TLS record and DATA in a later one): its CPU per request, as a multiple of the upstream's in the same run, fell from 1.43 to 1.20 (four alternating rounds against the previous code); the agent's stayed at \u22482.2. Flushes wait for the end of the I/O turn (`setImmediate`), so the responses produced by one read leave in one write per socket. On this VM a socket write that wakes another process costs tens of \u00b5s (paravirtualised interrupts), which is why the HTTP/1.1 leg, one request per connection at a time, costs more CPU per request than h2c with 10 streams per connection. HTTP/1.1 browsers are served on core's sans-I/O `RequestParser` (`apps/intermediary/src/http1-server.ts`), not node:http, since 2026-12-06: in an A/B against node:http on the bench's processes (`h2load --h1 -n 40000 -c 8 -m 1`, four alternating rounds, CPU per request read from /proc), the intermediary's CPU per request, as a multiple of the upstream's, went from 2.25 to 1.97 and requests/s were higher in every pair (7,157/4,497, 6,857/5,781, 4,860/4,487, 7,124/5,656); a response that has arrived whole leaves with its head in one write. **Garbage collection** (measured 2026-12-06 with `--trace-gc-nvp`, forced full GCs and A/Bs): two states of V8 had doubled both proxies' CPU per request and made runs vary by ±50%. Allocation-site pretenuring put in-flight requests' objects in the old generation, where they kept the rest of their requests alive through every scavenge (the CLIs now turn it off: `tuneForProxying`, packages/node/src/v8-tuning.ts; agent CPU per request 69 → 39 µs); and a Map or Set churned per request (the stream registry, the agent's headers-timeout watch) made every request promoted after any full GC, such as the one an idle spell between rounds brings (now core's `IdTable`, packages/core/src/id-table.ts). Since both, the agent and the intermediary promote next to nothing per scavenge under this load. **Bulk.** A DATA frame arriving over TLS is handed on record by record as views of the decrypted records, not copied whole once complete (`codec/frame-reader.ts`, `dataInPieces`), and what one I/O turn brings leaves in one write (`TurnWriter` for HTTP/1.1 browsers and upstream bodies; the send scheduler for HTTP/2): for a 256 MiB download the intermediary makes 4,097 writes to an HTTP/1.1 browser (17,919 with Node's 16 KiB mark) and \u22483,500 to an h2c one (\u224820,000 when each record was flushed alone). During a download `perf` shows the two proxies' time in the kernel's loopback TCP path (\u224835% of the agent's samples), AES-GCM (\u224810% of the agent's, \u224833% of the intermediary's: the TLS hop ssh also pays) and memcpy (\u224810% of the agent's: Node's TLSWrap joins a writev's buffers before `SSL_write`, then copies the records out). Upstream, agent, intermediary and curl together keep both cores busy, so the transfer is CPU-bound; nginx, with one hop fewer and no encryption, reaches only \u22480.2\u00d7 of direct on this box, so 0.5\u00d7 of direct is beyond a design with two processes and a TLS hop here, and `ssh -R` (two C processes, one encryption, the same three TCP hops) is the reference that applies. Two changes of 2026-12-06 (measured by hand with `--trace-gc-verbose` and alternating A/Bs after the bench's mix of loads): both proxies had run a full GC about every 100 ms of a transfer once request load had grown their young generation, because V8 lowers the old generation's growing factor to 1.1 when bytes move outside the heap and almost nothing is promoted (the CLIs now pin it at 4: packages/node/src/v8-tuning.ts; 209–305 → 385–501 MB/s); and the agent reads a plain-TCP upstream in buffers of up to 256 KiB, each within the stream's credit (packages/agent/src/read-buffers.ts), instead of Node's 64 KiB (agent CPU per 256 MiB 410–570 → 360–460 ms).",
    "- Memory: a bare node:tls connection already costs \u224860 KiB RSS (OpenSSL's TLS state and record buffers, Node's TLSWrap/TCP/socket objects; glibc `arena_max=1:trim_threshold=0` does not lower it, so it is live memory, not allocator slack), which is why the target is stated above that floor. Above it rhttp keeps \u224813.8 KiB of used V8 heap per session, \u22488 KiB of which is its own data (the core session \u22483 KiB, the HPACK tables, Http2Session and AgentSession). Until 2026-12-05 most of the gap (\u224836 KiB) was verifying each agent's certificate chain with @peculiar/x509: \u22481 MB allocated per verification grew V8's young generation to its maximum during the connection storm and touched every page. Core now reads certificates with a lean DER reader (`origin/certificate-reader.ts`, \u224830 KB allocated per verification of leaf and CA), which declines anything it cannot read exactly as the library does and leaves those to @peculiar/x509 (checked field by field against the library, and by a property test of mutated certificates). What remains above the floor is the sessions' own long-lived heap growing the young generation during the storm.",
    `- Targets (issue 10; not tests): tunnel ≥ 0.8× nginx requests/s (aim 1.0×), proxy CPU ≤ 0.2 ms per request, HTTP/1.1 keep-alive leg ≥ 1.0× ssh -R (requests/s and MB/s), bulk ≥ 0.5× direct, RSS per idle session ≤ the node:tls floor + 16 KiB.`,
    '- HTTP/1.1 against ssh -R: a private sshd on 127.0.0.1 (its own host key and authorized key in a temp dir, `sshd -D -e -f FILE`) and `ssh -N -R 127.0.0.1:PORT:127.0.0.1:UPSTREAM` into it, the plain tunnel behind localhost.run-style services; the same h2load `--h1` load and curl download against it, rhttp\'s --http listener and the upstream directly, alternating. Proxy CPU ms/download: user + system CPU of the two proxy processes (intermediary and agent; sshd with its session process and ssh) over each measured download, from /proc, median: CPU per byte varies far less between runs than MB/s, which moves with whatever else the two cores run. Needs Debian\'s openssh-server (skipped with a message otherwise).',
  ];
  return writeBenchSection('tunnel', lines);
}

// ------------------------------------------------------------------ main

for (const [bin, pkg] of [
  [H2LOAD, 'nghttp2-client'],
  [NGINX, 'nginx'],
  [CURL, 'curl'],
]) {
  if (!existsSync(bin)) {
    console.error(`bench:tunnel needs ${bin}: apt-get install ${pkg}`);
    process.exit(1);
  }
}
// nginx -v prints to stderr.
const nginxVersion = /nginx\/([\d.]+)/.exec(spawnSync(NGINX, ['-v'], { encoding: 'utf8' }).stderr ?? '')?.[1] ?? '?';
const loadBefore = os.loadavg().map((l) => l.toFixed(1)).join(' / ');
console.error(`bench:tunnel — ${machine(nginxVersion)}; ${ROUNDS} rounds`);
const tmp = mkdtempSync(join(os.tmpdir(), 'bench-tunnel-'));
let requests;
let bulk;
let memory;
let ssh;
let h3;
try {
  const certs = join(tmp, 'certs');
  await writeDevCertificates(certs, { origins: [ORIGIN], intermediaryNames: ['localhost', '127.0.0.1'] });
  if (ONLY.has('requests') || ONLY.has('bulk') || ONLY.has('ssh')) {
    const upH1 = startNode(['test/bench/tunnel-upstream.mjs'], 'upstream');
    const upH2c = startNode(['test/bench/tunnel-upstream.mjs', '--h2c'], 'upstream h2c');
    const upstreamH1 = Number((await awaitLine(upH1, /listening on http:\/\/127\.0\.0\.1:(\d+)/, 'upstream'))[1]);
    const upstreamH2c = Number((await awaitLine(upH2c, /listening on http:\/\/127\.0\.0\.1:(\d+)/, 'upstream h2c'))[1]);
    const intermediary = await startIntermediary(certs);
    const agent = startNode(
      ['test/bench/tunnel-agent.mjs', '--certs', certs, '--intermediary', `tls://127.0.0.1:${intermediary.agents}`, '--upstream', `http://127.0.0.1:${upstreamH1}`, '--origin', ORIGIN, '--connections', String(AGENT_CONNECTIONS)],
      'agent',
    );
    await waitAuthorized(intermediary, AGENT_CONNECTIONS, 'agent connections');
    const nginx = await startNginx(join(tmp, 'nginx'), upstreamH1);
    const setup = { intermediary, agent, nginx, upH1, upH2c, upstreamH1, upstreamH2c, nginxVersion };
    // Each path answers the 1 KiB body before anything is measured.
    for (const [url, extra] of [
      [`http://127.0.0.1:${intermediary.http}/`, ['--http2-prior-knowledge']],
      [`http://127.0.0.1:${nginx.h2cPort}/`, ['--http2-prior-knowledge']],
      [`http://127.0.0.1:${upstreamH2c}/`, ['--http2-prior-knowledge']],
      [`http://127.0.0.1:${upstreamH1}/`, []],
    ]) {
      const size = (await run(CURL, ['-sS', '--fail', '-o', '/dev/null', '-w', '%{size_download}', '-H', `host: ${HOST}`, ...extra, url])).trim();
      if (size !== '1024') throw new Error(`${url} answered ${size} bytes, not 1024`);
    }
    try {
      if (ONLY.has('requests')) requests = await benchRequests(setup, tmp);
      if (ONLY.has('bulk')) bulk = await benchBulk(setup, tmp);
      if (ONLY.has('ssh')) {
        if (existsSync(SSHD) && existsSync(SSH)) ssh = await benchSsh(setup, tmp);
        else console.error(`bench:tunnel: skipping the ssh -R comparison: ${SSHD} is missing (apt-get install openssh-server)`);
      }
    } finally {
      nginx.stop();
      agent.kill('SIGTERM');
      intermediary.stop();
      upH1.kill('SIGTERM');
      upH2c.kill('SIGTERM');
    }
  }
  if (ONLY.has('memory')) memory = await benchMemory(certs);
  if (ONLY.has('h3') || ONLY.has('h3-bulk')) {
    const why = denoUnavailable();
    if (why) console.error(`bench:tunnel: skipping the h3-reverse comparison: ${why}`);
    else h3 = await benchH3(certs, tmp);
  }
} finally {
  await sleep(200);
  rmSync(tmp, { recursive: true, force: true });
}
const date = new Date().toISOString().slice(0, 10);
if (requests || bulk || memory || ssh) {
  const body = tables(requests, bulk, memory, ssh);
  console.log(`\nrhttp tunnel vs direct / nginx — ${date}, ${machine(nginxVersion)}\n`);
  console.log(body);
  if (process.env.BENCH_NO_DOCS !== '1') console.log(`written to ${writeDocs(body, date, nginxVersion, loadBefore)}`);
}
if (h3) {
  const body = tablesH3(h3);
  console.log(`\nrhttp tunnel: h3-reverse vs h2-reverse, Deno ${h3.deno} — ${date}, ${machine(nginxVersion)}\n`);
  console.log(body);
  if (process.env.BENCH_NO_DOCS !== '1') console.log(`written to ${writeDocsH3(body, date, nginxVersion, loadBefore, h3.deno)}`);
}
process.exit(0);
