import { describe, expect, it } from 'vitest';
import { Broker, BrokerRegistry, WEBSOCKET_PROTOCOL, tunnelRequest, type Exchange, type OutgoingRequest } from '../src/index.js';
import { fieldsToHeaders } from '@rhttp/core';
import { exchangeOf, FakeSession, INFO } from './fake-session.js';

/** A fake session that also takes CONNECT streams (`tunnels`) and echoes the tunnel's bytes back. */
class TunnelSession extends FakeSession {
  override tunnels = true;
  readonly opened: OutgoingRequest[] = [];
  connectAnswer = (request: OutgoingRequest) => new Response(request.body, { status: 200, headers: { 'sec-websocket-protocol': 'chat' } });
  override open(request: OutgoingRequest): Exchange {
    if (request.method !== 'CONNECT') return super.open(request);
    this.opened.push(request);
    return exchangeOf(this.connectAnswer(request));
  }
}

function handshake(url = 'https://app.example.com/chat?room=1', body: ReadableStream<Uint8Array> | null = null): Request {
  const headers = new Headers({
    'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'sec-websocket-version': '13',
    'sec-websocket-protocol': 'chat, superchat',
    origin: 'https://app.example.com',
    cookie: 'a=1',
  });
  return tunnelRequest(url, headers, body);
}

describe('RFC 8441 extended CONNECT through the broker (DESIGN.md Broker semantics)', () => {
  it('sends the tunnel with :protocol websocket, without Sec-WebSocket-Key, with the RFC 6455 fields and Via; bytes flow both ways', async () => {
    const broker = new Broker();
    const session = new TunnelSession('s1', ['https://app.example.com']);
    broker.register(session);
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('ping'));
        c.close();
      },
    });
    const response = await broker.tunnel(handshake(undefined, body), WEBSOCKET_PROTOCOL, INFO);
    expect(response.status).toBe(200);
    expect(response.headers.get('sec-websocket-protocol')).toBe('chat');
    expect(response.headers.get('via')).toBe('2 rhttp');
    expect(await response.text()).toBe('ping');
    expect(session.requests).toHaveLength(0); // never as a plain request
    const [request] = session.opened;
    expect([request.method, request.protocol]).toEqual(['CONNECT', 'websocket']);
    expect(request.url.href).toBe('https://app.example.com/chat?room=1');
    // RFC 8441 §5: the key/accept handshake is replaced by :protocol.
    expect(fieldsToHeaders(request.fields).has('sec-websocket-key')).toBe(false);
    expect(fieldsToHeaders(request.fields).get('sec-websocket-version')).toBe('13');
    expect(fieldsToHeaders(request.fields).get('sec-websocket-protocol')).toBe('chat, superchat');
    expect(fieldsToHeaders(request.fields).get('origin')).toBe('https://app.example.com');
    expect(fieldsToHeaders(request.fields).get('cookie')).toBe('a=1');
    expect(fieldsToHeaders(request.fields).get('x-forwarded-for')).toBe(INFO.clientAddress);
  });

  it('only sessions that take tunnels get them; none → 503 destination_unavailable', async () => {
    const broker = new Broker();
    const plain = new FakeSession('plain', ['https://app.example.com']);
    broker.register(plain);
    const refused = await broker.tunnel(handshake(), WEBSOCKET_PROTOCOL, INFO);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('proxy-status')).toMatch(/destination_unavailable/);
    const capable = new TunnelSession('capable', ['https://app.example.com']);
    broker.register(capable);
    const ok = await broker.tunnel(handshake(), WEBSOCKET_PROTOCOL, INFO);
    expect(ok.status).toBe(200);
    await ok.body?.cancel();
    expect(capable.opened).toHaveLength(1);
    expect(plain.requests).toHaveLength(0);
  });

  it('the registry routes tunnels by host like requests (exact beats wildcard); unknown host → 503', async () => {
    const registry = new BrokerRegistry();
    const exact = new TunnelSession('exact', ['https://app.example.com']);
    const wild = new TunnelSession('wild', ['https://*.example.com']);
    registry.register(wild);
    registry.register(exact);
    const response = await registry.tunnel(handshake(), WEBSOCKET_PROTOCOL, INFO);
    await response.body?.cancel();
    expect(exact.opened).toHaveLength(1);
    expect(wild.opened).toHaveLength(0);
    const other = await registry.tunnel(handshake('https://other.example.com/'), WEBSOCKET_PROTOCOL, INFO);
    await other.body?.cancel();
    expect(wild.opened).toHaveLength(1);
    const unknown = await registry.tunnel(handshake('https://nobody.test/'), WEBSOCKET_PROTOCOL, INFO);
    expect(unknown.status).toBe(503);
  });

  it('a refusal from the origin (non-2xx) is passed back as is', async () => {
    const broker = new Broker();
    const session = new TunnelSession('s', ['https://app.example.com']);
    session.connectAnswer = () => new Response('no websockets here', { status: 404 });
    broker.register(session);
    const response = await broker.tunnel(handshake(), WEBSOCKET_PROTOCOL, INFO);
    expect(response.status).toBe(404);
    expect(await response.text()).toBe('no websockets here');
  });

  it('RFC 9113 §8.5: an empty protocol is a plain CONNECT, opened without :protocol', async () => {
    const broker = new Broker();
    const session = new TunnelSession('s', ['https://db.example.com:5432']);
    broker.register(session);
    const response = await broker.tunnel(tunnelRequest('https://db.example.com:5432/', new Headers({ 'user-agent': 'psql' }), null), '', INFO);
    expect(response.status).toBe(200);
    await response.body?.cancel();
    const [request] = session.opened;
    expect(request.method).toBe('CONNECT');
    expect('protocol' in request).toBe(false);
    expect(request.url.host).toBe('db.example.com:5432');
    expect(fieldsToHeaders(request.fields).get('user-agent')).toBe('psql');
  });
});
