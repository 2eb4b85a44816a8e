import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectRelay, isPlainConnect, relayTargetOf } from '../src/connect-relay.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

const head = (authority: string) => ({ head: { method: 'CONNECT', scheme: '', authority, path: '', headers: new Headers() } });

describe('ConnectRelay (draft §3.1 transport proxying, agent side)', () => {
  it('serves host:port covered by the Origin Set (https or http, wildcards), nothing else', () => {
    const relay = new ConnectRelay(['https://app.example.com', 'https://*.apps.example.com', 'http://plain.example.com:8080'], { host: '127.0.0.1', port: 1 });
    expect(relay.serves('app.example.com:443')).toBe(true);
    expect(relay.serves('a.apps.example.com:443')).toBe(true);
    expect(relay.serves('plain.example.com:8080')).toBe(true);
    expect(relay.serves('app.example.com:22')).toBe(false);
    expect(relay.serves('example.org:443')).toBe(false);
    expect(relay.serves('a.b.apps.example.com:443')).toBe(false);
    expect(relay.serves('not an authority')).toBe(false);
  });

  it('relays bytes both ways to the upstream address, whatever name the CONNECT carried', async () => {
    server = createServer((socket) => socket.pipe(socket)); // echo
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const relay = new ConnectRelay(['https://app.example.com'], { host: '127.0.0.1', port: (server.address() as AddressInfo).port });
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const response = await relay.open(new Request('https://app.example.com/', { method: 'POST', body: readable, duplex: 'half' } as RequestInit), head('app.example.com:443'));
    expect(response.status).toBe(200);
    const writer = writable.getWriter();
    await writer.write(new TextEncoder().encode('ping'));
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('ping');
    await writer.close();
    expect((await reader.read()).done).toBe(true);
  });

  it('403 for a destination outside the Origin Set, 502 when the upstream refuses; both with Proxy-Status', async () => {
    const relay = new ConnectRelay(['https://app.example.com'], { host: '127.0.0.1', port: 1 });
    const denied = await relay.open(new Request('https://x/', { method: 'POST', body: 'x' }), head('example.org:443'));
    expect(denied.status).toBe(403);
    expect(denied.headers.get('proxy-status')).toBe('rhttp-agent; error=http_request_denied');
    const refused = await relay.open(new Request('https://x/', { method: 'POST', body: 'x' }), head('app.example.com:443'));
    expect(refused.status).toBe(502);
    expect(refused.headers.get('proxy-status')).toBe('rhttp-agent; error=connection_refused');
  });

  it('tells plain CONNECT from extended CONNECT, and maps upstream URLs to host:port', () => {
    expect(isPlainConnect(head('a:443'))).toBe(true);
    expect(isPlainConnect({ head: { ...head('a:443').head, protocol: 'websocket' } })).toBe(false);
    expect(relayTargetOf(new URL('https://127.0.0.1:8443'))).toEqual({ host: '127.0.0.1', port: 8443 });
    expect(relayTargetOf(new URL('http://[::1]'))).toEqual({ host: '::1', port: 80 });
    expect(relayTargetOf(new URL('h2c://127.0.0.1:50051'))).toEqual({ host: '127.0.0.1', port: 50051 });
  });
});
