/**
 * Test fixtures: a minimal intermediary (node:tls server + our engine in the HTTP/2 client role),
 * dev certificates, and a waiter for agent events.
 */
import * as tls from 'node:tls';
import { admissionPing, connectSocket, type Http2Session } from '@rhttp/core';
import type { GoawayFrame } from '@rhttp/core';
import { createDevCa, issueCertificate, type IssuedCertificate } from '../../node/src/certs.js';
import type { AgentEvent } from '../src/agent-events.js';

export interface TestCertificates {
  ca: IssuedCertificate;
  intermediary: IssuedCertificate;
  origin: IssuedCertificate;
  /** A CA that signed nothing here: trusting only it means trusting nobody. */
  otherCa: IssuedCertificate;
}

export async function makeCertificates(originHosts: string[]): Promise<TestCertificates> {
  const ca = await createDevCa();
  const otherCa = await createDevCa();
  const intermediary = await issueCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const origin = await issueCertificate(ca, { dnsNames: originHosts });
  return { ca, intermediary, origin, otherCa };
}

/** One agent connection as the intermediary sees it. */
export interface PeerConnection {
  socket: tls.TLSSocket;
  session: Http2Session;
  /** Resolves with the Origin Set once the agent's first ORIGIN frame arrived. */
  origins: Promise<readonly string[]>;
  /** Resolves when the agent sends GOAWAY. */
  goaway: Promise<GoawayFrame>;
  /** The agent's client certificate, as TLS saw it. */
  peerCertificate: tls.PeerCertificate;
}

export interface TestIntermediary {
  port: number;
  /** The next agent connection (in arrival order). */
  next(): Promise<PeerConnection>;
  /** Connections that were accepted at TLS level, whatever happened after. */
  readonly accepted: number;
  close(): Promise<void>;
}

/**
 * Listen on 127.0.0.1 for agents. `alpn: null` offers no ALPN at all; the default is h2-reverse.
 * Client certificates are requested but not checked by TLS, as in the design (we check them ourselves).
 * Like rhttp's intermediaries it admits every agent once its ORIGIN frame arrived, with the
 * admission PING; `admit: false` never says so (another implementation, or a refusal still to come).
 */
export async function startIntermediary(certs: TestCertificates, options: { alpn?: string[] | null; rejectClientsNotSignedBy?: string; admit?: boolean } = {}): Promise<TestIntermediary> {
  const queue: PeerConnection[] = [];
  const waiting: Array<(c: PeerConnection) => void> = [];
  const sockets = new Set<tls.TLSSocket>();
  let accepted = 0;
  const server = tls.createServer(
    {
      cert: certs.intermediary.chainPem,
      key: certs.intermediary.keyPem,
      ...(options.alpn === null ? {} : { ALPNProtocols: options.alpn ?? ['h2-reverse'] }),
      requestCert: true,
      // Only for the test of a TLS-level rejection; the design checks client certificates after the handshake.
      ...(options.rejectClientsNotSignedBy ? { rejectUnauthorized: true, ca: options.rejectClientsNotSignedBy } : { rejectUnauthorized: false }),
      minVersion: 'TLSv1.3',
    },
    (socket) => {
      accepted++;
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      let resolveOrigins!: (o: readonly string[]) => void;
      let resolveGoaway!: (f: GoawayFrame) => void;
      const origins = new Promise<readonly string[]>((r) => (resolveOrigins = r));
      const goaway = new Promise<GoawayFrame>((r) => (resolveGoaway = r));
      const session = connectSocket(socket, {
        role: 'client',
        onOrigin: (all) => {
          resolveOrigins([...all]);
          if (options.admit !== false) session.ping(admissionPing()).catch(() => {});
        },
        onGoaway: (frame) => resolveGoaway(frame),
      });
      const connection: PeerConnection = { socket, session, origins, goaway, peerCertificate: socket.getPeerCertificate() };
      const w = waiting.shift();
      if (w) w(connection);
      else queue.push(connection);
    },
  );
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    get accepted() {
      return accepted;
    },
    next: () => {
      const c = queue.shift();
      return c ? Promise.resolve(c) : new Promise((r) => waiting.push(r));
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Records agent events and lets a test wait for one. */
export class EventLog {
  readonly events: AgentEvent[] = [];
  private waiters: Array<{ match: (e: AgentEvent) => boolean; resolve: (e: AgentEvent) => void }> = [];

  readonly log = (event: AgentEvent): void => {
    this.events.push(event);
    for (const w of [...this.waiters]) {
      if (w.match(event)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(event);
      }
    }
  };

  /** The first event (already logged or still to come) that matches. */
  waitFor<T extends AgentEvent['type']>(type: T, match: (e: Extract<AgentEvent, { type: T }>) => boolean = () => true): Promise<Extract<AgentEvent, { type: T }>> {
    const test = (e: AgentEvent) => e.type === type && match(e as Extract<AgentEvent, { type: T }>);
    const seen = this.events.find(test);
    if (seen) return Promise.resolve(seen as Extract<AgentEvent, { type: T }>);
    return new Promise((resolve) => this.waiters.push({ match: test, resolve: resolve as (e: AgentEvent) => void }));
  }

  count(type: AgentEvent['type']): number {
    return this.events.filter((e) => e.type === type).length;
  }
}

/** A promise with its resolve function, for tests that hold a response until they let it go. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
