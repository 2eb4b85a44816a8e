/**
 * The broker Durable Object: one per registrable domain (DESIGN.md, Broker semantics). It holds
 * the agents' WebSockets (the standard, non-hibernating API: an HTTP/2 session's HPACK tables,
 * windows and stream states cannot survive hibernation; deploys drop every WebSocket and agents
 * reconnect) and one in-memory `Broker` that dispatches browser requests over them.
 *
 * Internal routes (itty-router, the tiny router made for this place): the agent upgrade
 * `GET /.well-known/ptth/{origins}/`, `GET /.rhttp/status`, and everything else = dispatch.
 */
import { IttyRouter } from 'itty-router';
import { Broker } from '@rhttp/broker';
import { OriginError, parseOriginList, registrableDomain, type Origin } from '@rhttp/core';
import { AgentConnection } from './agent-connection.js';
import { WEBSOCKET_PROTOCOL, isWebSocketUpgrade, relayWebSocket } from './websocket-relay.js';
import { AgentRefusal, SIGNATURE_MAX_AGE_SECONDS, authenticateAgent } from './agent-authentication.js';
import type { Env } from './env.js';
import { NonceCache } from './nonce-cache.js';
import { PTTH_PREFIX, WEBSOCKET_SUBPROTOCOL, plainResponse, ptthOriginSegment } from './ptth.js';

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

  async #dispatch(request: Request): Promise<Response> {
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
