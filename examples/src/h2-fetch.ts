#!/usr/bin/env node
/**
 * Fetch a URL with the @rhttp/core HTTP/2 client: h2c prior knowledge for http:, TLS with ALPN h2
 * for https:. Prints the status and the body; exits 0 on 2xx, 1 on any other status, 2 on a
 * usage error and 3 on a connection or protocol error, within a few seconds.
 *
 *   npm run example:h2-fetch -- http://127.0.0.1:8080/ [-X POST] [-d DATA] [--ca ca.pem | -k]
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { connectSocket } from '@rhttp/core';

const usage = 'usage: h2-fetch URL [-X METHOD] [-d DATA] [--ca FILE] [-k] [--timeout SECONDS]';
let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      request: { type: 'string', short: 'X' },
      data: { type: 'string', short: 'd' },
      ca: { type: 'string' },
      insecure: { type: 'boolean', short: 'k', default: false },
      timeout: { type: 'string', default: '5' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`);
  process.exit(2);
}
const { values, positionals } = parsed;
if (values.help) {
  console.log(usage);
  process.exit(0);
}
if (positionals.length !== 1) {
  console.error(usage);
  process.exit(2);
}
let url: URL;
try {
  url = new URL(positionals[0]);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('only http: and https: URLs');
} catch (error) {
  console.error(`bad URL ${positionals[0]}: ${(error as Error).message}`);
  process.exit(2);
}
const method = values.request ?? (values.data !== undefined ? 'POST' : 'GET');
const timeoutMs = Number(values.timeout) * 1000;

const timer = setTimeout(() => {
  console.error(`error: no complete response within ${values.timeout} s`);
  process.exit(3);
}, timeoutMs);

async function main(): Promise<number> {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    if (url.protocol === 'https:') {
      const s = tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ALPNProtocols: ['h2'], ca: values.ca ? readFileSync(values.ca) : undefined, rejectUnauthorized: !values.insecure }, () => {
        if (s.alpnProtocol !== 'h2') reject(new Error(`the server did not agree to HTTP/2 (ALPN: ${s.alpnProtocol || 'none'})`));
        else resolve(s);
      });
      s.once('error', reject);
    } else {
      const s = net.connect({ host, port }, () => resolve(s));
      s.once('error', reject);
    }
  });
  socket.setNoDelay(true);
  const session = connectSocket(socket, { role: 'client' });
  const response = await session.fetch(url, { method, body: values.data, headers: values.data !== undefined ? { 'content-type': 'text/plain' } : undefined });
  const body = await response.text();
  console.log(`${response.status}`);
  process.stdout.write(body.endsWith('\n') || body.length === 0 ? body : `${body}\n`);
  session.goaway();
  return response.status >= 200 && response.status < 300 ? 0 : 1;
}

main().then(
  (code) => {
    clearTimeout(timer);
    process.exitCode = code;
    setTimeout(() => process.exit(code), 100).unref();
  },
  (error) => {
    console.error(`error: ${(error as Error).message}`);
    process.exit(3);
  },
);
