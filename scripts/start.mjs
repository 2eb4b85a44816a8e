#!/usr/bin/env node
/**
 * `npm start`: the whole of rhttp on one machine. A local intermediary, a demo origin that is
 * reachable only on 127.0.0.1, and an agent that dials out to the intermediary over TLS
 * (`h2-reverse`) and serves the origin back through it. Dev certificates go to .rhttp/demo.
 *
 * Ports: RHTTP_HTTP_PORT (default 8080) for browsers, RHTTP_AGENT_PORT (default 8443) for agents.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Intermediary } from '../apps/intermediary/dist/index.js';
import { Agent, describeAgentEvent } from '../packages/agent/dist/index.js';
import { writeDevCertificates } from '../packages/node/dist/certs.js';
import { createDemoOrigin } from './demo-origin.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stateDir = path.join(root, '.rhttp', 'demo');
const httpPort = Number(process.env.RHTTP_HTTP_PORT ?? 8080);
const agentPort = Number(process.env.RHTTP_AGENT_PORT ?? 8443);
const origins = ['https://app.localhost', 'https://*.app.localhost'];
const say = (who, message) => console.log(`[${who}] ${message}`);

const files = await writeDevCertificates(stateDir, { origins, intermediaryNames: ['localhost', '127.0.0.1'] });
const read = (p) => readFileSync(p, 'utf8');

const origin = createDemoOrigin();
await new Promise((resolve) => origin.listen(0, '127.0.0.1', resolve));
const upstream = `http://127.0.0.1:${origin.address().port}`;
say('origin', `demo app listening on ${upstream} (not reachable from outside this machine)`);

const intermediary = new Intermediary({
  agents: { host: '127.0.0.1', port: agentPort },
  http: { host: '127.0.0.1', port: httpPort },
  cert: read(files.intermediaryCert),
  key: read(files.intermediaryKey),
  trust: read(files.caCert),
  log: (line) => say('intermediary', line),
});
let addresses;
try {
  addresses = await intermediary.start();
} catch (error) {
  console.error(`cannot start the intermediary: ${error.message}\nSet RHTTP_HTTP_PORT / RHTTP_AGENT_PORT to free ports.`);
  process.exit(1);
}

const agent = new Agent({
  intermediary: `tls://127.0.0.1:${addresses.agents.port}`,
  origins,
  upstream,
  cert: read(files.originCert),
  key: read(files.originKey),
  ca: read(files.caCert),
  log: (event) => say('agent', describeAgentEvent(event)),
});
agent.start();

const port = addresses.http.port;
console.log(`
rhttp is running.

  Open     http://app.localhost:${port}/          (any *.app.localhost works too)
  curl     curl -H 'Host: app.localhost' http://127.0.0.1:${port}/
  h2c      curl --http2-prior-knowledge -H 'Host: app.localhost' http://127.0.0.1:${port}/
  SSE      curl -N -H 'Host: app.localhost' http://127.0.0.1:${port}/events
  status   http://127.0.0.1:${port}/.rhttp/status

Certificates are in ${path.relative(process.cwd(), stateDir) || '.'}. Press Ctrl-C to stop.
`);

let stopping = false;
const stop = async () => {
  if (stopping) process.exit(1);
  stopping = true;
  say('demo', 'stopping: the agent drains its in-flight requests first');
  await agent.stop({ graceful: true });
  await intermediary.stop();
  origin.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
