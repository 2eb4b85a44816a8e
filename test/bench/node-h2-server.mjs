// The node:http2 baseline of examples/src/h2-server.ts: the same work (200, echo the request body
// or "ok", content-type copied), on node's fastest server API (the 'stream' event, not the
// compatibility layer). Prints the same "listening on http://HOST:PORT" line.
//
//   node test/bench/node-h2-server.mjs --port N [--host 127.0.0.1]
import http2 from 'node:http2';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { port: { type: 'string', default: '8080' }, host: { type: 'string', default: '127.0.0.1' } } });

const server = http2.createServer();
server.on('stream', (stream, headers) => {
  const chunks = [];
  stream.on('data', (c) => chunks.push(c));
  stream.on('end', () => {
    const body = chunks.length > 0 ? Buffer.concat(chunks) : 'ok';
    if (stream.destroyed) return;
    stream.respond({ ':status': 200, 'content-type': headers['content-type'] ?? 'text/plain' });
    stream.end(body);
  });
  stream.on('error', () => {});
});
server.on('sessionError', () => {});
server.listen(Number(args.port), args.host, () => {
  console.log(`node-h2-server listening on http://${args.host}:${server.address().port} (h2c prior knowledge)`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
