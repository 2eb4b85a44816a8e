/**
 * The rhttp edge Worker (DESIGN.md, The edge). Agents dial in with the PTTH-shaped WebSocket
 * upgrade `GET /.well-known/ptth/{serialized_origin}/`; the Worker sends it to the broker object
 * of the origins' registrable domain. Every other request is routed by its hostname to the same
 * object, which dispatches it over an agent's reversed HTTP/2 session.
 *
 * `GET /.rhttp/status` on any hostname answers the broker status JSON of that hostname's object.
 *
 * With `BROKER_SHARDS` > 1 a domain has that many broker objects (shards.ts): an agent upgrade goes
 * to the least loaded shard, a browser request to a shard not recently seen empty (a shard without a
 * session passes it on along the ring), and the status page merges every shard's status.
 */
import { Hono } from 'hono';
import { OriginError, parseOriginList, ptthAlpnRefusal, registrableDomain, type Origin } from '@rhttp/core';
import type { Env } from './env.js';
import { PTTH_PREFIX, WEBSOCKET_SUBPROTOCOL, plainResponse, ptthOriginSegment } from './ptth.js';
import { SERVED_BY_HEADER, SHARD_HEADER, SHARD_HOPS_HEADER, SHARD_LOAD_PATH, ShardHints, mergeShardStatus, shardCount, shardName, withFields } from './shards.js';

export { BrokerObject } from './broker-object.js';

const app = new Hono<{ Bindings: Env }>();

/** Which shards this isolate recently saw empty (a hint; see shards.ts). */
const hints = new ShardHints();

function brokerFor(env: Env, domain: string, shard = 0) {
  return env.BROKER.get(env.BROKER.idFromName(shardName(domain, shard)));
}

/** The least loaded shard (fewest agent connections; ties broken at random so reconnecting agents spread). */
async function shardForAgent(env: Env, domain: string, shards: number, url: string): Promise<number> {
  const loads = await Promise.all(
    [...Array(shards).keys()].map(async (shard) => {
      const response = await brokerFor(env, domain, shard).fetch(new URL(SHARD_LOAD_PATH, url).toString(), { headers: { [SHARD_HEADER]: String(shard) } });
      return ((await response.json()) as { agentConnections: number }).agentConnections;
    }),
  );
  const least = Math.min(...loads);
  const tied = loads.flatMap((load, shard) => (load === least ? [shard] : []));
  return tied[Math.floor(Math.random() * tied.length)];
}

/** Sends a browser request to a shard of `domain`; learns from the answer which shards passed it on. */
async function toShard(env: Env, domain: string, request: Request): Promise<Response> {
  const shards = shardCount(env.BROKER_SHARDS);
  if (shards === 1) return brokerFor(env, domain).fetch(request);
  const shard = hints.pick(domain, shards);
  const response = await brokerFor(env, domain, shard).fetch(withFields(request, { [SHARD_HEADER]: String(shard), [SHARD_HOPS_HEADER]: '0' }));
  const servedBy = response.headers.get(SERVED_BY_HEADER);
  if (servedBy === null) return response;
  hints.passedOn(domain, shards, shard, Number(servedBy));
  if (response.status === 101) return response;
  const answer = new Response(response.body, response);
  answer.headers.delete(SERVED_BY_HEADER);
  return answer;
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
  const shards = shardCount(c.env.BROKER_SHARDS);
  if (shards === 1) return brokerFor(c.env, domains[0]).fetch(request);
  const shard = await shardForAgent(c.env, domains[0], shards, request.url);
  hints.joined(domains[0], shard);
  return brokerFor(c.env, domains[0], shard).fetch(withFields(request, { [SHARD_HEADER]: String(shard) }));
});

app.get('/.rhttp/status', async (c) => {
  if (c.env.STATUS_TOKEN && c.req.header('authorization') !== `Bearer ${c.env.STATUS_TOKEN}`) {
    return plainResponse(401, 'the status page needs Authorization: Bearer <STATUS_TOKEN>', { 'www-authenticate': 'Bearer realm="rhttp"' });
  }
  const domain = registrableDomain(new URL(c.req.url).hostname);
  const shards = shardCount(c.env.BROKER_SHARDS);
  if (shards === 1) return brokerFor(c.env, domain).fetch(c.req.raw);
  const statuses = await Promise.all(
    [...Array(shards).keys()].map(async (shard) => (await brokerFor(c.env, domain, shard).fetch(withFields(c.req.raw, { [SHARD_HEADER]: String(shard) }))).json()),
  );
  return Response.json(mergeShardStatus(statuses as Parameters<typeof mergeShardStatus>[0]), { headers: { 'cache-control': 'no-store' } });
});

// The shards' internal load question is not for browsers.
app.all(SHARD_LOAD_PATH, () => plainResponse(404, `${SHARD_LOAD_PATH} is internal to the edge`));

app.all('*', (c) => {
  const host = new URL(c.req.url).hostname;
  return toShard(c.env, registrableDomain(host), c.req.raw);
});

export default app;
