// Runs under Deno (deno run -A --unstable-net): an HTTP/3 client built from @rhttp/core (built
// packages/core/dist: connectQuic in the client role over Deno.connectQuic with ALPN h3), as a
// browser on the intermediary's --quic listener. GETs each URL on one connection and prints one
// JSON line per response: status, Alt-Svc, the body's length and SHA-256, and its text when short.
// Usage: h3-get.mjs PORT CA URL...
import { connectQuic } from '../../../packages/core/dist/index.js';

const [port, caPath, ...urls] = Deno.args;
const quic = await Deno.connectQuic({ hostname: '127.0.0.1', port: Number(port), serverName: 'localhost', alpnProtocols: ['h3'], caCerts: [Deno.readTextFileSync(caPath)] });
const session = connectQuic(quic, { role: 'client' });
await session.ready;
for (const url of urls) {
  const response = await session.fetch(url);
  const body = new Uint8Array(await response.arrayBuffer());
  const sha256 = [...new Uint8Array(await crypto.subtle.digest('SHA-256', body))].map((b) => b.toString(16).padStart(2, '0')).join('');
  console.log(JSON.stringify({ url, alpn: quic.protocol, status: response.status, altSvc: response.headers.get('alt-svc'), bytes: body.length, sha256, text: body.length <= 200 ? new TextDecoder().decode(body) : null }));
}
session.close();
await session.closed;
