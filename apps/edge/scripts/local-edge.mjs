/**
 * Runs the edge in local workerd without touching the network: the Worker is bundled exactly as
 * `wrangler deploy` bundles it (`wrangler deploy --dry-run --outdir`), then served by Miniflare
 * with `cf: false` (otherwise Miniflare downloads a `request.cf` sample from Cloudflare). Used by
 * `npm run dev:edge`, the edge tests and `npm run bench:edge`.
 */
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import dotenv from 'dotenv';
import { Log, LogLevel, Miniflare } from 'miniflare';

export const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const require = createRequire(import.meta.url);

/** `compatibility_date` from the root wrangler.toml, so local runs match deploys. */
export function compatibilityDate() {
  const toml = readFileSync(join(repoRoot, 'wrangler.toml'), 'utf8');
  const m = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml);
  if (!m) throw new Error('wrangler.toml has no compatibility_date');
  return m[1];
}

/**
 * Bundles the Worker with wrangler (`deploy --dry-run`, no network) into `outdir` (default: a
 * fresh temporary directory) and returns the path of the bundled `worker.js`.
 */
export async function buildEdge(outdir) {
  const dir = outdir ?? (await mkdtemp(join(tmpdir(), 'rhttp-edge-')));
  const wrangler = require.resolve('wrangler/bin/wrangler.js');
  await new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [wrangler, 'deploy', '--dry-run', '--outdir', dir, '--config', join(repoRoot, 'wrangler.toml')], {
      cwd: repoRoot,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b) => (output += b));
    child.stderr.on('data', (b) => (output += b));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`wrangler deploy --dry-run failed (exit ${code}):\n${output}`))));
  });
  return join(dir, 'worker.js');
}

/**
 * The bindings in a .dev.vars file, read as wrangler reads it: `dotenv.parse` of the dotenv
 * version wrangler bundles (16.3.1), no variable expansion. So a double-quoted value may span
 * lines or use `\n` escapes, as a PEM in TRUST_ANCHORS often does. A missing file gives `{}`.
 */
export function readDevVars(path) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return {};
  }
  return dotenv.parse(text);
}

/**
 * Checks a TRUST_ANCHORS value before the edge starts: it must hold at least one certificate,
 * each one must parse, and none may have expired (the edge would then refuse every agent, one
 * by one, with nothing said at startup). Returns how many certificates it holds; throws an
 * Error with one line saying what is wrong otherwise.
 */
export function checkTrustAnchors(pem, now = new Date()) {
  const fix = 'put the PEM of the CA that issued the agents\' certificates there (see .dev.vars.example)';
  if (!pem) throw new Error(`no TRUST_ANCHORS: ${fix}`);
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`TRUST_ANCHORS holds no certificate (no "-----BEGIN CERTIFICATE-----" block): ${fix}`);
  blocks.forEach((block, i) => {
    let certificate;
    try {
      certificate = new X509Certificate(block);
    } catch (error) {
      throw new Error(`TRUST_ANCHORS certificate ${i + 1} is not valid PEM/X.509 (${error.message}): ${fix}`);
    }
    const notAfter = new Date(certificate.validTo);
    if (notAfter < now) throw new Error(`TRUST_ANCHORS certificate ${i + 1} (${certificate.subject.replace(/\n/g, ', ')}) expired at ${notAfter.toISOString()}: ${fix}`);
  });
  return blocks.length;
}

/**
 * Starts the bundled edge in workerd on `host:port` (port 0 = any free port) with `bindings`
 * (TRUST_ANCHORS, ORIGIN_SCHEME, …). Returns `{ url, miniflare, close() }`.
 */
export async function startEdge({ scriptPath, host = '127.0.0.1', port = 0, bindings = {}, log = false }) {
  const miniflare = new Miniflare({
    modules: true,
    scriptPath,
    modulesRoot: dirname(scriptPath),
    compatibilityDate: compatibilityDate(),
    durableObjects: { BROKER: 'BrokerObject' },
    bindings: { ORIGIN_SCHEME: 'https', ...bindings },
    cf: false, // no download of the request.cf sample: no network needed
    host,
    port,
    ...(log ? { log: new Log(LogLevel.INFO) } : {}),
  });
  const url = await miniflare.ready;
  return { url: url.toString().replace(/\/$/, ''), miniflare, close: () => miniflare.dispose() };
}
