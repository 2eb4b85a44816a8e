/**
 * The gRPC-Web tests' service without protoc: its descriptors built at runtime (a
 * FileDescriptorProto through `createFileRegistry`), a @grpc/grpc-js server whose
 * serialize/deserialize are `toBinary`/`fromBinary`, and a Connect client over the gRPC-Web
 * transport. `Missing` is declared but not implemented by the server.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { create, createFileRegistry, fromBinary, toBinary, type DescMessage, type DescService } from '@bufbuild/protobuf';
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type, FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, type Transport } from '@connectrpc/connect';
import { expect, it } from 'vitest';
import { Http2SessionManager, createGrpcWebTransport } from '@connectrpc/connect-node';

const field = (name: string, number: number, type: FieldDescriptorProto_Type) => ({ name, number, type, label: FieldDescriptorProto_Label.OPTIONAL, jsonName: name });
const method = (name: string, input: string, output: string, serverStreaming = false) => ({ name, inputType: `.rhttp.test.${input}`, outputType: `.rhttp.test.${output}`, serverStreaming });

const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: 'rhttp/test/echo.proto',
    package: 'rhttp.test',
    syntax: 'proto3',
    messageType: [
      { name: 'EchoRequest', field: [field('text', 1, FieldDescriptorProto_Type.STRING)] },
      { name: 'EchoReply', field: [field('text', 1, FieldDescriptorProto_Type.STRING), field('reversed', 2, FieldDescriptorProto_Type.STRING)] },
      { name: 'CountRequest', field: [field('n', 1, FieldDescriptorProto_Type.INT32)] },
      { name: 'CountReply', field: [field('i', 1, FieldDescriptorProto_Type.INT32)] },
    ],
    service: [
      {
        name: 'Echo',
        method: [
          method('Echo', 'EchoRequest', 'EchoReply'),
          method('Count', 'CountRequest', 'CountReply', true),
          method('Fail', 'EchoRequest', 'EchoReply'),
          method('Missing', 'EchoRequest', 'EchoReply'),
        ],
      },
    ],
  }),
  () => undefined,
);

const message = (name: string): DescMessage => registry.getMessage(`rhttp.test.${name}`)!;
export const EchoService: DescService = registry.getService('rhttp.test.Echo')!;
export const EchoRequest = message('EchoRequest');
export const EchoReply = message('EchoReply');
export const CountRequest = message('CountRequest');
export const CountReply = message('CountReply');

/** The non-ASCII status message the `Fail` method answers with (gRPC percent-encodes it on the wire). */
export const FAIL_MESSAGE = 'ünïcode ✓ and spaces';

/** grpc-js method definitions from the runtime descriptors; only the server's are listed. */
function grpcMethod(name: string, input: DescMessage, output: DescMessage, responseStream: boolean): grpc.MethodDefinition<any, any> {
  return {
    path: `/rhttp.test.Echo/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: (value: any) => Buffer.from(toBinary(input, create(input, value))),
    requestDeserialize: (bytes: Buffer) => fromBinary(input, bytes),
    responseSerialize: (value: any) => Buffer.from(toBinary(output, create(output, value))),
    responseDeserialize: (bytes: Buffer) => fromBinary(output, bytes),
  };
}

export interface EchoServer {
  server: grpc.Server;
  port: number;
  /** Resolve `delivered(i)` once the client saw message i of `Count`: the server writes i + 1 only then. */
  delivered(i: number): void;
  /** How many messages the current `Count` call has written so far. */
  written(): number;
  /** How many `Count` calls the server saw cancelled by the client. */
  cancelled(): number;
  /** The metadata of the last `Echo` call. */
  lastMetadata(): grpc.Metadata | undefined;
}

/** A grpc-js server for `Echo`, `Count` and `Fail` (not `Missing`) on 127.0.0.1. */
export async function startEchoServer(): Promise<EchoServer> {
  const server = new grpc.Server();
  let seen: Array<() => void> = [];
  let waits: Array<Promise<void>> = [];
  const waitFor = (i: number) => (waits[i] ??= new Promise<void>((resolve) => (seen[i] = resolve)));
  let written = 0;
  let cancelled = 0;
  let metadata: grpc.Metadata | undefined;
  server.addService(
    {
      echo: grpcMethod('Echo', EchoRequest, EchoReply, false),
      count: grpcMethod('Count', CountRequest, CountReply, true),
      fail: grpcMethod('Fail', EchoRequest, EchoReply, false),
    },
    {
      echo: (call: grpc.ServerUnaryCall<{ text: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        metadata = call.metadata;
        callback(null, { text: call.request.text, reversed: [...call.request.text].reverse().join('') });
      },
      count: async (call: grpc.ServerWritableStream<{ n: number }, unknown>) => {
        // One streaming call at a time: its messages count from 0 again.
        seen = [];
        waits = [];
        written = 0;
        call.on('cancelled', () => cancelled++);
        for (let i = 0; i < call.request.n; i++) {
          call.write({ i });
          written++;
          await waitFor(i);
        }
        call.end();
      },
      fail: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
        callback({ code: grpc.status.NOT_FOUND, details: FAIL_MESSAGE });
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
  );
  return {
    server,
    port,
    delivered: (i) => {
      void waitFor(i);
      seen[i]();
    },
    written: () => written,
    cancelled: () => cancelled,
    lastMetadata: () => metadata,
  };
}

/** A Connect client on the gRPC-Web transport (HTTP/1.1, binary proto) to `baseUrl`, with Host `host`. */
export function grpcWebClient(baseUrl: string, host: string, agent: http.Agent): { client: any; transport: Transport } {
  const transport = createGrpcWebTransport({ baseUrl, httpVersion: '1.1', nodeOptions: { agent, headers: { host } } });
  return { client: createClient(EchoService, transport), transport };
}

/**
 * The same client over HTTP/2 with prior knowledge (h2c) to 127.0.0.1:`port`, with `:authority`
 * `host` (the URL names the origin; the connection goes to the intermediary). Close it with `abort()`.
 */
export function grpcWebClientH2(host: string, port: number): { client: any; sessions: Http2SessionManager } {
  const sessions = new Http2SessionManager(`http://${host}`, undefined, { createConnection: () => net.connect(port, '127.0.0.1') });
  const transport = createGrpcWebTransport({ baseUrl: `http://${host}`, httpVersion: '2', sessionManager: sessions });
  return { client: createClient(EchoService, transport), sessions };
}

/**
 * The error cases every gRPC-Web path must keep (the Node intermediary over HTTP/1.1, the edge):
 * a method the server lacks is UNIMPLEMENTED, and a grpc-message with non-ASCII text arrives
 * intact. `client` is read when the cases run (it is made in the caller's beforeAll).
 */
export function grpcWebErrorCases(client: () => any): void {
  const callError = (call: Promise<unknown>) => call.then(() => undefined, (e: unknown) => e as ConnectError);

  it('a method the server does not implement is UNIMPLEMENTED (trailers-only, status in the response headers)', async () => {
    const error = await callError(client().missing({ text: 'x' }));
    expect(error).toBeInstanceOf(ConnectError);
    expect({ code: error?.code, message: error?.rawMessage }).toEqual({ code: Code.Unimplemented, message: expect.stringMatching(/Missing/) });
  });

  it('a grpc-message with non-ASCII text arrives intact in the ConnectError', async () => {
    const error = await callError(client().fail({ text: 'x' }));
    expect(error).toBeInstanceOf(ConnectError);
    expect({ code: error?.code, message: error?.rawMessage }).toEqual({ code: Code.NotFound, message: FAIL_MESSAGE });
  });
}
