import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { connectSocket, decodeClientCert, leafPublicKey, parseOriginList, pemToDer, verifyMessageSignature } from '@rhttp/core';
import { createDevCa, issueCertificate, type IssuedCertificate } from '../../node/src/certs.js';
import {
  CARRIER_SIGNED_COMPONENTS,
  MAX_MESSAGE_BYTES,
  WebSocketRefusedError,
  openWebSocketCarrier,
  openWebSocketSocket,
  ptthUrl,
} from '../src/carriers/websocket.js';

/** A fake edge: node:http + ws. `respond` decides per upgrade request. */
let server: Server;
let wss: WebSocketServer;
let base: string;
let respond: (req: IncomingMessage) => { status: number; body: string } | { accept: true; protocol: string | false; onSocket?: (ws: ServerSocket) => void };
let lastRequest: IncomingMessage | undefined;
let origin: IssuedCertificate;

beforeAll(async () => {
  const ca = await createDevCa();
  origin = await issueCertificate(ca, { dnsNames: ['app.example.com'] });
  wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (currentProtocol === false ? false : currentProtocol) });
  server = createServer();
  server.on('upgrade', (req, socket, head) => {
    lastRequest = req;
    const decision = respond(req);
    if ('status' in decision) {
      socket.end(`HTTP/1.1 ${decision.status} Refused\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(decision.body)}\r\nconnection: close\r\n\r\n${decision.body}`);
      return;
    }
    currentProtocol = decision.protocol;
    wss.handleUpgrade(req, socket, head, (ws) => decision.onSocket?.(ws));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
let currentProtocol: string | false = 'h2-reverse';

afterAll(async () => {
  wss.close();
  await new Promise((r) => server.close(r));
});

const options = () => ({ url: base, origins: ['https://app.example.com', 'https://*.app.example.com'], certChainPem: origin.chainPem, keyPem: origin.keyPem });

describe('WebSocket carrier upgrade request (DESIGN.md Carrier 2; RFC 9440, RFC 9421)', () => {
  it('sends the PTTH path, h2-reverse, ALPN and a signature the leaf key verifies', async () => {
    respond = () => ({ accept: true, protocol: 'h2-reverse' });
    const carrier = await openWebSocketCarrier(options());
    carrier.close();
    const req = lastRequest!;
    expect(req.url).toBe('/.well-known/ptth/https%3A%2F%2Fapp.example.com,https%3A%2F%2F*.app.example.com/');
    expect(parseOriginList(req.url!.slice('/.well-known/ptth/'.length, -1)).map((o) => o.host)).toEqual(['app.example.com', '*.app.example.com']);
    expect(req.headers['sec-websocket-protocol']).toBe('h2-reverse');
    expect(req.headers.alpn).toBe('h2');
    expect(decodeClientCert(req.headers['client-cert'] as string)).toEqual(pemToDer(origin.chainPem)[0]);
    expect(req.headers['client-cert-chain']).toBeDefined();
    const headers = new Headers(req.headers as Record<string, string>);
    const verified = await verifyMessageSignature(
      { method: 'GET', url: `http://${req.headers.host}${req.url}`, headers },
      { key: await leafPublicKey(origin.chainPem), requiredComponents: CARRIER_SIGNED_COMPONENTS, maxAgeSeconds: 60, requireNonce: true },
    );
    expect(verified.params.alg).toBe('ecdsa-p256-sha256');
  });

  it('surfaces a 401/403 refusal with its body', async () => {
    respond = () => ({ status: 403, body: 'origin https://app.example.com is not covered by the certificate' });
    const error = await openWebSocketCarrier(options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WebSocketRefusedError);
    expect((error as WebSocketRefusedError).status).toBe(403);
    expect((error as WebSocketRefusedError).refused).toBe(true);
    expect((error as Error).message).toBe('the edge refused this agent (HTTP 403): origin https://app.example.com is not covered by the certificate');
  });

  it('RFC 6455 §4.1: fails when the server does not select h2-reverse', async () => {
    respond = () => ({ accept: true, protocol: false });
    await expect(openWebSocketCarrier(options())).rejects.toThrow(/h2-reverse/);
  });

  it('refuses non-WebSocket URLs', () => {
    expect(() => ptthUrl('https://edge.example.net', ['https://a.example'])).toThrow(/ws:\/\/ or wss:\/\//);
  });
});

describe('WebSocket carrier byte stream', () => {
  it('splits writes into messages of at most MAX_MESSAGE_BYTES and reassembles reads in order', async () => {
    const sizes: number[] = [];
    let serverSocket!: ServerSocket;
    const connected = new Promise<void>((resolve) => {
      respond = () => ({
        accept: true,
        protocol: 'h2-reverse',
        onSocket: (ws) => {
          serverSocket = ws;
          ws.on('message', (data: Buffer) => {
            sizes.push(data.length);
            ws.send(data); // echo
          });
          resolve();
        },
      });
    });
    const carrier = await openWebSocketCarrier(options());
    await connected;
    const payload = new Uint8Array(3 * MAX_MESSAGE_BYTES + 5).map((_, i) => i & 0xff);
    const writer = carrier.writable.getWriter();
    await writer.write(payload);
    const reader = carrier.readable.getReader();
    const received: number[] = [];
    while (received.length < payload.length) received.push(...((await reader.read()).value as Uint8Array));
    expect(sizes).toEqual([MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES, 5]);
    expect(Uint8Array.from(received)).toEqual(payload);
    // A text message is a protocol error (DESIGN.md, Carrier 2).
    serverSocket.send('hello');
    await expect(reader.read()).rejects.toThrow(/text WebSocket message/);
  });

  it('openWebSocketSocket runs our engine in the server role through connectSocket (the TLS code path)', async () => {
    let serverSocket!: ServerSocket;
    const firstBytes = new Promise<Buffer>((resolve) => {
      respond = () => ({
        accept: true,
        protocol: 'h2-reverse',
        onSocket: (ws) => {
          serverSocket = ws;
          ws.once('message', (data: Buffer) => resolve(data));
        },
      });
    });
    const socket = await openWebSocketSocket(options());
    expect(socket.alpnProtocol).toBe('h2-reverse');
    const session = connectSocket(socket, { role: 'server', origins: ['https://app.example.com'], handler: () => new Response('ok') });
    const bytes = await firstBytes;
    // RFC 9113 §3.4: the server's preface is a SETTINGS frame (type 0x4) on stream 0.
    expect(bytes[3]).toBe(0x04);
    expect(bytes.readUInt32BE(5) & 0x7fffffff).toBe(0);
    session.close();
    serverSocket.close();
  });
});
