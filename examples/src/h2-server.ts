#!/usr/bin/env node
/**
 * An HTTP/2 server built on @rhttp/core only: answers every request with 200 and echoes the
 * request body (or "ok" when it is empty). h2c with prior knowledge, or TLS with ALPN h2.
 *
 *   npm run example:h2-server -- --port 8080 [--host 127.0.0.1] [--tls --cert cert.pem --key key.pem]
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { connectSocket, type Handler } from '@rhttp/core';

const usage = 'usage: h2-server --port N [--host 127.0.0.1] [--tls --cert FILE --key FILE]';
let args;
try {
  args = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      tls: { type: 'boolean', default: false },
      cert: { type: 'string' },
      key: { type: 'string' },
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

const handler: Handler = async (request) => {
  const body = new Uint8Array(await request.arrayBuffer());
  return new Response(body.length > 0 ? body : 'ok', { status: 200, headers: { 'content-type': request.headers.get('content-type') ?? 'text/plain' } });
};

const serve = (socket: net.Socket) => {
  socket.setNoDelay(true);
  connectSocket(socket, { role: 'server', handler, onError: () => {} });
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
  console.log(`h2-server listening on ${args.tls ? 'https' : 'http'}://${args.host}:${address.port} (${args.tls ? 'TLS, ALPN h2' : 'h2c prior knowledge'})`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
