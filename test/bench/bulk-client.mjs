// Bulk-transfer client for test/bench/core.mjs, on @rhttp/core (`--impl ours`) or node:http2
// (`--impl node`), against test/bench/bulk-server.mjs. Connects, runs one small warm-up transfer
// on the connection, then times one transfer of --bytes over one stream and prints
// {"bytes":N,"seconds":S} on stdout.
//
//   node test/bench/bulk-client.mjs --impl ours|node --url http://127.0.0.1:PORT --direction download|upload --bytes N
import http2 from 'node:http2';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { connectSocket } from '../../packages/core/dist/index.js';
import { BULK_CHUNK, NODE_CONNECTION_WINDOW, NODE_SETTINGS } from './bulk-settings.mjs';

const { values: args } = parseArgs({ options: { impl: { type: 'string' }, url: { type: 'string' }, direction: { type: 'string' }, bytes: { type: 'string' } } });
const total = Number(args.bytes);
const url = new URL(args.url);
const WARMUP_BYTES = 4 << 20;

function bodyStream(size) {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      const n = Math.min(BULK_CHUNK.length, size - sent);
      if (n <= 0) return controller.close();
      controller.enqueue(n === BULK_CHUNK.length ? BULK_CHUNK : BULK_CHUNK.subarray(0, n));
      sent += n;
    },
  });
}

async function oursClient() {
  const socket = net.connect({ host: url.hostname, port: Number(url.port) });
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.setNoDelay(true);
  const session = connectSocket(socket, { role: 'client' });
  const transfer = async (size) => {
    if (args.direction === 'download') {
      const response = await session.fetch(new URL(`/download?bytes=${size}`, url));
      let n = 0;
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        n += value.length;
      }
      return n;
    }
    const response = await session.fetch(new URL('/upload', url), { method: 'POST', body: bodyStream(size), duplex: 'half' });
    return Number(await response.text());
  };
  return { transfer, close: () => session.close() };
}

async function nodeClient() {
  const client = http2.connect(url.origin, { settings: NODE_SETTINGS });
  client.on('error', () => {});
  await new Promise((resolve, reject) => client.once('connect', resolve).once('error', reject));
  client.setLocalWindowSize(NODE_CONNECTION_WINDOW);
  const transfer = (size) =>
    new Promise((resolve, reject) => {
      const upload = args.direction === 'upload';
      const req = client.request(upload ? { ':method': 'POST', ':path': '/upload' } : { ':path': `/download?bytes=${size}` }, { endStream: !upload });
      req.on('error', reject);
      let n = 0;
      let text = '';
      req.on('data', (chunk) => {
        if (upload) text += chunk;
        else n += chunk.length;
      });
      req.on('end', () => resolve(upload ? Number(text) : n));
      if (upload) {
        let sent = 0;
        const write = () => {
          while (sent < size) {
            const k = Math.min(BULK_CHUNK.length, size - sent);
            sent += k;
            if (!req.write(k === BULK_CHUNK.length ? BULK_CHUNK : BULK_CHUNK.subarray(0, k))) {
              req.once('drain', write);
              return;
            }
          }
          req.end();
        };
        write();
      }
    });
  return { transfer, close: () => client.close() };
}

const client = args.impl === 'ours' ? await oursClient() : await nodeClient();
const warm = await client.transfer(WARMUP_BYTES);
if (warm !== WARMUP_BYTES) throw new Error(`warm-up moved ${warm} octets, expected ${WARMUP_BYTES}`);
const start = process.hrtime.bigint();
const moved = await client.transfer(total);
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
if (moved !== total) throw new Error(`moved ${moved} octets, expected ${total}`);
console.log(JSON.stringify({ bytes: moved, seconds }));
client.close();
setTimeout(() => process.exit(0), 100).unref();
