/**
 * Browser WebSockets through the edge in local workerd: the shared conformance table
 * (test/support/websocket-conformance.ts, also run against the Node intermediary). The broker
 * object terminates the browser's WebSocket and relays it as RFC 6455 frames over an RFC 8441
 * extended CONNECT → a real agent (WebSocket carrier) → HTTP/1.1 upgrade → a real `ws` server.
 * It reads the frames, so it offers no extension upstream; the local edge is cleartext HTTP/1.1
 * only (Cloudflare terminates TLS in front of it), so the https and h2c cases are skipped.
 */
import { WebSocket } from 'ws';
import { describeWebSocketConformance } from '../../../test/support/websocket-conformance.js';
import { startEdgeWithAgent } from './harness.js';

const HOST = 'ws.example.com';

describeWebSocketConformance('edge: browser WebSocket → Durable Object (RFC 6455 framing) → RFC 8441 extended CONNECT → agent → upstream', async (upstream) => {
  const { edge, agent } = await startEdgeWithAgent(HOST, upstream);
  const url = new URL(edge.url);
  return {
    host: HOST,
    open: (path, protocols = []) => new WebSocket(`${edge.wsUrl}${path}`, protocols, { headers: { host: HOST } }),
    openUnserved: () => new WebSocket(`${edge.wsUrl}/`, { headers: { host: 'nobody.example.org' } }),
    plain: { host: url.hostname, port: Number(url.port) },
    extensions: 'terminated',
    async stop() {
      await agent.stop({ graceful: false });
      await edge.close();
    },
  };
}, 120_000);
