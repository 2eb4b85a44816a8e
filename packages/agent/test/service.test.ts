/**
 * `rhttp-agent service install|uninstall` (the unit file's content, not systemctl) and the
 * Prometheus text the agent's /metrics serves.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderAgentMetrics } from '../src/metrics.js';
import { renderSystemdUnit } from '../src/service.js';
import { buildAgent, cliPath } from './build-cli.js';

beforeAll(() => {
  const build = buildAgent();
  expect(build.status, build.output).toBe(0);
}, 120_000);

function run(args: string[]) {
  return spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8' });
}

function directives(unit: string): Map<string, string> {
  return new Map(unit.split('\n').filter((l) => /^[A-Z][A-Za-z]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

describe('rhttp-agent service install', () => {
  it('writes a unit running this runtime and CLI with the config, restarting, draining on SIGTERM, hardened', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rhttp-service-'));
    const config = join(dir, 'rhttp.yaml');
    writeFileSync(config, 'intermediary: tls://127.0.0.1:8443\ncert: origin.pem\nkey: origin.key\nca: ca.pem\ndrain-timeout: 40\ningress:\n  - service: http://127.0.0.1:3000\n');
    const units = join(dir, 'units');
    const r = run(['service', 'install', '--config', config, '--name', 'edge-agent', '--user', 'rhttp', '--unit-dir', units]);
    expect(r.status, r.stderr).toBe(0);
    const path = join(units, 'edge-agent.service');
    expect(r.stdout).toContain(`Wrote ${path}`);
    expect(r.stdout).toContain('systemctl daemon-reload && systemctl enable --now edge-agent');
    const unit = readFileSync(path, 'utf8');
    const d = directives(unit);
    expect(d.get('ExecStart')).toBe(`${process.execPath} ${cliPath} --config ${config}`);
    expect(d.get('User')).toBe('rhttp');
    expect(d.get('Restart')).toBe('always');
    expect(Number(d.get('RestartSec'))).toBeGreaterThan(0);
    expect(d.get('KillSignal')).toBe('SIGTERM');
    expect(Number(d.get('TimeoutStopSec'))).toBeGreaterThan(40); // longer than the config's drain-timeout
    expect(d.get('NoNewPrivileges')).toBe('true');
    expect(d.get('ProtectSystem')).toBe('strict');
    expect(d.get('ReadOnlyPaths')?.split(' ')).toEqual([config, join(dir, 'origin.pem'), join(dir, 'origin.key'), join(dir, 'ca.pem')]);
    expect(d.get('WorkingDirectory')).toBe(dir);
    expect(unit).toContain('[Install]\nWantedBy=multi-user.target');

    const u = run(['service', 'uninstall', '--name', 'edge-agent', '--unit-dir', units]);
    expect(u.status, u.stderr).toBe(0);
    expect(existsSync(path)).toBe(false);
    expect(u.stdout).toContain('systemctl daemon-reload');
    expect(run(['service', 'uninstall', '--name', 'edge-agent', '--unit-dir', units]).status).toBe(1);
  });

  it('rejects a bad config before writing anything, naming the line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rhttp-service-'));
    writeFileSync(join(dir, 'bad.yaml'), 'intermediary: tls://127.0.0.1:8443\nconections: 2\n');
    const r = run(['service', 'install', '--config', join(dir, 'bad.yaml'), '--unit-dir', join(dir, 'units')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`bad.yaml:2: unknown key "conections"`);
    expect(existsSync(join(dir, 'units'))).toBe(false);
  });

  it('quotes arguments with spaces and doubles % and $ as systemd requires; without --user it says it runs as root', () => {
    const unit = renderSystemdUnit({ name: 'a', execStart: ['/usr/bin/node', '/opt/my agent/cli.js', '--config', '/etc/100%/$x.yaml'], readOnlyPaths: [] });
    const d = directives(unit);
    expect(d.get('ExecStart')).toBe('/usr/bin/node "/opt/my agent/cli.js" --config "/etc/100%%/$$x.yaml"');
    expect(d.has('User')).toBe(false);
    expect(unit).toContain('# No User=: runs as root.');
    expect(d.has('ReadOnlyPaths')).toBe(false);
  });
});

describe('Prometheus text exposition (format 0.0.4)', () => {
  it('renders every family with HELP and TYPE, labels and values', () => {
    const text = renderAgentMetrics({
      connections: { idle: 0, connecting: 1, connected: 1, waiting: 0, stopped: 0, draining: 1 },
      reconnects: 4,
      refusals: 2,
      requests: { '2xx': 10, '5xx': 1 },
      bytes: { in: 100, out: 2048 },
      inFlight: 3,
      pingRttMs: [{ connection: 2, endpoint: 'tls://a.example:8443', rttMs: 12.5 }],
      endpoints: [
        { endpoint: 'tls://a.example:8443', connected: 1, requests: 7 },
        { endpoint: 'tls://b.example:8443', connected: 0, requests: 4 },
      ],
    });
    const lines = text.split('\n');
    for (const name of ['rhttp_agent_connections', 'rhttp_agent_reconnects_total', 'rhttp_agent_requests_total', 'rhttp_agent_request_bytes_total', 'rhttp_agent_inflight_requests', 'rhttp_agent_ping_rtt_seconds', 'rhttp_agent_refusals_total', 'rhttp_agent_endpoint_connections', 'rhttp_agent_endpoint_requests_total']) {
      expect(lines).toContain(`# TYPE ${name} ${name.endsWith('_total') ? 'counter' : 'gauge'}`);
      expect(lines.some((l) => l.startsWith(`# HELP ${name} `))).toBe(true);
    }
    expect(lines).toContain('rhttp_agent_connections{state="connected"} 1');
    expect(lines).toContain('rhttp_agent_connections{state="draining"} 1');
    expect(lines).toContain('rhttp_agent_reconnects_total 4');
    expect(lines).toContain('rhttp_agent_requests_total{status_class="2xx"} 10');
    expect(lines).toContain('rhttp_agent_requests_total{status_class="4xx"} 0');
    expect(lines).toContain('rhttp_agent_request_bytes_total{direction="out"} 2048');
    expect(lines).toContain('rhttp_agent_inflight_requests 3');
    expect(lines).toContain('rhttp_agent_ping_rtt_seconds{connection="2",endpoint="tls://a.example:8443"} 0.0125');
    expect(lines).toContain('rhttp_agent_endpoint_connections{endpoint="tls://b.example:8443"} 0');
    expect(lines).toContain('rhttp_agent_endpoint_requests_total{endpoint="tls://a.example:8443"} 7');
    expect(lines).toContain('rhttp_agent_refusals_total 2');
    expect(text.endsWith('\n')).toBe(true);
  });
});
