// Runs under Deno (deno run -A --unstable-net): the intermediary's QUIC listener (built
// apps/intermediary/dist/quic-listener.js) and three Deno QUIC clients offering h3-reverse, h3
// and an ALPN it does not serve. Prints one JSON line of what each side saw; the test asserts it.
// Usage: quic-listener-probe.mjs CERT KEY CA
import { listenQuic } from '../../../apps/intermediary/dist/quic-listener.js';

const [certPath, keyPath, caPath] = Deno.args;
const cert = Deno.readTextFileSync(certPath);
const key = Deno.readTextFileSync(keyPath);
const ca = Deno.readTextFileSync(caPath);
const seen = { agents: [], browsers: [], refused: [] };
const REQUEST = 'GET / on a server-initiated bidirectional stream';

const listener = listenQuic({
  address: { host: '127.0.0.1', port: 0 },
  cert,
  key,
  onAgent: async (quic, from) => {
    seen.agents.push({ from });
    // h3-reverse: the intermediary (QUIC server) sends requests on streams it opens.
    const stream = await quic.createBidirectionalStream();
    const writer = stream.writable.getWriter();
    await writer.write(new TextEncoder().encode(REQUEST));
    await writer.close();
  },
  onBrowser: (quic, from) => {
    seen.browsers.push({ from });
    quic.close({ closeCode: 0x100, reason: 'probe' });
  },
  onRefused: (from, kind, reason) => seen.refused.push({ from, kind, reason }),
});

async function dial(alpn) {
  try {
    const conn = await Deno.connectQuic({ hostname: '127.0.0.1', port: listener.address.port, serverName: 'localhost', alpnProtocols: [alpn], caCerts: [ca] });
    return { ok: true, conn, protocol: conn.protocol };
  } catch (error) {
    return { ok: false, error: String(error) };
  }
}

const out = { port: listener.address.port };
const agent = await dial('h3-reverse');
out.agent = { ok: agent.ok, protocol: agent.protocol, error: agent.error };
if (agent.ok) {
  const reader = agent.conn.incomingBidirectionalStreams.getReader();
  const { value: stream } = await reader.read();
  // Deno: read the id at once; it throws once the stream is closed.
  const id = stream.readable.id;
  let text = '';
  for await (const chunk of stream.readable) text += new TextDecoder().decode(chunk);
  out.agent.streamId = id === undefined ? null : Number(id);
  out.agent.request = text;
  agent.conn.close({ closeCode: 0x100, reason: 'probe done' });
}
const browser = await dial('h3');
out.browser = { ok: browser.ok, protocol: browser.protocol, error: browser.error };
const other = await dial('http/1.1');
out.other = { ok: other.ok, error: other.error };
if (other.ok) other.conn.close({ closeCode: 0x100, reason: 'probe' });
// The server side of the refused handshake reports on its own schedule: wait for it, bounded.
for (let i = 0; i < 100 && seen.refused.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
out.seen = seen;
out.connectionsAfter = listener.connections;
listener.close();
console.log(JSON.stringify(out));
Deno.exit(0);
