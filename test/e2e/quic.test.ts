/**
 * The QUIC carrier (`h3-reverse`) under Deno, the only runtime with QUIC: the intermediary's QUIC
 * listener tells agents (ALPN h3-reverse) from browsers (h3) and refuses other ALPNs in the
 * handshake; the built CLIs serve requests over `--quic` / `quic://` with the reversed HTTP/3
 * session, the agent admitted by its in-band certificate proof.
 * Skipped, with the reason printed, when Deno cannot start.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_ORIGIN, curl, denoBin, freePort, makeCertificates, removeDir, repoRoot, requireBuiltClis, startUpstream, stopAll, tempDir, waitForRoute, type CertPaths } from './support.js';
import { DENO_RUN, denoUnavailable, freeUdpPort, startDenoAgent, startDenoIntermediary } from './support/deno.js';

const unavailable = denoUnavailable();
if (unavailable) console.warn(`quic.test: skipping the QUIC carrier tests: ${unavailable}`);

describe.skipIf(unavailable)('h3-reverse over QUIC (Deno)', () => {
  let dir: string;
  let certs: CertPaths;
  let strangers: CertPaths;

  beforeAll(async () => {
    requireBuiltClis();
    dir = tempDir('quic');
    certs = await makeCertificates(join(dir, 'certs'), [APP_ORIGIN]);
    // Another dev CA: an agent given it as --ca must not trust the intermediary.
    strangers = await makeCertificates(join(dir, 'strangers'), [APP_ORIGIN]);
  });

  afterAll(async () => {
    await stopAll();
    removeDir(dir);
  });

  it('the listener hands an h3-reverse connection to onAgent (which can open the server-initiated request stream), an h3 one to onBrowser, and refuses another ALPN in the handshake', () => {
    const r = spawnSync(denoBin, [...DENO_RUN, join(repoRoot, 'test/e2e/support/quic-listener-probe.mjs'), certs.intermediaryCert, certs.intermediaryKey, certs.ca], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(out.agent).toEqual({ ok: true, protocol: 'h3-reverse', streamId: 1, request: 'GET / on a server-initiated bidirectional stream' });
    expect(out.browser).toEqual({ ok: true, protocol: 'h3' });
    expect(out.other.ok).toBe(false);
    expect(out.other.error).toMatch(/peer doesn't support any known protocol/);
    expect(out.seen.agents).toEqual([{ from: expect.stringMatching(/^127\.0\.0\.1:\d+$/) }]);
    expect(out.seen.browsers).toEqual([{ from: expect.stringMatching(/^127\.0\.0\.1:\d+$/) }]);
    expect(out.seen.refused).toEqual([expect.objectContaining({ kind: 'alpn' })]);
  });

  it("the agent's QUIC dial answers the listener's challenge in-band: a trusted certificate is admitted for its origin, another CA's is refused", () => {
    const r = spawnSync(
      denoBin,
      [...DENO_RUN, join(repoRoot, 'test/e2e/support/quic-authentication-probe.mjs'), certs.intermediaryCert, certs.intermediaryKey, certs.ca, APP_ORIGIN, certs.originCert, certs.originKey, strangers.originCert, strangers.originKey],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const [trusted, stranger] = r.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(trusted).toEqual({ agent: certs.originCert, alpn: 'h3-reverse', protocol: 'QUIC', challengeLength: 32, authentication: 'verified', authorized: [APP_ORIGIN] });
    expect(stranger).toEqual({
      agent: strangers.originCert,
      alpn: 'h3-reverse',
      protocol: 'QUIC',
      challengeLength: 32,
      authentication: 'refused',
      refused: { kind: 'certificate', reason: expect.stringMatching(/^certificate not trusted: /) },
    });
  });

  it('rhttp-agent --intermediary quic:// serves through rhttp-intermediary --quic (h3-reverse): admitted, then GET and POST reach the upstream; an agent that does not trust the intermediary is refused in the handshake', async () => {
    const upstream = await startUpstream();
    const ports = { agents: await freePort(), http: await freePort(), quic: await freeUdpPort() };
    const intermediary = await startDenoIntermediary(certs, ports);
    const base = { intermediary: `quic://127.0.0.1:${ports.quic}`, origins: [APP_ORIGIN], upstream: upstream.url, cert: certs.originCert, key: certs.originKey, extra: ['--servername', 'localhost', '--connections', '1'] };

    const agent = await startDenoAgent({ ...base, ca: certs.ca, name: 'rhttp-agent (deno, quic)' });
    await intermediary.waitFor(/agent connected over QUIC from 127\.0\.0\.1:\d+/);
    // RHTTP_ADMITTED: "connected" once the in-band proof and the ORIGIN frame checked out, not merely when QUIC is up.
    await agent.waitFor(/connection 1: connected to quic:\/\/127\.0\.0\.1:\d+ \(QUIC, h3-reverse\); serving https:\/\/app\.localhost/);
    expect(agent.output()).not.toMatch(/unconfirmed/);
    const host = `app.localhost:${ports.http}`;
    expect((await waitForRoute(ports.http, host)).toString()).toBe('hello from upstream\n');
    const posted = await curl(['-s', '-o', '-', '-w', '%{http_code}', '--data-binary', 'over h3-reverse', '-H', `host: ${host}`, `http://127.0.0.1:${ports.http}/echo`]);
    expect(posted.stdout.toString()).toBe('over h3-reverse200');
    const status = JSON.parse((await curl(['-s', `http://127.0.0.1:${ports.http}/.rhttp/status?format=json`])).stdout.toString());
    expect(status.sessions).toEqual([expect.objectContaining({ state: 'authorized', subject: expect.stringContaining('app.localhost'), origins: [APP_ORIGIN] })]);
    await agent.stop();

    const distrustful = await startDenoAgent({ ...base, ca: strangers.ca, name: 'rhttp-agent (deno, wrong --ca)' });
    await distrustful.waitFor(/we do not trust the intermediary's certificate \(UnknownIssuer\); pass the CA that issued it with --ca/);
    await distrustful.stop();
    expect(intermediary.output()).toMatch(/QUIC connection from a QUIC client refused: QUIC handshake failed/);
    expect(await intermediary.stop()).toBe(0);
  });
});
