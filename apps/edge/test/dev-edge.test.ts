/**
 * `npm run dev:edge` (apps/edge/scripts/dev.mjs): .dev.vars is read with wrangler's dotenv, and
 * TRUST_ANCHORS is checked before anything is bundled.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDevCa, issueCertificate, type IssuedCertificate } from '../../../packages/node/src/certs.js';
// @ts-expect-error -- plain ESM script without types
import { checkTrustAnchors, readDevVars } from '../scripts/local-edge.mjs';
import { browser, connectAgent, waitForSessions, type InProcessAgent } from './harness.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const devScript = join(root, 'apps/edge/scripts/dev.mjs');
let ca: IssuedCertificate;
let dir: string;

beforeAll(async () => {
  ca = await createDevCa();
  dir = mkdtempSync(join(tmpdir(), 'rhttp-dev-edge-'));
});

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The PEM on one line with `\n` escapes, as people paste it into .env files. */
const escaped = (pem: string) => pem.trimEnd().replace(/\n/g, '\\n');

describe('.dev.vars is read as wrangler reads it (dotenv.parse)', () => {
  it('takes a PEM with \\n escapes inside double quotes, a multi-line PEM, comments and unquoted values', () => {
    const vars = readDevVars(
      file('.dev.vars.mixed', `# the agents' CA\nTRUST_ANCHORS="${escaped(ca.certPem)}"\nOTHER="${ca.certPem.trimEnd()}"\nSTATUS_TOKEN=abc-123 # inline comment\nexport ORIGIN_SCHEME='http'\n`),
    ) as Record<string, string>;
    expect(vars.TRUST_ANCHORS).toBe(ca.certPem.trimEnd());
    expect(vars.OTHER).toBe(ca.certPem.trimEnd());
    expect(vars.STATUS_TOKEN).toBe('abc-123');
    expect(vars.ORIGIN_SCHEME).toBe('http');
    expect(checkTrustAnchors(vars.TRUST_ANCHORS)).toBe(1);
  });

  it('gives no bindings for a missing file', () => {
    expect(readDevVars(join(dir, 'absent'))).toEqual({});
  });
});

describe('checkTrustAnchors', () => {
  it('counts the certificates of a bundle', async () => {
    const other = await createDevCa();
    expect(checkTrustAnchors(`${ca.certPem}\n${other.certPem}`)).toBe(2);
  });

  it.each([
    [undefined, /^no TRUST_ANCHORS: put the PEM of the CA/],
    ['', /^no TRUST_ANCHORS/],
    ['-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----', /^TRUST_ANCHORS holds no certificate \(no "-----BEGIN CERTIFICATE-----" block\)/],
    ['-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----', /^TRUST_ANCHORS certificate 1 is not valid PEM\/X\.509/],
  ])('refuses %j in one line', (value, message) => {
    expect(() => checkTrustAnchors(value)).toThrow(message);
    try {
      checkTrustAnchors(value);
    } catch (error) {
      expect((error as Error).message).not.toContain('\n');
    }
  });

  it('refuses an expired CA, naming the date', async () => {
    const old = await createDevCa({ days: 1 });
    expect(() => checkTrustAnchors(old.certPem, new Date(Date.now() + 3 * 86_400_000))).toThrow(/^TRUST_ANCHORS certificate 1 \(CN=[^)]*\) expired at \d{4}-\d\d-\d\dT/);
  });
});

describe('npm run dev:edge', () => {
  let child: ChildProcess | undefined;
  let agent: InProcessAgent | undefined;
  afterEach(async () => {
    agent?.carrier.close();
    agent = undefined;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      // SIGTERM, not SIGKILL: dev.mjs then disposes of its workerd instead of leaving it running.
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    child = undefined;
  });

  it.each([
    ['no .dev.vars', () => join(dir, 'missing.vars'), /: no such file \(copy \.dev\.vars\.example to \.dev\.vars/],
    ['no TRUST_ANCHORS', () => file('no-anchors.vars', 'STATUS_TOKEN=x\n'), /: no TRUST_ANCHORS: put the PEM of the CA/],
    ['a key instead of a certificate', () => file('key.vars', `TRUST_ANCHORS="${escaped(ca.keyPem)}"\n`), /: TRUST_ANCHORS holds no certificate/],
  ])('exits 2 at once with one line when there is %s, bundling nothing', (_what, vars, message) => {
    const r = spawnSync(process.execPath, [devScript, '--vars', vars(), '--port', '0'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^dev:edge: \\S+${message.source}[^\\n]*\\n$`));
  });

  it('starts with a \\n-escaped TRUST_ANCHORS and accepts an agent whose certificate that CA issued', async () => {
    const origin = await issueCertificate(ca, { dnsNames: ['dev.example.com'] });
    const vars = file('good.vars', `TRUST_ANCHORS="${escaped(ca.certPem)}"\n`);
    child = spawn(process.execPath, [devScript, '--vars', vars, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout!.setEncoding('utf8');
    const url = await new Promise<string>((resolve, reject) => {
      child!.stdout!.on('data', (chunk: string) => {
        stdout += chunk;
        const m = /rhttp edge listening on (http:\/\/\S+)/.exec(stdout);
        if (m) resolve(m[1]);
      });
      child!.once('exit', (code) => reject(new Error(`dev:edge exited with ${code}: ${stdout}`)));
    });
    expect(stdout).toContain(`TRUST_ANCHORS from ${vars}: 1 certificate`);
    const edge = { url, wsUrl: url.replace(/^http/, 'ws'), close: async () => {} };
    agent = await connectAgent(edge, { origins: ['https://dev.example.com'], certChainPem: origin.chainPem, keyPem: origin.keyPem }, () => new Response('through dev:edge'));
    await waitForSessions(edge, 'dev.example.com');
    const response = await browser(edge, 'dev.example.com', '/');
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('through dev:edge');
  }, 120_000);
});
