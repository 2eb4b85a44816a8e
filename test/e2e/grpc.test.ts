/**
 * gRPC through the tunnel: a @grpc/grpc-js server as the agent's `h2c://` upstream, a grpc-js
 * client at the intermediary's cleartext (h2c) listener. Unary, server streaming (messages one by
 * one), and a failing call whose status and message travel in a trailers-only response.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import type { Intermediary } from '../../apps/intermediary/src/intermediary.js';
import type { Agent } from '../../packages/agent/src/agent.js';
import { startInProcessTunnel } from './in-process-tunnel.js';
import { createDevCa, issueCertificate } from '../../packages/agent/src/certs.js';

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
