/**
 * gRPC through the tunnel: a @grpc/grpc-js server as the agent's `h2c://` upstream, a grpc-js
 * client at the intermediary's cleartext (h2c) listener. Unary, server streaming (messages one by
 * one), and a failing call whose status and message travel in a trailers-only response.
 */
import { request as httpRequest } from 'node:http';
import * as http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import type { Intermediary } from '../../apps/intermediary/src/intermediary.js';
import type { Agent } from '../../packages/agent/src/agent.js';
import { startInProcessTunnel } from './in-process-tunnel.js';
import { createDevCa, issueCertificate } from '../../packages/node/src/certs.js';

const ORIGIN = 'https://app.example.com';
const serialize = (value: unknown) => Buffer.from(JSON.stringify(value));
const deserialize = (bytes: Buffer) => JSON.parse(bytes.toString('utf8'));
const method = (name: string, responseStream: boolean) => ({
  path: `/rhttp.test.Echo/${name}`,
  requestStream: false,
  responseStream,
  requestSerialize: serialize,
  requestDeserialize: deserialize,
  responseSerialize: serialize,
  responseDeserialize: deserialize,
});
const service = { echo: method('Echo', false), count: method('Count', true), fail: method('Fail', false) };

/** The streaming handler waits for the test to see message i before it writes message i + 1. */
const delivered: Array<() => void> = [];
const waitDelivered = (i: number) => new Promise<void>((resolve) => (delivered[i] = resolve));

let server: grpc.Server;
let intermediary: Intermediary;
let agent: Agent;
let client: grpc.Client & Record<string, (...args: any[]) => any>;
let httpPort: number;
let requestHeaders: grpc.Metadata | undefined;

beforeAll(async () => {
  server = new grpc.Server();
  server.addService(service, {
    echo: (call: grpc.ServerUnaryCall<{ text: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      requestHeaders = call.metadata;
      callback(null, { text: call.request.text, reversed: [...call.request.text].reverse().join('') });
    },
    count: async (call: grpc.ServerWritableStream<{ n: number }, unknown>) => {
      for (let i = 0; i < call.request.n; i++) {
        const seen = waitDelivered(i);
        call.write({ i });
        await seen;
      }
      call.end();
    },
    fail: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
      callback({ code: grpc.status.NOT_FOUND, details: 'no such thing: ünïcode and spaces' });
    },
  });
  const grpcPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
  );

  const ca = await createDevCa({ commonName: 'gRPC Test CA', days: 30 });
  const intermediaryCert = await issueCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const originCert = await issueCertificate(ca, { dnsNames: ['app.example.com'], extendedKeyUsage: ['serverAuth'] });
  ({ intermediary, agent, httpPort } = await startInProcessTunnel({ ca, intermediaryCert, originCert, origin: ORIGIN, upstream: `h2c://127.0.0.1:${grpcPort}` }));
  const Client = grpc.makeGenericClientConstructor(service, 'Echo');
  // h2c with prior knowledge to the intermediary; :authority names the origin.
  client = new Client(`127.0.0.1:${httpPort}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'app.example.com' }) as typeof client;
});

afterAll(async () => {
  client?.close();
  await agent?.stop({ graceful: false });
  await intermediary?.stop();
  server?.forceShutdown();
});

describe('gRPC through the tunnel (h2c upstream, trailers end to end; RFC 9113 §8.1)', () => {
  it('a unary call returns its message and status OK', async () => {
    const reply = await new Promise<{ text: string; reversed: string }>((resolve, reject) =>
      client.echo({ text: 'hello' }, (error: grpc.ServiceError | null, value: { text: string; reversed: string }) => (error ? reject(error) : resolve(value))),
    );
    expect(reply).toEqual({ text: 'hello', reversed: 'olleh' });
    expect(requestHeaders?.get('via')[0]).toMatch(/rhttp/);
  });

  it('a server-streaming call delivers several messages one by one, then status OK', async () => {
    const call = client.count({ n: 4 }) as grpc.ClientReadableStream<{ i: number }>;
    const got: number[] = [];
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    await new Promise<void>((resolve, reject) => {
      call.on('data', (message: { i: number }) => {
        got.push(message.i);
        // The server writes the next message only after this one arrived here: nothing was buffered to the end.
        delivered[message.i]?.();
      });
      call.on('end', resolve);
      call.on('error', reject);
    });
    expect(got).toEqual([0, 1, 2, 3]);
    expect((await status).code).toBe(grpc.status.OK);
  });

  it('a failing call keeps its status code and message (trailers-only response)', async () => {
    const error = await new Promise<grpc.ServiceError>((resolve) => client.fail({}, (e: grpc.ServiceError | null) => resolve(e!)));
    expect(error.code).toBe(grpc.status.NOT_FOUND);
    expect(error.details).toBe('no such thing: ünïcode and spaces');
  });

  it('a method the server does not implement is UNIMPLEMENTED (trailers-only response, grpc-status 12)', async () => {
    // Only the client knows `Missing`: the grpc-js server answers a single HEADERS frame with END_STREAM.
    const Client = grpc.makeGenericClientConstructor({ missing: method('Missing', false) }, 'Echo');
    const other = new Client(`127.0.0.1:${httpPort}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'app.example.com' }) as typeof client;
    try {
      const error = await new Promise<grpc.ServiceError>((resolve) => other.missing({ text: 'x' }, (e: grpc.ServiceError | null) => resolve(e!)));
      expect({ code: error.code, details: error.details }).toEqual({ code: grpc.status.UNIMPLEMENTED, details: expect.stringMatching(/Missing/) });
    } finally {
      other.close();
    }
  });

  it('an HTTP/1.1 client that sent TE: trailers gets the gRPC trailers in chunked encoding (RFC 9112 §7.1.2)', async () => {
    const message = serialize({ text: 'h1' });
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);
    const { status, trailers, body } = await new Promise<{ status: number; trailers: NodeJS.Dict<string>; body: Buffer }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: httpPort,
          method: 'POST',
          path: '/rhttp.test.Echo/Echo',
          headers: { host: 'app.example.com', 'content-type': 'application/grpc', te: 'trailers', 'content-length': frame.length },
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, trailers: res.trailers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(frame);
    });
    expect(status).toBe(200);
    expect(deserialize(body.subarray(5))).toEqual({ text: 'h1', reversed: '1h' });
    expect(trailers['grpc-status']).toBe('0');
  });
});

describe('gRPC trailers-only answer followed at once by RST_STREAM(NO_ERROR) (RFC 9113 §8.1)', () => {
  // grpc-js answers an unknown method as soon as the request's HEADERS arrive, then (one setImmediate
  // later) resets a request that is still open with NO_ERROR. This upstream does both in one tick, so
  // the two frames reach the agent together while the client still streams its request: the agent must
  // relay the answer, not reset the browser's stream (which grpc-js reports as UNAVAILABLE).
  let upstream: http2.Http2Server;
  let tunnel: { intermediary: Intermediary; agent: Agent; httpPort: number };
  let unimplemented: grpc.Client & Record<string, (...args: any[]) => any>;

  beforeAll(async () => {
    upstream = http2.createServer();
    upstream.on('stream', (stream, headers) => {
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-status': String(grpc.status.UNIMPLEMENTED), 'grpc-message': `The server does not implement the method ${headers[':path']}` },
        { endStream: true },
      );
      stream.close(http2.constants.NGHTTP2_NO_ERROR);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const ca = await createDevCa({ commonName: 'gRPC Test CA', days: 30 });
    const intermediaryCert = await issueCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const originCert = await issueCertificate(ca, { dnsNames: ['app.example.com'], extendedKeyUsage: ['serverAuth'] });
    const started = await startInProcessTunnel({ ca, intermediaryCert, originCert, origin: ORIGIN, upstream: `h2c://127.0.0.1:${(upstream.address() as { port: number }).port}` });
    tunnel = started;
    const Client = grpc.makeGenericClientConstructor({ missing: { ...method('Missing', false), requestStream: true } }, 'Echo');
    unimplemented = new Client(`127.0.0.1:${started.httpPort}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'app.example.com' }) as typeof unimplemented;
  });

  afterAll(async () => {
    unimplemented?.close();
    await tunnel?.agent.stop({ graceful: false });
    await tunnel?.intermediary.stop();
    await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
  });

  it('a client-streaming call still sending gets UNIMPLEMENTED and the message, not UNAVAILABLE', async () => {
    for (let i = 0; i < 3; i++) {
      const error = await new Promise<grpc.ServiceError>((resolve) => {
        const call = unimplemented.missing((e: grpc.ServiceError | null) => resolve(e!)) as grpc.ClientWritableStream<unknown>;
        call.write({ text: 'more to come' }); // and no end(): the request stays open
      });
      expect({ code: error.code, details: error.details }).toEqual({ code: grpc.status.UNIMPLEMENTED, details: 'The server does not implement the method /rhttp.test.Echo/Missing' });
    }
  });

  it('an HTTP/1.1 client still sending its body gets the trailers-only answer as response headers', async () => {
    for (let i = 0; i < 3; i++) {
      const { status, headers } = await new Promise<{ status: number; headers: NodeJS.Dict<string | string[]> }>((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port: tunnel.httpPort, method: 'POST', path: '/rhttp.test.Echo/Missing', headers: { host: 'app.example.com', 'content-type': 'application/grpc', te: 'trailers' }, agent: false },
          (res) => {
            res.resume();
            resolve({ status: res.statusCode ?? 0, headers: res.headers });
            req.destroy();
          },
        );
        req.on('error', reject);
        req.write(Buffer.from([0, 0, 0, 0, 2, 0x7b, 0x7d])); // one message, and no end()
      });
      expect({ status, grpcStatus: headers['grpc-status'] }).toEqual({ status: 200, grpcStatus: String(grpc.status.UNIMPLEMENTED) });
    }
  });
});
