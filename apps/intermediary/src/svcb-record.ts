/**
 * The SVCB record an operator publishes so that agents given `--intermediary NAME` find this
 * intermediary (DESIGN.md, "Discovery"; RFC 9460), made with core's `rhttpSvcbRecord`.
 *
 * @example
 * svcbRecordsFor('proxy.example.net', { host: '0.0.0.0', port: 8443 });
 * // [ '; agents given --intermediary proxy.example.net find this intermediary through:',
 * //   '_http-reverse.proxy.example.net. 300 IN SVCB 1 proxy.example.net. alpn=h2-reverse port=8443', … ]
 */
import { isIPv4, isIPv6 } from 'node:net';
import { rhttpSvcbRecord } from '@rhttp/core';
import type { ListenAddress } from './intermediary.js';

/** Bind addresses that say nothing about where agents should connect: no address hint for them. */
function hintable(host: string): boolean {
  if (isIPv4(host)) return host !== '0.0.0.0' && !host.startsWith('127.');
  if (isIPv6(host)) return host !== '::' && host !== '::1';
  return false;
}

/** The address hint a bind address gives, if any. */
function hintsOf(host: string): { ipv4hint?: string[]; ipv6hint?: string[] } {
  if (!hintable(host)) return {};
  return isIPv4(host) ? { ipv4hint: [host] } : { ipv6hint: [host] };
}

/**
 * Zone-file lines (comments start with `;`) for the agent listener at `agents`, published under
 * `name`: the record a bare `--intermediary NAME` queries and, when the port is not 443, the
 * port-prefixed one `--intermediary NAME:PORT` queries. A bind address that is a specific public
 * IP becomes an address hint. With `workers` > 1 (`--workers N`), one record per worker port
 * (port, port + 1, …) in each set: an agent holds connections to every record, so it reaches
 * every worker. With a QUIC listener (`--quic`) on the same port number (and address) as
 * `--agents`, the record lists `h3-reverse` beside `h2-reverse` — one intermediary, which agents
 * with QUIC dial over QUIC first and over TLS if that fails; on another port it gets a record of
 * its own (RFC 9460: a record has one port), which agents treat as another endpoint.
 */
export function svcbRecordsFor(name: string, agents: ListenAddress, workers = 1, quic?: ListenAddress): string[] {
  const hints = hintsOf(agents.host);
  const ports = Array.from({ length: workers }, (_, i) => agents.port + i);
  // UDP and TCP ports are separate: --quic on the --agents port number is the same place for SVCB.
  const shared = quic !== undefined && quic.port === agents.port && JSON.stringify(hintsOf(quic.host)) === JSON.stringify(hints);
  const records = ports.map((port) => rhttpSvcbRecord({ name, port, carrier: shared && port === agents.port ? ['tls', 'quic'] : 'tls', ...hints }));
  if (quic && !shared) records.push(rhttpSvcbRecord({ name, port: quic.port, carrier: 'quic', ...hintsOf(quic.host) }));
  const who = workers > 1 ? `its ${workers} workers (one record each)` : 'this intermediary';
  const lines = [`; agents given --intermediary ${name} find ${who} through:`, ...records];
  if (quic && !shared) {
    lines.push(
      `; the QUIC listener (h3-reverse) has a record of its own, port ${quic.port}: agents with QUIC (Deno) hold connections to both records,`,
      `; others skip it. With --quic on the --agents port number (${agents.port}, UDP) one record lists both, QUIC tried first and TLS the fallback.`,
    );
  }
  if (agents.port !== 443) {
    // Port-prefix naming (RFC 9460 §2.3): the same records under _PORT._http-reverse.NAME, PORT being the one agents are given.
    lines.push(`; agents given --intermediary ${name}:${agents.port} query the port-prefixed name:`, ...records.map((r) => `_${agents.port}.${r}`));
  }
  lines.push(`; ${name} itself needs A/AAAA records, and the intermediary's certificate must name it.`);
  return lines;
}
