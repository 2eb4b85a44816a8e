/**
 * The supervisor sees a connection only as a Carrier: these tests give it carriers it has never
 * heard of (plain TCP on 127.0.0.1, scripted dials) and check what it does with them.
 */
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { admissionPing, connectSocket, type Http2Session } from '@rhttp/core';
import { DEFAULT_BACKOFF } from '../src/backoff.js';
import { CarrierDialError, type Carrier, type Dial, type DialCarrier } from '../src/carrier.js';
import { Supervisor, type SupervisorOptions } from '../src/supervisor.js';
import { EventLog } from './intermediary-peer.js';

const ORIGIN = 'https://app.example.com';
/** Long enough that no test sees a second attempt unless it asks for one. */
const REFUSED_MS = 60_000;

/** A carrier over a plain TCP socket: what a runtime without TLS sockets might hand the supervisor. */
function tcpCarrier(socket: net.Socket, dial: Dial): Carrier {
  let error: Error | undefined;
  socket.on('error', (e) => {
    error ??= e;
  });
  return {
    socket,
    alpnProtocol: 'h2-reverse',
    protocol: 'TCP',
    peer: { host: dial.host, port: dial.port },
    get error() {
      return error;
    },
    destroy: (e) => socket.destroy(e),
  };
}

const dialTcp: DialCarrier = (dial) =>
  new Promise((resolve, reject) => {
    const socket = net.connect(dial.port, dial.host);
    socket.once('connect', () => resolve(tcpCarrier(socket, dial)));
    socket.once('error', (e) => reject(new CarrierDialError(e.message, { refused: false, unreached: true, cause: e })));
  });

/** The intermediary's side over TCP: our engine in the client role, admitting every agent. */
async function tcpIntermediary(): Promise<{ port: number; next: () => Promise<{ socket: net.Socket; session: Http2Session; origins: Promise<string[]> }>; close: () => Promise<void> }> {
  const arrivals: Array<{ socket: net.Socket; session: Http2Session; origins: Promise<string[]> }> = [];
  const waiting: Array<(c: (typeof arrivals)[number]) => void> = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let resolveOrigins!: (o: string[]) => void;
    const origins = new Promise<string[]>((r) => (resolveOrigins = r));
    const session = connectSocket(socket, {
      role: 'client',
      onOrigin: (all) => {
        resolveOrigins([...all]);
        session.ping(admissionPing()).catch(() => {});
      },
    });
    const c = { socket, session, origins };
    const w = waiting.shift();
    if (w) w(c);
    else arrivals.push(c);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    next: () => {
      const c = arrivals.shift();
      return c ? Promise.resolve(c) : new Promise((r) => waiting.push(r));
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function supervisor(events: EventLog, options: Partial<SupervisorOptions> & Pick<SupervisorOptions, 'dial'>): Supervisor {
  return new Supervisor({
    origins: [ORIGIN],
    connectionsPerEndpoint: 1,
    handle: (request) => new Response(`answered ${new URL(request.url).pathname}`),
    emit: events.log,
    backoff: { ...DEFAULT_BACKOFF, refusedMs: REFUSED_MS },
    ...options,
  });
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('Supervisor over a Carrier', () => {
  it('runs the HTTP/2 server session over any carrier: ORIGIN first, requests answered, the carrier protocol in "connected"', async () => {
    const intermediary = await tcpIntermediary();
    cleanups.push(() => intermediary.close());
    const events = new EventLog();
    const fixed: Dial = { carrier: 'tls', host: '127.0.0.1', port: intermediary.port, label: 'tcp://test' };
    const s = supervisor(events, { dial: dialTcp, fixed });
    s.start();
    const peer = await intermediary.next();
    expect(await peer.origins).toEqual([ORIGIN]);
    const connected = await events.waitFor('connected');
    expect(connected).toMatchObject({ connection: 1, endpoint: 'tcp://test', intermediary: 'tcp://test', tlsVersion: 'TCP', origins: [ORIGIN] });
    expect(connected.unconfirmed).toBeUndefined();
    const res = await peer.session.fetch(`${ORIGIN}/hello`);
    expect(await res.text()).toBe('answered /hello');
    expect(s.endpointStatus()).toEqual([{ endpoint: 'tcp://test', dials: ['tcp://test'], connected: 1, connections: 1, requests: 1 }]);
    await s.stop(true, 5_000);
    expect(events.count('draining')).toBe(1);
    expect(s.connectionStatus().map((c) => c.state)).toEqual(['stopped']);
  });

  it('describes a carrier that failed after connecting with its error and peer (a reset)', async () => {
    const intermediary = await tcpIntermediary();
    cleanups.push(() => intermediary.close());
    const events = new EventLog();
    const fixed: Dial = { carrier: 'tls', host: '127.0.0.1', port: intermediary.port, label: 'tcp://test' };
    const s = supervisor(events, { dial: dialTcp, fixed });
    cleanups.push(() => s.stop(false, 0));
    s.start();
    const peer = await intermediary.next();
    await events.waitFor('connected');
    peer.socket.resetAndDestroy();
    const disconnected = await events.waitFor('disconnected');
    expect(disconnected.reason).toBe('the intermediary reset the connection');
    expect(s.connectionStatus()[0].lastError).toBe('the intermediary reset the connection');
  });

  it("moves to a discovered endpoint's next address at once when one is unreached, and waits the refusal delay after a refusal", async () => {
    const events = new EventLog();
    const dialed: Dial[] = [];
    const dial: DialCarrier = async (d) => {
      dialed.push(d);
      if (d.host === '192.0.2.1') throw new CarrierDialError('nothing accepts connections at 192.0.2.1:8443', { refused: false, unreached: true });
      throw new CarrierDialError('the intermediary did not agree to h2-reverse', { refused: true, unreached: false });
    };
    // One ServiceMode record with two address hints: two alternatives for one endpoint.
    const endpoint = { target: 'proxy.example.net', port: 8443, alpn: ['h2-reverse'], carrier: 'tls', addresses: ['192.0.2.1', '192.0.2.2'], priority: 1, url: 'tls://proxy.example.net:8443' };
    const found = { name: 'proxy.example.net.', query: '_http-reverse.proxy.example.net.', aliases: [], records: [{ ttl: 300 }], endpoints: [endpoint], skipped: [] };
    const s = supervisor(events, { dial, discovery: { name: 'proxy.example.net', lookup: async () => found as never } });
    s.start();
    const reconnecting = await events.waitFor('reconnecting');
    expect(dialed.map((d) => [d.host, d.servername, d.label])).toEqual([
      ['192.0.2.1', 'proxy.example.net', 'tls://proxy.example.net:8443 (192.0.2.1)'],
      ['192.0.2.2', 'proxy.example.net', 'tls://proxy.example.net:8443 (192.0.2.2)'],
    ]);
    expect(events.events.map((e) => e.type)).toEqual(['discovered', 'connecting', 'connect-failed', 'connecting', 'refused', 'reconnecting']);
    expect(reconnecting.delayMs).toBe(REFUSED_MS);
    expect(s.connectionStatus()[0]).toMatchObject({ endpoint: 'tls://proxy.example.net:8443', state: 'waiting', failures: 1, lastError: 'the intermediary did not agree to h2-reverse' });
    await s.stop(false, 0);
    expect(dialed).toHaveLength(2);
  });

  it('a record listing h3-reverse and h2-reverse is one endpoint: QUIC at each address first, then TLS as its fallback', async () => {
    const events = new EventLog();
    const dialed: Dial[] = [];
    const dial: DialCarrier = async (d) => {
      dialed.push(d);
      if (d.carrier === 'quic') throw new CarrierDialError(`the QUIC handshake with ${d.host}:8443 timed out`, { refused: false, unreached: true });
      throw new CarrierDialError('the intermediary did not agree to h2-reverse', { refused: true, unreached: false });
    };
    // What discovery gives an agent with QUIC for `alpn=h2-reverse,h3-reverse port=8443 ipv4hint=…,…`.
    const common = { target: 'proxy.example.net', port: 8443, alpn: ['h2-reverse', 'h3-reverse'], addresses: ['192.0.2.1', '192.0.2.2'], priority: 1 };
    const endpoints = [
      { ...common, carrier: 'quic', url: 'quic://proxy.example.net:8443' },
      { ...common, carrier: 'tls', url: 'tls://proxy.example.net:8443' },
    ];
    const found = { name: 'proxy.example.net.', query: '_http-reverse.proxy.example.net.', aliases: [], records: [{ ttl: 300 }], endpoints, skipped: [] };
    const s = supervisor(events, { dial, discovery: { name: 'proxy.example.net', lookup: async () => found as never } });
    s.start();
    await events.waitFor('reconnecting');
    expect(events.events[0]).toMatchObject({ type: 'discovered', endpoints: ['quic://proxy.example.net:8443 (192.0.2.1, 192.0.2.2) or tls://proxy.example.net:8443'] });
    expect(dialed.map((d) => [d.carrier, d.host, d.servername, d.label])).toEqual([
      ['quic', '192.0.2.1', 'proxy.example.net', 'quic://proxy.example.net:8443 (192.0.2.1)'],
      ['quic', '192.0.2.2', 'proxy.example.net', 'quic://proxy.example.net:8443 (192.0.2.2)'],
      ['tls', '192.0.2.1', 'proxy.example.net', 'tls://proxy.example.net:8443 (192.0.2.1)'],
    ]);
    // One endpoint (one target:port), held with one connection: not two intermediaries.
    expect(s.connectionStatus()).toHaveLength(1);
    expect(s.connectionStatus()[0]).toMatchObject({ endpoint: 'quic://proxy.example.net:8443', state: 'waiting' });
    await s.stop(false, 0);
  });

  it('aborts a dial still in progress on stop, and does not report it as a failure', async () => {
    const events = new EventLog();
    let signal: AbortSignal | undefined;
    let dialStarted!: () => void;
    const started = new Promise<void>((r) => (dialStarted = r));
    const dial: DialCarrier = (_d, s) =>
      new Promise((_resolve, reject) => {
        signal = s;
        s.addEventListener('abort', () => reject(new CarrierDialError('the dial was aborted', { refused: false, unreached: true })));
        dialStarted();
      });
    const s = supervisor(events, { dial, fixed: { carrier: 'tls', host: '192.0.2.1', port: 1, label: 'never' } });
    s.start();
    await started;
    expect(s.connectionStatus()[0].state).toBe('connecting');
    await s.stop(true, 5_000);
    expect(signal?.aborted).toBe(true);
    // "draining" is said by every graceful stop; no connect-failed, refused or reconnecting.
    expect(events.events.map((e) => e.type)).toEqual(['connecting', 'draining']);
    expect(s.connectionStatus()[0].state).toBe('stopped');
  });
});

describe('supervisor.ts is runtime-neutral', () => {
  it('reaches no node: module and no ws through its imports (the carriers are given to it)', () => {
    const seen = new Set<string>();
    const external = new Set<string>();
    const queue = [new URL('../src/supervisor.ts', import.meta.url)];
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file.href)) continue;
      seen.add(file.href);
      for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gms)) {
        if (specifier.startsWith('.')) queue.push(new URL(specifier.replace(/\.js$/, '.ts'), file));
        else external.add(specifier);
      }
    }
    // The walk did follow the relative imports (carrier.ts, backoff.ts, connect-errors.ts, …).
    expect([...seen].some((f) => f.endsWith('/carrier.ts'))).toBe(true);
    expect([...seen].some((f) => f.includes('/carriers/'))).toBe(false);
    expect([...external]).toEqual(['@rhttp/core']);
  });
});
