import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAgent, cliPath, repoRoot } from './build-cli.js';
import { issueCertificate } from '../../node/src/certs.js';
import { makeCertificates, startIntermediary, type TestIntermediary } from './intermediary-peer.js';

const root = repoRoot;
const cli = cliPath;

beforeAll(() => {
  // The CLI is tested as users run it: the built file.
  const build = buildAgent();
  expect(build.status, build.output).toBe(0);
}, 120_000);

function run(args: string[], cwd = root) {
  return spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8' });
}

describe('rhttp-agent command line', () => {
  it('--help describes the command-line contract', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const flag of ['--intermediary tls://HOST:PORT', '--origin URL', '--upstream URL', '--handler MODULE', '--cert FILE', '--key FILE', '--ca FILE', '--connections N', 'rhttp-agent certs']) {
      expect(r.stdout).toContain(flag);
    }
  });

  it('certs --help and --version', () => {
    const h = run(['certs', '--help']);
    expect(h.status).toBe(0);
    expect(h.stdout).toContain('--dir DIR');
    const v = run(['--version']);
    expect(v.status).toBe(0);
    const pkg = JSON.parse(readFileSync(join(root, 'packages/agent/package.json'), 'utf8')) as { version: string };
    expect(v.stdout.trim()).toBe(`rhttp-agent ${pkg.version}`);
  });

  it.each([
    [['--bogus'], "unknown flag --bogus (run 'rhttp-agent --help' for the flags)"],
    [['certs', '--bogus'], "unknown flag --bogus (run 'rhttp-agent certs --help' for the flags)"],
    [['--intermediary', 'tls://127.0.0.1:8443', '--origin', 'https://a.example', '--upstream', 'http://x', '--cert', 'c', '--key', 'k', '--max-connection-age', 'soon'], '--max-connection-age must be a duration (seconds, or a number with a unit like 30s, 5m, 1h'],
    [['--intermediary', 'tls://127.0.0.1:8443', '--origin', 'https://a.example', '--upstream', 'http://x', '--cert', 'c', '--key', 'k', '--max-connection-age', '0s'], '--max-connection-age must be more than 0'],
    [['--intermediary', 'tls://127.0.0.1:8443', '--origin', 'https://a.example', '--upstream', 'http://x', '--cert', 'c', '--key', 'k', '--drain-timeout', 'later'], '--drain-timeout must be a duration'],
    [['--intermediary', 'tls://127.0.0.1:8443', '--upstream', 'http://127.0.0.1:3000'], '--origin is required'],
    [['--intermediary', 'ws://127.0.0.1:8787/x', '--origin', 'https://a.example'], '--intermediary must be ws://host[:port]'],
    [['--intermediary', 'wss://edge.example.net', '--origin', 'https://a.example'], '--upstream URL or --handler MODULE is required'],
    [['--intermediary', 'proxy.example.net', '--origin', 'https://a.example'], '--upstream URL or --handler MODULE is required'],
    [['--intermediary', '127.0.0.1:8443', '--origin', 'https://a.example'], 'is an IP address, which has no SVCB records: give tls://127.0.0.1:8443'],
    [['--intermediary', 'tls://127.0.0.1:8443', '--origin', 'https://a.example', '--upstream', 'http://x', '--cert', 'c', '--key', 'k', '--metrics', '9101'], '--metrics: expected HOST:PORT'],
    [['--intermediary', 'proxy.example.net', '--doh', 'cloudflare', '--origin', 'https://a.example'], '--doh must be the URL of a DNS-over-HTTPS resolver'],
    [['--intermediary', 'tls://127.0.0.1:8443', '--origin', 'https://a.example/path'], '--origin: origin "https://a.example/path" has a path'],
    [['--intermediary', 'tls://127.0.0.1:8443', '--origin', 'https://a.example', '--upstream', 'http://x', '--cert', '/nonexistent/origin.pem', '--key', 'k'], 'cannot read --cert /nonexistent/origin.pem: no such file'],
    [['--intermediary', 'tls://127.0.0.1:8443', '--origin', 'https://a.example', '--cert', 'c', '--key', 'k'], '--upstream URL or --handler MODULE is required'],
    [['--intermediary', 'tls://127.0.0.1:8443', '--origin', 'https://a.example', '--upstream', 'http://x', '--cert', 'c', '--key', 'k', '--connections', '0'], '--connections must be a whole number'],
    [['--origin'], '--origin needs a value'],
    [['discover'], 'discover needs one NAME'],
    [['discover', '192.0.2.1'], 'is an IP address'],
    [['service', 'frob'], 'service needs install or uninstall'],
    [['service', 'install', '--unit-dir', '/tmp'], 'service install needs --config FILE'],
    [['--config', '/nonexistent/rhttp.yaml'], '--config /nonexistent/rhttp.yaml: no such file'],
    [['frobnicate'], 'unknown command frobnicate'],
  ])('exits 2 with a clear message for %j', (args, message) => {
    const r = run(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace for a usage error
  });

  it('exits 2 when the key does not belong to the certificate, naming the files', async () => {
    const certs = await makeCertificates(['app.example.com']);
    const dir = mkdtempSync(join(tmpdir(), 'rhttp-agent-cli-'));
    writeFileSync(join(dir, 'origin.pem'), certs.origin.chainPem);
    writeFileSync(join(dir, 'other.key'), certs.intermediary.keyPem);
    writeFileSync(join(dir, 'garbage.pem'), 'not a certificate');
    const mismatch = run(['--intermediary', 'tls://127.0.0.1:8443', '--origin', 'https://app.example.com', '--upstream', 'http://127.0.0.1:3000', '--cert', 'origin.pem', '--key', 'other.key'], dir);
    expect(mismatch.status).toBe(2);
    expect(mismatch.stderr).toContain('the private key (--key other.key) does not belong to the certificate (--cert origin.pem)');
    const garbage = run(['--intermediary', 'tls://127.0.0.1:8443', '--origin', 'https://app.example.com', '--upstream', 'http://127.0.0.1:3000', '--cert', 'garbage.pem', '--key', 'other.key'], dir);
    expect(garbage.status).toBe(2);
    expect(garbage.stderr).toContain('is not usable PEM');
  });

  it('certs writes the dev CA, intermediary and origin certificates and prints the flags', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'rhttp-agent-cli-')), 'state');
    const r = run(['certs', '--dir', dir, '--origin', 'https://app.example.com']);
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['ca.pem', 'ca.key', 'intermediary.pem', 'intermediary.key', 'origin.pem', 'origin.key']) {
      expect(existsSync(join(dir, f))).toBe(true);
      expect(r.stdout).toContain(`wrote ${join(dir, f)}`);
    }
    expect(r.stdout).toContain(`--cert ${join(dir, 'origin.pem')} --key ${join(dir, 'origin.key')} --ca ${join(dir, 'ca.pem')}`);
    const again = run(['certs', '--dir', dir, '--origin', 'https://app.example.com']);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain(`kept  ${join(dir, 'ca.pem')}`);
  });
});

describe('rhttp-agent process', () => {
  let child: ChildProcess | undefined;
  let intermediary: TestIntermediary | undefined;
  afterEach(async () => {
    child?.kill('SIGKILL');
    await intermediary?.close();
  });

  it('exits 2 before dialing when the certificate does not cover an --origin or is not valid now, in one line', async () => {
    const certs = await makeCertificates(['app.example.com', '*.apps.example.com']);
    intermediary = await startIntermediary(certs);
    const dir = mkdtempSync(join(tmpdir(), 'rhttp-agent-proc-'));
    const expired = await issueCertificate(certs.ca, { dnsNames: ['app.example.com'], notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2021-01-01T00:00:00Z') });
    const future = await issueCertificate(certs.ca, { dnsNames: ['app.example.com'], notBefore: new Date('2999-01-01T00:00:00Z'), notAfter: new Date('2999-06-01T00:00:00Z') });
    for (const [name, c] of [['origin', certs.origin], ['expired', expired], ['future', future]] as const) {
      writeFileSync(join(dir, `${name}.pem`), c.chainPem);
      writeFileSync(join(dir, `${name}.key`), c.keyPem);
    }
    const agent = (cert: string, ...origins: string[]) =>
      run(['--intermediary', `tls://127.0.0.1:${intermediary!.port}`, ...origins.flatMap((o) => ['--origin', o]), '--upstream', 'http://127.0.0.1:3000', '--cert', `${cert}.pem`, '--key', `${cert}.key`], dir);

    const uncovered = agent('origin', 'https://app.example.com', 'https://other.example.com', 'https://a.b.apps.example.com');
    expect(uncovered.status).toBe(2);
    expect(uncovered.stderr).toBe(
      'rhttp-agent: --cert origin.pem does not cover https://other.example.com, https://a.b.apps.example.com: its names are app.example.com, *.apps.example.com; the intermediary would refuse them (make a certificate that covers every --origin)\n',
    );
    const old = agent('expired', 'https://app.example.com');
    expect(old.status).toBe(2);
    expect(old.stderr).toMatch(/^rhttp-agent: --cert expired\.pem: certificate "[^"]+" expired at 2021-01-01T00:00:00\.000Z \(now is [^)]+\)\n$/);
    const early = agent('future', 'https://app.example.com');
    expect(early.status).toBe(2);
    expect(early.stderr).toMatch(/^rhttp-agent: --cert future\.pem: certificate "[^"]+" is not valid before 2999-01-01T00:00:00\.000Z/);
    expect(intermediary.accepted).toBe(0);
  });

  it('serves a --handler module, then drains and exits 0 on SIGTERM', async () => {
    const certs = await makeCertificates(['app.example.com']);
    intermediary = await startIntermediary(certs);
    const dir = mkdtempSync(join(tmpdir(), 'rhttp-agent-proc-'));
    writeFileSync(join(dir, 'origin.pem'), certs.origin.chainPem);
    writeFileSync(join(dir, 'origin.key'), certs.origin.keyPem);
    writeFileSync(join(dir, 'ca.pem'), certs.ca.certPem);
    writeFileSync(join(dir, 'app.mjs'), `export default { fetch: (request) => new Response('served by the CLI: ' + new URL(request.url).pathname) };\n`);
    child = spawn(
      process.execPath,
      [cli, '--intermediary', `tls://127.0.0.1:${intermediary.port}`, '--origin', 'https://app.example.com', '--handler', './app.mjs', '--cert', 'origin.pem', '--key', 'origin.key', '--ca', 'ca.pem', '--connections', '1', '--drain-timeout', '10s', '--max-connection-age', '1h'],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr += c));
    const exited = new Promise<number | null>((r) => child!.on('exit', (code) => r(code)));
    const peer = await intermediary.next();
    expect(await peer.origins).toEqual(['https://app.example.com']);
    const res = await peer.session.fetch('https://app.example.com/hello');
    expect(await res.text()).toBe('served by the CLI: /hello');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('connection 1: connecting to tls://127.0.0.1:');
    expect(stderr).toContain('serving https://app.example.com');
    expect(stderr).toContain('draining 0 in-flight requests');
    expect(stderr).toContain('rhttp-agent: stopped');
  });
});
