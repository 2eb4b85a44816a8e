import type { AddressInfo } from 'node:net';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type RawData } from 'ws';
import { WebSocketFrameDecoder, WebSocketOpcode, closeFramePayload, encodeWebSocketFrame, type WebSocketEvent } from '@rhttp/core';
import { openWebSocketUpstream, websocketAccept } from '../src/websocket-upstream.js';

let server: WebSocketServer;
let base: URL;
let seenHeaders: Record<string, string | string[] | undefined> = {};

beforeAll(async () => {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0, verifyClient: (info, done) => (info.req.url === '/nope' ? done(false, 404, 'not here') : done(true)) });
  await new Promise((r) => server.once('listening', r));
  server.on('connection', (ws, req) => {
    seenHeaders = req.headers;
    ws.on('message', (data: RawData, binary) => ws.send(data, { binary }));
  });
  base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});

afterAll(async () => {
  for (const c of server.clients) c.terminate();
  await new Promise((r) => server.close(r));
});

function tunnel(headers: Record<string, string> = {}) {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  const request = new Request('https://app.example.com/chat', { method: 'POST', headers, body, duplex: 'half' } as RequestInit);
  return { request, controller };
}

describe('agent: RFC 8441 extended CONNECT → RFC 6455 upgrade to the upstream', () => {
  it('RFC 6455 §1.3: Sec-WebSocket-Accept is the base64 SHA-1 of key + GUID (the RFC\'s own example)', () => {
    expect(websocketAccept('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('answers 200 once the upstream switched protocols and relays raw frames both ways', async () => {
    const { request, controller } = tunnel({ 'sec-websocket-version': '13', origin: 'https://app.example.com', 'sec-websocket-key': 'browser-key-must-not-pass' });
    const response = await openWebSocketUpstream(base, '/chat', 'app.example.com', request);
    expect(response.status).toBe(200);
    expect(seenHeaders.host).toBe('app.example.com');
    expect(seenHeaders.origin).toBe('https://app.example.com');
    expect(seenHeaders['sec-websocket-key']).not.toBe('browser-key-must-not-pass');
    controller.enqueue(encodeWebSocketFrame({ opcode: WebSocketOpcode.TEXT, payload: new TextEncoder().encode('hi') }, { mask: true }));
    const decoder = new WebSocketFrameDecoder({ role: 'client' });
    const reader = response.body!.getReader();
    const events: WebSocketEvent[] = [];
    while (events.length === 0) events.push(...decoder.push((await reader.read()).value!));
    expect(events[0]).toEqual({ type: 'message', data: 'hi' });
    controller.enqueue(encodeWebSocketFrame({ opcode: WebSocketOpcode.CLOSE, payload: closeFramePayload(4001, 'bye') }, { mask: true }));
    controller.close();
    const rest: WebSocketEvent[] = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest.push(...decoder.push(value));
    }
    expect(rest).toEqual([{ type: 'close', code: 4001, reason: 'bye' }]);
  });

  it('an upstream refusal (404) is passed on; an unreachable upstream is 502 with Proxy-Status', async () => {
    const refused = await openWebSocketUpstream(base, '/nope', 'app.example.com', tunnel().request);
    expect(refused.status).toBe(404);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const unreachable = await openWebSocketUpstream(new URL(`http://127.0.0.1:${port}`), '/', 'app.example.com', tunnel().request);
    expect(unreachable.status).toBe(502);
    expect(unreachable.headers.get('proxy-status')).toMatch(/connection_refused/);
  });
});
