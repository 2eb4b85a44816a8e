// Runs under Deno (deno run -A --unstable-net): the agent library (built packages/agent/dist) dialing
// quic:// WITHOUT the rhttp-agent CLI's own certificate check (which refuses, before dialing, a
// certificate that has expired or does not cover an --origin). It stands for an agent that claims
// what it may not, so the intermediary's own refusal over h3-reverse can be seen. Every event is
// printed as the CLI prints it: `rhttp-agent: <describeAgentEvent>`. Stops on SIGTERM.
// Usage: quic-agent-unchecked.mjs quic://HOST:PORT ORIGIN CERT KEY CA UPSTREAM
import { Agent } from '../../../packages/agent/dist/agent.js';
import { describeAgentEvent } from '../../../packages/agent/dist/agent-events.js';

const [intermediary, origin, certPath, keyPath, caPath, upstream] = Deno.args;
const read = (p) => Deno.readTextFileSync(p);
const agent = new Agent({
  intermediary,
  origins: [origin],
  cert: read(certPath),
  key: read(keyPath),
  ca: read(caPath),
  servername: 'localhost',
  connections: 1,
  upstream,
  log: (event) => console.error(`rhttp-agent: ${describeAgentEvent(event)}`),
});
agent.start();
Deno.addSignalListener('SIGTERM', async () => {
  await agent.stop({ graceful: false });
  Deno.exit(0);
});
