/**
 * The status page at `/.rhttp/status` on the browser listeners: HTML for people (origins, agent
 * sessions, counters, recent refusals and errors), JSON for scripts (`Accept: application/json`
 * or `?format=json`). It shows agents' IP addresses, which are sensitive, so it is served only
 * to loopback clients unless a status token is set; with a token, every client must send
 * `Authorization: Bearer <token>` (loopback included).
 *
 * Behind a reverse proxy on the same host every request comes from loopback: set a token then.
 */
import { fieldValue } from '@rhttp/core';
import type { ForwardRequest } from '@rhttp/broker';
import { timingSafeEqual } from 'node:crypto';
import type { IntermediaryStatus } from './intermediary.js';

/** Who may see the status page. */
export interface StatusAccess {
  /** When set, the page requires `Authorization: Bearer <token>` from every client. */
  token?: string;
}

/** Why a request may not see the page, as a Response; undefined when it may. */
export function checkStatusAccess(request: Pick<ForwardRequest, 'headers'>, clientAddress: string, access: StatusAccess): Response | undefined {
  if (access.token !== undefined) {
    const given = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(fieldValue(request.headers, 'authorization') ?? '')?.[1];
    if (given !== undefined && sameSecret(given, access.token)) return undefined;
    // RFC 6750 §3: a protected resource answers 401 with a Bearer challenge.
    return new Response('This status page needs Authorization: Bearer <the --status-token>.\n', {
      status: 401,
      headers: { 'www-authenticate': 'Bearer realm="rhttp-status"', 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
    });
  }
  if (isLoopback(clientAddress)) return undefined;
  return new Response('The status page shows agents\' addresses, so without --status-token it is served only to clients on this machine.\n', {
    status: 403,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
  });
}

/** Constant-time comparison, so response timing does not reveal how much of the token matched. */
function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** True when the client asked for JSON (`?format=json`, or an Accept that prefers it to HTML). */
export function wantsJson(request: Pick<ForwardRequest, 'url' | 'headers'>): boolean {
  const format = (typeof request.url === 'string' ? new URL(request.url) : request.url).searchParams.get('format');
  if (format === 'json') return true;
  if (format === 'html') return false;
  const accept = fieldValue(request.headers, 'accept') ?? '';
  return /\bapplication\/json\b/i.test(accept) && !/\btext\/html\b/i.test(accept);
}

/** The page as a Response: HTML or JSON by negotiation. */
export function statusPageResponse(request: Pick<ForwardRequest, 'url' | 'headers'>, status: IntermediaryStatus): Response {
  const headers = { 'cache-control': 'no-store', vary: 'Accept' };
  if (wantsJson(request)) {
    return new Response(`${JSON.stringify(status, null, 2)}\n`, { headers: { ...headers, 'content-type': 'application/json; charset=utf-8' } });
  }
  return new Response(renderStatusPage(status), {
    headers: {
      ...headers,
      'content-type': 'text/html; charset=utf-8',
      // No scripts, no external assets: the inline style block is all the page loads.
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
      'x-content-type-options': 'nosniff',
    },
  });
}

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

function rtt(ms: number | null): string {
  return ms === null ? '—' : `${ms < 10 ? ms.toFixed(2) : ms.toFixed(0)} ms`;
}

/** Rows of a table; each cell is escaped here. */
function table(caption: string, head: string[], rows: unknown[][], empty: string): string {
  if (rows.length === 0) return `<h2>${escapeHtml(caption)}</h2>\n<p class="empty">${escapeHtml(empty)}</p>`;
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const tr = rows.map((r) => `<tr>${r.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`).join('\n');
  return `<h2>${escapeHtml(caption)}</h2>\n<table><thead><tr>${th}</tr></thead>\n<tbody>\n${tr}\n</tbody></table>`;
}

const STYLE = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1d2330;background:#fafbfc}
h1{font-size:1.5rem;margin:0 0 .25rem} h2{font-size:1.1rem;margin:2rem 0 .5rem}
.meta{color:#5b6472;margin:0} .empty{color:#5b6472;font-style:italic}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0001}
th,td{text-align:left;padding:.4rem .7rem;border-bottom:1px solid #e3e6eb;vertical-align:top}
th{background:#eef1f5;font-weight:600;font-size:.85rem;text-transform:uppercase;letter-spacing:.03em;color:#3b4350}
td{font-variant-numeric:tabular-nums} td:nth-child(n+5){white-space:nowrap} code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em}
ul.origins{margin:0;padding-left:1.2rem} .counters{display:flex;flex-wrap:wrap;gap:.75rem}
.counter{background:#fff;box-shadow:0 1px 2px #0001;padding:.6rem .9rem;min-width:9rem}
.counter b{display:block;font-size:1.3rem} .counter span{color:#5b6472;font-size:.85rem}
`;

/** The HTML page. Every value from the snapshot is escaped; the page has no scripts and loads nothing. */
export function renderStatusPage(status: IntermediaryStatus, now: Date = new Date()): string {
  const c = status.counters;
  const listeners = status.listeners
    ? Object.entries(status.listeners)
        .filter(([, a]) => a !== undefined)
        .map(([name, a]) => `${name} ${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`)
        .join(' · ')
    : 'not started';
  const origins =
    status.origins.length === 0
      ? '<h2>Origins</h2>\n<p class="empty">No origin is served: no agent is connected and authorized.</p>'
      : `<h2>Origins (${status.origins.length})</h2>\n<ul class="origins">${status.origins.map((o) => `<li class="mono">${escapeHtml(o)}</li>`).join('')}</ul>`;
  const sessions = table(
    `Agent sessions (${status.sessions.length})`,
    ['Session', 'Remote address', 'Carrier', 'Certificate subject', 'Origins', 'State', 'RTT', 'Open streams', 'Age', 'Draining'],
    status.sessions.map((s) => [
      s.id,
      s.remoteAddress,
      `${s.carrier} (${s.httpVersion})`,
      s.subject ?? '—',
      s.origins.join(', ') || '—',
      s.state,
      rtt(s.rttMs),
      s.maxConcurrentStreams === null ? s.openStreams : `${s.openStreams} / ${s.maxConcurrentStreams}`,
      duration(s.ageMs),
      s.draining ? 'yes' : 'no',
    ]),
    'No agent is connected.',
  );
  const counter = (value: number, what: string) => `<div class="counter"><b>${escapeHtml(value)}</b><span>${escapeHtml(what)}</span></div>`;
  const counters = `<h2>Counters</h2>\n<div class="counters">${[
    counter(c.browserRequests, 'browser requests'),
    counter(c.responses['2xx'], '2xx answers'),
    counter(c.responses['4xx'], '4xx answers'),
    counter(c.responses['5xx'], '5xx answers'),
    counter(c.agentConnections, 'agent connections'),
    counter(c.agentsAuthorized, 'agents authorized'),
    counter(c.agentsRefused, 'agents refused'),
    counter(c.bodyBytes.request, 'request body bytes'),
    counter(c.bodyBytes.response, 'response body bytes'),
  ].join('')}</div>`;
  const refusals = table(
    'Recent refusals',
    ['Time', 'Remote address', 'Kind', 'Reason'],
    [...status.recentRefusals].reverse().map((r) => [r.at, r.remoteAddress, r.kind, r.reason]),
    'None.',
  );
  const errors = table(
    'Recent errors',
    ['Time', 'Source', 'Error'],
    [...status.recentErrors].reverse().map((e) => [e.at, e.session ?? (e.status !== undefined ? `HTTP ${e.status}` : '—'), e.message]),
    'None.',
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rhttp intermediary status</title>
<style>${STYLE}</style>
</head>
<body>
<h1>rhttp intermediary</h1>
<p class="meta">Started ${escapeHtml(status.startedAt ?? '—')} · ${escapeHtml(listeners)} · page generated ${escapeHtml(now.toISOString())} · <a href="?format=json">JSON</a></p>
${origins}
${sessions}
${counters}
${refusals}
${errors}
</body>
</html>
`;
}
