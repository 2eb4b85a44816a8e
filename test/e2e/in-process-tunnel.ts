/**
 * An intermediary (agent listener + cleartext browser listener) and one agent in this process,
 * for tests that need the library objects (gRPC, CONNECT) rather than the CLIs.
 */
import { expect } from 'vitest';
import { Intermediary } from '../../apps/intermediary/src/intermediary.js';
import { Agent, type AgentOptions } from '../../packages/agent/src/agent.js';
import type { IssuedCertificate } from '../../packages/node/src/certs.js';

export interface InProcessTunnel {
  intermediary: Intermediary;
  agent: Agent;
  /** The intermediary's browser (cleartext) port. */
  httpPort: number;
}

/** Starts both and waits until the intermediary serves `origin` through the agent. */
export async function startInProcessTunnel(opts: { ca: IssuedCertificate; intermediaryCert: IssuedCertificate; originCert: IssuedCertificate; origin: string; upstream: string; agent?: Partial<AgentOptions> }): Promise<InProcessTunnel> {
  const intermediary = new Intermediary({
    agents: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    cert: opts.intermediaryCert.chainPem,
    key: opts.intermediaryCert.keyPem,
    trust: opts.ca.certPem,
  });
  const addresses = await intermediary.start();
  const agent = new Agent({
    intermediary: `tls://127.0.0.1:${addresses.agents.port}`,
    servername: 'localhost',
    origins: [opts.origin],
    upstream: opts.upstream,
    cert: opts.originCert.chainPem,
    key: opts.originCert.keyPem,
    ca: opts.ca.certPem,
    connections: 1,
    ...opts.agent,
  });
  agent.start();
  for (let i = 0; i < 1000 && !intermediary.servedOrigins().includes(opts.origin); i++) await new Promise((r) => setTimeout(r, 10));
  expect(intermediary.servedOrigins()).toContain(opts.origin);
  return { intermediary, agent, httpPort: addresses.http!.port };
}
