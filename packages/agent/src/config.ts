/**
 * The agent's config file (`--config rhttp.yaml`): the same settings as the flags, plus ingress
 * rules routing each hostname and path to its own upstream (like cloudflared's `ingress`). Flags
 * given on the command line override the file. Mistakes are reported with the file, line and key.
 *
 * @example
 * ```yaml
 * intermediary: tls://127.0.0.1:8443
 * cert: origin.pem          # relative paths are relative to this file's folder
 * key: origin.key
 * ca: ca.pem
 * connections: 2
 * ingress:                  # first match wins
 *   - hostname: app.example.com
 *     path: /api/*
 *     service: http://127.0.0.1:3000
 *   - hostname: "*.app.example.com"
 *     service: http://127.0.0.1:4000
 *   - service: http_status:404   # catch-all, required last
 * ```
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { DURATION_FORMS, isReversedH2Alpn, parseDuration, parseOrigin, REVERSED_H2_ALPNS, type ReversedH2Alpn } from '@rhttp/core';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair, type YAMLMap } from 'yaml';
import { MAX_CONNECTIONS, parseIntermediary } from './agent.js';
import { parseBareIntermediary } from './discover.js';
import { checkIngressHostname, parseIngressService, type IngressRule } from './ingress.js';
import { parseListenAddress } from './metrics-server.js';

/** A validated config file. Paths are absolute (relative ones resolved against the file's folder). */
export interface AgentConfig {
  /** The file it came from (absolute). */
  path: string;
  intermediary?: string;
  doh?: string;
  cert?: string;
  key?: string;
  ca?: string;
  servername?: string;
  /** `https://` intermediaries: HTTP/1.1 Upgrade (default) or extended CONNECT over HTTP/2 (carriers/ptth.ts). */
  ptth?: 'upgrade' | 'connect';
  /** `tls://` intermediaries: the ALPN naming reversed HTTP/2 (`h2-reverse`, or draft-thomson-ptth-potato's `rh2`). */
  alpn?: ReversedH2Alpn;
  connections?: number;
  drainTimeoutSeconds?: number;
  maxConnectionAgeSeconds?: number;
  log?: 'text' | 'json';
  /** `HOST:PORT` for the Prometheus endpoint. */
  metrics?: string;
  /** Origins to announce; by default those of the ingress hostnames. */
  origins?: string[];
  ingress?: IngressRule[];
}

/** A config file problem: `file:line: key: what is wrong`. */
export class ConfigError extends Error {
  readonly code = 'ERR_RHTTP_CONFIG';
  constructor(
    message: string,
    readonly file: string,
    readonly line?: number,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** Top-level keys, as in the flags (without `--`). */
const TOP_KEYS = ['intermediary', 'doh', 'cert', 'key', 'ca', 'servername', 'ptth', 'alpn', 'connections', 'drain-timeout', 'max-connection-age', 'log', 'metrics', 'origins', 'ingress'] as const;
const RULE_KEYS = ['hostname', 'path', 'service'] as const;

/** Reads and validates a config file. Throws {@link ConfigError}. */
export function loadAgentConfig(path: string): AgentConfig {
  const absolute = resolve(path);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new ConfigError(e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message, path);
  }
  return parseAgentConfig(text, absolute);
}

/** Validates config text; `path` names the file in messages and anchors relative paths. Throws {@link ConfigError}. */
export function parseAgentConfig(text: string, path: string): AgentConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineOf = (node: Node | Pair | null | undefined): number | undefined => {
    const range: [number, number, number] | null | undefined = !node ? undefined : isPair(node) ? (node.key as Node | null)?.range : node.range;
    return range ? lineCounter.linePos(range[0]).line : undefined;
  };
  const fail = (message: string, node?: Node | Pair | null): never => {
    throw new ConfigError(message, path, lineOf(node));
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new ConfigError(`not valid YAML: ${e.message.split('\n')[0]}`, path, lineCounter.linePos(e.pos[0]).line);
  }
  const config: AgentConfig = { path };
  if (doc.contents === null) return config; // an empty file sets nothing
  if (!isMap(doc.contents)) fail('the file must be a mapping of keys (intermediary:, cert:, ingress:, …)', doc.contents as Node);
  const folder = dirname(path);

  for (const pair of (doc.contents as YAMLMap).items) {
    const keyNode = pair.key as Node;
    const key = isScalar(keyNode) ? String(keyNode.value) : '';
    const value = pair.value as Node | null;
    if (!(TOP_KEYS as readonly string[]).includes(key)) fail(`unknown key "${key}" (known keys: ${TOP_KEYS.join(', ')})`, keyNode);
    const at = value ?? keyNode;
    const str = (what = 'a string'): string => {
      if (!isScalar(value) || typeof value.value !== 'string' || value.value === '') fail(`${key}: expected ${what}${isScalar(value) ? `, got ${String(value.value)}` : ''}`, at);
      return (value as { value: string }).value;
    };
    const num = (): number => {
      const v = isScalar(value) ? value.value : undefined;
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${key}: expected a number`, at);
      return v as number;
    };
    /** Seconds of a duration: a YAML number is seconds; a string may carry a unit (30s, 5m, 1h). */
    const seconds = (): number => {
      const v = isScalar(value) ? value.value : undefined;
      if (typeof v === 'number' && Number.isFinite(v)) return v;
      if (typeof v === 'string') {
        try {
          return parseDuration(v) / 1000;
        } catch {
          // worded below
        }
      }
      return fail(`${key}: expected a duration (${DURATION_FORMS}), got ${isScalar(value) ? String(value.value) : 'nothing'}`, at);
    };
    const file = (): string => {
      const p = str();
      return isAbsolute(p) ? p : resolve(folder, p);
    };
    const check = <T>(f: () => T): T => {
      try {
        return f();
      } catch (error) {
        return fail(`${key}: ${(error as Error).message}`, at);
      }
    };
    switch (key) {
      case 'intermediary': {
        const v = str();
        check(() => (/^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? parseIntermediary(v) : parseBareIntermediary(v)));
        config.intermediary = v;
        break;
      }
      case 'doh': {
        const v = str();
        check(() => {
          const u = new URL(v);
          if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new TypeError(`a DoH resolver is an https:// URL, got ${v}`);
        });
        config.doh = v;
        break;
      }
      case 'cert':
      case 'key':
      case 'ca':
        config[key] = file();
        break;
      case 'servername':
        config.servername = str();
        break;
      case 'ptth': {
        const v = str();
        if (v !== 'upgrade' && v !== 'connect') fail(`ptth: must be upgrade or connect, got ${v}`, at);
        config.ptth = v === 'connect' ? 'connect' : 'upgrade';
        break;
      }
      case 'alpn': {
        const v = str();
        config.alpn = isReversedH2Alpn(v) ? v : fail(`alpn: must be ${REVERSED_H2_ALPNS.join(' or ')}, got ${v}`, at);
        break;
      }
      case 'connections': {
        const n = num();
        if (!Number.isInteger(n) || n < 1 || n > MAX_CONNECTIONS) fail(`connections: must be a whole number from 1 to ${MAX_CONNECTIONS}, got ${n}`, at);
        config.connections = n;
        break;
      }
      case 'drain-timeout': {
        const n = seconds();
        if (n < 0) fail(`drain-timeout: must be 0 or more, got ${n}`, at);
        config.drainTimeoutSeconds = n;
        break;
      }
      case 'max-connection-age': {
        const n = seconds();
        if (n <= 0) fail(`max-connection-age: must be more than 0, got ${n}`, at);
        config.maxConnectionAgeSeconds = n;
        break;
      }
      case 'log': {
        const v = str();
        if (v !== 'text' && v !== 'json') fail(`log: must be text or json, got ${v}`, at);
        config.log = v as 'text' | 'json';
        break;
      }
      case 'metrics': {
        const v = str('HOST:PORT (like 127.0.0.1:9101)');
        check(() => parseListenAddress(v));
        config.metrics = v;
        break;
      }
      case 'origins': {
        if (!isSeq(value)) fail('origins: expected a list of origins like https://app.example.com', at);
        config.origins = (value as { items: Node[] }).items.map((item) => {
          if (!isScalar(item) || typeof item.value !== 'string') return fail('origins: each entry is an origin like https://app.example.com', item);
          const o = item.value;
          try {
            parseOrigin(o);
          } catch (error) {
            fail(`origins: ${(error as Error).message}`, item);
          }
          return o;
        });
        break;
      }
      case 'ingress':
        config.ingress = parseIngress(value, at, fail);
        break;
    }
  }
  return config;
}

function parseIngress(value: Node | null, at: Node, fail: (message: string, node?: Node | Pair | null) => never): IngressRule[] {
  if (!isSeq(value) || value.items.length === 0) {
    fail('ingress: expected a list of rules (- hostname: …, service: …), ending with a catch-all rule (- service: http_status:404)', at);
  }
  const items = (value as { items: Node[] }).items;
  const rules: IngressRule[] = [];
  items.forEach((item, i) => {
    const where = `ingress[${i}]`;
    if (!isMap(item)) fail(`${where}: expected a rule with service: (and optionally hostname:, path:)`, item);
    const rule: Partial<IngressRule> = {};
    for (const pair of (item as YAMLMap).items) {
      const keyNode = pair.key as Node;
      const key = isScalar(keyNode) ? String(keyNode.value) : '';
      const v = pair.value as Node | null;
      if (!(RULE_KEYS as readonly string[]).includes(key)) fail(`${where}: unknown key "${key}" (a rule has ${RULE_KEYS.join(', ')})`, keyNode);
      if (!isScalar(v) || typeof v.value !== 'string' || v.value === '') fail(`${where}.${key}: expected a string`, v ?? keyNode);
      const text = (v as { value: string }).value;
      try {
        if (key === 'hostname') rule.hostname = checkIngressHostname(text);
        else if (key === 'service') rule.service = parseIngressService(text);
        else {
          if (!text.startsWith('/') && !text.startsWith('*')) throw new TypeError(`a path glob starts with / (like /api/*), got ${JSON.stringify(text)}`);
          rule.path = text;
        }
      } catch (error) {
        fail(`${where}.${key}: ${(error as Error).message}`, v);
      }
    }
    if (!rule.service) fail(`${where}: service: is required (http://HOST:PORT, https://… or http_status:NNN)`, item);
    const catchAll = rule.hostname === undefined && rule.path === undefined;
    const last = i === items.length - 1;
    if (catchAll && !last) fail(`${where} has no hostname or path, so it matches every request and the rules after it never would: the catch-all rule must be last`, item);
    if (!catchAll && last) fail(`${where}: the last rule must be a catch-all without hostname and path (e.g. - service: http_status:404), so that every request has an answer`, item);
    rules.push(rule as IngressRule);
  });
  return rules;
}
