/**
 * The agent's own HTTP/1.1 client (upstream-pool.ts) against a scripted upstream on raw TCP, so
 * that the bytes it sends and the answers it gets are exactly known: keep-alive reuse and its
 * bound, an idle socket the peer closed, request body framing (RFC 9112 §6, §7.1), responses cut
 * short (never a clean end), interim responses, and hostile heads answered 502 (RFC 9112 §6.3).
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { createDevCa, issueCertificate } from '@rhttp/node/certs';
import type { Http2Session, ServerStream } from '@rhttp/core';
import { HttpUpstream } from '../src/upstream.js';
import { UpstreamPool } from '../src/upstream-pool.js';
import { sessionPair } from '../../core/test/support/session-pair.js';

/** One accepted connection of the scripted upstream: what it received, and a way to answer. */
interface Peer {
  socket: net.Socket;
  received: string;
  closed: boolean;
}

/**
 * A raw TCP upstream. `answer` is called each time a complete request (head, and a body framed by
 * Content-Length or chunked) has arrived on a connection, with that request's text.
 */
async function scriptedUpstream(answer: (request: string, peer: Peer, index: number) => void): Promise<{ url: string; peers: Peer[]; close(): Promise<void> }> {
  const peers: Peer[] = [];
  const server = net.createServer((socket) => {
    const peer: Peer = { socket, received: '', closed: false };
    peers.push(peer);
    let pending = '';
    let index = 0;
    socket.on('data', (d) => {
      peer.received += d.toString('latin1');
      pending += d.toString('latin1');
      for (;;) {
        const end = completeRequest(pending);
        if (end === -1) return;
        const request = pending.slice(0, end);
        pending = pending.slice(end);
        answer(request, peer, index++);
      }
    });
    socket.on('close', () => (peer.closed = true));
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    peers,
    close: async () => {
      for (const p of peers) p.socket.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** The length of the first complete request in `text`, or -1. */
function completeRequest(text: string): number {
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd === -1) return -1;
  const head = text.slice(0, headEnd);
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (length) {
    const end = headEnd + 4 + Number(length[1]);
    return text.length >= end ? end : -1;
  }
  if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
    const last = text.indexOf('\r\n0\r\n\r\n', headEnd);
    return last === -1 ? -1 : last + 7;
  }
  return headEnd + 4;
}

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function servedBy(upstream: HttpUpstream): Http2Session {
  const client = sessionPair(undefined, { onStream: (stream: ServerStream) => void upstream.serve(stream) }).client;
  closers.push(() => client.close());
  return client;
}

async function setUp(answer: (request: string, peer: Peer, index: number) => void) {
  const up = await scriptedUpstream(answer);
  closers.push(() => up.close());
  const upstream = new HttpUpstream(up.url);
  closers.push(() => upstream.close());
  return { up, upstream, client: servedBy(upstream) };
}

const ok = (body: string) => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

describe('UpstreamPool: keep-alive (RFC 9112 §9.3)', () => {
  it('carries sequential requests on one connection, and each request head is exactly what was forwarded', async () => {
    const { up, client } = await setUp((_req, peer, i) => peer.socket.write(ok(`answer ${i}`)));
    expect(await (await client.fetch('https://app.example/a')).text()).toBe('answer 0');
    expect(await (await client.fetch('https://app.example/b?c')).text()).toBe('answer 1');
    expect(up.peers).toHaveLength(1);
    expect(up.peers[0].received).toBe('GET /a HTTP/1.1\r\nhost: app.example\r\n\r\nGET /b?c HTTP/1.1\r\nhost: app.example\r\n\r\n');
  });

  it('drops a socket the upstream closed while idle, and the next request (even a POST) goes on a new one', async () => {
    const { up, client } = await setUp((_req, peer) => peer.socket.write(ok('fine')));
    expect(await (await client.fetch('https://app.example/')).text()).toBe('fine');
    up.peers[0].socket.end();
    await new Promise<void>((r) => up.peers[0].socket.once('close', () => r()));
    const post = await client.fetch('https://app.example/', { method: 'POST', body: 'x' });
    expect(post.status).toBe(200);
    expect(await post.text()).toBe('fine');
    expect(up.peers).toHaveLength(2);
  });

  it('does not reuse a connection the response said to close, nor one read until close (§6.3 rule 8)', async () => {
    let n = 0;
    const { up, client } = await setUp((_req, peer) => {
      if (n++ !== 1) peer.socket.write('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na');
      else peer.socket.end('HTTP/1.1 200 OK\r\n\r\nuntil close');
    });
    expect(await (await client.fetch('https://app.example/1')).text()).toBe('a');
    expect(await (await client.fetch('https://app.example/2')).text()).toBe('until close');
    expect(await (await client.fetch('https://app.example/3')).text()).toBe('a');
    expect(up.peers).toHaveLength(3);
  });

  it('keeps at most maxFreeSockets idle sockets; the others are closed once their response ends', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const up = await scriptedUpstream((_req, peer) => void held.then(() => peer.socket.write(ok('x'))));
    closers.push(() => up.close());
    const pool = new UpstreamPool({ tls: false, host: '127.0.0.1', port: Number(new URL(up.url).port) }, { headersTimeoutMs: 10_000, maxFreeSockets: 1 });
    closers.push(() => pool.close());
    const exchanges = [0, 1, 2].map(() => pool.exchange('GET', '/', ['host', 'a'], false));
    await new Promise<void>((r) => setTimeout(r, 0));
    release();
    for (const ex of exchanges) {
      await ex.response;
      await new Promise<void>((resolve) => ex.attach({ data: (_c, last) => last && resolve(), end: resolve, abort: resolve }));
    }
    // The two sockets beyond the bound are closed by the pool: wait for their close to arrive (bounded).
    for (let i = 0; i < 200 && up.peers.filter((p) => p.closed).length < 2; i++) await new Promise<void>((r) => setImmediate(r));
    expect(up.peers).toHaveLength(3);
    expect(up.peers.filter((p) => p.closed)).toHaveLength(2);
  });
});

describe('UpstreamPool: request bodies (RFC 9112 §6.2, §7.1)', () => {
  it('sends a body without Content-Length chunked, with its last-chunk, and one with Content-Length as it is', async () => {
    const { up, client } = await setUp((_req, peer) => peer.socket.write(ok('got it')));
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('hello '));
        c.enqueue(new TextEncoder().encode('world'));
        c.close();
      },
    });
    const chunked = await client.fetch('https://app.example/up', { method: 'PUT', body: stream, duplex: 'half' } as RequestInit);
    expect(await chunked.text()).toBe('got it');
    const sent = up.peers[0].received;
    expect(sent.startsWith('PUT /up HTTP/1.1\r\nhost: app.example\r\ntransfer-encoding: chunked\r\n\r\n')).toBe(true);
    const body = sent.slice(sent.indexOf('\r\n\r\n') + 4);
    expect(body.endsWith('0\r\n\r\n')).toBe(true);
    expect(body.replace(/(^|\r\n)[0-9a-f]+\r\n/g, '$1').replace(/\r\n/g, '')).toBe('hello world');

    const sized = await client.fetch('https://app.example/up', { method: 'POST', body: 'abc', headers: { 'content-length': '3' } });
    expect(await sized.text()).toBe('got it');
    const second = up.peers[0].received.slice(sent.length);
    expect(second.startsWith('POST /up HTTP/1.1\r\n')).toBe(true);
    expect(second).toContain('\r\ncontent-length: 3\r\n');
    expect(second).not.toContain('transfer-encoding');
    expect(second.endsWith('\r\n\r\nabc')).toBe(true);
  });

  it('a POST without a body says Content-Length: 0', async () => {
    const { up, client } = await setUp((_req, peer) => peer.socket.write(ok('')));
    expect((await client.fetch('https://app.example/', { method: 'POST' })).status).toBe(200);
    expect(up.peers[0].received).toContain('\r\ncontent-length: 0\r\n');
  });
});

describe('UpstreamPool: responses', () => {
  it('RFC 9110 §15.2: skips 100 Continue and 103 Early Hints and forwards the final response', async () => {
    const { client } = await setUp((_req, peer) => peer.socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n' + ok('final')));
    const res = await client.fetch('https://app.example/');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('final');
  });

  it('a chunked response arrives whole, with its trailers dropped', async () => {
    const { client } = await setUp((_req, peer) => {
      peer.socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-t\r\n\r\n5\r\nhello\r\n');
      setTimeout(() => peer.socket.write('6\r\n world\r\n0\r\nx-t: 1\r\n\r\n'), 5);
    });
    const res = await client.fetch('https://app.example/');
    expect(res.headers.get('trailer')).toBeNull();
    expect(await res.text()).toBe('hello world');
  });

  it('a body the upstream cuts short (Content-Length or chunked) ends in a stream reset (serve) or a stream error (fetch), never a clean end', async () => {
    const { client, upstream } = await setUp((req, peer) => {
      if (req.startsWith('GET /length')) peer.socket.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part');
      else peer.socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nonly part\r\n');
    });
    for (const path of ['/length', '/chunked']) {
      const res = await client.fetch(`https://app.example${path}`);
      expect(res.status).toBe(200);
      await expect(res.text(), path).rejects.toThrow();
      // The Fetch path alike: the body stream errors rather than closing.
      const fetched = await upstream.fetch(new Request(`https://app.example${path}`));
      expect(fetched.status).toBe(200);
      await expect(fetched.text(), `fetch ${path}`).rejects.toThrow(/in the middle of the response/);
    }
  });

  it.each([
    ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc', 'http_protocol_error'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc', 'http_protocol_error'],
    ['HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n', 'http_protocol_error'],
    ['HTTP/1.1 200 OK\nContent-Length: 0\n\n', 'http_protocol_error'],
    [`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`, 'http_response_header_section_size'],
  ])('RFC 9112 §6.3: a hostile response head is answered 502 (%#)', async (wire, proxyError) => {
    const { client } = await setUp((_req, peer) => peer.socket.write(wire));
    const res = await client.fetch('https://app.example/');
    expect(res.status).toBe(502);
    expect(res.headers.get('proxy-status')).toBe(`rhttp-agent; error=${proxyError}`);
    expect(await res.text()).toContain('sent a response that cannot be read');
  });
});

describe('UpstreamPool: https upstreams', () => {
  it('speaks TLS with the host as server name (SNI), checks the certificate, and reuses the connection', async () => {
    const ca = await createDevCa();
    const leaf = await issueCertificate(ca, { commonName: 'localhost', dnsNames: ['localhost'] });
    const names: (string | false)[] = [];
    let connections = 0;
    const server = tls.createServer({ cert: leaf.chainPem, key: leaf.keyPem }, (socket) => {
      connections++;
      names.push((socket as tls.TLSSocket).servername);
      socket.on('data', () => socket.write(ok('over tls')));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as net.AddressInfo).port;
    const read = async (pool: UpstreamPool) => {
      const ex = pool.exchange('GET', '/', ['host', 'app.example'], false);
      await ex.response;
      return new Promise<string>((resolve, reject) => ex.attach({ data: (c, last) => last && resolve(new TextDecoder().decode(c)), end: () => resolve(''), abort: reject }));
    };
    const trusted = new UpstreamPool({ tls: true, host: 'localhost', port }, { headersTimeoutMs: 10_000, ca: ca.certPem });
    closers.push(() => trusted.close());
    expect(await read(trusted)).toBe('over tls');
    expect(await read(trusted)).toBe('over tls');
    expect(names).toEqual(['localhost']);
    expect(connections).toBe(1);
    // Without the CA the certificate is not trusted: no response, an error.
    const untrusted = new UpstreamPool({ tls: true, host: 'localhost', port }, { headersTimeoutMs: 10_000 });
    closers.push(() => untrusted.close());
    await expect(untrusted.exchange('GET', '/', ['host', 'app.example'], false).response).rejects.toThrow(/certificate/);
  });
});
