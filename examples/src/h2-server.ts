#!/usr/bin/env node
/**
 * An HTTP/2 server built on @rhttp/core only: answers every request with 200 and echoes the
 * request body (or "ok" when it is empty). h2c with prior knowledge, or TLS with ALPN h2.
 * `--api fetch` (the default) answers with a Fetch API handler (Request in, Response out);
 * `--api fetch-fast` runs the same handler with FastResponse installed as the global Response
 * (`installFastResponse()`, opt-in: string and byte bodies skip the runtime's web stream);
 * `--api stream` does the same work on the low-level ServerStream API (`onStream`).
 *
 *   npm run example:h2-server -- --port 8080 [--host 127.0.0.1] [--tls --cert cert.pem --key key.pem] [--api fetch|fetch-fast|stream]
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { connectSocket, installFastResponse, type Handler, type Http2SessionOptions, type ServerStream } from '@rhttp/core';

const usage = 'usage: h2-server --port N [--host 127.0.0.1] [--tls --cert FILE --key FILE] [--api fetch|fetch-fast|stream]';
let args;
try {
  args = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      tls: { type: 'boolean', default: false },
      cert: { type: 'string' },
      key: { type: 'string' },
      api: { type: 'string', default: 'fetch' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`);
  process.exit(2);
}
if (args.help) {
  console.log(usage);
  process.exit(0);
}
const port = Number(args.port ?? 8080);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be a port number\n${usage}`);
  process.exit(2);
}

if (args.api !== 'fetch' && args.api !== 'fetch-fast' && args.api !== 'stream') {
  console.error(`--api must be fetch, fetch-fast or stream\n${usage}`);
  process.exit(2);
}
// From here on `new Response(…)` makes a FastResponse (the handler below is unchanged).
if (args.api === 'fetch-fast') installFastResponse();

const handler: Handler = async (request) => {
  const body = new Uint8Array(await request.arrayBuffer());
  return new Response(body.length > 0 ? body : 'ok', { status: 200, headers: { 'content-type': request.headers.get('content-type') ?? 'text/plain' } });
};

const OK = new TextEncoder().encode('ok');

/** The same answer on the low-level API: no Request, Response, Headers or ReadableStream made. */
const onStream = (stream: ServerStream) => {
  const answer = (body: Uint8Array) => {
    stream.respond(200, [['content-type', stream.header('content-type') ?? 'text/plain']]);
    void stream.end(body.length > 0 ? body : OK);
  };
  // A request that ended with its HEADERS (GET) has no body to wait for.
  if (stream.received) answer(new Uint8Array(0));
  else stream.bytes().then(answer, () => {});
};

const options: Http2SessionOptions = args.api === 'stream' ? { role: 'server', onStream, onError: () => {} } : { role: 'server', handler, onError: () => {} };

const serve = (socket: net.Socket) => {
  socket.setNoDelay(true);
  connectSocket(socket, options);
  socket.on('error', () => {});
};

let server: net.Server;
if (args.tls) {
  if (!args.cert || !args.key) {
    console.error(`--tls needs --cert and --key\n${usage}`);
    process.exit(2);
  }
  server = tls.createServer({ cert: readFileSync(args.cert), key: readFileSync(args.key), ALPNProtocols: ['h2'] }, serve);
} else {
  server = net.createServer(serve);
}
server.listen(port, args.host, () => {
  const address = server.address() as net.AddressInfo;
  console.log(`h2-server listening on ${args.tls ? 'https' : 'http'}://${args.host}:${address.port} (${args.tls ? 'TLS, ALPN h2' : 'h2c prior knowledge'}${args.api === 'stream' ? '; stream API' : args.api === 'fetch-fast' ? '; FastResponse as the global Response' : ''})`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
