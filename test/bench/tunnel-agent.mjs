// The agent of bench:tunnel, in its own process: the built library (packages/agent/dist), as
// `rhttp-agent --upstream URL` would run it, with the dev certificates of tunnel.mjs.
//
//   node test/bench/tunnel-agent.mjs --certs DIR --intermediary tls://127.0.0.1:PORT --upstream URL
//                                    [--origin https://app.localhost] [--connections 2]
//     prints "connected N" for each connection that comes up; errors go to stderr.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, describeAgentEvent } from '../../packages/agent/dist/index.js';
import { tuneForProxying } from '../../packages/node/dist/v8-tuning.js';

// As the rhttp-agent CLI does before it serves (packages/node/src/v8-tuning.ts).
tuneForProxying();

const { values } = parseArgs({
  options: {
    certs: { type: 'string' },
    intermediary: { type: 'string' },
    upstream: { type: 'string' },
    origin: { type: 'string', default: 'https://app.localhost' },
    connections: { type: 'string', default: '2' },
  },
});
const read = (name) => readFileSync(join(values.certs, name), 'utf8');

const agent = new Agent({
  intermediary: values.intermediary,
  origins: [values.origin],
  upstream: values.upstream,
  cert: read('origin.pem'),
  key: read('origin.key'),
  ca: read('ca.pem'),
  connections: Number(values.connections),
  log: (event) => {
    if (event.type === 'connected') console.log(`connected ${event.connection}`);
    else if (event.type === 'refused' || event.type === 'connect-failed' || event.type === 'request-error') console.error(`agent: ${describeAgentEvent(event)}`);
  },
});
agent.start();
process.on('SIGTERM', () => agent.stop({ graceful: false }).then(() => process.exit(0)));
