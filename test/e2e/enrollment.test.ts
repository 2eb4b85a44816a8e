import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { decodeEnrollmentToken, encodeEnrollmentToken } from '@rhttp/core';
import { createCertificateRequest } from '../../packages/node/src/certs.js';
import { loadEnrolled, renewEnrolled } from '../../packages/agent/src/enroll.js';
import {
  agentCli,
  canConnect,
  freePort,
  intermediaryCli,
  makeCertificates,
  removeDir,
  requireBuiltClis,
  startProcess,
  startUpstream,
  stopAll,
  tempDir,
  waitForRoute,
  waitUntil,
  type Proc,
  type Upstream,
} from './support.js';

/**
 * One-token onboarding (issue 11 item 5) through the built CLIs: `rhttp-intermediary token
 * create` prints a token; `rhttp-agent --token TOKEN --upstream URL` enrolls (its own key, a CSR
 * over TLS pinned to the token's certificate fingerprint), gets a certificate for exactly the
 * token's origins from the intermediary's development CA and serves through the tunnel with mTLS.
 */
let dir: string;
let stateDir: string;
let upstream: Upstream;
let intermediary: Proc;
let ports: { agents: number; http: number };

beforeAll(async () => {
  requireBuiltClis();
  dir = tempDir('enrollment');
  stateDir = join(dir, 'intermediary');
  upstream = await startUpstream();
  ports = { agents: await freePort(), http: await freePort() };
  intermediary = startProcess('rhttp-intermediary', process.execPath, [intermediaryCli, '--state-dir', stateDir, '--agents', `127.0.0.1:${ports.agents}`, '--http', `127.0.0.1:${ports.http}`]);
  // The advert token create reads is written once the listeners are bound.
  await waitUntil('the intermediary to listen and write enrollment.json', async () => {
    if (intermediary.hasExited()) throw new Error(`rhttp-intermediary exited:\n${intermediary.output()}`);
    return (await canConnect(ports.http)) && existsSync(join(stateDir, 'enrollment.json')) ? true : undefined;
  });
}, 60_000);

afterAll(async () => {
  await stopAll();
  await upstream?.close();
  removeDir(dir);
});

/** Runs `rhttp-intermediary token …` to completion. */
async function tokenCommand(args: string[]): Promise<{ code: number | string; stdout: string; output: string }> {
  const proc = startProcess('rhttp-intermediary token', process.execPath, [intermediaryCli, 'token', ...args, '--state-dir', stateDir]);
  const code = await proc.exited;
  return { code, output: proc.output(), stdout: stdoutOf(proc) };
}

function stdoutOf(proc: Proc): string {
  // output() interleaves stdout and stderr; stdout is what is not in stderr, line by line.
  const err = new Set(proc.stderr().split('\n'));
  return proc
    .output()
    .split('\n')
    .filter((l) => !err.has(l))
    .join('\n');
}

/** `token create --origin …` and its last line, the token. */
async function createToken(origins: string[], extra: string[] = []): Promise<string> {
  const r = await tokenCommand(['create', ...origins.flatMap((o) => ['--origin', o]), ...extra]);
  expect(r.code, r.output).toBe(0);
  const lines = r.stdout.trim().split('\n');
  return lines[lines.length - 1];
}

async function tokenState(id: string): Promise<string | undefined> {
  const r = await tokenCommand(['list']);
  expect(r.code, r.output).toBe(0);
  return r.stdout.split('\n').find((l) => l.startsWith(id))?.split(/\s+/)[1];
}

function startTokenAgent(name: string, args: string[]): Proc {
  return startProcess(name, process.execPath, [agentCli, ...args, '--upstream', upstream.url, '--connections', '1']);
}

/** An agent that must exit 1 with one line saying why; returns that line. */
async function refusedLine(name: string, token: string): Promise<string> {
  const agent = startTokenAgent(name, ['--token', token, '--state-dir', join(dir, `${name.replace(/\W+/g, '-')}-state`)]);
  expect(await agent.exited, agent.output()).toBe(1);
  const lines = agent.stderr().trim().split('\n');
  expect(lines, 'one line, not a stack trace').toHaveLength(1);
  return lines[0];
}

/** A raw POST to the enrollment endpoint (ALPN http/1.1 on the agent port), as a client that skips the agent's checks. */
function postEnroll(path: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: ports.agents, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      const request = http.request({ createConnection: () => socket, method: 'POST', path, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      });
      request.on('error', reject);
      request.end(body);
    });
    socket.on('error', reject);
  });
}

const appHost = () => `app.localhost:${ports.http}`;

describe('one-token onboarding', () => {
  let agentState: string;
  let token: string;

  it('an agent given only --token and --upstream serves through the tunnel, with a certificate for exactly the token\'s origins', async () => {
    token = await createToken(['https://app.localhost', 'https://*.app.localhost']);
    expect(token).toMatch(/^rhttp1\.[A-Za-z0-9_-]+$/);
    const decoded = decodeEnrollmentToken(token);
    expect(decoded.address).toBe(`127.0.0.1:${ports.agents}`);
    // The token pins the intermediary's certificate (its leaf) by SHA-256.
    const leaf = new X509Certificate(readFileSync(join(stateDir, 'intermediary.pem')));
    expect(decoded.fingerprint).toBe(createHash('sha256').update(leaf.raw).digest('hex'));

    agentState = join(dir, 'agent-state');
    const agent = startTokenAgent('rhttp-agent enrolled', ['--token', token, '--state-dir', agentState]);
    const before = upstream.requests.length;
    expect((await waitForRoute(ports.http, appHost())).toString()).toBe('hello from upstream\n');
    expect(upstream.requests.length).toBeGreaterThan(before);
    expect(agent.output()).toMatch(/enrolled with token \w+ .*certificate for https:\/\/app\.localhost, https:\/\/\*\.app\.localhost/);

    const cert = new X509Certificate(readFileSync(join(agentState, 'cert.pem')));
    expect(cert.subjectAltName?.split(', ').sort()).toEqual(['DNS:*.app.localhost', 'DNS:app.localhost']);
    expect(cert.checkIssued(new X509Certificate(readFileSync(join(stateDir, 'ca.pem'))))).toBe(true);
    // The key is the agent's own: it pairs with the certificate and was never sent.
    expect(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(readFileSync(join(agentState, 'key.pem'))))).toBe(true);
    for (const f of readdirSync(agentState)) expect((statSync(join(agentState, f)).mode & 0o777).toString(8), f).toBe('600');
    for (const f of readdirSync(join(stateDir, 'tokens'))) expect((statSync(join(stateDir, 'tokens', f)).mode & 0o777).toString(8), f).toBe('600');
    // Only a hash of the secret is stored.
    const stored = readdirSync(join(stateDir, 'tokens')).map((f) => readFileSync(join(stateDir, 'tokens', f), 'utf8')).join('\n');
    expect(stored).not.toContain(decoded.secret);
    expect(await tokenState(decoded.id)).toBe('used');

    agent.kill();
    await agent.exited;
  });

  it('the token cannot be used twice', async () => {
    const line = await refusedLine('rhttp-agent second use', token);
    expect(line).toMatch(/^rhttp-agent: the intermediary refused the token: This token was already used at \S+ \(a token enrolls one agent\)/);
  });

  it('the agent restarts from its state dir without the token (and the same --token again does not spend a new one)', async () => {
    for (const args of [['--state-dir', agentState], ['--token', token, '--state-dir', agentState]]) {
      const agent = startTokenAgent('rhttp-agent restarted', args);
      await agent.waitFor(/connected to tls:\/\/127\.0\.0\.1:\d+ .*serving https:\/\/app\.localhost/);
      const before = upstream.requests.length;
      expect((await waitForRoute(ports.http, appHost())).toString()).toBe('hello from upstream\n');
      expect(upstream.requests.length).toBeGreaterThan(before);
      expect(agent.output()).not.toMatch(/enrolled with token/);
      agent.kill();
      expect(await agent.exited).toBe(0);
    }
  });

  it('renewal over the current certificate gives a new key and a certificate for the same names', async () => {
    const current = (await loadEnrolled(agentState))!;
    const renewed = await renewEnrolled(current, { stateDir: agentState });
    expect(renewed.key).not.toBe(current.key);
    const cert = new X509Certificate(readFileSync(join(agentState, 'cert.pem')));
    expect(cert.serialNumber).not.toBe(new X509Certificate(current.cert).serialNumber);
    expect(cert.subjectAltName?.split(', ').sort()).toEqual(['DNS:*.app.localhost', 'DNS:app.localhost']);
    // The renewed identity is admitted.
    const agent = startTokenAgent('rhttp-agent renewed', ['--state-dir', agentState]);
    await agent.waitFor(/connected to tls:.*serving https:\/\/app\.localhost/);
    expect((await waitForRoute(ports.http, appHost())).toString()).toBe('hello from upstream\n');
    agent.kill();
    await agent.exited;
  });

  it('a token address that is not a name of the intermediary\'s certificate still works: later connections check a name of the pinned certificate', async () => {
    // "127.1" reaches 127.0.0.1, but it is not a name in the development certificate.
    const token = await createToken(['https://app.localhost'], ['--address', `127.1:${ports.agents}`]);
    expect(decodeEnrollmentToken(token).address).toBe(`127.1:${ports.agents}`);
    const state = join(dir, 'other-name-state');
    const agent = startTokenAgent('rhttp-agent other name', ['--token', token, '--state-dir', state]);
    await agent.waitFor(/connection 1: connected to tls:\/\/127\.1:\d+ .*serving https:\/\/app\.localhost/);
    expect(JSON.parse(readFileSync(join(state, 'state.json'), 'utf8')).servername).toBe('localhost');
    agent.kill();
    await agent.exited;
  });

  it('an expired token is refused with one sentence', async () => {
    const expiring = await createToken(['https://app.localhost'], ['--ttl', '1s']);
    const { id } = decodeEnrollmentToken(expiring);
    await waitUntil('token list to show the token expired', async () => ((await tokenState(id)) === 'expired' ? true : undefined), 20_000, 250);
    expect(await refusedLine('rhttp-agent expired', expiring)).toMatch(/^rhttp-agent: the intermediary refused the token: This token expired at \S+; ask the intermediary's operator for a new one/);
  });

  it('a revoked token is refused with one sentence', async () => {
    const revoked = await createToken(['https://app.localhost']);
    const { id } = decodeEnrollmentToken(revoked);
    const r = await tokenCommand(['revoke', id]);
    expect(r.code, r.output).toBe(0);
    expect(await tokenState(id)).toBe('revoked');
    expect(await refusedLine('rhttp-agent revoked', revoked)).toMatch(/^rhttp-agent: the intermediary refused the token: This token was revoked at \S+;/);
  });

  it('a token whose secret is not the one stored is refused (401)', async () => {
    const real = decodeEnrollmentToken(await createToken(['https://app.localhost']));
    const forged = encodeEnrollmentToken({ ...real, secret: real.secret.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) });
    expect(await refusedLine('rhttp-agent forged secret', forged)).toMatch(/^rhttp-agent: the intermediary refused the token: This intermediary knows no such token;/);
    expect(await tokenState(real.id)).toBe('valid');
  });

  it('a request with a bad CSR is refused (400) and does not spend the token; the endpoint answers nothing else', async () => {
    const { id, secret } = decodeEnrollmentToken(await createToken(['https://app.localhost']));
    const bad = await postEnroll('/.well-known/rhttp/enroll', JSON.stringify({ id, secret, csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' }));
    expect(bad).toEqual({ status: 400, text: 'The CSR is not a PKCS#10 certificate request in PEM.\n' });
    expect(await tokenState(id)).toBe('valid');
    expect((await postEnroll('/other', '{}')).status).toBe(404);
    // Renewal with a good CSR but no client certificate: the current certificate is the only right to renew.
    const { csrPem } = await createCertificateRequest();
    expect(await postEnroll('/.well-known/rhttp/renew', JSON.stringify({ csr: csrPem }))).toEqual({ status: 401, text: 'Renewal needs the current certificate as the TLS client certificate.\n' });
  });

  it('token create refuses origins in two registrable domains (one agent connection serves one)', async () => {
    const r = await tokenCommand(['create', '--origin', 'https://app.localhost', '--origin', 'https://app.example.com']);
    expect(r.code).toBe(2);
    expect(r.output.trim()).toMatch(/^rhttp-intermediary: the --origin values span 2 registrable domains \(app\.localhost, example\.com\)/);
  });

  it('a token whose fingerprint is not the intermediary\'s certificate: the agent sends no CSR', async () => {
    const real = decodeEnrollmentToken(await createToken(['https://app.localhost']));
    const pinned = encodeEnrollmentToken({ ...real, fingerprint: createHash('sha256').update('another certificate').digest('hex') });
    const line = await refusedLine('rhttp-agent wrong pin', pinned);
    expect(line).toMatch(/^rhttp-agent: cannot enroll: the intermediary at 127\.0\.0\.1:\d+ shows a certificate with SHA-256 fingerprint [0-9a-f]{64}, not the token's [0-9a-f]{64}: not sending the certificate request/);
    // Nothing reached the enrollment endpoint: the token is still unused.
    expect(await tokenState(real.id)).toBe('valid');
    expect(intermediary.output()).not.toMatch(new RegExp(`token ${real.id}`));
  });
});

describe('renewal by the running agent', () => {
  it('an agent renews at two thirds of a short certificate life and keeps serving with the new certificate', async () => {
    const renewDir = join(dir, 'renewing');
    const renewPorts = { agents: await freePort(), http: await freePort() };
    const short = startProcess('rhttp-intermediary short-lived', process.execPath, [
      intermediaryCli,
      '--state-dir',
      renewDir,
      '--agents',
      `127.0.0.1:${renewPorts.agents}`,
      '--http',
      `127.0.0.1:${renewPorts.http}`,
      '--cert-lifetime',
      '6s',
    ]);
    await waitUntil('the short-lived intermediary to write enrollment.json', async () => {
      if (short.hasExited()) throw new Error(`exited:\n${short.output()}`);
      return (await canConnect(renewPorts.http)) && existsSync(join(renewDir, 'enrollment.json')) ? true : undefined;
    });
    const created = startProcess('rhttp-intermediary token', process.execPath, [intermediaryCli, 'token', 'create', '--origin', 'https://app.localhost', '--state-dir', renewDir]);
    expect(await created.exited, created.output()).toBe(0);
    const token = stdoutOf(created).trim().split('\n').at(-1)!;
    const agentState = join(dir, 'renewing-agent');
    const agent = startTokenAgent('rhttp-agent renewing', ['--token', token, '--state-dir', agentState]);
    await waitForRoute(renewPorts.http, `app.localhost:${renewPorts.http}`);
    const first = new X509Certificate(readFileSync(join(agentState, 'cert.pem'))).serialNumber;
    await agent.waitFor(/renewed the certificate: valid until \S+/);
    const renewed = new X509Certificate(readFileSync(join(agentState, 'cert.pem')));
    expect(renewed.serialNumber).not.toBe(first);
    expect(renewed.subjectAltName).toBe('DNS:app.localhost');
    expect(short.output()).toMatch(/renewed the certificate of an agent from 127\.0\.0\.1:\d+ with its current certificate: certificate for app\.localhost/);
    // Connections dialed after the renewal present the new certificate and are admitted.
    await agent.waitFor(/renewed the certificate[\s\S]*connected to tls:.*serving https:\/\/app\.localhost/);
    expect((await waitForRoute(renewPorts.http, `app.localhost:${renewPorts.http}`)).toString()).toBe('hello from upstream\n');
    agent.kill();
    short.kill();
    await Promise.all([agent.exited, short.exited]);
  });
});

describe('an intermediary with its own certificates and a separate signing CA (--ca-cert/--ca-key)', () => {
  it('enrolled agents get certificates from that CA and are admitted; without it, token create says why it cannot', async () => {
    const own = await makeCertificates(join(dir, 'own'), ['https://app.localhost']);
    const signing = await makeCertificates(join(dir, 'signing'), ['https://unused.localhost']);
    const sdir = join(dir, 'separate-state');
    const sports = { agents: await freePort(), http: await freePort() };
    const base = [intermediaryCli, '--state-dir', sdir, '--agents', `127.0.0.1:${sports.agents}`, '--http', `127.0.0.1:${sports.http}`, '--cert', own.intermediaryCert, '--key', own.intermediaryKey, '--trust', own.ca];
    const ready = async (proc: Proc, advert: boolean) =>
      waitUntil('the intermediary to listen', async () => {
        if (proc.hasExited()) throw new Error(`exited:\n${proc.output()}`);
        return (await canConnect(sports.http)) && existsSync(join(sdir, 'enrollment.json')) === advert ? true : undefined;
      });
    const withCa = startProcess('rhttp-intermediary --ca-cert', process.execPath, [...base, '--ca-cert', signing.ca, '--ca-key', signing.caKey]);
    await ready(withCa, true);
    const created = startProcess('rhttp-intermediary token', process.execPath, [intermediaryCli, 'token', 'create', '--origin', 'https://app.localhost', '--state-dir', sdir]);
    expect(await created.exited, created.output()).toBe(0);
    const token = stdoutOf(created).trim().split('\n').at(-1)!;
    const state = join(dir, 'separate-agent');
    const agent = startTokenAgent('rhttp-agent separate CA', ['--token', token, '--state-dir', state]);
    expect((await waitForRoute(sports.http, `app.localhost:${sports.http}`)).toString()).toBe('hello from upstream\n');
    const issued = new X509Certificate(readFileSync(join(state, 'cert.pem')));
    expect(issued.checkIssued(new X509Certificate(readFileSync(signing.ca)))).toBe(true);
    // The agent verifies this intermediary later with the root of its --cert chain, not the signing CA.
    expect(readFileSync(join(state, 'ca.pem'), 'utf8')).toBe(readFileSync(own.ca, 'utf8'));
    agent.kill();
    withCa.kill();
    await Promise.all([agent.exited, withCa.exited]);

    const withoutCa = startProcess('rhttp-intermediary without --ca-cert', process.execPath, base);
    await ready(withoutCa, false);
    const refused = startProcess('rhttp-intermediary token', process.execPath, [intermediaryCli, 'token', 'create', '--origin', 'https://app.localhost', '--state-dir', sdir]);
    expect(await refused.exited).toBe(1);
    expect(refused.stderr().trim()).toMatch(/^rhttp-intermediary: no intermediary that can enroll agents has run with --state-dir \S+: start .* or give it --ca-cert and --ca-key, then create the token$/);
    withoutCa.kill();
    await withoutCa.exited;
  });
});
