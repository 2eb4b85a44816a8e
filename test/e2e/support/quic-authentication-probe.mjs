// Runs under Deno (deno run -A --unstable-net): the agent's QUIC dial (built
// packages/agent/dist/carriers/quic.js) against the intermediary's QUIC listener
// (apps/intermediary/dist/quic-listener.js), and rhttp's in-band authentication between them with
// the broker's QuicAgentAuthentication feeding an AgentAdmission, without the HTTP/3 engine (which
// carries RHTTP_CHALLENGE / RHTTP_AUTHENTICATE on its control streams: test/e2e/h3-reverse.test.ts).
// Here the two payloads travel on one server-initiated bidirectional stream: the bytes and the
// checks are the real ones.
// Prints one JSON line per agent certificate tried.
// Usage: quic-authentication-probe.mjs INTERMEDIARY_CERT INTERMEDIARY_KEY CA ORIGIN (CERT KEY)...
import { listenQuic } from '../../../apps/intermediary/dist/quic-listener.js';
import { dialQuic } from '../../../packages/agent/dist/carriers/quic.js';
import { AgentAdmission, QuicAgentAuthentication } from '../../../packages/broker/dist/index.js';
import { RHTTP_AUTHENTICATE_FRAME } from '../../../packages/core/dist/index.js';

const [intermediaryCert, intermediaryKey, caPath, origin, ...agentFiles] = Deno.args;
const read = (p) => Deno.readTextFileSync(p);
const ca = read(caPath);

/** Every byte of a stream's readable side, once the peer ended it. */
async function readAll(readable) {
  return new Uint8Array(await new Response(readable).arrayBuffer());
}

async function send(writable, bytes) {
  const writer = writable.getWriter();
  await writer.write(bytes);
  await writer.close();
}

let onDecision;
const listener = listenQuic({
  address: { host: '127.0.0.1', port: 0 },
  cert: read(intermediaryCert),
  key: read(intermediaryKey),
  onAgent: async (quic) => {
    const decision = {};
    const admission = new AgentAdmission({
      authorize: (origins) => (decision.authorized = [...origins]),
      originsChanged: () => {},
      refuse: (refusal) => (decision.refused = { kind: refusal.kind, reason: refusal.reason }),
    });
    const auth = new QuicAgentAuthentication(admission, { trustAnchors: ca });
    const stream = await quic.createBidirectionalStream();
    await send(stream.writable, auth.challenge);
    auth.receiveControlFrame(RHTTP_AUTHENTICATE_FRAME, await readAll(stream.readable));
    await auth.settled;
    admission.receiveOrigins([origin]);
    decision.authentication = auth.state;
    auth.closed();
    admission.closed();
    quic.close({ closeCode: 0x100, reason: 'probe done' });
    onDecision(decision);
  },
  onBrowser: (quic) => quic.close({ closeCode: 0x100, reason: 'probe' }),
});

for (let i = 0; i < agentFiles.length; i += 2) {
  const decided = new Promise((resolve) => (onDecision = resolve));
  const carrier = await dialQuic(
    { host: '127.0.0.1', port: listener.address.port, servername: 'localhost' },
    { certChainPem: read(agentFiles[i]), keyPem: read(agentFiles[i + 1]), ca, connectTimeoutMs: 10_000 },
    new AbortController().signal,
  );
  const reader = carrier.quic.incomingBidirectionalStreams.getReader();
  const { value: stream } = await reader.read();
  const challenge = await readAll(stream.readable);
  await send(stream.writable, await carrier.answerChallenge(challenge));
  const decision = await decided;
  console.log(JSON.stringify({ agent: agentFiles[i], alpn: carrier.alpnProtocol, protocol: carrier.protocol, challengeLength: challenge.length, ...decision }));
  carrier.destroy();
}
listener.close();
Deno.exit(0);
