import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueCertificate } from '../../packages/node/src/certs.js';
import { APP_ORIGIN, WILD_ORIGIN, httpGet, makeCertificates, startAgent, startUpstream, startTunnel, type Proc, type Tunnel, type Upstream } from './support.js';

/**
 * Agents the intermediary must refuse (draft-bt-httpbis-reverse-http-01 §4: the certificate must
 * chain to a trusted anchor, be valid now and cover every ORIGIN entry): the agent prints the
 * intermediary's reason, and no browser request ever reaches the refused agent's upstream.
 */
let tunnel: Tunnel;
/** The upstream behind the refused agents: it must see no request at all. */
let refusedUpstream: Upstream;

beforeAll(async () => {
  tunnel = await startTunnel('refusals');
  refusedUpstream = await startUpstream('refused-upstream');
}, 60_000);

afterAll(async () => {
  await tunnel?.close();
  await refusedUpstream?.close();
});

/** Starts an agent with its own upstream (the one that must stay silent) and waits for its refusal line. */
async function refusedAgent(name: string, opts: { origins: string[]; cert: string; key: string }): Promise<{ agent: Proc; line: string }> {
  const agent = startAgent({ name, agentsPort: tunnel.ports.agents, upstream: refusedUpstream.url, ca: tunnel.certs.ca, extra: ['--connections', '1'], ...opts });
  const m = await agent.waitFor(/^rhttp-agent: .*refused this agent: (.*)$/m);
  return { agent, line: m[0] };
}

/** Browser requests for `hosts` never reach the refused agent; app.localhost is still served by the good agent. */
async function expectNoTraffic(hosts: string[]): Promise<void> {
  const port = tunnel.ports.http;
  for (const host of hosts) {
    for (let i = 0; i < 5; i++) {
      const r = await httpGet(port, `${host}:${port}`, '/hello');
      if (host === 'app.localhost') {
        expect(r.status).toBe(200);
        expect(r.body.toString()).toBe('hello from upstream\n');
      } else {
        expect(r.status, r.body.toString()).toBe(503);
      }
    }
  }
  expect(refusedUpstream.requests).toEqual([]);
}

/**
 * An agent whose own certificate cannot work never dials: it exits 2 with one line (issue 11,
 * "fail early"). The intermediary's refusal of the same claims from an agent that does dial is
 * tested in apps/intermediary/test/intermediary.test.ts ("not covered", "refuses an expired certificate").
 */
async function agentRefusingItself(name: string, opts: { origins: string[]; cert: string; key: string }): Promise<string> {
  const agent = startAgent({ name, agentsPort: tunnel.ports.agents, upstream: refusedUpstream.url, ca: tunnel.certs.ca, extra: ['--connections', '1'], ...opts });
  expect(await agent.exited).toBe(2);
  const lines = agent.stderr().trim().split('\n');
  expect(lines, 'one line, not a stack trace').toHaveLength(1);
  return lines[0];
}

describe('refused agents print the reason and get no traffic', () => {
  it('forged ORIGIN claim: https://evil.localhost is not in the certificate (the agent refuses before dialing)', async () => {
    const line = await agentRefusingItself('rhttp-agent forged', { origins: ['https://evil.localhost'], cert: tunnel.certs.originCert, key: tunnel.certs.originKey });
    expect(line).toMatch(/does not cover https:\/\/evil\.localhost/);
    await expectNoTraffic(['evil.localhost', 'app.localhost']);
  });

  it('untrusted CA: an origin certificate from another dev CA', async () => {
    const other = await makeCertificates(join(tunnel.dir, 'other-ca'), [APP_ORIGIN]);
    const { agent, line } = await refusedAgent('rhttp-agent untrusted', { origins: [APP_ORIGIN], cert: other.originCert, key: other.originKey });
    expect(line).toMatch(/not trusted: .*not one of the trust anchors/);
    await expectNoTraffic(['app.localhost']);
    agent.kill();
    await agent.exited;
  });

  it('expired certificate (issued by the trusted CA, valid until a year ago; the agent refuses before dialing)', async () => {
    const ca = { certPem: readFileSync(tunnel.certs.ca, 'utf8'), keyPem: readFileSync(tunnel.certs.caKey, 'utf8'), chainPem: readFileSync(tunnel.certs.ca, 'utf8') };
    const day = 24 * 60 * 60 * 1000;
    const expired = await issueCertificate(ca, { dnsNames: ['app.localhost'], notBefore: new Date(Date.now() - 800 * day), notAfter: new Date(Date.now() - 365 * day) });
    const cert = join(tunnel.dir, 'expired.pem');
    const key = join(tunnel.dir, 'expired.key');
    writeFileSync(cert, expired.chainPem);
    writeFileSync(key, expired.keyPem, { mode: 0o600 });
    const line = await agentRefusingItself('rhttp-agent expired', { origins: [APP_ORIGIN], cert, key });
    expect(line).toMatch(/expired at/);
    await expectNoTraffic(['app.localhost']);
  });

  it('origins in two registrable domains on one connection (DESIGN.md "Broker semantics")', async () => {
    const { agent, line } = await refusedAgent('rhttp-agent two domains', { origins: [APP_ORIGIN, WILD_ORIGIN], cert: tunnel.certs.originCert, key: tunnel.certs.originKey });
    expect(line).toMatch(/registrable domain/);
    await expectNoTraffic(['a.wild.localhost', 'app.localhost']);
    agent.kill();
    await agent.exited;
  });
});
