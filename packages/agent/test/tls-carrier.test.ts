/** carriers/tls.ts: the TLS 1.3 `h2-reverse` dial, as the supervisor gets it (a Carrier or a CarrierDialError). */
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CarrierDialError } from '../src/carrier.js';
import { checkTlsMaterial, dialTls, TlsMaterialError } from '../src/carriers/tls.js';
import { alpnMismatch } from '../src/connect-errors.js';
import { makeCertificates, startIntermediary, type TestCertificates } from './intermediary-peer.js';

let certs: TestCertificates;
beforeAll(async () => {
  certs = await makeCertificates(['app.example.com']);
});

const options = () => ({ cert: certs.origin.chainPem, key: certs.origin.keyPem, ca: certs.ca.certPem, connectTimeoutMs: 15_000 });

describe('checkTlsMaterial', () => {
  it('says what is wrong as a problem callers switch on, worded with their names for the pieces', async () => {
    const other = await makeCertificates(['app.example.com']);
    const error = (() => {
      try {
        checkTlsMaterial({ cert: certs.origin.chainPem, key: other.origin.keyPem });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(TlsMaterialError);
    expect((error as TlsMaterialError).problem).toBe('key-mismatch');
    expect((error as TlsMaterialError).message).toBe('the private key (key) does not belong to the certificate (cert)');
    expect((error as TlsMaterialError).describe({ cert: '--cert a.pem', key: '--key b.key', ca: '--ca c.pem' })).toBe('the private key (--key b.key) does not belong to the certificate (--cert a.pem)');
    expect(() => checkTlsMaterial({ cert: certs.origin.chainPem })).toThrow(expect.objectContaining({ problem: 'missing' }));
  });
});

describe('dialTls', () => {
  it('hands over a carrier once TLS 1.3 is up and h2-reverse agreed', async () => {
    const intermediary = await startIntermediary(certs);
    try {
      const carrier = await dialTls({ host: '127.0.0.1', port: intermediary.port, servername: 'localhost' }, options(), new AbortController().signal);
      expect(carrier.alpnProtocol).toBe('h2-reverse');
      expect(carrier.protocol).toBe('TLSv1.3');
      expect(carrier.peer).toEqual({ host: '127.0.0.1', port: intermediary.port, servername: 'localhost' });
      expect(carrier.error).toBeUndefined();
      const peer = await intermediary.next();
      expect(peer.peerCertificate.subjectaltname).toContain('app.example.com');
      const closed = new Promise<void>((r) => carrier.socket.once('close', r));
      carrier.destroy();
      await closed;
      expect(carrier.socket.destroyed).toBe(true);
    } finally {
      await intermediary.close();
    }
  });

  it('rejects as a refusal when the intermediary does not agree to h2-reverse', async () => {
    const intermediary = await startIntermediary(certs, { alpn: null });
    try {
      const error = await dialTls({ host: '127.0.0.1', port: intermediary.port, servername: 'localhost' }, options(), new AbortController().signal).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CarrierDialError);
      expect(error).toMatchObject({ refused: true, unreached: false, message: alpnMismatch(false) });
    } finally {
      await intermediary.close();
    }
  });

  it('offers rh2 (draft-thomson-ptth-potato) when told, and refuses an intermediary that picks anything else', async () => {
    const both = await startIntermediary(certs, { alpn: ['h2-reverse', 'rh2'] });
    const onlyH2Reverse = await startIntermediary(certs, { alpn: ['h2-reverse'] });
    try {
      const carrier = await dialTls({ host: '127.0.0.1', port: both.port, servername: 'localhost' }, { ...options(), alpn: 'rh2' }, new AbortController().signal);
      expect(carrier.alpnProtocol).toBe('rh2');
      carrier.destroy();
      const error = await dialTls({ host: '127.0.0.1', port: onlyH2Reverse.port, servername: 'localhost' }, { ...options(), alpn: 'rh2' }, new AbortController().signal).catch((e: unknown) => e);
      expect(error).toMatchObject({ refused: true, unreached: false });
      expect((error as Error).message).toMatch(/did not agree to rh2/);
    } finally {
      await both.close();
      await onlyH2Reverse.close();
    }
  });

  it('rejects as unreached when nothing listens, in plain words', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const error = await dialTls({ host: '127.0.0.1', port }, options(), new AbortController().signal).catch((e: unknown) => e);
    expect(error).toMatchObject({ refused: false, unreached: true, message: `nothing accepts connections at 127.0.0.1:${port} (connection refused); is the intermediary running?` });
  });

  describe('abort', () => {
    /** Accepts TCP and never answers the TLS handshake. */
    let silent: net.Server;
    let accepted: Promise<void>;
    let closedByPeer: Promise<void>;
    beforeAll(async () => {
      let resolveAccepted!: () => void;
      let resolveClosed!: () => void;
      accepted = new Promise((r) => (resolveAccepted = r));
      closedByPeer = new Promise((r) => (resolveClosed = r));
      silent = net.createServer((socket) => {
        resolveAccepted();
        socket.on('error', () => {});
        socket.on('close', resolveClosed);
      });
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    });
    afterAll(async () => {
      await new Promise<void>((r) => silent.close(() => r()));
    });

    it('ends a handshake in progress when its signal aborts', async () => {
      const controller = new AbortController();
      const port = (silent.address() as net.AddressInfo).port;
      const dial = dialTls({ host: '127.0.0.1', port }, options(), controller.signal);
      const outcome = dial.catch((e: unknown) => e);
      // The ClientHello is out; the server will never answer it.
      await accepted;
      controller.abort();
      expect(await outcome).toBeInstanceOf(CarrierDialError);
      await closedByPeer;
    });
  });
});
