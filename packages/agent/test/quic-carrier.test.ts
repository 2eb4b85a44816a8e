/**
 * `--intermediary quic://` on Node: parsed like tls://, refused at startup (Node has no QUIC) by
 * the library and by the CLI in one line with the usage exit code; Deno's QUIC failure messages
 * mapped to dial errors. The QUIC dial itself runs under Deno in test/e2e/quic.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Agent, parseIntermediary } from '../src/agent.js';
import { createDevCa, issueCertificate } from '../../node/src/certs.js';
import { describeQuicError, dialQuic, quicUnavailable } from '../src/carriers/quic.js';
import { CarrierDialError } from '../src/carrier.js';
import { buildAgent, cliPath } from './build-cli.js';

const NODE_REFUSAL = "quic:// needs Deno's QUIC (deno run -A --unstable-net npm:rhttp-agent …); Node and Bun have no QUIC (use tls:// there)";

describe('quic:// addresses', () => {
  it('parses quic://host:port like tls:// (IPv6 in brackets, 443 by default)', () => {
    expect(parseIntermediary('quic://127.0.0.1:8443')).toEqual({ carrier: 'quic', host: '127.0.0.1', port: 8443 });
    expect(parseIntermediary('QUIC://[::1]:9443')).toEqual({ carrier: 'quic', host: '::1', port: 9443 });
    expect(parseIntermediary('quic://proxy.example.net')).toEqual({ carrier: 'quic', host: 'proxy.example.net', port: 443 });
  });

  it('refuses a path, a query or user info', () => {
    for (const bad of ['quic://proxy.example.net/x', 'quic://proxy.example.net:8443?a=1', 'quic://user@proxy.example.net']) {
      expect(() => parseIntermediary(bad)).toThrow('--intermediary must be quic://host:port');
    }
    expect(() => parseIntermediary('udp://proxy.example.net:8443')).toThrow(/tls:\/\/host:port, quic:\/\/host:port/);
  });
});

describe('quic:// on Node', () => {
  it('says Node has no QUIC', () => {
    expect(quicUnavailable()).toBe(NODE_REFUSAL);
  });

  it('the Agent refuses it at construction, and a dial refuses without touching the network', async () => {
    const ca = await createDevCa();
    const origin = await issueCertificate(ca, { dnsNames: ['app.example.com'] });
    expect(
      () => new Agent({ intermediary: 'quic://127.0.0.1:8443', origins: ['https://app.example.com'], upstream: 'http://127.0.0.1:3000', cert: origin.chainPem, key: origin.keyPem }),
    ).toThrow(NODE_REFUSAL);
    const failure = await dialQuic({ host: '127.0.0.1', port: 8443 }, { certChainPem: origin.chainPem, keyPem: origin.keyPem, connectTimeoutMs: 1000 }, new AbortController().signal).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(CarrierDialError);
    expect(failure).toMatchObject({ message: NODE_REFUSAL, refused: true, unreached: false });
  });
});

describe("Deno's QUIC failures as dial errors", () => {
  const peer = { host: '127.0.0.1', port: 8443, servername: 'localhost' };
  it.each([
    // The messages Deno 2.9.6 (quinn + rustls) gives, as seen from Deno.connectQuic.
    ['Error: the cryptographic handshake failed: error 48: invalid peer certificate: UnknownIssuer', true, /we do not trust the intermediary's certificate \(UnknownIssuer\); pass the CA that issued it with --ca/],
    ['the cryptographic handshake failed: error 42: invalid peer certificate: certificate not valid for name "example.net"; certificate is only valid for DnsName("localhost")', true, /not issued for localhost .*--servername/],
    ["aborted by peer: the cryptographic handshake failed: error 120: peer doesn't support any known protocol", true, /did not agree to h3-reverse/],
    ['timed out', false, /127\.0\.0\.1:8443 did not answer over QUIC \(timed out\)/],
    ['Connection refused (os error 111)', false, /nothing accepts QUIC at 127\.0\.0\.1:8443/],
  ])('%s', (message, refused, sentence) => {
    const error = describeQuicError(new Error(message), peer);
    expect(error.refused).toBe(refused);
    expect(error.unreached).toBe(!refused);
    expect(error.message).toMatch(sentence);
  });
});

describe('rhttp-agent --intermediary quic:// on Node (the CLI)', () => {
  let dir: string;
  beforeAll(async () => {
    const build = buildAgent();
    expect(build.status, build.output).toBe(0);
    dir = mkdtempSync(join(tmpdir(), 'rhttp-agent-quic-'));
    const ca = await createDevCa();
    const origin = await issueCertificate(ca, { dnsNames: ['app.example.com'] });
    writeFileSync(join(dir, 'origin.pem'), origin.chainPem);
    writeFileSync(join(dir, 'origin.key'), origin.keyPem);
    writeFileSync(join(dir, 'rhttp.yaml'), 'intermediary: quic://127.0.0.1:8443\ncert: origin.pem\nkey: origin.key\norigins: [https://app.example.com]\n');
  }, 120_000);

  const run = (args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { cwd: dir, encoding: 'utf8' });

  it('exits 2 with one line, before reading anything else', () => {
    const r = run(['--intermediary', 'quic://127.0.0.1:8443', '--origin', 'https://app.example.com', '--upstream', 'http://127.0.0.1:3000', '--cert', 'origin.pem', '--key', 'origin.key']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`rhttp-agent: ${NODE_REFUSAL}\n`);
  });

  it('refuses the config-file form the same way', () => {
    const r = run(['--config', 'rhttp.yaml', '--upstream', 'http://127.0.0.1:3000']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`rhttp-agent: ${NODE_REFUSAL}\n`);
  });

  it('--help names quic:// and what it needs', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('quic://HOST:PORT');
    expect(r.stdout).toContain('deno run -A --unstable-net');
  });
});

