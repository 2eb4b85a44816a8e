/**
 * End-to-end support: runs the built CLIs (`rhttp-intermediary`, `rhttp-agent`) as a user does,
 * as child processes on 127.0.0.1, plus a local upstream app, real clients (curl, nghttp) and
 * bounded waits. Every process started here is tracked and killed by {@link stopAll}.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as runtimes from '../support/runtimes.js';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const agentCli = join(repoRoot, 'packages/agent/dist/cli.js');
export const intermediaryCli = join(repoRoot, 'apps/intermediary/dist/cli.js');
export const CURL = '/usr/bin/curl';
export const NGHTTP = '/usr/bin/nghttp';
/** Bun and Deno binaries of this checkout; a missing one is reported (and skipped) by tunnel-runtimes, not thrown at import. */
export const bunBin = runtimes.bunBin ?? join(repoRoot, 'node_modules/.bin/bun');
export const denoBin = runtimes.denoBin ?? join(repoRoot, 'node_modules/.bin/deno');

/** How long a process may take to print a readiness line: generous, CI machines are slow. */
export const READY_TIMEOUT_MS = 20_000;

/** Throws a clear message when the CLIs have not been built (`npm test` builds them first). */
export function requireBuiltClis(): void {
  for (const file of [agentCli, intermediaryCli]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`npx tsc -b\` (or \`npm test\`, which builds first)`);
  }
}

// ------------------------------------------------------------------ processes

/** A child process with its combined output kept for assertions and failure messages. */
export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  /** stdout + stderr so far, interleaved as they arrived. */
  output(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  hasExited(): boolean;
  /** Waits until the output matches `pattern`; rejects on timeout or exit, quoting the output. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Signals the process (its whole group when started with `group`). */
  kill(signal?: NodeJS.Signals): void;
  /** Signals it, waits for it to exit, then kills what is left of its group; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Output quoted in a failure message: the end, where the reason usually is. */
const OUTPUT_TAIL_CHARS = 16_000;

const running = new Set<Proc>();

/**
 * Starts `command args` with stdout/stderr captured; tracked for {@link stopAll}. `env` is added
 * to this process's environment, or with `inheritEnv: false` is the whole environment. With
 * `group` it leads a process group of its own (npx, bunx and deno start children of their own),
 * and signals reach the whole group.
 */
export function startProcess(name: string, command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; inheritEnv?: boolean; group?: boolean } = {}): Proc {
  const env = opts.inheritEnv === false ? { NO_COLOR: '1', ...opts.env } : { ...process.env, NO_COLOR: '1', ...opts.env };
  const child = spawn(command, args, { cwd: opts.cwd ?? repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.group === true });
  const signal = (s: NodeJS.Signals) => {
    try {
      if (opts.group && child.pid) process.kill(-child.pid, s);
      else child.kill(s);
    } catch {
      // gone already
    }
  };
  let all = '';
  let err = '';
  let exitedFlag = false;
  const listeners = new Set<() => void>();
  const onData = (isErr: boolean) => (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    all += text;
    if (isErr) err += text;
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData(false));
  child.stderr!.on('data', onData(true));
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, exitSignal) => {
      exitedFlag = true;
      running.delete(proc);
      if (opts.group) signal('SIGKILL'); // what the leader left behind of its group
      for (const l of listeners) l();
      resolve(code ?? exitSignal ?? 'unknown');
    });
    child.on('error', (error) => {
      all += `\n[spawn error] ${error.message}\n`;
      exitedFlag = true;
      running.delete(proc);
      for (const l of listeners) l();
      resolve('spawn-error');
    });
  });
  const proc: Proc = {
    name,
    child,
    pid: child.pid ?? -1,
    output: () => all,
    stderr: () => err,
    exited,
    hasExited: () => exitedFlag,
    waitFor(pattern, timeoutMs = READY_TIMEOUT_MS) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = all.match(pattern);
          if (m) return done(() => resolve(m));
          if (exitedFlag) return done(() => reject(new Error(`${name} exited before printing ${pattern}; output:\n${all.slice(-OUTPUT_TAIL_CHARS)}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`${name} did not print ${pattern} within ${timeoutMs} ms; output:\n${all.slice(-OUTPUT_TAIL_CHARS)}`))), timeoutMs);
        const done = (f: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          f();
        };
        listeners.add(check);
        check();
      });
    },
    kill(s = 'SIGTERM') {
      if (!exitedFlag || opts.group) signal(s);
    },
    async stop(s = 'SIGTERM') {
      signal(s);
      const code = await exited;
      if (opts.group) signal('SIGKILL'); // a grandchild that outlived its parent
      return code;
    },
  };
  running.add(proc);
  return proc;
}

/** SIGKILLs every process still running that this module started, and waits for them to exit. */
export async function stopAll(): Promise<void> {
  const procs = [...running];
  for (const p of procs) p.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
}

/** Output of every process still running, for failure messages. */
export function describeRunning(): string {
  return [...running].map((p) => `--- ${p.name} (pid ${p.pid})\n${p.output().slice(-4000)}`).join('\n');
}

/** Resident set size of `pid` in bytes (VmRSS from /proc), or undefined once it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** `n` bytes as "12.3 MiB", for reports. */
export function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export interface RssSampler<K extends string> {
  /** Each process's RSS when sampling began (0 if it was already gone). */
  readonly start: Record<K, number>;
  /** Each process's peak RSS so far minus its start. */
  growth(): Record<K, number>;
  /** "RSS growth: intermediary 1.2 MiB (start 50.0 MiB), agent …", for failure messages and the log. */
  report(): string;
  stop(): void;
}

/** Samples the RSS of each of `pids` every `everyMs` until `stop()`, keeping each one's peak. */
export function sampleRss<K extends string>(pids: Record<K, number>, everyMs: number): RssSampler<K> {
  const keys = Object.keys(pids) as K[];
  const start = Object.fromEntries(keys.map((k) => [k, rssBytes(pids[k]) ?? 0])) as Record<K, number>;
  const peak = { ...start };
  const timer = setInterval(() => {
    for (const k of keys) peak[k] = Math.max(peak[k], rssBytes(pids[k]) ?? 0);
  }, everyMs);
  const growth = () => Object.fromEntries(keys.map((k) => [k, peak[k] - start[k]])) as Record<K, number>;
  return {
    start,
    growth,
    report: () => `RSS growth: ${keys.map((k) => `${k} ${mib(peak[k] - start[k])} (start ${mib(start[k])})`).join(', ')}`,
    stop: () => clearInterval(timer),
  };
}

// ------------------------------------------------------------------ ports, waiting, temp dirs

/** Ports this process handed out: the OS may give a just-closed port again, and two listeners of one test must not share it. */
const handedOut = new Set<number>();

/** A port that was free a moment ago on 127.0.0.1 (the OS picks it), never one this process handed out before. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a value other than undefined, or throws after `timeoutMs` with the last error. */
export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = READY_TIMEOUT_MS, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}\n${describeRunning()}`);
    await sleep(intervalMs);
  }
}

/** A fresh temporary directory; remove it with {@link removeDir}. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `rhttp-e2e-${prefix}-`));
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

// ------------------------------------------------------------------ clients

export interface CurlResult {
  code: number;
  stdout: Buffer;
  stderr: string;
  /** Set when `-w` output was requested with {@link curl}'s `writeOut`. */
  text: string;
}

/**
 * Runs curl asynchronously (never spawnSync: the upstream app lives in this process and must
 * keep answering). `-sS` is always on, so failures are on stderr.
 */
export function runClient(command: string, args: string[], opts: { timeoutMs?: number; onStdout?: (chunk: Buffer) => void } = {}): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out.push(c);
      opts.onStdout?.(c);
    });
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr: err, text: stdout.toString('utf8') });
    });
  });
}

export function curl(args: string[], opts: { timeoutMs?: number; onStdout?: (chunk: Buffer) => void } = {}): Promise<CurlResult> {
  return runClient(CURL, ['-sS', ...args], opts);
}

/** Parses `curl -i` / `-D -` output: status and headers of the LAST response head, and the body. */
export function parseCurlResponse(raw: Buffer): { status: number; headers: Record<string, string>; body: Buffer; heads: string[] } {
  let rest = raw;
  const heads: string[] = [];
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0 || !/^HTTP\/[\d.]+ \d{3}/.test(rest.subarray(0, 12).toString('latin1'))) break;
    heads.push(rest.subarray(0, end).toString('latin1'));
    rest = rest.subarray(end + 4);
    // 1xx (e.g. 101 after an h2c upgrade, 100 Continue) are followed by another head.
    if (!/^HTTP\/[\d.]+ 1\d\d/.test(heads[heads.length - 1])) break;
  }
  const head = heads[heads.length - 1] ?? '';
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) {
      const name = line.slice(0, i).trim().toLowerCase();
      const value = line.slice(i + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
  }
  return { status: Number(/^HTTP\/[\d.]+ (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0), headers, body: rest, heads };
}

/** One HTTP/1.1 request from this process with a chosen Host (fetch forbids setting Host). */
export function httpGet(port: number, host: string, path: string, opts: { agent?: http.Agent; timeoutMs?: number; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'GET', headers: { host, ...opts.headers }, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('response aborted')));
    });
    req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

export const sha256 = (data: Buffer | Uint8Array) => createHash('sha256').update(data).digest('hex');

// ------------------------------------------------------------------ the upstream test app

/** Period of the deterministic byte pattern of `/bytes`: byte p is `p % PATTERN_PERIOD`. */
const PATTERN_PERIOD = 251;
/** One write of `/bytes`: a whole number of periods (~64 KiB), so every chunk is the same buffer. */
const PATTERN_CHUNK = Buffer.from(Array.from({ length: PATTERN_PERIOD * 256 }, (_, i) => i % PATTERN_PERIOD));

/** The bytes `/bytes?n=N` sends. */
export function patternBytes(n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = i % PATTERN_PERIOD;
  return out;
}

/** SHA-256 of `patternBytes(n)` without holding them all. */
export function patternSha256(n: number): string {
  const hash = createHash('sha256');
  let left = n;
  while (left > 0) {
    const take = Math.min(left, PATTERN_CHUNK.length);
    hash.update(take === PATTERN_CHUNK.length ? PATTERN_CHUNK : PATTERN_CHUNK.subarray(0, take));
    left -= take;
  }
  return hash.digest('hex');
}

/** The page of `/transfer-page?n=N` (see startUpstream): its result is one JSON object in `#result`. */
function transferPage(n: number): string {
  return `<!doctype html><meta charset="utf-8"><title>transfer</title><pre id="result">pending</pre><script>
(async () => {
  const result = document.getElementById('result');
  try {
    const response = await fetch('/bytes?n=${n}', { cache: 'no-store' });
    const bytes = new Uint8Array(await response.arrayBuffer());
    let mismatches = 0;
    for (let i = 0; i < bytes.length; i++) if (bytes[i] !== i % ${PATTERN_PERIOD}) mismatches++;
    const fetched = performance.getEntriesByType('resource').find((e) => e.name === response.url);
    result.textContent = JSON.stringify({ page: performance.getEntries()[0].nextHopProtocol, fetch: fetched ? fetched.nextHopProtocol : null, status: response.status, bytes: bytes.length, mismatches });
  } catch (error) {
    result.textContent = JSON.stringify({ error: String(error) });
  }
})();
</script>`;
}

export interface Upstream {
  server: http.Server;
  url: string;
  port: number;
  /** Requests seen, in order (method, path, headers). */
  requests: { method: string; url: string; headers: http.IncomingHttpHeaders }[];
  /** When each `/sse` event was written (Date.now()), per SSE request in order. */
  sseSentAt: number[][];
  close(): Promise<void>;
}

/**
 * The app behind the agent, on 127.0.0.1:0:
 * `/hello` text; `/echo` streams the POST body back; `/bytes?n=N` N pattern bytes, streamed
 * with backpressure; `/sse` five events 100 ms apart; `/slow?ms=N` answers after N ms;
 * `/drip?chunks=N&ms=M` N lines M ms apart (a slow streaming download); `/headers` the request
 * headers as JSON; `/who` the name given here (to tell upstreams apart); `/transfer-page?n=N` an
 * HTML page whose script fetches `/bytes?n=N` and writes into `#result` the protocols the page and
 * the fetch went over (`nextHopProtocol`), the bytes received and how many differ from the pattern.
 */
export async function startUpstream(name = 'upstream'): Promise<Upstream> {
  const requests: Upstream['requests'] = [];
  const sseSentAt: number[][] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const n = (key: string, dflt: number) => (url.searchParams.has(key) ? Number(url.searchParams.get(key)) : dflt);
    switch (url.pathname) {
      case '/hello':
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`hello from ${name}\n`);
        return;
      case '/who':
        req.resume();
        res.end(name);
        return;
      case '/transfer-page':
        req.resume();
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(transferPage(n('n', 0)));
        return;
      case '/headers':
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(req.headers));
        return;
      case '/echo':
        res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' });
        req.pipe(res);
        return;
      case '/bytes': {
        req.resume();
        let left = n('n', 0);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(left) });
        const pump = () => {
          while (left > 0) {
            const take = Math.min(left, PATTERN_CHUNK.length);
            left -= take;
            const ok = res.write(take === PATTERN_CHUNK.length ? PATTERN_CHUNK : PATTERN_CHUNK.subarray(0, take));
            if (!ok) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('close', () => (left = 0));
        pump();
        return;
      }
      case '/sse': {
        req.resume();
        const sent: number[] = [];
        sseSentAt.push(sent);
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
        let i = 0;
        const tick = () => {
          i++;
          sent.push(Date.now());
          res.write(`id: ${i}\ndata: event ${i}\n\n`);
          if (i === 5) return void res.end();
          timer = setTimeout(tick, 100);
        };
        let timer = setTimeout(tick, 0);
        res.on('close', () => clearTimeout(timer));
        return;
      }
      case '/slow': {
        req.resume();
        const timer = setTimeout(() => res.end(`slept ${n('ms', 0)} ms\n`), n('ms', 0));
        res.on('close', () => clearTimeout(timer));
        return;
      }
      case '/drip': {
        req.resume();
        const chunks = n('chunks', 10);
        const ms = n('ms', 100);
        res.writeHead(200, { 'content-type': 'text/plain' });
        let i = 0;
        const tick = () => {
          res.write(`line ${++i}\n`);
          if (i >= chunks) return void res.end();
          timer = setTimeout(tick, ms);
        };
        let timer = setTimeout(tick, 0);
        res.on('close', () => clearTimeout(timer));
        return;
      }
      default:
        req.resume();
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found\n');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    sseSentAt,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The body the upstream's `/drip?chunks=N` sends: lines 1..N. */
export const dripBody = (chunks: number) => Array.from({ length: chunks }, (_, i) => `line ${i + 1}\n`).join('');

/**
 * A slow streaming GET of `/drip?chunks=N&ms=M` with curl (`-i`, plus `args`); `started` resolves
 * once `line 1` arrived, so the response is in flight at every hop when the caller acts.
 */
export function slowDownload(t: { appHost: string; base: string }, chunks: number, opts: { args?: string[]; ms?: number; timeoutMs?: number } = {}): { started: Promise<void>; done: Promise<CurlResult> } {
  let firstLine!: () => void;
  const started = new Promise<void>((resolve) => (firstLine = resolve));
  let seen = '';
  const done = curl(['-N', '-i', ...(opts.args ?? []), '-H', `Host: ${t.appHost}`, `${t.base}/drip?chunks=${chunks}&ms=${opts.ms ?? 100}`], {
    timeoutMs: opts.timeoutMs ?? 30_000,
    onStdout: (chunk) => {
      seen += chunk.toString();
      if (seen.includes('line 1\n')) firstLine();
    },
  });
  // A download that ends before its first line must not leave the caller waiting forever.
  void done.then(() => firstLine());
  return { started, done };
}

// ------------------------------------------------------------------ load across connection rotation

/** One agent session as `/.rhttp/status?format=json` lists it (the fields the rotation load reads). */
export interface StatusSession {
  id: string;
  state: string;
  draining: boolean;
}

/** A session that new requests can be routed to: authorized and not draining after a GOAWAY. */
export const isLive = (s: StatusSession) => s.state === 'authorized' && !s.draining;

/** Sampling period of the intermediary's status page during {@link loadWhileSampling}. */
const ROTATION_SAMPLE_EVERY_MS = 150;
/**
 * Slow streaming responses: 12 lines 100 ms apart (~1.1 s), so many of them span a rotation (at
 * `--max-connection-age 2`), yet a drained session is gone before its slot rotates again.
 */
const ROTATION_DRIP_CHUNKS = 12;

export interface RotationLoad {
  failures: string[];
  counts: { quick: number; drip: number };
  samples: { at: number; total: number; live: number; ids: string[] }[];
  seenIds: Set<string>;
  /** The failures, every sample and the two processes' last output, for assertion messages. */
  context(agent: Proc, intermediary: Proc): string;
}

/**
 * Parallel load for `loadMs` through `get` (two workers of quick requests, three of slow streaming
 * ones, staggered) while `sessions` (the status page) is sampled; every failure and every sample
 * is returned. The rotation tests of the TLS and the QUIC carrier share it.
 */
export async function loadWhileSampling(
  get: (path: string) => Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>,
  sessions: () => Promise<StatusSession[]>,
  loadMs: number,
): Promise<RotationLoad> {
  const failures: string[] = [];
  const counts = { quick: 0, drip: 0 };
  const samples: RotationLoad['samples'] = [];
  const seenIds = new Set<string>();
  const startedAt = Date.now();
  const running = () => Date.now() - startedAt < loadMs;

  const check = async (label: string, path: string, expected: string) => {
    try {
      const r = await get(path);
      const body = r.body.toString();
      if (r.status !== 200 || body !== expected) failures.push(`${label} ${path} at +${Date.now() - startedAt} ms: ${r.status} ${JSON.stringify(body.slice(0, 200))} proxy-status=${r.headers['proxy-status'] ?? ''}`);
    } catch (error) {
      failures.push(`${label} ${path} at +${Date.now() - startedAt} ms: ${(error as Error).message}`);
    }
  };
  const quickWorker = async (w: number) => {
    for (let i = 0; running(); i++) {
      if (i % 2 === 0) await check(`quick ${w}.${i}`, '/hello', 'hello from upstream\n');
      else await check(`quick ${w}.${i}`, '/slow?ms=40', 'slept 40 ms\n');
      counts.quick++;
    }
  };
  const dripWorker = async (w: number) => {
    // Staggered so some stream is always open when a connection rotates.
    await sleep(w * 500);
    while (running()) {
      await check(`drip ${w}`, `/drip?chunks=${ROTATION_DRIP_CHUNKS}&ms=100`, dripBody(ROTATION_DRIP_CHUNKS));
      counts.drip++;
    }
  };
  const sampler = async () => {
    while (running()) {
      try {
        const listed = await sessions();
        for (const s of listed) seenIds.add(s.id);
        samples.push({ at: Date.now() - startedAt, total: listed.length, live: listed.filter(isLive).length, ids: listed.map((s) => s.id) });
      } catch (error) {
        failures.push(`status page at +${Date.now() - startedAt} ms: ${(error as Error).message}`);
      }
      await sleep(ROTATION_SAMPLE_EVERY_MS);
    }
  };
  await Promise.all([quickWorker(1), quickWorker(2), dripWorker(0), dripWorker(1), dripWorker(2), sampler()]);
  const context = (agent: Proc, intermediary: Proc) =>
    `${failures.join('\n')}\n--- samples (ms: live/total ids)\n${samples.map((s) => `${s.at}: ${s.live}/${s.total} [${s.ids.join(',')}]`).join('\n')}\n--- agent\n${agent.output().slice(-4000)}\n--- intermediary\n${intermediary.output().slice(-4000)}`;
  return { failures, counts, samples, seenIds, context };
}

// ------------------------------------------------------------------ the CLIs

export interface CertPaths {
  dir: string;
  ca: string;
  caKey: string;
  intermediaryCert: string;
  intermediaryKey: string;
  originCert: string;
  originKey: string;
}

/** `rhttp-agent certs --dir DIR --origin …`: a dev CA, an intermediary and an origin certificate. */
export async function makeCertificates(dir: string, origins: string[]): Promise<CertPaths> {
  const proc = startProcess('rhttp-agent certs', process.execPath, [agentCli, 'certs', '--dir', dir, ...origins.flatMap((o) => ['--origin', o])]);
  const code = await proc.exited;
  if (code !== 0) throw new Error(`rhttp-agent certs exited with ${code}:\n${proc.output()}`);
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca.key'),
    intermediaryCert: join(dir, 'intermediary.pem'),
    intermediaryKey: join(dir, 'intermediary.key'),
    originCert: join(dir, 'origin.pem'),
    originKey: join(dir, 'origin.key'),
  };
}

export interface IntermediaryPorts {
  agents: number;
  http: number;
}

/** `--agents … --http … --cert … --key … --trust …` (and `extra`), for the Node and the Deno launcher alike. */
export function intermediaryArgs(certs: CertPaths, ports: IntermediaryPorts, extra: string[] = []): string[] {
  return [
    '--agents',
    `127.0.0.1:${ports.agents}`,
    '--http',
    `127.0.0.1:${ports.http}`,
    ...extra,
    '--cert',
    certs.intermediaryCert,
    '--key',
    certs.intermediaryKey,
    '--trust',
    certs.ca,
  ];
}

/** `rhttp-intermediary --agents 127.0.0.1:P1 --http 127.0.0.1:P2 --cert … --key … --trust …`, once it listens. */
export async function startIntermediary(certs: CertPaths, ports: IntermediaryPorts, name = 'rhttp-intermediary'): Promise<Proc> {
  const proc = startProcess(name, process.execPath, [intermediaryCli, ...intermediaryArgs(certs, ports)]);
  await waitUntil(`${name} to accept connections on 127.0.0.1:${ports.http}`, async () => ((await canConnect(ports.http)) ? true : proc.hasExited() ? Promise.reject(new Error(`${name} exited:\n${proc.output()}`)) : undefined));
  return proc;
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export type Runtime = 'node' | 'bun' | 'deno';

export interface AgentOptions {
  agentsPort: number;
  origins: string[];
  upstream: string;
  cert: string;
  key: string;
  ca: string;
  runtime?: Runtime;
  extra?: string[];
  name?: string;
}

/** `rhttp-agent --intermediary tls://127.0.0.1:P1 --origin … --upstream … --cert … --key … --ca …` under a runtime. */
export function startAgent(opts: AgentOptions): Proc {
  const runtime = opts.runtime ?? 'node';
  const [command, prefix] = runtime === 'node' ? [process.execPath, []] : runtime === 'bun' ? [bunBin, []] : [denoBin, ['run', '-A']];
  return startProcess(opts.name ?? `rhttp-agent (${runtime})`, command, [...prefix, agentCli, ...agentArgs(`tls://127.0.0.1:${opts.agentsPort}`, opts)]);
}

/** `--intermediary … --origin … --upstream … --cert … --key … --ca …` (then `extra`), for the Node, Bun and Deno launchers alike. */
export function agentArgs(intermediary: string, opts: Pick<AgentOptions, 'origins' | 'upstream' | 'cert' | 'key' | 'ca' | 'extra'>): string[] {
  return [
    '--intermediary',
    intermediary,
    ...opts.origins.flatMap((o) => ['--origin', o]),
    '--upstream',
    opts.upstream,
    '--cert',
    opts.cert,
    '--key',
    opts.key,
    '--ca',
    opts.ca,
    ...(opts.extra ?? []),
  ];
}

/** Polls GET `path` with `Host: host` on the browser port until it answers 200 (the agent is registered). */
export function waitForRoute(httpPort: number, host: string, path = '/hello', timeoutMs = READY_TIMEOUT_MS): Promise<Buffer> {
  return waitUntil(
    `GET http://${host}${path} through the intermediary to answer 200`,
    async () => {
      const r = await httpGet(httpPort, host, path, { timeoutMs: 5000 });
      if (r.status !== 200) throw new Error(`status ${r.status}: ${r.body.toString().slice(0, 200)}`);
      return r.body;
    },
    timeoutMs,
  );
}

// ------------------------------------------------------------------ a whole tunnel

/** The origins of the dev certificates every e2e file makes. */
export const APP_ORIGIN = 'https://app.localhost';
export const WILD_ORIGIN = 'https://*.wild.localhost';

export interface Tunnel {
  dir: string;
  certs: CertPaths;
  upstream: Upstream;
  ports: IntermediaryPorts;
  intermediary: Proc;
  agents: Proc[];
  /** `Host` a browser sends for https://app.localhost on the intermediary's --http port. */
  appHost: string;
  /** Base URL of the browser listener (connect here, send {@link appHost} as Host). */
  base: string;
  /** Starts one more agent against this intermediary (same certificates by default). */
  addAgent(opts?: Partial<AgentOptions>): Proc;
  close(): Promise<void>;
}

/**
 * Certificates (`rhttp-agent certs`), the upstream app, a `rhttp-intermediary` and `agentCount`
 * node agents claiming https://app.localhost (default 1); resolves once GET /hello answers 200 through
 * it (at once when there are none).
 */
export async function startTunnel(prefix: string, opts: { agentCount?: number; agentExtra?: string[] } = {}): Promise<Tunnel> {
  requireBuiltClis();
  const dir = tempDir(prefix);
  const started: Proc[] = [];
  let upstream: Upstream | undefined;
  try {
    const certs = await makeCertificates(dir, [APP_ORIGIN, WILD_ORIGIN]);
    upstream = await startUpstream();
    const ports = { agents: await freePort(), http: await freePort() };
    const intermediary = await startIntermediary(certs, ports);
    started.push(intermediary);
    const appHost = `app.localhost:${ports.http}`;
    const agents: Proc[] = [];
    const up = upstream;
    const addAgent = (more: Partial<AgentOptions> = {}) => {
      const agent = startAgent({ agentsPort: ports.agents, origins: [APP_ORIGIN], upstream: up.url, cert: certs.originCert, key: certs.originKey, ca: certs.ca, extra: opts.agentExtra, ...more });
      started.push(agent);
      agents.push(agent);
      return agent;
    };
    const count = opts.agentCount ?? 1;
    for (let i = 0; i < count; i++) addAgent({ name: `rhttp-agent ${i + 1}` });
    if (count > 0) await waitForRoute(ports.http, appHost);
    return {
      dir,
      certs,
      upstream,
      ports,
      intermediary,
      agents,
      appHost,
      base: `http://127.0.0.1:${ports.http}`,
      addAgent,
      async close() {
        await stopAll();
        await up.close();
        removeDir(dir);
      },
    };
  } catch (error) {
    await stopAll();
    await upstream?.close();
    removeDir(dir);
    throw error;
  }
}

/**
 * The load of the drain tests: `total` GETs of /slow (30 ms every third, else 5 ms), `parallel` at
 * a time through `get`, and `victim` SIGTERMed once `sigtermAfter` of them were answered. Returns
 * every request that did not get its 200 "slept…" answer, with why, and whether the SIGTERM went.
 */
export async function slowLoadAcrossSigterm(
  get: (path: string) => Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }>,
  victim: Proc,
  { total = 300, parallel = 4, sigtermAfter = 100 } = {},
): Promise<{ failures: string[]; terminated: boolean }> {
  const failures: string[] = [];
  let done = 0;
  let sent = 0;
  let terminated = false;
  const worker = async () => {
    while (sent < total) {
      const i = sent++;
      try {
        const r = await get(`/slow?ms=${i % 3 === 0 ? 30 : 5}`);
        if (r.status !== 200 || !r.body.toString().startsWith('slept')) failures.push(`request ${i}: ${r.status} ${r.body.toString().slice(0, 200)} proxy-status=${r.headers['proxy-status'] ?? ''}`);
      } catch (error) {
        failures.push(`request ${i}: ${(error as Error).message}`);
      }
      done++;
      if (done === sigtermAfter && !terminated) {
        terminated = true;
        victim.kill('SIGTERM');
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return { failures, terminated };
}
