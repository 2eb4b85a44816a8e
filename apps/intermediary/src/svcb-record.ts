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

/**
 * Zone-file lines (comments start with `;`) for the agent listener at `agents`, published under
 * `name`: the record a bare `--intermediary NAME` queries and, when the port is not 443, the
 * port-prefixed one `--intermediary NAME:PORT` queries. A bind address that is a specific public
 * IP becomes an address hint. With `workers` > 1 (`--workers N`), one record per worker port
 * (port, port + 1, …) in each set: an agent holds connections to every record, so it reaches
 * every worker.
 */
export function svcbRecordsFor(name: string, agents: ListenAddress, workers = 1): string[] {
  const hints = hintable(agents.host) ? (isIPv4(agents.host) ? { ipv4hint: [agents.host] } : { ipv6hint: [agents.host] }) : {};
  const ports = Array.from({ length: workers }, (_, i) => agents.port + i);
  const records = ports.map((port) => rhttpSvcbRecord({ name, port, carrier: 'tls' as const, ...hints }));
  const who = workers > 1 ? `its ${workers} workers (one record each)` : 'this intermediary';
  const lines = [`; agents given --intermediary ${name} find ${who} through:`, ...records];
  if (agents.port !== 443) {
    // Port-prefix naming (RFC 9460 §2.3): the same records under _PORT._http-reverse.NAME, PORT being the one agents are given.
    lines.push(`; agents given --intermediary ${name}:${agents.port} query the port-prefixed name:`, ...records.map((r) => `_${agents.port}.${r}`));
  }
  lines.push(`; ${name} itself needs A/AAAA records, and the intermediary's certificate must name it.`);
  return lines;
}
