/**
 * The `--https` listener: node:tls with ALPN h2 and http/1.1. h2 goes to an @rhttp/core session,
 * http/1.1 (or no ALPN at all) to node:http; both reach the same origin with the https scheme.
 */
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Intermediary, type IntermediaryAddresses } from '../src/intermediary.js';
import { connectAgent, http2Connect, intermediaryOptions, makePki, until, type Pki, type TestAgent } from './harness.js';

let pki: Pki;
let intermediary: Intermediary;
let addresses: IntermediaryAddresses;
let agent: TestAgent;
let host: string;

beforeAll(async () => {
  pki = await makePki();
  intermediary = new Intermediary(intermediaryOptions(pki, { http: undefined }));
  addresses = await intermediary.start();
  host = `app.example.com:${addresses.https!.port}`;
  agent = await connectAgent({
    port: addresses.agents.port,
    caPem: pki.ca.certPem,
    cert: pki.origin,
    origins: [`https://${host}`],
    handler: async (request) => new Response(`${request.method} ${new URL(request.url).protocol} ${request.headers.get('x-forwarded-proto')} [${await request.text()}]`),
  });
  await until(() => intermediary.servedOrigins().includes(`https://${host}`), 'the origin to be served');
});

afterAll(async () => {
  agent?.socket.destroy();
  await intermediary?.stop();
});

/** One HTTP/1.1 request over TLS, offering `alpn` (none: no ALPN extension at all). */
function http1OverTls(alpn: string[] | undefined, method: string, body?: string): Promise<{ status: number; alpn: string | false; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: addresses.https!.port, path: '/tls', method, headers: { host }, ca: pki.ca.certPem, servername: 'localhost', agent: false, ...(alpn ? { ALPNProtocols: alpn } : {}) },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, alpn: (res.socket as import('node:tls').TLSSocket).alpnProtocol, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('the TLS browser listener (ALPN h2 and http/1.1)', () => {
  it('serves HTTP/1.1 to a client that offers no ALPN, and to one that offers only http/1.1', async () => {
    expect(await http1OverTls(undefined, 'GET')).toEqual({ status: 200, alpn: false, body: 'GET https: https []' });
    expect(await http1OverTls(['http/1.1'], 'POST', 'over one-one')).toEqual({ status: 200, alpn: 'http/1.1', body: 'POST https: https [over one-one]' });
  });

  it('serves HTTP/2 (ALPN h2) with request bodies on core', async () => {
    const client = http2Connect(`https://127.0.0.1:${addresses.https!.port}`, { ca: pki.ca.certPem, servername: 'localhost' });
    try {
      const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const stream = client.request({ ':method': 'PUT', ':path': '/tls', ':authority': host });
        let status = 0;
        let body = '';
        stream.setEncoding('utf8');
        stream.on('response', (h) => (status = Number(h[':status'])));
        stream.on('data', (c: string) => (body += c));
        stream.on('end', () => resolve({ status, body }));
        stream.on('error', reject);
        stream.end('x'.repeat(100_000));
      });
      expect(result).toEqual({ status: 200, body: `PUT https: https [${'x'.repeat(100_000)}]` });
      expect(client.alpnProtocol).toBe('h2');
    } finally {
      client.close();
    }
  });
});
