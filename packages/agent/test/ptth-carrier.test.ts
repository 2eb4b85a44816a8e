/** carriers/ptth.ts: the HTTPS dial upgraded to ptth, against a scripted TLS server (a Carrier or a CarrierDialError). */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parsePtthPath } from '@rhttp/core';
import { CarrierDialError } from '../src/carrier.js';
import { dialPtth } from '../src/carriers/ptth.js';
import { makeCertificates, type TestCertificates } from './intermediary-peer.js';

let certs: TestCertificates;
beforeAll(async () => {
  certs = await makeCertificates(['app.example.com']);
});

/** A TLS server (ALPN http/1.1, client certificate requested) that reads one request head and writes `answer`. */
interface Scripted {
  port: number;
  /** The request head and the client certificate's SANs, once the head arrived. */
  request: Promise<{ head: string; clientSans: string | undefined; socket: tls.TLSSocket }>;
  close(): Promise<void>;
}

let servers: Scripted[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function scripted(answer: string | Buffer, opts: { endAfter?: boolean } = {}): Promise<Scripted> {
  let resolveRequest!: (r: { head: string; clientSans: string | undefined; socket: tls.TLSSocket }) => void;
  const request = new Promise<{ head: string; clientSans: string | undefined; socket: tls.TLSSocket }>((r) => (resolveRequest = r));
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ cert: certs.intermediary.chainPem, key: certs.intermediary.keyPem, ALPNProtocols: ['http/1.1'], requestCert: true, rejectUnauthorized: false }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.removeAllListeners('data');
      resolveRequest({ head: text.slice(0, end), clientSans: socket.getPeerCertificate().subjectaltname, socket });
      if (opts.endAfter) socket.end(answer);
      else socket.write(answer);
    });
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const s: Scripted = {
    port: (server.address() as net.AddressInfo).port,
    request,
    close: () =>
      new Promise<void>((r) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => r());
      }),
  };
  servers.push(s);
  return s;
}

const options = (port: number) => ({
  url: `https://localhost:${port}`,
  origins: ['https://app.example.com'],
  cert: certs.origin.chainPem,
  key: certs.origin.keyPem,
  ca: certs.ca.certPem,
  connectTimeoutMs: 10_000,
});
const dial = (port: number) => dialPtth({ host: '127.0.0.1', port, servername: 'localhost' }, options(port), new AbortController().signal);

describe('dialPtth (HTTP/1.1 Upgrade: ptth)', () => {
  it('sends the PTTH request with the client certificate, and hands over the bytes that came with the 101 first', async () => {
    // The intermediary's HTTP/2 preface may arrive in the same read as the 101.
    const server = await scripted('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ptth\r\n\r\nPRI * HTTP/2.0');
    const carrier = await dial(server.port);
    const { head, clientSans, socket } = await server.request;
    const [requestLine, ...fieldLines] = head.split('\r\n');
    const fields = new Map(fieldLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    expect(requestLine).toBe('GET /.well-known/ptth/https%3A%2F%2Fapp.example.com/ HTTP/1.1');
    expect(parsePtthPath(requestLine.split(' ')[1]).map((o) => o.host)).toEqual(['app.example.com']);
    expect(fields.get('host')).toBe(`localhost:${server.port}`);
    expect(fields.get('connection')).toBe('Upgrade');
    expect(fields.get('upgrade')).toBe('ptth');
    expect(fields.get('alpn')).toBe('h2');
    expect(fields.get('client-cert')).toMatch(/^:[A-Za-z0-9+/=]+:$/);
    expect(fields.get('signature-input')).toMatch(/^rhttp=\("@method" "@authority" "@path" "client-cert"\);created=\d+;nonce=/);
    expect(clientSans).toContain('app.example.com');
    expect(carrier.alpnProtocol).toBe('ptth');
    expect(carrier.protocol).toMatch(/^TLSv1\.3 HTTP\/1\.1 Upgrade$/);

    const received: Buffer[] = [];
    const got = new Promise<void>((resolve) => {
      carrier.socket.on('data', (chunk: Uint8Array) => {
        received.push(Buffer.from(chunk));
        if (Buffer.concat(received).toString() === 'PRI * HTTP/2.0 more') resolve();
      });
    });
    socket.write(' more');
    await got;
    carrier.destroy();
  });

  it('a 401 with a body is a refusal that quotes the body (wait the long delay)', async () => {
    const body = 'no Client-Cert field: sign the request\n';
    const server = await scripted(`HTTP/1.1 401 Unauthorized\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    const error = await dial(server.port).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CarrierDialError);
    expect(error).toMatchObject({ refused: true, unreached: false, message: `the intermediary at localhost:${server.port} refused this agent (HTTP 401): no Client-Cert field: sign the request` });
  });

  it('a 503 that closes the connection is unreached (retry with the usual backoff)', async () => {
    const server = await scripted('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n\r\nshutting down', { endAfter: true });
    const error = await dial(server.port).catch((e: unknown) => e);
    expect(error).toMatchObject({ refused: false, unreached: true, message: `the intermediary at localhost:${server.port} answered the PTTH upgrade with HTTP 503: shutting down` });
  });

  it('a 101 to another protocol is a refusal', async () => {
    const server = await scripted('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    const error = await dial(server.port).catch((e: unknown) => e);
    expect(error).toMatchObject({ refused: true, message: `localhost:${server.port} switched protocols, but not to ptth (Upgrade: websocket)` });
  });

  it('an answer that is not HTTP/1.1 is unreached, in plain words', async () => {
    const server = await scripted('SSH-2.0-OpenSSH_9.2\r\n\r\n');
    const error = await dial(server.port).catch((e: unknown) => e);
    expect(error).toMatchObject({ refused: false, unreached: true, message: `localhost:${server.port} did not answer with HTTP/1.1; is it an rhttp intermediary?` });
  });

  it('nothing listening is unreached', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const error = await dial(port).catch((e: unknown) => e);
    expect(error).toMatchObject({ refused: false, unreached: true });
    expect((error as Error).message).toMatch(/connection refused/);
  });
});
