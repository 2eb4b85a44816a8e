/**
 * Issue 10, item 4: the agent reads from its upstream only as far as the stream's credit allows.
 * A browser (core's client over h2c, a 64 KiB stream window it never widens) asks for large
 * responses through a real intermediary and agent and never reads them. The upstream writes
 * 16 MiB each with backpressure. Once everything has stopped moving, the bytes the agent read from
 * each upstream socket are bounded by the windows on the way plus a little slack; the old agent
 * read 16 chunks (about 1 MiB) ahead per stream, whatever the windows said. Meanwhile another
 * request on the same browser connection completes; afterwards a stalled response, once read,
 * arrives whole, and resetting the others cancels their upstream requests.
 *
 * Bytes are counted where the agent takes them: `bytesRead` of the agent's upstream sockets (seen
 * through node's `net.client.socket` diagnostics channel). The upstream's own `bytesWritten` would
 * add the kernel's socket buffers (about 4 MB per loopback connection here), which hide the
 * difference.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSocket, type Http2Session } from '@rhttp/core';
import type { Intermediary } from '../../apps/intermediary/src/intermediary.js';
import type { Agent } from '../../packages/agent/src/agent.js';
import { createDevCa, issueCertificate } from '../../packages/node/src/certs.js';
import { startInProcessTunnel } from './in-process-tunnel.js';

const ORIGIN = 'https://app.example.com';
/** Size of each large response: far more than any window or socket buffer on the way. */
const BODY_BYTES = 16 << 20;
/** The upstream writes in chunks of this size, waiting for 'drain' when write() says so. */
const UPSTREAM_CHUNK = 64 * 1024;
/** Responses the browser asks for and never reads. */
const STALLED = 4;
/** The browser's stream window (SETTINGS_INITIAL_WINDOW_SIZE), never widened for unread streams. */
const BROWSER_STREAM_WINDOW = 65_535;
/**
 * Per stream, beyond the two stream windows: the intermediary's write buffer toward the browser
 * (node:http2, 16 KiB high-water mark plus a frame), the chunk the agent holds while HTTP/2 takes
 * it, and node's socket read buffer under it (one 64 KiB read plus the 16 KiB readable buffer).
 * A 16-chunk read-ahead alone is 1 MiB.
 */
const SLACK_PER_STREAM = 512 * 1024;

let upstream: Server;
let upstreamPort: number;
let intermediary: Intermediary;
let agent: Agent;
let httpPort: number;
/** The agent's sockets to the upstream, by the diagnostics channel. */
const agentUpstreamSockets: Socket[] = [];
const onClientSocket = (message: unknown) => agentUpstreamSockets.push((message as { socket: Socket }).socket);
/** Per large response: whether the upstream is waiting for 'drain', and whether the request closed early. */
const large = new Map<string, { waitingForDrain: boolean; closedEarly: Promise<boolean> }>();

function writeLarge(req: IncomingMessage, res: ServerResponse): void {
  const state = { waitingForDrain: false, closedEarly: new Promise<boolean>((resolve) => res.on('close', () => resolve(!res.writableFinished))) };
  large.set(req.url!, state);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BODY_BYTES) });
  const chunk = Buffer.alloc(UPSTREAM_CHUNK, 0x61);
  let written = 0;
  const pump = () => {
    state.waitingForDrain = false;
    while (written < BODY_BYTES) {
      written += chunk.length;
      const last = written >= BODY_BYTES;
      const more = last ? (res.end(chunk), true) : res.write(chunk);
      if (!more) {
        state.waitingForDrain = true;
        res.once('drain', pump);
        return;
      }
    }
  };
  pump();
}

beforeAll(async () => {
  const ca = await createDevCa({ commonName: 'Backpressure Test CA', days: 30 });
  const intermediaryCert = await issueCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const originCert = await issueCertificate(ca, { dnsNames: ['app.example.com'], extendedKeyUsage: ['serverAuth'] });
  upstream = createServer((req, res) => {
    if (req.url!.startsWith('/large/')) return writeLarge(req, res);
    res.end('small and quick\n');
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamPort = (upstream.address() as AddressInfo).port;
  subscribe('net.client.socket', onClientSocket);
  ({ intermediary, agent, httpPort } = await startInProcessTunnel({ ca, intermediaryCert, originCert, origin: ORIGIN, upstream: `http://127.0.0.1:${upstreamPort}` }));
});

afterAll(async () => {
  unsubscribe('net.client.socket', onClientSocket);
  await agent?.stop({ graceful: false });
  await intermediary?.stop();
  upstream?.closeAllConnections();
  await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
});

/** A browser: core's client role over h2c to the intermediary's cleartext listener. */
async function openBrowser(): Promise<{ session: Http2Session; socket: Socket }> {
  const socket = netConnect(httpPort, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const session = connectSocket(socket, { role: 'client', settings: { initialWindowSize: BROWSER_STREAM_WINDOW } });
  return { session, socket };
}

/** Bytes the agent has read from the upstream, per upstream socket (remote port = the upstream's). */
function agentReadPerSocket(): number[] {
  return agentUpstreamSockets.filter((s) => s.remotePort === upstreamPort).map((s) => s.bytesRead);
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Waits until `done()` holds and the agent's reads have not moved for a while (nothing can move: every window is full). */
async function untilStill(done: () => boolean): Promise<void> {
  let last = -1;
  let still = 0;
  for (let polls = 0; polls < 2_000 && still < 25; polls++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const now = sum(agentReadPerSocket());
    still = done() && now === last ? still + 1 : 0;
    last = now;
  }
}

describe('the agent reads from its upstream only as far as the stream window allows (issue 10, item 4)', () => {
  it('holds a bounded number of bytes per never-read stream, serves others meanwhile, resumes and cancels', async () => {
    const { session, socket } = await openBrowser();
    try {
      const responses = await Promise.all(Array.from({ length: STALLED }, (_, i) => session.fetch(`${ORIGIN}/large/${i}`)));
      for (const r of responses) expect(r.status).toBe(200);
      // Every upstream is blocked on 'drain' and nothing moves any more.
      await untilStill(() => large.size === STALLED && [...large.values()].every((s) => s.waitingForDrain));
      expect([...large.values()].every((s) => s.waitingForDrain)).toBe(true);

      // The agent sees the intermediary's stream window in its session's remote SETTINGS.
      const intermediaryStreamWindow = (agent as unknown as { supervisor: { slots: { session?: Http2Session }[] } }).supervisor.slots[0].session!.connection.remote.initialWindowSize;
      const bound = BROWSER_STREAM_WINDOW + intermediaryStreamWindow + SLACK_PER_STREAM;
      const perSocket = agentReadPerSocket();
      expect(perSocket.length).toBe(STALLED);
      // Each stalled stream got at least what the windows take, and no more than they allow.
      for (const n of perSocket) {
        expect(n).toBeGreaterThan(BROWSER_STREAM_WINDOW);
        expect(n).toBeLessThanOrEqual(bound);
      }

      // The same browser connection still gets other answers.
      const small = await session.fetch(`${ORIGIN}/small`);
      expect(await small.text()).toBe('small and quick\n');

      // A stalled response, read now, arrives whole: the paused upstream socket resumes.
      const body = new Uint8Array(await responses[0].arrayBuffer());
      expect(body.length).toBe(BODY_BYTES);
      expect(body.every((b) => b === 0x61)).toBe(true);
      expect(await large.get('/large/0')!.closedEarly).toBe(false);

      // Resetting the others cancels their upstream requests.
      for (const r of responses.slice(1)) await r.body!.cancel();
      for (let i = 1; i < STALLED; i++) expect(await large.get(`/large/${i}`)!.closedEarly).toBe(true);
    } finally {
      session.close();
      socket.destroy();
    }
  });
});
