/**
 * Ingress rules (as in cloudflared's `ingress`): which upstream answers a request, chosen by the
 * request's hostname and path. Rules are tried in order and the first match wins; the last rule
 * has neither hostname nor path (the catch-all), so every request gets an answer.
 *
 * @example
 * ```ts
 * const router = new IngressRouter([
 *   { hostname: 'app.example.com', path: '/api/*', service: parseIngressService('http://127.0.0.1:3000') },
 *   { hostname: '*.app.example.com', service: parseIngressService('http://127.0.0.1:4000') },
 *   { service: parseIngressService('http_status:404') },
 * ]);
 * new Agent({ ..., origins: ingressOrigins(router.rules), ingress: router });
 * ```
 */
import { NULL_BODY_STATUSES } from '@rhttp/core';
import { STATUS_CODES } from 'node:http';
import type { StreamInfo } from '@rhttp/core';
import { HttpUpstream, type HttpUpstreamOptions } from './upstream.js';

/** Where a matched request goes: a local HTTP/1.1 app, or a fixed status (`http_status:404`). */
export type IngressService = { kind: 'http'; url: string } | { kind: 'status'; status: number };

/** One rule. Without `hostname` it matches every host; without `path` every path. */
export interface IngressRule {
  /** `app.example.com`, or `*.app.example.com` for any one label under it (as certificates and ORIGIN wildcards). */
  hostname?: string;
  /** A glob on the request path (no query): `*` matches any run of characters, `/` included; the rest is literal. */
  path?: string;
  service: IngressService;
}

/** `http_status:NNN` services. */
const STATUS_SERVICE = /^http_status:(\d{3})$/;

/** Parses a rule's `service`: `http://…`, `https://…` or `http_status:NNN`. Throws TypeError saying what is accepted. */
export function parseIngressService(text: string): IngressService {
  const status = STATUS_SERVICE.exec(text);
  if (status) {
    const code = Number(status[1]);
    if (code < 200 || code > 599) throw new TypeError(`http_status:${status[1]} is not a status a response can have (200–599)`);
    return { kind: 'status', status: code };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`service must be an http:// or https:// URL or http_status:NNN, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`service must be an http:// or https:// URL or http_status:NNN, got ${JSON.stringify(text)}`);
  if (url.search || url.hash) throw new TypeError(`service URL ${text} must not have a query or fragment`);
  return { kind: 'http', url: text };
}

/** Checks a rule's hostname: a DNS name, or `*.` and a DNS name. Throws TypeError. */
export function checkIngressHostname(hostname: string): string {
  const bare = hostname.startsWith('*.') ? hostname.slice(2) : hostname;
  if (!/^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(bare)) {
    throw new TypeError(`hostname must be a DNS name like app.example.com or *.app.example.com (no scheme, port or path), got ${JSON.stringify(hostname)}`);
  }
  return hostname.toLowerCase();
}

function hostnameMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === host;
  const parent = pattern.slice(1); // ".app.example.com"
  return host.endsWith(parent) && host.length > parent.length && !host.slice(0, -parent.length).includes('.');
}

/** A path glob as a RegExp anchored at both ends. */
function pathRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/** The first rule matching `host` (no port, any case) and `path` (no query); undefined when none does. */
export function matchIngress(rules: readonly IngressRule[], host: string, path: string): IngressRule | undefined {
  const h = host.toLowerCase().replace(/\.$/, '');
  return rules.find((r) => (r.hostname === undefined || hostnameMatches(r.hostname, h)) && (r.path === undefined || pathRegExp(r.path).test(path)));
}

/** The origins the rules' hostnames name, for the ORIGIN frame: `https://host` each, in order, without repeats. */
export function ingressOrigins(rules: readonly IngressRule[]): string[] {
  return [...new Set(rules.flatMap((r) => (r.hostname ? [`https://${r.hostname}`] : [])))];
}

/** A fetch handler that routes by ingress rules to upstreams (one keep-alive pool per service URL). */
export class IngressRouter {
  readonly rules: readonly IngressRule[];
  private readonly upstreams = new Map<string, HttpUpstream>();
  private readonly regexps = new Map<string, RegExp>();

  constructor(rules: readonly IngressRule[], options: HttpUpstreamOptions = {}) {
    if (rules.length === 0) throw new TypeError('ingress needs at least one rule (the catch-all)');
    this.rules = rules;
    for (const r of rules) {
      if (r.service.kind === 'http' && !this.upstreams.has(r.service.url)) this.upstreams.set(r.service.url, new HttpUpstream(r.service.url, options));
      if (r.path !== undefined) this.regexps.set(r.path, pathRegExp(r.path));
    }
  }

  /** The rule that answers this host and path. */
  match(host: string, path: string): IngressRule | undefined {
    const h = host.toLowerCase().replace(/\.$/, '');
    return this.rules.find((r) => (r.hostname === undefined || hostnameMatches(r.hostname, h)) && (r.path === undefined || this.regexps.get(r.path)!.test(path)));
  }

  /**
   * The upstream that serves a request with this `:scheme`, `:authority` and `:path` (the stream
   * path, `HttpUpstream.serve`); undefined when a status rule or no rule answers it (`fetch` does).
   * Matched on the parsed URL, as `fetch` matches.
   */
  upstreamFor(scheme: string, authority: string, path: string): HttpUpstream | undefined {
    let url: URL;
    try {
      url = new URL(`${scheme}://${authority}${path}`);
    } catch {
      return undefined;
    }
    const rule = this.match(url.hostname, url.pathname);
    return rule?.service.kind === 'http' ? this.upstreams.get(rule.service.url) : undefined;
  }

  /** Answers one request: forwards it to the matching rule's upstream, or answers with its status. */
  fetch(request: Request, info?: Pick<StreamInfo, 'head'>): Promise<Response> | Response {
    const url = new URL(request.url);
    const rule = this.match(url.hostname, url.pathname);
    if (!rule) return new Response(`404 ${STATUS_CODES[404]}: no ingress rule matches ${url.hostname}${url.pathname}\n`, { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' } });
    if (rule.service.kind === 'status') {
      const status = rule.service.status;
      const nullBody = NULL_BODY_STATUSES.has(status);
      return new Response(nullBody ? null : `${status} ${STATUS_CODES[status] ?? ''}\n`, { status, headers: nullBody ? {} : { 'content-type': 'text/plain; charset=utf-8' } });
    }
    return this.upstreams.get(rule.service.url)!.fetch(request, info);
  }

  /** Closes idle upstream sockets. */
  close(): void {
    for (const u of this.upstreams.values()) u.close();
  }
}
