// Bulk-transfer server for test/bench/core.mjs, on @rhttp/core (`--impl ours`) or node:http2
// (`--impl node`), h2c with prior knowledge. Both advertise the same windows and frame size.
//
//   GET  /download?bytes=N   → 200 with N octets of body, written in 64 KiB chunks
//   POST /upload             → reads the whole body, answers 200 with its length in octets
//
//   node test/bench/bulk-server.mjs --impl ours|node --port N
import http2 from 'node:http2';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { connectSocket } from '../../packages/core/dist/index.js';
import { BULK_CHUNK, NODE_CONNECTION_WINDOW, NODE_SETTINGS } from './bulk-settings.mjs';

const { values: args } = parseArgs({ options: { impl: { type: 'string' }, port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });

function listening(server) {
  console.log(`bulk-server (${args.impl}) listening on http://${args.host}:${server.address().port}`);
}

if (args.impl === 'ours') {
  const handler = async (request) => {
    const url = new URL(request.url);
    if (url.pathname === '/download') {
      const total = Number(url.searchParams.get('bytes'));
      let sent = 0;
      const body = new ReadableStream({
        pull(controller) {
          const n = Math.min(BULK_CHUNK.length, total - sent);
          if (n <= 0) return controller.close();
          controller.enqueue(n === BULK_CHUNK.length ? BULK_CHUNK : BULK_CHUNK.subarray(0, n));
          sent += n;
        },
      });
      return new Response(body, { status: 200, headers: { 'content-length': String(total) } });
    }
    let received = 0;
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.length;
    }
    return new Response(String(received));
  };
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    connectSocket(socket, { role: 'server', handler, onError: (e) => console.error(e) });
    socket.on('error', () => {});
  });
  server.listen(Number(args.port), args.host, () => listening(server));
} else if (args.impl === 'node') {
  const server = http2.createServer({ settings: NODE_SETTINGS });
  server.on('session', (session) => session.setLocalWindowSize(NODE_CONNECTION_WINDOW));
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const url = new URL(headers[':path'], 'http://x');
    if (url.pathname === '/download') {
      const total = Number(url.searchParams.get('bytes'));
      let sent = 0;
      stream.respond({ ':status': 200, 'content-length': String(total) });
      const write = () => {
        while (sent < total) {
          const n = Math.min(BULK_CHUNK.length, total - sent);
          sent += n;
          if (!stream.write(n === BULK_CHUNK.length ? BULK_CHUNK : BULK_CHUNK.subarray(0, n))) {
            stream.once('drain', write);
            return;
          }
        }
        stream.end();
      };
      write();
      stream.resume();
      return;
    }
    let received = 0;
    stream.on('data', (chunk) => (received += chunk.length));
    stream.on('end', () => {
      stream.respond({ ':status': 200 });
      stream.end(String(received));
    });
  });
  server.on('sessionError', () => {});
  server.listen(Number(args.port), args.host, () => listening(server));
} else {
  console.error('usage: bulk-server.mjs --impl ours|node --port N');
  process.exit(2);
}
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
