// The upstream app of bench:tunnel, in its own process. One handler, served over HTTP/1.1
// (node:http, keep-alive: what the agent and nginx forward to) or with --h2c over HTTP/2 prior
// knowledge (node:http2, so h2load can reach the same handler directly).
//
//   node test/bench/tunnel-upstream.mjs [--h2c] [--port 0]     prints "listening on http://127.0.0.1:PORT"
//
//   GET  /               a fixed 1 KiB body
//   GET  /bulk?bytes=N   N bytes (64 KiB chunks, paced by backpressure)
//   PUT  /upload         reads the body and answers with its length
import http from 'node:http';
import http2 from 'node:http2';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { h2c: { type: 'boolean' }, port: { type: 'string', default: '0' } } });

const SMALL = Buffer.alloc(1024, 0x61);
/** Bulk bodies go out in chunks of this size (one HTTP/2 DATA frame's worth at our 64 KiB frames). */
const CHUNK = Buffer.alloc(64 * 1024, 0x62);

/** @param {http.IncomingMessage | http2.Http2ServerRequest} req @param {http.ServerResponse | http2.Http2ServerResponse} res */
function handle(req, res) {
  const url = new URL(req.url ?? '/', 'http://upstream');
  if (url.pathname === '/bulk') {
    let left = Number(url.searchParams.get('bytes') ?? 0);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(left) });
    const pump = () => {
      while (left > 0) {
        const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
        left -= chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
    return;
  }
  if (url.pathname === '/upload') {
    let n = 0;
    req.on('data', (c) => (n += c.length));
    req.on('end', () => {
      const body = `${n}\n`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length) });
      res.end(body);
    });
    return;
  }
  req.resume();
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(SMALL.length) });
  res.end(SMALL);
}

const server = values.h2c ? http2.createServer({}, handle) : http.createServer({ keepAliveTimeout: 60_000 }, handle);
server.listen(Number(values.port), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
