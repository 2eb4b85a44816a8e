/**
 * Interoperability with node:http2 (nghttp2) in both roles, over plain TCP (h2c prior knowledge)
 * and TLS with ALPN h2: our server under node's client, our client against node's server.
 */
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSocket, ErrorCode, responseTrailers, StreamResetError, withTrailers, type Handler, type Http2Session } from '../src/index.js';
import { createDevCa, issueCertificate, type IssuedCertificate } from '../../node/src/certs.js';

const BIG = 64 << 20;

function pattern(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}
const CHUNK = pattern(1 << 16);

function bigStream(total: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      controller.enqueue(CHUNK);
      sent += CHUNK.length;
    },
  });
}

let ca: IssuedCertificate;
let leaf: IssuedCertificate;
beforeAll(async () => {
  ca = await createDevCa();
  leaf = await issueCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
});

/** Our engine as the server, on TCP or TLS. */
async function ourServer(handler: Handler, secure: boolean): Promise<{ url: string; close: () => Promise<void>; sessions: Http2Session[] }> {
  const sessions: Http2Session[] = [];
  const onSocket = (socket: net.Socket) => {
    socket.on('error', () => {});
    sessions.push(connectSocket(socket, { role: 'server', handler }));
  };
  const server = secure ? tls.createServer({ cert: leaf.chainPem, key: leaf.keyPem, ALPNProtocols: ['h2'] }, onSocket) : net.createServer(onSocket);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `${secure ? 'https' : 'http'}://127.0.0.1:${port}`,
    sessions,
    close: () => {
      for (const s of sessions) s.close();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** Our engine as the client. */
async function ourClient(url: string): Promise<Http2Session> {
  const u = new URL(url);
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    if (u.protocol === 'https:') {
      const s = tls.connect({ host: u.hostname, port: Number(u.port), ca: ca.certPem, ALPNProtocols: ['h2'] }, () => resolve(s));
      s.once('error', reject);
    } else {
      const s = net.connect({ host: u.hostname, port: Number(u.port) }, () => resolve(s));
      s.once('error', reject);
    }
  });
  return connectSocket(socket, { role: 'client' });
}

function nodeClient(url: string): http2.ClientHttp2Session {
  const session = http2.connect(url, { ca: ca.certPem });
  session.on('error', () => {});
  return session;
}

function nodeRequest(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Uint8Array | 'big'): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: Buffer; trailers: http2.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let responseHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    req.on('response', (h) => (responseHeaders = h));
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ status: Number(responseHeaders[':status']), headers: responseHeaders, body: Buffer.concat(chunks), trailers }));
    req.on('error', reject);
    if (body === 'big') {
      let sent = 0;
      const write = () => {
        while (sent < BIG) {
          sent += CHUNK.length;
          if (!req.write(CHUNK)) return void req.once('drain', write);
        }
        req.end();
      };
      write();
    } else if (body) req.end(body);
  });
}

const echoHandler: Handler = async (request) => {
  const url = new URL(request.url);
  if (url.pathname === '/big') return new Response(bigStream(BIG), { headers: { 'content-type': 'application/octet-stream' } });
  if (url.pathname === '/count') {
    let n = 0;
    const hash = createHash('sha256');
    for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
      n += chunk.length;
      hash.update(chunk);
    }
    return new Response(`${n} ${hash.digest('hex')}`);
  }
  if (url.pathname === '/trailers') return withTrailers(new Response('with trailers'), () => new Headers({ 'x-checksum': 'abc' }));
  if (url.pathname === '/hang') return new Response(new ReadableStream({ pull() {} }));
  const body = new Uint8Array(await request.arrayBuffer());
  return new Response(body.length ? body : `ok ${request.method} ${url.pathname}`, { headers: { 'x-method': request.method } });
};

for (const secure of [false, true]) {
  const transport = secure ? 'TLS (ALPN h2)' : 'TCP (h2c prior knowledge)';

  describe(`our server ← node:http2 client over ${transport}`, () => {
    let server: Awaited<ReturnType<typeof ourServer>>;
    beforeAll(async () => {
      server = await ourServer(echoHandler, secure);
    });
    afterAll(() => server.close());

    it('answers GET and POST', async () => {
      const client = nodeClient(server.url);
      const get = await nodeRequest(client, { ':path': '/hello' });
      expect(get.status).toBe(200);
      expect(get.body.toString()).toBe('ok GET /hello');
      const post = await nodeRequest(client, { ':path': '/echo', ':method': 'POST' }, new TextEncoder().encode('payload'));
      expect(post.body.toString()).toBe('payload');
      client.close();
    });

    it('serves 1000 concurrent streams', async () => {
      const client = nodeClient(server.url);
      const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => nodeRequest(client, { ':path': `/s${i}` })));
      expect(results.map((r) => r.body.toString())).toEqual(Array.from({ length: 1000 }, (_, i) => `ok GET /s${i}`));
      client.close();
    });

    it('§6.9 downloads and uploads 64 MiB under flow control', async () => {
      const client = nodeClient(server.url);
      const down = await nodeRequest(client, { ':path': '/big' });
      expect(down.body.length).toBe(BIG);
      expect(down.body.subarray(0, CHUNK.length).equals(Buffer.from(CHUNK))).toBe(true);
      const up = await nodeRequest(client, { ':path': '/count', ':method': 'POST' }, 'big');
      const expected = createHash('sha256');
      for (let i = 0; i < BIG / CHUNK.length; i++) expected.update(CHUNK);
      expect(up.body.toString()).toBe(`${BIG} ${expected.digest('hex')}`);
      client.close();
    }, 120_000);

    it('§8.1 sends trailers', async () => {
      const client = nodeClient(server.url);
      const res = await nodeRequest(client, { ':path': '/trailers' });
      expect(res.body.toString()).toBe('with trailers');
      expect(res.trailers['x-checksum']).toBe('abc');
      client.close();
    });

    it('§6.4 a client reset closes the stream; the connection keeps serving', async () => {
      const client = nodeClient(server.url);
      const req = client.request({ ':path': '/hang' });
      await new Promise((r) => req.once('response', r));
      req.close(http2.constants.NGHTTP2_CANCEL);
      await new Promise((r) => req.once('close', r));
      const after = await nodeRequest(client, { ':path': '/after' });
      expect(after.body.toString()).toBe('ok GET /after');
      client.close();
    });

    it('§6.8 GOAWAY from our server while a stream is open: it completes, new ones go elsewhere', async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let entered!: () => void;
      const handling = new Promise<void>((r) => (entered = r));
      const gated = await ourServer(async () => {
        entered();
        await gate;
        return new Response('done');
      }, secure);
      const client = nodeClient(gated.url);
      const inflight = nodeRequest(client, { ':path': '/slow' });
      // The stream must be open on our side before GOAWAY (a fixed sleep lost the race to a slow TLS handshake under load).
      await handling;
      const goaway = new Promise<number>((r) => client.once('goaway', (code) => r(code)));
      for (const s of gated.sessions) s.goaway();
      expect(await goaway).toBe(0);
      release();
      const res = await inflight;
      expect(res.body.toString()).toBe('done');
      await gated.close();
    });
  });

  describe(`our client → node:http2 server over ${transport}`, () => {
    let server: http2.Http2Server | http2.Http2SecureServer;
    let url: string;
    const nodeSessions = new Set<http2.ServerHttp2Session>();
    beforeAll(async () => {
      server = secure ? http2.createSecureServer({ cert: leaf.chainPem, key: leaf.keyPem }) : http2.createServer();
      server.on('session', (s) => {
        nodeSessions.add(s);
        s.on('close', () => nodeSessions.delete(s));
      });
      server.on('stream', (stream, headers) => {
        stream.on('error', () => {});
        const path = headers[':path'];
        if (path === '/big') {
          stream.respond({ ':status': 200 });
          let sent = 0;
          const write = () => {
            while (sent < BIG) {
              sent += CHUNK.length;
              if (!stream.write(CHUNK)) return void stream.once('drain', write);
            }
            stream.end();
          };
          write();
          return;
        }
        if (path === '/trailers') {
          stream.respond({ ':status': 200 }, { waitForTrailers: true });
          stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
          stream.end('payload');
          return;
        }
        if (path === '/reset') {
          stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
          return;
        }
        const hash = createHash('sha256');
        let n = 0;
        stream.on('data', (c: Buffer) => {
          n += c.length;
          hash.update(c);
        });
        stream.on('end', () => {
          stream.respond({ ':status': 200, 'x-path': String(path) });
          stream.end(`${headers[':method']} ${n} ${n ? hash.digest('hex') : ''}`.trim());
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `${secure ? 'https' : 'http'}://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    });
    afterAll(async () => {
      for (const s of nodeSessions) s.destroy();
      await new Promise((r) => server.close(r));
    });

    it('fetches GET and POST', async () => {
      const client = await ourClient(url);
      const get = await client.fetch(`${url}/a`);
      expect(get.status).toBe(200);
      expect(get.headers.get('x-path')).toBe('/a');
      expect(await get.text()).toBe('GET 0');
      const post = await client.fetch(`${url}/b`, { method: 'POST', body: 'hello' });
      expect(await post.text()).toBe(`POST 5 ${createHash('sha256').update('hello').digest('hex')}`);
      client.goaway();
    });

    it('runs 1000 concurrent streams (queued to the server limit)', async () => {
      const client = await ourClient(url);
      const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => client.fetch(`${url}/c${i}`).then((r) => r.text())));
      expect(results.every((r) => r === 'GET 0')).toBe(true);
      client.goaway();
    });

    it('§6.9 downloads and uploads 64 MiB under flow control', async () => {
      const client = await ourClient(url);
      const down = await client.fetch(`${url}/big`);
      let n = 0;
      for await (const chunk of down.body as unknown as AsyncIterable<Uint8Array>) n += chunk.length;
      expect(n).toBe(BIG);
      const up = await client.fetch(`${url}/up`, { method: 'POST', body: bigStream(BIG), duplex: 'half' } as RequestInit);
      const expected = createHash('sha256');
      for (let i = 0; i < BIG / CHUNK.length; i++) expected.update(CHUNK);
      expect(await up.text()).toBe(`POST ${BIG} ${expected.digest('hex')}`);
      client.goaway();
    }, 120_000);

    it('§8.1 receives trailers', async () => {
      const client = await ourClient(url);
      const res = await client.fetch(`${url}/trailers`);
      expect(await res.text()).toBe('payload');
      expect((await responseTrailers(res)).get('grpc-status')).toBe('0');
      client.goaway();
    });

    it('§8.7 a REFUSED_STREAM reset from the server is a retryable error', async () => {
      const client = await ourClient(url);
      const error = await client.fetch(`${url}/reset`).catch((e) => e);
      expect(error).toBeInstanceOf(StreamResetError);
      expect(error.errorCode).toBe(ErrorCode.REFUSED_STREAM);
      expect(error.retryable).toBe(true);
      expect(await (await client.fetch(`${url}/after`)).text()).toBe('GET 0');
      client.goaway();
    });

    it('§6.8 the server GOAWAY drains our open streams', async () => {
      const client = await ourClient(url);
      await (await client.fetch(`${url}/warm`)).text();
      const pending = client.fetch(`${url}/big`);
      const res = await pending;
      for (const s of nodeSessions) s.close();
      let n = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) n += chunk.length;
      expect(n).toBe(BIG);
      await client.closed;
      expect(client.isClosed).toBe(true);
    }, 60_000);
  });
}
