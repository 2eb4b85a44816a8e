/**
 * The broker Durable Object: one per registrable domain (DESIGN.md, Broker semantics). It holds
 * the agents' WebSockets (the standard, non-hibernating API: an HTTP/2 session's HPACK tables,
 * windows and stream states cannot survive hibernation; deploys drop every WebSocket and agents
 * reconnect) and one in-memory `Broker` that dispatches browser requests over them.
 *
 * Internal routes (itty-router, the tiny router made for this place): the agent upgrade
 * `GET /.well-known/ptth/{origins}/`, `GET /.rhttp/status`, `GET /.rhttp/shard-load` (the Worker
 * choosing a shard for an agent), and everything else = dispatch.
 *
 * With BROKER_SHARDS > 1 this object is one shard of its domain (shards.ts): a browser request for
 * an origin it has no live, non-draining session for is passed on, body unread, to the next shard
 * of the ring, at most once around it; the last shard answers with the broker's own 503.
 */
import { IttyRouter } from 'itty-router';
import { Broker, originCovers, parseOriginEntry, requestOrigin } from '@rhttp/broker';
import { OriginError, parseOriginList, registrableDomain, type Origin } from '@rhttp/core';
import { AgentConnection } from './agent-connection.js';
import { WEBSOCKET_PROTOCOL, isWebSocketUpgrade, relayWebSocket } from './websocket-relay.js';
import { AgentRefusal, SIGNATURE_MAX_AGE_SECONDS, authenticateAgent } from './agent-authentication.js';
import type { Env } from './env.js';
import { NonceCache } from './nonce-cache.js';
import { PTTH_PREFIX, WEBSOCKET_SUBPROTOCOL, plainResponse, ptthOriginSegment } from './ptth.js';
import { SERVED_BY_HEADER, SHARD_HEADER, SHARD_HOPS_HEADER, SHARD_LOAD_PATH, requestShard, shardCount, shardName, withFields } from './shards.js';

/** Clock skew tolerated beyond the signature age when remembering nonces: a nonce must outlive every signature that could still be accepted. */
const NONCE_WINDOW_MS = (SIGNATURE_MAX_AGE_SECONDS + 10) * 1000;

export class BrokerObject implements DurableObject {
  readonly #env: Env;
  #broker: Broker | undefined;
  readonly #nonces = new NonceCache(NONCE_WINDOW_MS);
  readonly #connections = new Set<AgentConnection>();
  readonly #router = IttyRouter();

  constructor(_state: DurableObjectState, env: Env) {
    this.#env = env;
    this.#router
      .get(`${PTTH_PREFIX}*`, (request: Request) => this.#acceptAgent(request))
      .get('/.rhttp/status', (request: Request) => this.#status(request))
      .get(SHARD_LOAD_PATH, () => Response.json({ agentConnections: this.#connections.size }, { headers: { 'cache-control': 'no-store' } }))
      .all('*', (request: Request) => this.#dispatch(request));
  }

  fetch(request: Request): Promise<Response> {
    return this.#router.fetch(request) as Promise<Response>;
  }

  /** The broker, made on first use: an object learns its key (registrable domain) from its first request. */
  #brokerFor(host: string): Broker {
    this.#broker ??= new Broker({ key: brokerKey(host), proxyName: 'rhttp-edge' });
    return this.#broker;
  }

  async #acceptAgent(request: Request): Promise<Response> {
    let origins: Origin[];
    try {
      origins = parseOriginList(ptthOriginSegment(new URL(request.url).pathname));
    } catch (error) {
      if (error instanceof OriginError) return plainResponse(400, error.message);
      throw error;
    }
    let identity;
    try {
      ({ identity } = await authenticateAgent(request, origins, { trustAnchors: this.#env.TRUST_ANCHORS, nonces: this.#nonces }));
    } catch (error) {
      if (error instanceof AgentRefusal) {
        console.log(`refused an agent upgrade: ${error.message}`);
        return error.toResponse();
      }
      throw error;
    }
    const broker = this.#brokerFor(origins[0].host);
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    server.accept();
    const connection = new AgentConnection(server, origins, identity, {
      onAuthorized: (c) => {
        broker.register(c);
      },
      onOriginsChanged: () => broker.sessionChanged(),
      onClosed: (c) => {
        this.#connections.delete(c);
        broker.unregister(c);
      },
      log: (message) => console.log(message),
    });
    this.#connections.add(connection);
    return new Response(null, { status: 101, webSocket: client, headers: { 'sec-websocket-protocol': WEBSOCKET_SUBPROTOCOL } });
  }

  #status(request: Request): Response {
    const status = this.#brokerFor(new URL(request.url).hostname).status();
    return Response.json({ ...status, agentConnections: [...this.#connections].map((c) => ({ id: c.id, state: c.state })) }, { headers: { 'cache-control': 'no-store' } });
  }

  /**
   * One shard's part of a browser request: serve it if a session here can take it, else pass it
   * on to the next shard (the body is not read here, so it goes on whole).
   */
  async #dispatch(request: Request): Promise<Response> {
    const shards = shardCount(this.#env.BROKER_SHARDS);
    const shard = requestShard(request, shards);
    const hops = Number(request.headers.get(SHARD_HOPS_HEADER) ?? '0') || 0;
    if (request.headers.has(SHARD_HEADER) || request.headers.has(SHARD_HOPS_HEADER)) {
      // Internal fields: never sent on to the origin.
      const headers = new Headers(request.headers);
      headers.delete(SHARD_HEADER);
      headers.delete(SHARD_HOPS_HEADER);
      request = new Request(request, { headers });
    }
    if (shards > 1 && hops < shards - 1 && !this.#serves(request.url)) {
      const domain = brokerKey(new URL(request.url).hostname);
      const next = (shard + 1) % shards;
      return this.#env.BROKER.get(this.#env.BROKER.idFromName(shardName(domain, next))).fetch(
        withFields(request, { [SHARD_HEADER]: String(next), [SHARD_HOPS_HEADER]: String(hops + 1) }),
      );
    }
    const response = await this.#serve(request);
    if (hops === 0 || response.status === 101) return response;
    // Passed on to us: tell the Worker who served, so it skips the empty shards for a while.
    const answer = new Response(response.body, response);
    answer.headers.set(SERVED_BY_HEADER, String(shard));
    return answer;
  }

  /** True if a live, non-draining session here covers the request's origin (as the broker would route it). */
  #serves(requestUrl: string): boolean {
    const url = new URL(requestUrl);
    if (this.#env.ORIGIN_SCHEME !== 'as-received') url.protocol = 'https:';
    const target = requestOrigin(url);
    if (target === undefined) return true; // the broker's own 400, here
    if (!this.#broker) return false;
    return this.#broker.origins().some((entry) => {
      const parsed = parseOriginEntry(entry);
      return parsed !== undefined && originCovers(parsed, target);
    });
  }

  async #serve(request: Request): Promise<Response> {
    const cf = (request as { cf?: { httpProtocol?: string } }).cf;
    const url = new URL(request.url);
    const scheme = this.#env.ORIGIN_SCHEME === 'as-received' ? (url.protocol === 'https:' ? 'https' : 'http') : 'https';
    if (`${scheme}:` !== url.protocol) {
      url.protocol = `${scheme}:`;
      request = new Request(url.toString(), request);
    }
    const version = cf?.httpProtocol === 'HTTP/2' ? '2' : cf?.httpProtocol === 'HTTP/3' ? '3' : cf?.httpProtocol === 'HTTP/1.0' ? '1.0' : '1.1';
    const info = { clientAddress: request.headers.get('cf-connecting-ip') ?? '', scheme, httpVersion: version, viaName: 'rhttp-edge' } as const;
    const broker = this.#brokerFor(url.hostname);
    // A browser WebSocket: terminated here and relayed over an RFC 8441 extended CONNECT (websocket-relay.ts).
    if (isWebSocketUpgrade(request)) return relayWebSocket(request, (tunnel) => broker.tunnel(tunnel, WEBSOCKET_PROTOCOL, info));
    return broker.dispatch(request, info);
  }
}

/** The broker object's name for a host: its registrable domain. */
export function brokerKey(host: string): string {
  return registrableDomain(host);
}
