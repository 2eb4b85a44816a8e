/**
 * Prometheus metrics of the intermediary in the text exposition format (version 0.0.4), written
 * by hand from the status snapshot, and the separate listener (`--metrics HOST:PORT`) that serves
 * them. Metrics stay off the browser listeners: session ids and refusal counts are for the
 * operator, not the public.
 *
 * @example
 * // prometheus.yml
 * // scrape_configs: [{ job_name: rhttp, static_configs: [{ targets: ['127.0.0.1:9100'] }] }]
 */
import { createServer, type Server } from 'node:http';
import type { AgentSessionState } from './agent-session.js';
import type { IntermediaryStatus } from './intermediary.js';

/** Path of the metrics on the `--metrics` listener (`/` answers too). */
export const METRICS_PATH = '/metrics';
/** Content type of the text exposition format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Why an agent was refused, as a bounded label set (a free-text reason would let agents create series). */
export const REFUSAL_REASONS = ['certificate', 'origin', 'alpn', 'timeout', 'other'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** Classes of the statuses answered to browsers. */
export const CODE_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type CodeClass = (typeof CODE_CLASSES)[number];

/** Session states as the `state` label shows them: an authorized session that got or sent GOAWAY counts as `draining`. */
const SESSION_STATES = ['verifying', 'authorized', 'draining', 'refused'] as const;

/** The class of an HTTP status (`204` → `2xx`); undefined outside 100–599. */
export function codeClass(status: number): CodeClass | undefined {
  const c = Math.floor(status / 100);
  return c >= 1 && c <= 5 ? (`${c}xx` as CodeClass) : undefined;
}

/** Escapes a label value (exposition format: backslash, double quote and newline). */
function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A number as the exposition format writes it. */
function num(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

class Exposition {
  private readonly lines: string[] = [];
  family(name: string, type: 'counter' | 'gauge', help: string, samples: [labels: Record<string, string>, value: number][]): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const pairs = Object.entries(labels).map(([k, v]) => `${k}="${label(v)}"`);
      this.lines.push(`${name}${pairs.length ? `{${pairs.join(',')}}` : ''} ${num(value)}`);
    }
  }
  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

function sessionStateLabel(state: AgentSessionState, draining: boolean): (typeof SESSION_STATES)[number] | undefined {
  if (state === 'authorized') return draining ? 'draining' : 'authorized';
  return state === 'closed' ? undefined : state;
}

/** The whole exposition for one snapshot. */
export function renderMetrics(status: IntermediaryStatus): string {
  const out = new Exposition();
  const c = status.counters;
  const states = new Map<string, number>(SESSION_STATES.map((s) => [s, 0]));
  for (const s of status.sessions) {
    const l = sessionStateLabel(s.state, s.draining);
    if (l) states.set(l, (states.get(l) ?? 0) + 1);
  }
  out.family('rhttp_intermediary_agent_sessions', 'gauge', 'Agent sessions open now, by state.', [...states].map(([state, n]) => [{ state }, n]));
  out.family('rhttp_intermediary_agent_connections_total', 'counter', 'Agent connections accepted (TLS handshake done).', [[{}, c.agentConnections]]);
  out.family(
    'rhttp_intermediary_agent_refusals_total',
    'counter',
    'Agent connections refused or failed before authorization, by reason.',
    REFUSAL_REASONS.map((reason) => [{ reason }, c.refusals[reason]]),
  );
  out.family('rhttp_intermediary_open_streams', 'gauge', 'Streams open on agent sessions now.', [[{}, status.sessions.reduce((n, s) => n + s.openStreams, 0)]]);
  out.family(
    'rhttp_intermediary_requests_total',
    'counter',
    'Browser requests answered, by status class.',
    CODE_CLASSES.map((code_class) => [{ code_class }, c.responses[code_class]]),
  );
  out.family('rhttp_intermediary_request_bytes_total', 'counter', 'Body bytes relayed: request (browser to origin) and response (origin to browser).', [
    [{ direction: 'request' }, c.bodyBytes.request],
    [{ direction: 'response' }, c.bodyBytes.response],
  ]);
  out.family(
    'rhttp_intermediary_session_rtt_seconds',
    'gauge',
    'Round-trip time of the last PING on each authorized agent session.',
    status.sessions.filter((s) => s.rttMs !== null).map((s) => [{ session: s.id }, s.rttMs! / 1000]),
  );
  out.family('rhttp_intermediary_origins', 'gauge', 'Origins served now.', [[{}, status.origins.length]]);
  out.family(
    'rhttp_intermediary_session_buffered_bytes',
    'gauge',
    'Response bytes received from each agent session and not yet taken by browsers (bounded by the session buffer budget).',
    status.sessions.map((s) => [{ session: s.id }, s.bufferedBytes]),
  );
  out.family(
    'rhttp_intermediary_session_budget_resets_total',
    'counter',
    'Streams reset because their browser stopped reading while the session buffer budget was exceeded.',
    status.sessions.map((s) => [{ session: s.id }, s.budgetResets]),
  );
  out.family('rhttp_intermediary_browser_exchanges', 'gauge', 'Browser requests in flight now.', [[{}, status.browserExchanges.active]]);
  out.family('rhttp_intermediary_browser_clients', 'gauge', 'Client addresses with requests in flight now.', [[{}, status.browserExchanges.clients]]);
  out.family('rhttp_intermediary_client_budget_refusals_total', 'counter', 'Browser requests refused (503) because their address had too many in flight.', [[{}, c.clientBudgetRefusals]]);
  return out.text();
}

/**
 * The `--metrics` listener: `GET /metrics` (or `/`) answers `render()`; anything else 404/405.
 * The caller binds it.
 */
export function createMetricsServer(render: () => string): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== METRICS_PATH && path !== '/') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`Not found: metrics are at ${METRICS_PATH}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Only GET and HEAD are allowed here.\n');
      return;
    }
    const text = render();
    res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
    res.end(req.method === 'HEAD' ? undefined : text);
  });
}
