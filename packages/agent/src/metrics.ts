/**
 * The agent's numbers in the Prometheus text exposition format (version 0.0.4): written by hand,
 * it is a few lines of `# HELP`, `# TYPE` and `name{label="value"} number`.
 *
 * @example
 * ```ts
 * const text = renderAgentMetrics(agent.metrics());
 * // # HELP rhttp_agent_connections Connection slots by state.
 * // # TYPE rhttp_agent_connections gauge
 * // rhttp_agent_connections{state="connected"} 2
 * ```
 */
import type { AgentMetrics } from './agent.js';

/** The Content-Type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Status classes always present, so a rate() over them exists from the first scrape on. */
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'error'];

/** Label values escape backslash, double quote and newline (exposition format). */
function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function family(out: string[], name: string, type: 'counter' | 'gauge', help: string, samples: [Record<string, string> | undefined, number][]): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [labels, value] of samples) {
    const l = labels ? `{${Object.entries(labels).map(([k, v]) => `${k}="${label(v)}"`).join(',')}}` : '';
    out.push(`${name}${l} ${Number.isFinite(value) ? value : 'NaN'}`);
  }
}

/** Renders a metrics snapshot as Prometheus text (ends with a newline). */
export function renderAgentMetrics(m: AgentMetrics): string {
  const out: string[] = [];
  family(out, 'rhttp_agent_connections', 'gauge', 'Connection slots by state (draining: replaced by rotation, still finishing requests).',
    Object.entries(m.connections).map(([state, n]) => [{ state }, n]));
  family(out, 'rhttp_agent_reconnects_total', 'counter', 'Dials after the first one of each connection slot.', [[undefined, m.reconnects]]);
  const classes = [...new Set([...STATUS_CLASSES, ...Object.keys(m.requests)])];
  family(out, 'rhttp_agent_requests_total', 'counter', 'Requests answered, by status class (error: the handler or upstream failed).',
    classes.map((c) => [{ status_class: c }, m.requests[c] ?? 0]));
  family(out, 'rhttp_agent_request_bytes_total', 'counter', 'Body bytes: in = request bodies from the intermediary, out = response bodies to it.', [
    [{ direction: 'in' }, m.bytes.in],
    [{ direction: 'out' }, m.bytes.out],
  ]);
  family(out, 'rhttp_agent_inflight_requests', 'gauge', 'Requests being answered right now.', [[undefined, m.inFlight]]);
  family(out, 'rhttp_agent_ping_rtt_seconds', 'gauge', 'Round trip of the last HTTP/2 PING, per connection.',
    m.pingRttMs.map(({ connection, endpoint, rttMs }) => [{ connection: String(connection), endpoint }, rttMs / 1000]));
  family(out, 'rhttp_agent_endpoint_connections', 'gauge', 'Connections held now to each intermediary endpoint (the URL given, or one SVCB record).',
    m.endpoints.map(({ endpoint, connected }) => [{ endpoint }, connected]));
  family(out, 'rhttp_agent_endpoint_requests_total', 'counter', 'Requests each intermediary endpoint sent this agent (how the load is shared between them).',
    m.endpoints.map(({ endpoint, requests }) => [{ endpoint }, requests]));
  family(out, 'rhttp_agent_refusals_total', 'counter', 'Times the intermediary refused this agent (GOAWAY with an error, wrong ALPN, 401/403).', [[undefined, m.refusals]]);
  return `${out.join('\n')}\n`;
}
