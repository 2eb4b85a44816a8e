/**
 * The rhttp edge Worker (DESIGN.md, The edge). Agents dial in with the PTTH-shaped WebSocket
 * upgrade `GET /.well-known/ptth/{serialized_origin}/`; the Worker sends it to the broker object
 * of the origins' registrable domain. Every other request is routed by its hostname to the same
 * object, which dispatches it over an agent's reversed HTTP/2 session.
 *
 * `GET /.rhttp/status` on any hostname answers the broker status JSON of that hostname's object.
 */
import { Hono } from 'hono';
import { OriginError, parseOriginList, ptthAlpnRefusal, registrableDomain, type Origin } from '@rhttp/core';
import type { Env } from './env.js';
import { PTTH_PREFIX, WEBSOCKET_SUBPROTOCOL, plainResponse, ptthOriginSegment } from './ptth.js';

export { BrokerObject } from './broker-object.js';

const app = new Hono<{ Bindings: Env }>();

function brokerFor(env: Env, key: string) {
  return env.BROKER.get(env.BROKER.idFromName(key));
}

app.get(`${PTTH_PREFIX}*`, async (c) => {
  const request = c.req.raw;
  if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
    return plainResponse(426, `${PTTH_PREFIX}… is the rhttp agent endpoint: it takes a WebSocket upgrade with Sec-WebSocket-Protocol: ${WEBSOCKET_SUBPROTOCOL}`, { upgrade: 'websocket' });
  }
  const offered = (request.headers.get('sec-websocket-protocol') ?? '').split(',').map((p) => p.trim());
  if (!offered.includes(WEBSOCKET_SUBPROTOCOL)) {
    return plainResponse(400, `the upgrade must offer Sec-WebSocket-Protocol: ${WEBSOCKET_SUBPROTOCOL} (offered: ${offered.filter(Boolean).join(', ') || 'none'})`);
  }
  // draft-kazuho-ptth-ptth-01, as on the Node intermediary: the ALPN field must offer h2.
  const wrongAlpn = ptthAlpnRefusal(request.headers.get('alpn'));
  if (wrongAlpn !== undefined) return plainResponse(400, wrongAlpn);
  let origins: Origin[];
  try {
    origins = parseOriginList(ptthOriginSegment(new URL(request.url).pathname));
  } catch (error) {
    if (error instanceof OriginError) return plainResponse(400, `bad origin list in the upgrade path: ${error.message}`);
    throw error;
  }
  const domains = [...new Set(origins.map((o) => registrableDomain(o.host)))];
  if (domains.length > 1) {
    // DESIGN.md, Broker semantics: one broker per registrable domain; a connection spanning several is refused.
    return plainResponse(400, `the origins span several registrable domains (${domains.join(', ')}); open one connection per registrable domain`);
  }
  return brokerFor(c.env, domains[0]).fetch(request);
});

app.get('/.rhttp/status', (c) => {
  if (c.env.STATUS_TOKEN && c.req.header('authorization') !== `Bearer ${c.env.STATUS_TOKEN}`) {
    return plainResponse(401, 'the status page needs Authorization: Bearer <STATUS_TOKEN>', { 'www-authenticate': 'Bearer realm="rhttp"' });
  }
  return brokerFor(c.env, registrableDomain(new URL(c.req.url).hostname)).fetch(c.req.raw);
});

app.all('*', (c) => {
  const host = new URL(c.req.url).hostname;
  return brokerFor(c.env, registrableDomain(host)).fetch(c.req.raw);
});

export default app;
