/**
 * `--metrics HOST:PORT`: a tiny node:http server answering `GET /metrics` with the agent's
 * Prometheus text. Bind it to loopback or a private address: it has no authentication.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Agent } from './agent.js';
import { PROMETHEUS_CONTENT_TYPE, renderAgentMetrics } from './metrics.js';

/** The scrape path (Prometheus' default). */
export const METRICS_PATH = '/metrics';

/** A running metrics endpoint. */
export interface MetricsServer {
  /** The address actually bound (port 0 gets a free one). */
  host: string;
  port: number;
  /** `http://host:port/metrics`. */
  url: string;
  close(): Promise<void>;
}

/** Parses `HOST:PORT` or `[IPv6]:PORT`. Throws TypeError otherwise. */
export function parseListenAddress(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new TypeError(`expected HOST:PORT (like 127.0.0.1:9101), got ${value}`);
  return { host: m[1] ?? m[2], port };
}

/** Starts serving `agent.metrics()` at `http://host:port/metrics`. */
export async function serveMetrics(agent: Pick<Agent, 'metrics'>, host: string, port: number): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== METRICS_PATH) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: the metrics are at ${METRICS_PATH}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const body = renderAgentMetrics(agent.metrics());
    res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.address.includes(':') ? `[${address.address}]` : address.address;
  return {
    host: address.address,
    port: address.port,
    url: `http://${shown}:${address.port}${METRICS_PATH}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
