/**
 * Browser WebSockets end to end through the Node intermediary: the shared conformance table
 * (test/support/websocket-conformance.ts, also run against the edge) over HTTP/1.1 upgrade on the
 * cleartext and TLS listeners and RFC 8441 extended CONNECT over h2c, with a real agent and a real
 * `ws` upstream. The intermediary relays bytes, so permessage-deflate is negotiated end to end.
 */
import { WebSocket } from 'ws';
import { describeWebSocketConformance } from '../../../test/support/websocket-conformance.js';
import { Intermediary } from '../src/intermediary.js';
import { intermediaryOptions, makePki, startAgent, until } from './harness.js';

const HOST = 'app.example.com';
const ORIGIN = `https://${HOST}`;

describeWebSocketConformance('intermediary: RFC 6455 upgrade or RFC 8441 extended CONNECT → extended CONNECT on the reversed session → agent → upstream', async (upstream) => {
  const pki = await makePki();
  const intermediary = new Intermediary(intermediaryOptions(pki));
  const addresses = await intermediary.start();
  const agent = startAgent(pki, addresses.agents.port, ORIGIN, upstream);
  await until(() => intermediary.servedOrigins().includes(ORIGIN), 'the agent to be served');
  const http = addresses.http!.port;
  // Passed through to tls.connect (ws's ClientOptions type does not list servername).
  const tls = { ca: pki.ca.certPem, servername: 'localhost' };
  return {
    host: HOST,
    // On the cleartext listener Host carries its port (routed to the https origin); on the TLS one it does not.
    open: (path, protocols = [], options = {}) =>
      options.tls
        ? new WebSocket(`wss://127.0.0.1:${addresses.https!.port}${path}`, protocols, { headers: { host: HOST }, ...tls })
        : new WebSocket(`ws://127.0.0.1:${http}${path}`, protocols, { headers: { host: `${HOST}:${http}` } }),
    openUnserved: () => new WebSocket(`ws://127.0.0.1:${http}/`, { headers: { host: `nobody.example.net:${http}` } }),
    plain: { host: '127.0.0.1', port: http },
    extensions: 'end-to-end',
    https: true,
    h2c: `http://127.0.0.1:${http}`,
    async stop() {
      await agent.stop({ graceful: false });
      await intermediary.stop();
    },
  };
}, 30_000);
