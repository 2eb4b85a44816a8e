/**
 * The config file validator (line-numbered messages) and ingress routing (first match wins,
 * hostnames and path globs, which upstream gets the request).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseAgentConfig } from '../src/config.js';
import { IngressRouter, ingressOrigins, matchIngress, parseIngressService, type IngressRule } from '../src/ingress.js';

const FILE = '/etc/rhttp/rhttp.yaml';

function problem(text: string): string {
  try {
    parseAgentConfig(text, FILE);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('the config was accepted');
}

const full = `intermediary: tls://127.0.0.1:8443
cert: origin.pem
key: /secure/origin.key
ca: ../ca/ca.pem
connections: 3
drain-timeout: 10
log: json
metrics: 127.0.0.1:9101
ingress:
  - hostname: app.example.com
    path: /api/*
    service: http://127.0.0.1:3000
  - hostname: "*.app.example.com"
    service: http://127.0.0.1:4000
  - service: http_status:404
`;

describe('config file (--config rhttp.yaml)', () => {
  it('reads every setting; relative paths are relative to the file, absolute ones kept', () => {
    const c = parseAgentConfig(full, FILE);
    expect(c).toMatchObject({
      path: FILE,
      intermediary: 'tls://127.0.0.1:8443',
      cert: '/etc/rhttp/origin.pem',
      key: '/secure/origin.key',
      ca: '/etc/ca/ca.pem',
      connections: 3,
      drainTimeoutSeconds: 10,
      log: 'json',
      metrics: '127.0.0.1:9101',
    });
    expect(c.ingress).toEqual([
      { hostname: 'app.example.com', path: '/api/*', service: { kind: 'http', url: 'http://127.0.0.1:3000' } },
      { hostname: '*.app.example.com', service: { kind: 'http', url: 'http://127.0.0.1:4000' } },
      { service: { kind: 'status', status: 404 } },
    ]);
    expect(ingressOrigins(c.ingress!)).toEqual(['https://app.example.com', 'https://*.app.example.com']);
  });

  it('reads durations as seconds: a plain number, or 30s, 5m, 1h, 1h30m', () => {
    expect(parseAgentConfig('drain-timeout: 2.5\nmax-connection-age: 90\n', FILE)).toMatchObject({ drainTimeoutSeconds: 2.5, maxConnectionAgeSeconds: 90 });
    expect(parseAgentConfig('drain-timeout: 30s\nmax-connection-age: 1h30m\n', FILE)).toMatchObject({ drainTimeoutSeconds: 30, maxConnectionAgeSeconds: 5400 });
    expect(parseAgentConfig('drain-timeout: "0"\nmax-connection-age: 5m\n', FILE)).toMatchObject({ drainTimeoutSeconds: 0, maxConnectionAgeSeconds: 300 });
  });

  it('accepts a bare intermediary name and an empty file', () => {
    expect(parseAgentConfig('intermediary: proxy.example.net:8443\n', FILE).intermediary).toBe('proxy.example.net:8443');
    expect(parseAgentConfig('', FILE)).toEqual({ path: FILE });
  });

  it.each([
    ['intermediary: tls://x:1\nfoo: 1\n', `${FILE}:2: unknown key "foo" (known keys: intermediary,`],
    ['connections: 0\n', `${FILE}:1: connections: must be a whole number from 1 to 16, got 0`],
    ['connections: two\n', `${FILE}:1: connections: expected a number`],
    ['log: xml\n', `${FILE}:1: log: must be text or json, got xml`],
    ['drain-timeout: soon\n', `${FILE}:1: drain-timeout: expected a duration (seconds, or a number with a unit like 30s, 5m, 1h`],
    ['max-connection-age: 0s\n', `${FILE}:1: max-connection-age: must be more than 0, got 0`],
    ['max-connection-age: [1]\n', `${FILE}:1: max-connection-age: expected a duration`],
    ['metrics: 9101\n', `${FILE}:1: metrics: expected HOST:PORT`],
    ['intermediary: http://x\n', `${FILE}:1: intermediary: --intermediary must be tls://host:port`],
    ['ptth: h3\n', `${FILE}:1: ptth: must be upgrade or connect, got h3`],
    ['intermediary: 10.0.0.1\n', `${FILE}:1: intermediary: --intermediary 10.0.0.1 is an IP address`],
    ['cert: [a, b]\n', `${FILE}:1: cert: expected a string`],
    ['origins: [https://a.example/path]\n', `${FILE}:1: origins: origin "https://a.example/path" has a path`],
    ['- a\n- b\n', `${FILE}:1: the file must be a mapping of keys`],
    ['cert: a\ncert: b\n', `${FILE}:2: not valid YAML: Map keys must be unique`],
    ['ingress: []\n', `${FILE}:1: ingress: expected a list of rules`],
    ['ingress:\n  - hostname: a.example\n    service: http://127.0.0.1:1\n', `${FILE}:2: ingress[0]: the last rule must be a catch-all`],
    ['ingress:\n  - service: http://127.0.0.1:1\n  - hostname: a.example\n    service: http://127.0.0.1:2\n', `${FILE}:2: ingress[0] has no hostname or path, so it matches every request`],
    ['ingress:\n  - hostname: a.example\n    service: ftp://x\n  - service: http_status:404\n', `${FILE}:3: ingress[0].service: service must be an http:// or https:// URL or http_status:NNN, got "ftp://x"`],
    ['ingress:\n  - hostname: a.example\n  - service: http_status:404\n', `${FILE}:2: ingress[0]: service: is required`],
    ['ingress:\n  - hostname: https://a.example\n    service: http://x\n  - service: http_status:404\n', `${FILE}:2: ingress[0].hostname: hostname must be a DNS name`],
    ['ingress:\n  - hostname: a.example\n    path: api/*\n    service: http://x\n  - service: http_status:404\n', `${FILE}:3: ingress[0].path: a path glob starts with /`],
    ['ingress:\n  - hostnam: a.example\n    service: http://x\n  - service: http_status:404\n', `${FILE}:2: ingress[0]: unknown key "hostnam" (a rule has hostname, path, service)`],
    ['ingress:\n  - service: http_status:999\n', `${FILE}:2: ingress[0].service: http_status:999 is not a status`],
  ])('rejects %j naming the line and key', (text, message) => {
    expect(problem(text)).toContain(message);
  });
});

describe('ingress rules: first match wins', () => {
  const rules: IngressRule[] = [
    { hostname: 'app.example.com', path: '/api/*', service: parseIngressService('http://127.0.0.1:3000') },
    { hostname: 'app.example.com', path: '/exact', service: parseIngressService('http_status:410') },
    { hostname: '*.app.example.com', service: parseIngressService('http://127.0.0.1:4000') },
    { hostname: 'app.example.com', service: parseIngressService('http://127.0.0.1:5000') },
    { service: parseIngressService('http_status:404') },
  ];
  it.each([
    ['app.example.com', '/api/users', 0],
    ['APP.example.com.', '/api/a/b/c', 0],
    ['app.example.com', '/api', 3],
    ['app.example.com', '/exact', 1],
    ['app.example.com', '/exact/more', 3],
    ['x.app.example.com', '/api/users', 2],
    ['a.b.app.example.com', '/', 4], // a wildcard covers one label, as in certificates
    ['other.example', '/', 4],
  ])('%s%s → rule %i', (host, path, index) => {
    expect(matchIngress(rules, host, path)).toBe(rules[index]);
  });
});

describe('IngressRouter: which upstream gets the request', () => {
  const seen: string[] = [];
  const servers: http.Server[] = [];
  const ports: number[] = [];
  beforeAll(async () => {
    for (const name of ['A', 'B']) {
      const server = http.createServer((req, res) => {
        seen.push(`${name} ${req.headers.host} ${req.url}`);
        res.end(name);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      servers.push(server);
      ports.push((server.address() as AddressInfo).port);
    }
  });
  afterAll(async () => {
    for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
  });

  it('forwards to the matching rule, answers http_status rules itself', async () => {
    const router = new IngressRouter([
      { hostname: 'app.example.com', path: '/api/*', service: parseIngressService(`http://127.0.0.1:${ports[1]}`) },
      { hostname: 'app.example.com', service: parseIngressService(`http://127.0.0.1:${ports[0]}`) },
      { service: parseIngressService('http_status:404') },
    ]);
    try {
      expect(await (await router.fetch(new Request('https://app.example.com/api/v1?q=1'))).text()).toBe('B');
      expect(await (await router.fetch(new Request('https://app.example.com/home'))).text()).toBe('A');
      const other = await router.fetch(new Request('https://elsewhere.example/'));
      expect(other.status).toBe(404);
      expect(seen).toEqual(['B app.example.com /api/v1?q=1', 'A app.example.com /home']);
    } finally {
      router.close();
    }
  });

  it('upstreamFor (the stream path) picks what fetch picks, on the parsed path; none for status rules', () => {
    const router = new IngressRouter([
      { hostname: 'app.example.com', path: '/api/*', service: parseIngressService(`http://127.0.0.1:${ports[1]}`) },
      { hostname: 'app.example.com', service: parseIngressService(`http://127.0.0.1:${ports[0]}`) },
      { service: parseIngressService('http_status:404') },
    ]);
    const port = (authority: string, path: string) => router.upstreamFor('https', authority, path)?.base.port;
    expect(port('app.example.com', '/api/v1?q=1')).toBe(String(ports[1]));
    expect(port('APP.example.com:443', '/home')).toBe(String(ports[0]));
    // Dot segments are resolved before matching, as fetch's URL does: /api/../home is /home.
    expect(port('app.example.com', '/api/../home')).toBe(String(ports[0]));
    expect(port('elsewhere.example', '/')).toBeUndefined();
    router.close();
  });
});
