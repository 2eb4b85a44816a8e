/**
 * The HTTP/1.1 browser server (http1-server.ts) on core's RequestParser, driven by raw sockets
 * that misbehave on purpose: keep-alive and pipelining in order, request bodies pulled with a byte
 * budget, response framing (length, chunked with trailers, until close for HTTP/1.0), refusals
 * with the right status, the headers deadline, hand-over of upgrades, and a body that fails midway.
 */
import { STATUS_CODES } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bytesBody, type BodyReader, type HeaderField, type ResponseMessage } from '@rhttp/core';
import type { Answer, ListenerRequest } from '../src/browser-exchange.js';
import { REQUEST_BODY_BUFFER_BYTES, serveHttp1, type Http1Connection, type Http1Serving } from '../src/http1-server.js';
import { steady, until } from './harness.js';

const open: Array<{ close(): void }> = [];
afterEach(() => {
  for (const o of open.splice(0)) o.close();
});

/** A server whose connections run serveHttp1; resolves with its port and the server-side sockets. */
async function serve(answer: Answer, options: Partial<Http1Serving> = {}): Promise<{ port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server: Server = createServer({ noDelay: true }, (socket) => {
    sockets.push(socket);
    serveHttp1(socket, { scheme: 'http', answer, ...options });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  open.push({ close: () => (server.close(), sockets.forEach((s) => s.destroy())) });
  return { port: (server.address() as { port: number }).port, sockets };
}

/** A raw client: what it received so far, and whether the server closed. */
async function client(port: number): Promise<{ socket: Socket; text: () => string; closed: () => boolean }> {
  const socket = connect(port, '127.0.0.1');
  open.push({ close: () => socket.destroy() });
  let received = '';
  let closed = false;
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  return { socket, text: () => received, closed: () => closed };
}

function message(status: number, fields: HeaderField[], body: BodyReader | null, trailers?: HeaderField[]): ResponseMessage {
  return { status, fields, body, trailers };
}

/** An answer that echoes method, path and the request body's length. */
const echo: Answer = async (request: ListenerRequest) => {
  let length = 0;
  if (request.body) for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) length += chunk.byteLength;
  const text = `${request.method} ${request.url.pathname} ${length}`;
  return message(200, [['content-type', 'text/plain']], bytesBody(new TextEncoder().encode(text)));
};

/** A body whose chunks come one per `wait()`; `fail` makes the last wait fail instead of ending. */
function trickle(chunks: string[], fail = false): BodyReader {
  const queue = chunks.map((c) => new TextEncoder().encode(c));
  let ready: Uint8Array | undefined;
  let done = false;
  let error: Error | undefined;
  return {
    read() {
      if (error) throw error;
      if (ready) {
        const chunk = ready;
        ready = undefined;
        return chunk;
      }
      return done ? null : undefined;
    },
    get ended() {
      return done && ready === undefined;
    },
    wait() {
      return new Promise<void>((resolve) =>
        setImmediate(() => {
          if (queue.length > 0) ready = queue.shift();
          else if (fail) error = new Error('the origin went away');
          else done = true;
          resolve();
        }),
      );
    },
    cancel() {
      done = true;
    },
  };
}

describe('HTTP/1.1 browser server (core RequestParser)', () => {
  it('keeps the connection alive: two requests, two framed responses, one socket', async () => {
    const { port } = await serve(echo);
    const c = await client(port);
    c.socket.write('GET /one HTTP/1.1\r\nHost: app.example\r\n\r\n');
    await until(() => c.text().includes('GET /one 0'), 'the first response');
    c.socket.write('POST /two HTTP/1.1\r\nHost: app.example\r\nContent-Length: 5\r\n\r\nhello');
    await until(() => c.text().includes('POST /two 5'), 'the second response');
    const responses = c.text().split('HTTP/1.1 200 OK\r\n').slice(1);
    expect(responses).toHaveLength(2);
    expect(responses[0]).toMatch(/content-length: 10\r\n/);
    expect(responses[0]).toMatch(/date: /);
    expect(c.closed()).toBe(false);
  });

  it('answers pipelined requests in order, the second waiting for the first', async () => {
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((r) => (releaseFirst = r));
    const { port } = await serve(async (request) => {
      if (request.url.pathname === '/slow') await firstHeld;
      return message(200, [], bytesBody(new TextEncoder().encode(request.url.pathname)));
    });
    const c = await client(port);
    c.socket.write('GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /fast HTTP/1.1\r\nHost: a\r\n\r\nGET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
    expect(c.text()).toBe('');
    releaseFirst();
    await until(() => c.closed(), 'the connection to close after the request that asked for it');
    const bodies = c.text().split('\r\n\r\n').filter((_, i) => i > 0).map((b) => b.split('HTTP/1.1')[0]);
    expect(bodies).toEqual(['/slow', '/fast', '/last']);
    expect(c.text()).toMatch(/connection: close\r\n/);
  });

  it('streams a chunked request body to the answer', async () => {
    const { port } = await serve(echo);
    const c = await client(port);
    c.socket.write('POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
    c.socket.write('6\r\n world\r\n0\r\n\r\n');
    await until(() => c.text().includes('POST /up 11'), 'the echo of 11 bytes');
  });

  it('holds at most its budget of a request body nobody reads, then leaves the upload in TCP', async () => {
    let sawRequest = false;
    const { port, sockets } = await serve(async () => {
      sawRequest = true;
      return new Promise<ResponseMessage>(() => {}); // never reads the body, never answers
    });
    const c = await client(port);
    const total = 16 << 20;
    c.socket.write(`POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: ${total}\r\n\r\n`);
    const piece = Buffer.alloc(64 * 1024, 0x61);
    let written = 0;
    // Write until the socket says stop and stays full.
    while (written < total && c.socket.write(piece)) written += piece.length;
    await until(() => sawRequest, 'the request to reach the answer');
    await until(() => sockets[0]?.isPaused() === true, 'the server to pause reading');
    // A paused socket may take the read in flight; then reading stops for good.
    const read = await steady(() => sockets[0].bytesRead, 'the bytes read');
    // The head, the budget and one read at most (64 KiB) on top, however long the upload waits.
    expect(read).toBeLessThanOrEqual(REQUEST_BODY_BUFFER_BYTES + 2 * 64 * 1024 + 1024);
  });

  it('answers a browser that pipelines and never reads only while its socket holds less than 64 KiB', async () => {
    let answered = 0;
    const piece = new Uint8Array(32 * 1024).fill(0x62);
    const { port, sockets } = await serve(async () => {
      answered++;
      return message(200, [], bytesBody(piece));
    });
    const c = await client(port);
    c.socket.pause(); // never reads
    const requests = 400; // 12.5 MiB of responses, far beyond what the kernel's buffers take
    c.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n'.repeat(requests));
    await until(() => answered > 2 && sockets[0].writableLength > 0, 'responses to back up');
    // Stopped: the kernel's buffers and at most 64 KiB (+ one response) queued in the process.
    expect(await steady(() => answered, 'the answers')).toBeLessThan(requests);
    expect(sockets[0].writableLength).toBeLessThanOrEqual(64 * 1024 + piece.length + 1024);
    c.socket.resume();
    await until(() => answered === requests, 'every request to be answered once the browser reads');
  });

  it('streams a late body chunked, with the trailers when the browser said TE: trailers', async () => {
    const { port } = await serve(async () => message(200, [['content-type', 'text/event-stream']], trickle(['data: a\n\n', 'data: b\n\n']), [['grpc-status', '0']]));
    const c = await client(port);
    c.socket.write('GET /events HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n');
    await until(() => c.text().endsWith('0\r\ngrpc-status: 0\r\n\r\n'), 'the last chunk with the trailer');
    expect(c.text()).toMatch(/transfer-encoding: chunked\r\n/);
    expect(c.text()).toContain('\r\n\r\n9\r\ndata: a\n\n\r\n9\r\ndata: b\n\n\r\n0\r\n');
  });

  it('drops trailers for a browser that did not ask for them, and keeps the declared length of a streamed body', async () => {
    const { port } = await serve(async (request) =>
      request.url.pathname === '/t' ? message(200, [], trickle(['ab']), [['x-t', '1']]) : message(200, [['content-length', '4']], trickle(['ab', 'cd'])),
    );
    const c = await client(port);
    c.socket.write('GET /t HTTP/1.1\r\nHost: a\r\n\r\nGET /l HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => c.text().endsWith('abcd'), 'both responses');
    expect(c.text()).toContain('2\r\nab\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n');
    expect(c.text()).not.toContain('x-t');
    expect(c.text()).toMatch(/content-length: 4\r\n/);
  });

  it('answers HEAD with the origin Content-Length and no body, and an empty body with Content-Length: 0', async () => {
    const { port } = await serve(async (request) => (request.method === 'HEAD' ? message(200, [['content-length', '1234']], null) : message(200, [], null)));
    const c = await client(port);
    c.socket.write('HEAD /h HTTP/1.1\r\nHost: a\r\n\r\nGET /e HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => c.text().split('HTTP/1.1 200 OK').length === 3 && c.text().endsWith('\r\n\r\n'), 'two heads');
    const [head, get] = c.text().split('HTTP/1.1 200 OK').slice(1);
    expect(head).toMatch(/content-length: 1234\r\n/);
    expect(get).toMatch(/content-length: 0\r\n/);
  });

  it('gives a bodyless answer one Content-Length: 0, whatever length its fields claimed', async () => {
    const { port } = await serve(async () => message(200, [['content-length', '5']], null));
    const c = await client(port);
    c.socket.write('GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n');
    // Both answers arrive: the first did not promise five octets that never come.
    await until(() => c.text().split('HTTP/1.1 200').length === 3, 'both answers');
    expect(c.text().match(/content-length: [^\r]*/gi)).toEqual(['content-length: 0', 'content-length: 0']);
  });

  it('HTTP/1.0: a streamed body without a length ends with the connection', async () => {
    const { port } = await serve(async () => message(200, [], trickle(['one', 'two'])));
    const c = await client(port);
    c.socket.write('GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n');
    await until(() => c.closed(), 'the close that ends the body');
    expect(c.text()).toMatch(/connection: close\r\n/);
    expect(c.text().endsWith('\r\n\r\nonetwo')).toBe(true);
  });

  it('sends 100 Continue before reading a body the browser holds back', async () => {
    const { port } = await serve(echo);
    const c = await client(port);
    c.socket.write('PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n');
    await until(() => c.text() === 'HTTP/1.1 100 Continue\r\n\r\n', 'the interim response');
    c.socket.write('abc');
    await until(() => c.text().includes('PUT /x 3'), 'the final response');
  });

  it.each([
    ['both Content-Length and Transfer-Encoding (smuggling)', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
    ['an HTTP/2.0 request line', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505],
    ['no Host on HTTP/1.1', 'GET / HTTP/1.1\r\n\r\n', 400],
    ['a gzip transfer coding', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 501],
    ['a field line with a bare LF', 'GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n', 400],
    ['a head over the limit', `GET / HTTP/1.1\r\nHost: a\r\nX: ${'y'.repeat(70 * 1024)}\r\n\r\n`, 431],
    ['an unsupported expectation', 'GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n', 417],
    ['CONNECT on a listener that proxies none', 'CONNECT app.example:443 HTTP/1.1\r\nHost: app.example:443\r\n\r\n', 501],
  ])('refuses %s with its status and closes', async (_what, bytes, status) => {
    let answered = 0;
    const { port } = await serve(async () => {
      answered++;
      return message(200, [], null);
    });
    const c = await client(port);
    c.socket.write(bytes);
    await until(() => c.closed(), 'the connection to close');
    expect(c.text().split('\r\n')[0]).toBe(`HTTP/1.1 ${status} ${STATUS_CODES[status]}`);
    expect(answered).toBe(0);
  });

  it('ends a head that never completes (slowloris) with 408 at the headers deadline', async () => {
    const { port } = await serve(echo, { headersTimeoutMs: 200 });
    const c = await client(port);
    c.socket.write('GET / HTTP/1.1\r\nHost: a\r\n');
    await until(() => c.closed(), 'the connection to close');
    expect(c.text().split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
  });

  it('closes a keep-alive connection left idle after its response', async () => {
    const { port } = await serve(async () => message(200, [], bytesBody(new Uint8Array([0x61]))), { keepAliveTimeoutMs: 150 });
    const c = await client(port);
    c.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => c.closed(), 'the idle connection to close');
    expect(c.text()).toMatch(/\r\n\r\na$/);
  });

  it('serves an upgrade it does not perform as the plain request it also is (RFC 9110 §7.8), body and all', async () => {
    const { port } = await serve(echo);
    const c = await client(port);
    c.socket.write('POST /u HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: example/1\r\nContent-Length: 2\r\n\r\nhi');
    await until(() => c.text().includes('POST /u 2'), 'the plain response');
  });

  it('hands an upgrade it is told to over with the request and the bytes after it unread', async () => {
    let handed: Buffer | undefined;
    const { port } = await serve(echo, {
      handOff: (head) =>
        head.fields.some(([n, v]) => n === 'upgrade' && v === 'websocket')
          ? (socket, unread) => {
              handed = unread;
              socket.end('taken');
            }
          : undefined,
    });
    const c = await client(port);
    c.socket.write('GET /first HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => c.text().includes('GET /first 0'), 'the first response');
    const upgrade = 'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';
    c.socket.write(upgrade.slice(0, 20));
    await new Promise((r) => setTimeout(r, 20));
    c.socket.write(upgrade.slice(20) + 'frame-bytes');
    await until(() => c.closed(), 'the taker to end the socket');
    expect(handed?.toString('latin1')).toBe(upgrade + 'frame-bytes');
    expect(c.text().endsWith('taken')).toBe(true);
  });

  it('leaves a handed-over socket to its taker when the listener closes', async () => {
    let connection: Http1Connection | undefined;
    let taken: Socket | undefined;
    const server: Server = createServer({ noDelay: true }, (socket) => {
      connection = serveHttp1(socket, { scheme: 'http', answer: echo, handOff: () => (s) => (taken = s) });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    open.push({ close: () => (server.close(), taken?.destroy()) });
    const c = await client((server.address() as { port: number }).port);
    c.socket.write('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    await until(() => taken !== undefined, 'the hand-over');
    // A graceful stop closes the listener's connections: this one belongs to its taker now.
    connection!.close();
    taken!.write('still open');
    await until(() => c.text() === 'still open', 'the taker to write');
    expect(taken!.destroyed).toBe(false);
    expect(c.closed()).toBe(false);
  });

  it('ends the connection after its answer when the request body turns out malformed midway', async () => {
    let answered = false;
    const { port } = await serve(async () => {
      // Answers without reading the body, after the bad chunk has arrived.
      await new Promise((r) => setTimeout(r, 50));
      answered = true;
      return message(200, [], bytesBody(new TextEncoder().encode('done')));
    });
    const c = await client(port);
    c.socket.write('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\nzz\r\n');
    await until(() => answered, 'the answer');
    await until(() => c.closed(), 'the connection to end after the answer');
    expect(c.text()).toMatch(/\r\nconnection: close\r\n/i);
    expect(c.text().endsWith('done')).toBe(true);
  });

  it('closes the connection without the last chunk when the body fails midway', async () => {
    const { port } = await serve(async () => message(200, [], trickle(['partial'], true)));
    const c = await client(port);
    c.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => c.closed(), 'the connection to close');
    expect(c.text()).toContain('7\r\npartial\r\n');
    expect(c.text()).not.toContain('0\r\n\r\n');
  });

  it('aborts the exchange when the browser leaves before its response', async () => {
    let aborted = false;
    const { port } = await serve(async (_request, info) => {
      await new Promise<void>((resolve) => info.signal.addEventListener('abort', () => resolve()));
      aborted = true;
      throw new Error('gone');
    });
    const c = await client(port);
    c.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await new Promise((r) => setTimeout(r, 20));
    c.socket.destroy();
    await until(() => aborted, 'the signal to abort');
  });
});
