import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCliArgs, parseListenAddress, UsageError } from '../src/cli-args.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../..', import.meta.url));
const cli = join(root, 'apps/intermediary/dist/cli.js');

describe('rhttp-intermediary flags (DESIGN.md, Command-line contract)', () => {
  it('parses the documented invocation', () => {
    const config = parseCliArgs(['--agents', '127.0.0.1:8443', '--http', '127.0.0.1:8080', '--https', '[::1]:8444', '--cert', 'i.pem', '--key', 'i.key', '--trust', 'ca.pem', '--state-dir', 'st']);
    expect(config).toEqual({
      agents: { host: '127.0.0.1', port: 8443 },
      http: { host: '127.0.0.1', port: 8080 },
      https: { host: '::1', port: 8444 },
      files: { cert: 'i.pem', key: 'i.key', trust: 'ca.pem' },
      stateDir: 'st',
      log: 'text',
    });
  });

  it('defaults to dev mode on 127.0.0.1:8443 and :8080 with state in .rhttp', () => {
    expect(parseCliArgs([])).toEqual({ agents: { host: '127.0.0.1', port: 8443 }, http: { host: '127.0.0.1', port: 8080 }, stateDir: '.rhttp', log: 'text' });
    expect(parseCliArgs(['--help'])).toBe('help');
  });

  it.each([
    [['--agents', 'localhost'], /--agents "localhost" is not HOST:PORT/],
    [['--http', '127.0.0.1:99999'], /port 99999 is above 65535/],
    [['--cert', 'a.pem', '--key', 'a.key'], /--cert and --key given without --trust/],
    [['--nope'], "unknown flag --nope (run 'rhttp-intermediary --help' for the flags)"],
    [['--agents'], "--agents needs a value (run 'rhttp-intermediary --help' for the flags)"],
    [['--http', '127.0.0.1:8443'], /two listeners on 127\.0\.0\.1:8443/],
    [['--response-timeout', 'soon'], /--response-timeout "soon" is not a duration: give seconds, or a number with a unit like 30s, 5m, 1h/],
    [['--response-timeout', '0s'], /--response-timeout "0s" must be more than 0/],
    [['positional'], "unexpected argument positional (run 'rhttp-intermediary --help' for the flags)"],
    [['--log', 'xml'], /--log "xml": the format is "text" or "json"/],
    [['--metrics', '127.0.0.1:8443'], /two listeners on 127\.0\.0\.1:8443/],
    [['--status-token', 'has space'], /--status-token must be a non-empty bearer token/],
    [['--print-svcb', 'not a name'], /--print-svcb "not a name" is not a DNS name/],
  ])('refuses %j with a clear message', (argv, message) => {
    expect(() => parseCliArgs(argv as string[])).toThrow(UsageError);
    expect(() => parseCliArgs(argv as string[])).toThrow(message);
  });

  it('parses the observability flags', () => {
    expect(parseCliArgs(['--metrics', '127.0.0.1:9100', '--status-token', 'abc-123', '--log', 'json'])).toMatchObject({
      metrics: { host: '127.0.0.1', port: 9100 },
      statusToken: 'abc-123',
      log: 'json',
    });
    expect(parseCliArgs(['--print-svcb', 'proxy.example.net'])).toMatchObject({ printSvcb: 'proxy.example.net' });
  });

  it('reads --response-timeout as a duration: plain seconds or 30s, 5m, 1h', () => {
    expect(parseCliArgs(['--response-timeout', '2.5'])).toMatchObject({ responseTimeoutMs: 2_500 });
    expect(parseCliArgs(['--response-timeout', '30s'])).toMatchObject({ responseTimeoutMs: 30_000 });
    expect(parseCliArgs(['--response-timeout', '5m'])).toMatchObject({ responseTimeoutMs: 300_000 });
    expect(parseCliArgs(['--response-timeout', '1h'])).toMatchObject({ responseTimeoutMs: 3_600_000 });
  });

  it('reads HOST:PORT forms', () => {
    expect(parseListenAddress('--x', '0.0.0.0:443')).toEqual({ host: '0.0.0.0', port: 443 });
    expect(parseListenAddress('--x', '[2001:db8::1]:80')).toEqual({ host: '2001:db8::1', port: 80 });
    expect(parseListenAddress('--x', '8080')).toEqual({ host: '127.0.0.1', port: 8080 });
  });

  it('--workers N: agents and metrics take N ports each (worker i on the port + i); real ports are needed', () => {
    expect(parseCliArgs(['--workers', '2', '--agents', '127.0.0.1:9443', '--metrics', '127.0.0.1:9100'])).toMatchObject({ workers: 2 });
    expect(() => parseCliArgs(['--workers', '2', '--agents', '127.0.0.1:9443', '--http', '127.0.0.1:9444'])).toThrow(/two listeners on 127\.0\.0\.1:9444.*--workers 2/);
    expect(() => parseCliArgs(['--workers', '2', '--agents', '127.0.0.1:0'])).toThrow(/--workers 2 needs a real --agents port, not 0/);
    expect(() => parseCliArgs(['--workers', '0'])).toThrow(/--workers "0" is not a whole number from 1 to 64/);
    expect(() => parseCliArgs(['--workers', '3', '--agents', '127.0.0.1:65534'])).toThrow(/ports 65534\.\.65536 go past 65535/);
  });
});

describe('rhttp-intermediary process', () => {
  let dir: string;
  beforeAll(async () => {
    await run('npx', ['tsc', '-b', 'apps/intermediary'], { cwd: root });
    dir = await mkdtemp(join(tmpdir(), 'rhttp-intermediary-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints --help and exits 0', async () => {
    const { stdout } = await run(process.execPath, [cli, '--help']);
    expect(stdout).toMatch(/^Usage: rhttp-intermediary/);
    expect(stdout).toContain('--state-dir DIR');
  });

  it('exits 2 on a bad flag', async () => {
    const error = await run(process.execPath, [cli, '--agents', 'nope']).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(error?.code).toBe(2);
    expect(error?.stderr).toContain('--agents "nope" is not HOST:PORT');
  });

  it('exits 2 with one line when --trust or --cert holds no certificate, before listening', async () => {
    const { writeDevCertificates } = await import('@rhttp/node/certs');
    const paths = await writeDevCertificates(join(dir, 'pki'), { origins: ['https://app.example.com'] });
    await writeFile(join(dir, 'empty.pem'), '');
    await writeFile(join(dir, 'key-only.pem'), await readFile(paths.intermediaryKey, 'utf8'));
    const start = (cert: string, trust: string) =>
      run(process.execPath, [cli, '--agents', '127.0.0.1:0', '--http', '127.0.0.1:0', '--cert', cert, '--key', paths.intermediaryKey, '--trust', trust]).then(
        () => undefined,
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const emptyTrust = await start(paths.intermediaryCert, join(dir, 'empty.pem'));
    expect(emptyTrust?.code).toBe(2);
    expect(emptyTrust?.stdout).toBe('');
    expect(emptyTrust?.stderr).toBe(
      `rhttp-intermediary: --trust ${join(dir, 'empty.pem')} holds no usable certificate (no "-----BEGIN CERTIFICATE-----" block found in the PEM text); it must hold the CA certificate(s) that issued the agents' origin certificates (PEM)\n`,
    );
    const keyAsTrust = await start(paths.intermediaryCert, join(dir, 'key-only.pem'));
    expect(keyAsTrust?.code).toBe(2);
    expect(keyAsTrust?.stderr).toMatch(/^rhttp-intermediary: --trust \S+key-only\.pem holds no usable certificate \(no "-----BEGIN CERTIFICATE-----" block[^\n]*\n$/);
    const keyAsCert = await start(join(dir, 'key-only.pem'), paths.caCert);
    expect(keyAsCert?.code).toBe(2);
    expect(keyAsCert?.stderr).toMatch(/^rhttp-intermediary: --cert \S+key-only\.pem holds no usable certificate \([^\n]*\); it must hold the intermediary's certificate chain, leaf first \(PEM\)\n$/);
  });

  it('makes dev certificates, prints the agent command, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [cli, '--agents', '127.0.0.1:0', '--http', '127.0.0.1:0', '--state-dir', join(dir, 'state')], { cwd: dir });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: string) => {
        stdout += c;
        if (stdout.includes('rhttp-agent certs')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
    });
    expect(stdout).toMatch(/agents connect to {2}tls:\/\/127\.0\.0\.1:\d+/);
    expect(stdout).toMatch(/rhttp-agent --intermediary tls:\/\/127\.0\.0\.1:\d+ --origin http:\/\/app\.localhost:\d+ --upstream http:\/\/127\.0\.0\.1:3000 --cert \S+origin\.pem --key \S+origin\.key --ca \S+ca\.pem/);
    // The banner points at the SVCB record (RFC 9460) agents use to find the intermediary by name.
    expect(stdout).toMatch(/--print-svcb NAME --agents 127\.0\.0\.1:\d+/);
    expect(stdout).toMatch(/_http-reverse\.proxy\.example\.net\. 300 IN SVCB 1 proxy\.example\.net\. alpn=h2-reverse port=\d+/);
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
  });

  it('prints the SVCB record for --print-svcb NAME (RFC 9460 presentation format) and exits', async () => {
    const { stdout } = await run(process.execPath, [cli, '--print-svcb', 'proxy.example.net', '--agents', '198.51.100.4:8443']);
    const records = stdout.split('\n').filter((l) => l !== '' && !l.startsWith(';'));
    expect(records).toEqual([
      '_http-reverse.proxy.example.net. 300 IN SVCB 1 proxy.example.net. alpn=h2-reverse port=8443 ipv4hint=198.51.100.4',
      '_8443._http-reverse.proxy.example.net. 300 IN SVCB 1 proxy.example.net. alpn=h2-reverse port=8443 ipv4hint=198.51.100.4',
    ]);
    const onDefault = await run(process.execPath, [cli, '--print-svcb', 'edge.example.org', '--agents', '0.0.0.0:443']);
    expect(onDefault.stdout.split('\n').filter((l) => l !== '' && !l.startsWith(';'))).toEqual(['_http-reverse.edge.example.org. 300 IN SVCB 1 edge.example.org. alpn=h2-reverse']);
  });

  it('--print-svcb with --quic: h3-reverse beside h2-reverse when QUIC is on the --agents port number, a record of its own on another port', async () => {
    const records = (stdout: string) => stdout.split('\n').filter((l) => l !== '' && !l.startsWith(';'));
    const shared = await run(process.execPath, [cli, '--print-svcb', 'proxy.example.net', '--agents', '198.51.100.4:8443', '--quic', '198.51.100.4:8443']);
    expect(records(shared.stdout)).toEqual([
      '_http-reverse.proxy.example.net. 300 IN SVCB 1 proxy.example.net. alpn=h2-reverse,h3-reverse port=8443 ipv4hint=198.51.100.4',
      '_8443._http-reverse.proxy.example.net. 300 IN SVCB 1 proxy.example.net. alpn=h2-reverse,h3-reverse port=8443 ipv4hint=198.51.100.4',
    ]);
    const apart = await run(process.execPath, [cli, '--print-svcb', 'proxy.example.net', '--agents', '0.0.0.0:443', '--quic', '0.0.0.0:8444']);
    expect(records(apart.stdout)).toEqual([
      '_http-reverse.proxy.example.net. 300 IN SVCB 1 proxy.example.net. alpn=h2-reverse',
      '_http-reverse.proxy.example.net. 300 IN SVCB 1 proxy.example.net. alpn=h3-reverse port=8444',
    ]);
    expect(apart.stdout).toMatch(/; the QUIC listener \(h3-reverse\) has a record of its own, port 8444/);
  });

  it('logs one JSON object per line with --log json, for every line it prints on stderr', async () => {
    const child = spawn(process.execPath, [cli, '--agents', '127.0.0.1:0', '--http', '127.0.0.1:0', '--metrics', '127.0.0.1:0', '--log', 'json', '--state-dir', join(dir, 'state-json')], { cwd: dir });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => stdout.includes('rhttp-agent certs') && resolve());
      child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${stderr}`)));
    });
    expect(stdout).toMatch(/metrics {12}http:\/\/127\.0\.0\.1:\d+\/metrics/);
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    const lines = stderr.trimEnd().split('\n');
    const events = lines.map((line) => JSON.parse(line) as { time: string; level: string; event: string; message: string });
    for (const e of events) {
      expect(Number.isNaN(Date.parse(e.time))).toBe(false);
      expect(e.level).toMatch(/^(debug|info|warn|error)$/);
      expect(typeof e.message).toBe('string');
    }
    expect(events.map((e) => e.event)).toEqual(['listener.started', 'listener.started', 'listener.started', 'signal.stop', 'intermediary.stopping', 'intermediary.stopped']);
  });
});
