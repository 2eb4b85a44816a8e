/**
 * gRPC-Web through the Node intermediary: Connect's gRPC-Web transport (a real gRPC-Web client
 * library, HTTP/1.1 as a browser without trailers would use) at the intermediary's browser
 * listener; the agent translates to gRPC for its `h2c://` upstream, a @grpc/grpc-js server. The
 * intermediary carries an ordinary HTTP exchange: no trailers anywhere on its side.
 */
import * as http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, toBinary, fromBinary } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import type { Intermediary } from '../../apps/intermediary/src/intermediary.js';
import type { Agent } from '../../packages/agent/src/agent.js';
import { startInProcessTunnel } from './in-process-tunnel.js';
import { createDevCa, issueCertificate } from '../../packages/node/src/certs.js';
import { EchoReply, EchoRequest, FAIL_MESSAGE, grpcWebClient, grpcWebErrorCases, grpcWebClientH2, startEchoServer, type EchoServer } from '../support/grpc-web-service.js';

const ORIGIN = 'https://app.example.com';

let echo: EchoServer;
let intermediary: Intermediary;
let agent: Agent;
let httpPort: number;
let client: any;
const httpAgent = new http.Agent({ keepAlive: true });

beforeAll(async () => {
  echo = await startEchoServer();
  const ca = await createDevCa({ commonName: 'gRPC-Web Test CA', days: 30 });
  const intermediaryCert = await issueCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const originCert = await issueCertificate(ca, { dnsNames: ['app.example.com'], extendedKeyUsage: ['serverAuth'] });
  ({ intermediary, agent, httpPort } = await startInProcessTunnel({ ca, intermediaryCert, originCert, origin: ORIGIN, upstream: `h2c://127.0.0.1:${echo.port}` }));
  ({ client } = grpcWebClient(`http://127.0.0.1:${httpPort}`, 'app.example.com', httpAgent));
});

afterAll(async () => {
  httpAgent.destroy();
  await agent?.stop({ graceful: false });
  await intermediary?.stop();
  echo?.server.forceShutdown();
});

/** One raw gRPC-Web POST over HTTP/1.1 to the intermediary; the response body whole. */
function post(path: string, headers: Record<string, string>, body: Uint8Array): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer; trailers: NodeJS.Dict<string> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: httpPort, method: 'POST', path, headers: { host: 'app.example.com', ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), trailers: res.trailers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** gRPC-Web frames of a (binary) body: [flag, payload] each. */
function frames(body: Uint8Array): Array<[number, Uint8Array]> {
  const out: Array<[number, Uint8Array]> = [];
  for (let at = 0; at < body.length; ) {
    const length = new DataView(body.buffer, body.byteOffset + at + 1, 4).getUint32(0);
    out.push([body[at], body.subarray(at + 5, at + 5 + length)]);
    at += 5 + length;
  }
  return out;
}

const frame = (flag: number, payload: Uint8Array) => {
  const out = new Uint8Array(5 + payload.length);
  out[0] = flag;
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, 5);
  return out;
};

describe('gRPC-Web through the Node intermediary (translated in the agent, Envoy grpc_web style)', () => {
  it('a unary call returns its message; the upstream got it through the tunnel (Via) with the x-grpc-web field of the client', async () => {
    const reply = await client.echo({ text: 'hello' });
    expect({ text: reply.text, reversed: reply.reversed }).toEqual({ text: 'hello', reversed: 'olleh' });
    const metadata = echo.lastMetadata()!;
    expect(metadata.get('via')[0]).toMatch(/rhttp/);
    expect(metadata.get('x-grpc-web')[0]).toBe('1');
  });

  it('a server-streaming call delivers messages one by one (the next is written only after the client saw this one), then OK', async () => {
    const got: number[] = [];
    for await (const message of client.count({ n: 4 })) {
      got.push(message.i);
      // Nothing was held back to the end: the server has written exactly the messages seen so far.
      expect(echo.written()).toBe(got.length);
      echo.delivered(message.i);
    }
    expect(got).toEqual([0, 1, 2, 3]);
  });

  it('a client that cancels a stream cancels the call at the gRPC server (the agent resets its upstream stream)', async () => {
    const before = echo.cancelled();
    const abort = new AbortController();
    const seen: number[] = [];
    const error = await (async () => {
      // Connect cancels a call through its signal (leaving the loop alone does not end the request).
      for await (const message of client.count({ n: 5 }, { signal: abort.signal })) {
        seen.push(message.i);
        abort.abort();
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect({ seen, code: (error as ConnectError)?.code }).toEqual({ seen: [0], code: Code.Canceled });
    while (echo.cancelled() === before) await new Promise((r) => setTimeout(r, 10));
    expect(echo.cancelled()).toBe(before + 1);
    expect(echo.written()).toBe(1);
  });

  grpcWebErrorCases(() => client);

  it('raw: the response carries the message, then the trailers as a 0x80 frame; no HTTP trailers; status headers exposed', async () => {
    const request = frame(0, toBinary(EchoRequest, create(EchoRequest, { text: 'raw' })));
    const response = await post('/rhttp.test.Echo/Echo', { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' }, request);
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/grpc-web+proto');
    expect(response.headers['access-control-expose-headers']).toMatch(/grpc-status, grpc-message/);
    expect(response.trailers).toEqual({});
    const [data, trailer, ...rest] = frames(response.body);
    expect(rest).toEqual([]);
    expect(data[0]).toBe(0);
    expect((fromBinary(EchoReply, data[1]) as any).reversed).toBe('war');
    expect(trailer[0]).toBe(0x80);
    expect(Buffer.from(trailer[1]).toString('latin1')).toMatch(/^grpc-status: 0\r\n/m);
  });

  it('raw: the percent-encoded grpc-message of a trailers-only error stays percent-encoded in the response headers', async () => {
    const request = frame(0, toBinary(EchoRequest, create(EchoRequest, { text: 'x' })));
    const response = await post('/rhttp.test.Echo/Fail', { 'content-type': 'application/grpc-web+proto' }, request);
    expect(response.headers['grpc-status']).toBe('5');
    expect(response.headers['grpc-message']).toMatch(/^[\x20-\x7e]+$/);
    expect(decodeURIComponent(response.headers['grpc-message'] as string)).toBe(FAIL_MESSAGE);
    expect(response.body.length).toBe(0);
  });

  it('application/grpc-web-text with a body that is not base64 is 400, the request being at fault', async () => {
    for (const body of ['AAAAAAA*', 'AAAAA']) {
      const response = await post('/rhttp.test.Echo/Echo', { 'content-type': 'application/grpc-web-text' }, Buffer.from(body));
      expect({ status: response.status, proxyStatus: response.headers['proxy-status'] }).toEqual({ status: 400, proxyStatus: 'rhttp-agent; error=http_request_error' });
      expect(response.body.toString()).toMatch(/bad gRPC-Web request/);
    }
    // The agent's connection to the upstream serves the next call.
    expect((await client.echo({ text: 'after' })).reversed).toBe('retfa');
  });

  it('application/grpc-web-text: a base64 request in odd-sized pieces, a base64 response with the trailer frame', async () => {
    // Connect's transport speaks binary gRPC-Web only, so the text variant is a raw request.
    const request = Buffer.from(frame(0, toBinary(EchoRequest, create(EchoRequest, { text: 'text mode ✓' })))).toString('base64');
    const response = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: httpPort, method: 'POST', path: '/rhttp.test.Echo/Echo', headers: { host: 'app.example.com', 'content-type': 'application/grpc-web-text', accept: 'application/grpc-web-text' }, agent: false },
        (res) => {
          let body = '';
          res.setEncoding('latin1');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      // Pieces whose lengths are not multiples of 4, sent as separate chunks.
      for (let at = 0; at < request.length; at += 7) req.write(request.slice(at, at + 7));
      req.end();
    });
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/grpc-web-text+proto');
    expect(response.body).toMatch(/^[A-Za-z0-9+/=]+$/);
    // Each chunk is padded on its own (as Envoy sends it): decode quantum by quantum.
    const decoded = Buffer.concat((response.body.match(/.{4}/g) ?? []).map((q) => Buffer.from(q, 'base64')));
    const [data, trailer, ...rest] = frames(decoded);
    expect(rest).toEqual([]);
    expect((fromBinary(EchoReply, data[1]) as any).reversed).toBe([...'text mode ✓'].reverse().join(''));
    expect(trailer[0]).toBe(0x80);
    expect(Buffer.from(trailer[1]).toString('latin1')).toMatch(/^grpc-status: 0\r\n/m);
  });
});

describe('gRPC-Web over HTTP/2 (h2c) to the Node intermediary', () => {
  it('unary, server streaming one by one, and a non-ASCII error, on one HTTP/2 connection', async () => {
    const { client: h2, sessions } = grpcWebClientH2('app.example.com', httpPort);
    try {
      expect((await h2.echo({ text: 'h2' })).reversed).toBe('2h');
      const got: number[] = [];
      for await (const message of h2.count({ n: 3 })) {
        got.push(message.i);
        expect(echo.written()).toBe(got.length);
        echo.delivered(message.i);
      }
      expect(got).toEqual([0, 1, 2]);
      const error = await h2.fail({ text: 'x' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect({ code: error?.code, message: error?.rawMessage }).toEqual({ code: Code.NotFound, message: FAIL_MESSAGE });
    } finally {
      sessions.abort();
    }
  });
});
