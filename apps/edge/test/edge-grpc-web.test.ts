/**
 * gRPC-Web through the edge in local workerd: Connect's gRPC-Web transport (HTTP/1.1) → the edge
 * (a Worker, whose Response cannot send trailers) → a real agent on the WebSocket carrier, which
 * translates to gRPC for its `h2c://` upstream, a @grpc/grpc-js server. gRPC proper cannot cross
 * the edge; gRPC-Web is an ordinary HTTP exchange there.
 */
import * as http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { Agent } from '../../../packages/agent/src/agent.js';
import { EchoReply, EchoRequest, grpcWebClient, grpcWebErrorCases, startEchoServer, type EchoServer } from '../../../test/support/grpc-web-service.js';
import { browser, startEdgeWithAgent, type LocalEdge } from './harness.js';

const HOST = 'grpc.example.com';

let edge: LocalEdge;
let agent: Agent;
let echo: EchoServer;
let client: any;
const httpAgent = new http.Agent({ keepAlive: true });

beforeAll(async () => {
  echo = await startEchoServer();
  ({ edge, agent } = await startEdgeWithAgent(HOST, `h2c://127.0.0.1:${echo.port}`));
  ({ client } = grpcWebClient(edge.url, HOST, httpAgent));
});

afterAll(async () => {
  httpAgent.destroy();
  await agent?.stop({ graceful: false });
  await edge?.close();
  echo?.server.forceShutdown();
});

describe('gRPC-Web through the edge (local workerd), translated in the agent', () => {
  it('a unary call returns its message (the trailers came as the final gRPC-Web frame)', async () => {
    const reply = await client.echo({ text: 'edge' });
    expect({ text: reply.text, reversed: reply.reversed }).toEqual({ text: 'edge', reversed: 'egde' });
  });

  it('a server-streaming call delivers messages one by one through the Worker', async () => {
    const got: number[] = [];
    for await (const message of client.count({ n: 3 })) {
      got.push(message.i);
      expect(echo.written()).toBe(got.length);
      echo.delivered(message.i);
    }
    expect(got).toEqual([0, 1, 2]);
  });

  grpcWebErrorCases(() => client);

  it('application/grpc-web-text: base64 both ways through the Worker, the trailer frame last', async () => {
    const message = toBinary(EchoRequest, create(EchoRequest, { text: 'text ✓' }));
    const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);
    const response = await browser(edge, HOST, '/rhttp.test.Echo/Echo', {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web-text', accept: 'application/grpc-web-text' },
      body: Buffer.from(framed.toString('base64')),
    });
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/grpc-web-text+proto');
    expect(response.headers['access-control-expose-headers']).toMatch(/grpc-status, grpc-message/);
    const text = (await response.bytes()).toString('latin1');
    expect(text).toMatch(/^[A-Za-z0-9+/=]+$/);
    // Each chunk is padded on its own: decode quantum by quantum.
    const body = Buffer.concat((text.match(/.{4}/g) ?? []).map((q) => Buffer.from(q, 'base64')));
    const dataLength = body.readUInt32BE(1);
    expect(body[0]).toBe(0);
    expect((fromBinary(EchoReply, body.subarray(5, 5 + dataLength)) as any).reversed).toBe([...'text ✓'].reverse().join(''));
    const trailer = body.subarray(5 + dataLength);
    expect(trailer[0]).toBe(0x80);
    expect(trailer.readUInt32BE(1)).toBe(trailer.length - 5);
    expect(trailer.subarray(5).toString('latin1')).toMatch(/^grpc-status: 0\r\n/m);
  });
});
