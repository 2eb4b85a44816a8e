/**
 * The Request a server handler gets (incoming-request.ts): a ServerRequest, answered from the
 * stream, must still be a fully working Request — every getter and method, copies, clones, and
 * a signal that a reset aborts — and requests the runtime would rewrite go to its own Request.
 */
import { describe, expect, it } from 'vitest';
import { sessionPair } from './support/session-pair.js';
import { ErrorCode, StreamResetError, type Handler } from '../src/index.js';
import { IncomingRequest, ServerRequest, serverRequest, serverRequestsAreLight, type RequestBodySource } from '../src/http/incoming-request.js';
import { readableOf, type BodyReader } from '../src/http/incoming-body.js';
import { takeResponse } from '../src/http/response-message.js';

/** Two sessions back to back through asynchronous delivery. */
const pair = (handler: Handler) => sessionPair(handler);

/** A body of the given chunks, readable as a BodyReader or as a web stream (as IncomingBody is). */
function bodyOf(...parts: string[]): RequestBodySource & { reads: number } {
  const chunks = parts.map((p) => new TextEncoder().encode(p));
  const reader: BodyReader & { reads: number } = {
    reads: 0,
    read() {
      this.reads++;
      return chunks.length > 0 ? chunks.shift()! : null;
    },
    get ended() {
      return chunks.length === 0;
    },
    wait: () => Promise.resolve(),
    cancel() {
      chunks.length = 0;
    },
  };
  let readable: ReadableStream<Uint8Array> | undefined;
  return Object.assign(reader, {
    get readable() {
      return (readable ??= readableOf(reader));
    },
  });
}

const URL_1 = 'https://app.example.com/up?x=1';
const FIELDS: [string, string][] = [
  [':method', 'POST'],
  ['content-type', 'application/json'],
  ['cookie', 'a=1'],
  ['x-many', '1'],
  ['cookie', 'b=2'],
  ['x-many', '2'],
];

function light(body: RequestBodySource | null = bodyOf('{"a":', '[1,2]}'), method = 'POST'): Request {
  const request = serverRequest(method, URL_1, FIELDS, body);
  expect(request).toBeInstanceOf(serverRequestsAreLight ? ServerRequest : IncomingRequest);
  return request as unknown as Request;
}

describe('ServerRequest: a Request answered from the stream', () => {
  it('is a Request to instanceof, its constructor, toString and util.inspect', () => {
    const request = light();
    expect(request).toBeInstanceOf(Request);
    expect(request.constructor).toBe(Request);
    expect(Object.prototype.toString.call(request)).toBe('[object Request]');
  });

  it('method, url and headers (cookie crumbs joined, RFC 9113 §8.2.3); one Headers object throughout', () => {
    const request = light();
    expect(request.method).toBe('POST');
    expect(request.url).toBe(URL_1);
    expect([...request.headers]).toEqual([
      ['content-type', 'application/json'],
      ['cookie', 'a=1; b=2'],
      ['x-many', '1, 2'],
    ]);
    expect(request.headers).toBe(request.headers);
    void request.body;
    expect(request.headers).toBe(request.headers);
  });

  it('the remaining Request getters answer as the runtime’s Request does', () => {
    const request = light();
    const real = new Request(URL_1, { method: 'POST', body: 'x' });
    for (const name of ['destination', 'referrer', 'referrerPolicy', 'mode', 'credentials', 'cache', 'redirect', 'integrity', 'keepalive', 'isReloadNavigation', 'isHistoryNavigation'] as const) {
      expect(request[name], name).toEqual(real[name]);
    }
  });

  it('text() reads every chunk and marks the body used; a second read rejects', async () => {
    const request = light(bodyOf('hello ', 'world'));
    expect(request.bodyUsed).toBe(false);
    expect(await request.text()).toBe('hello world');
    expect(request.bodyUsed).toBe(true);
    await expect(request.text()).rejects.toBeInstanceOf(TypeError);
    await expect(request.arrayBuffer()).rejects.toBeInstanceOf(TypeError);
    // The runtime's Request made afterwards agrees that the body is used.
    expect(request.body).not.toBeNull();
    expect(request.bodyUsed).toBe(true);
    await expect(request.blob()).rejects.toBeInstanceOf(TypeError);
    expect(() => request.clone()).toThrow(TypeError);
  });

  it('arrayBuffer(), bytes() and json() give the body; arrayBuffer is exactly the body, a copy', async () => {
    const request = light(bodyOf('abc'));
    const buffer = await request.arrayBuffer();
    expect(buffer).toBeInstanceOf(ArrayBuffer);
    expect(buffer.byteLength).toBe(3);
    expect(new TextDecoder().decode(buffer)).toBe('abc');
    expect(await (light(bodyOf('x', 'yz')) as unknown as { bytes(): Promise<Uint8Array> }).bytes()).toEqual(new TextEncoder().encode('xyz'));
    expect(await light().json()).toEqual({ a: [1, 2] });
    await expect(light(bodyOf('{')).json()).rejects.toBeInstanceOf(SyntaxError);
  });

  it('body is a ReadableStream of the bytes', async () => {
    const request = light(bodyOf('one ', 'two'));
    expect(request.body).toBeInstanceOf(ReadableStream);
    expect(request.body).toBe(request.body);
    expect(await new Response(request.body).text()).toBe('one two');
    expect(request.bodyUsed).toBe(true);
  });

  it('blob() carries the content type; formData() parses a form', async () => {
    const blob = await light(bodyOf('{"a":1}')).blob();
    expect(blob.type).toBe('application/json');
    expect(await blob.text()).toBe('{"a":1}');
    const form = serverRequest('POST', URL_1, [['content-type', 'application/x-www-form-urlencoded']], bodyOf('a=1&b=two')) as unknown as Request;
    const data = await form.formData();
    expect(data.get('a')).toBe('1');
    expect(data.get('b')).toBe('two');
  });

  it('clone() gives two readers of the same body', async () => {
    const request = light(bodyOf('same'));
    const copy = request.clone();
    expect(copy).toBeInstanceOf(Request);
    expect(copy.url).toBe(URL_1);
    expect(await copy.text()).toBe('same');
    expect(await request.text()).toBe('same');
  });

  it('new Request(request) copies method, url, headers (changed ones too) and body', async () => {
    const request = light(bodyOf('payload'));
    request.headers.set('x-added', 'before');
    const copy = new Request(request);
    expect(copy.method).toBe('POST');
    expect(copy.url).toBe(URL_1);
    expect(copy.headers.get('x-added')).toBe('before');
    expect(copy.headers.get('cookie')).toBe('a=1; b=2');
    expect(await copy.text()).toBe('payload');
    expect(request.bodyUsed).toBe(true);
  });

  it('headers changed after the runtime’s Request was made still reach copies and clones', () => {
    const request = light(bodyOf('x'));
    request.headers.set('x-first', '1');
    void request.body; // the runtime's Request is made here
    request.headers.set('x-later', '2');
    request.headers.delete('x-many');
    const clone = request.clone();
    expect(clone.headers.get('x-first')).toBe('1');
    expect(clone.headers.get('x-later')).toBe('2');
    expect(clone.headers.has('x-many')).toBe(false);
    const copy = new Request(request, { method: 'PUT' });
    expect(copy.headers.get('x-later')).toBe('2');
    expect(copy.method).toBe('PUT');
  });

  it('a bodyless request: body null, reads give empty results and leave it unused', async () => {
    const request = light(null, 'GET');
    expect(request.body).toBeNull();
    expect(await request.text()).toBe('');
    expect((await request.arrayBuffer()).byteLength).toBe(0);
    expect(await request.text()).toBe('');
    expect(request.bodyUsed).toBe(false);
    await expect(request.json()).rejects.toBeInstanceOf(SyntaxError);
    const copy = new Request(request);
    expect(copy.method).toBe('GET');
    expect(copy.body).toBeNull();
  });

  it('the body is read through the source, without its web stream', async () => {
    const body = bodyOf('a', 'b');
    const request = light(body);
    expect(await request.text()).toBe('ab');
    expect(body.reads).toBe(3); // two chunks and the end
  });
});

describe('serverRequest: method and URL as the runtime’s Request would have them', () => {
  it('URLs the WHATWG parser rewrites reach the handler rewritten; plain ones unchanged', () => {
    const urls = [
      'https://app.example.com/',
      'http://127.0.0.1:8080/a?b=c',
      'https://app.example.com:443/x',
      'http://app.example.com:80/x',
      'https://APP.example.com/x',
      'https://app.example.com/a/../b/./c',
      'https://app.example.com/%2e%2E/x',
      'https://app.example.com/q?it\'s',
      'http://0x7f.1:99/',
      'http://1.2.3/',
      'https://xn--nxasmq6b.example/',
      'https://app.example.com/a%zz?%',
      'https://app.example.com:65535/',
    ];
    for (const url of urls) expect(serverRequest('GET', url, [], null).url, url).toBe(new Request(url).url);
  });

  it('IncomingRequest (unusual methods and URLs): a clone and a copy follow abortWith, its signal made before or after', () => {
    const request = serverRequest('PROPFIND', URL_1, [['x-a', '1']], bodyOf('b')) as IncomingRequest;
    const clone = request.clone();
    const copy = new Request(request);
    expect(clone.headers.get('x-a')).toBe('1');
    const reason = new Error('reset');
    request.abortWith(reason);
    expect(request.signal.reason).toBe(reason);
    expect(clone.signal.reason).toBe(reason);
    expect(copy.signal.reason).toBe(reason);
  });

  it('methods the runtime refuses are refused; unusual ones are kept', () => {
    expect(() => serverRequest('TRACE', URL_1, [], null)).toThrow(TypeError);
    expect(serverRequest('PROPFIND', URL_1, [], bodyOf()).method).toBe('PROPFIND');
    expect(serverRequest('PROPFIND', URL_1, [], null)).toBeInstanceOf(IncomingRequest);
  });
});

describe('server Request over a session: the signal (RFC 9113 §6.4 RST_STREAM aborts it)', () => {
  it('a signal read before the reset aborts, and so do a clone and a copy made before it', async () => {
    let request!: Request;
    let clone!: Request;
    let copy!: Request;
    let called!: () => void;
    const handled = new Promise<void>((r) => (called = r));
    const { client } = pair(async (req) => {
      request = req;
      void req.signal;
      clone = req.clone();
      copy = new Request(req);
      called();
      return new Response(new ReadableStream({ pull() {} }));
    });
    const controller = new AbortController();
    const res = await client.fetch('https://app.example.com/slow', { signal: controller.signal });
    expect(res.status).toBe(200);
    await handled;
    expect(request).toBeInstanceOf(serverRequestsAreLight ? ServerRequest : IncomingRequest);
    const aborted = (signal: AbortSignal) => new Promise((r) => signal.addEventListener('abort', () => r(signal.reason)));
    const all = Promise.all([aborted(request.signal), aborted(clone.signal), aborted(copy.signal)]);
    expect(request.signal.aborted).toBe(false);
    controller.abort();
    for (const reason of await all) {
      expect(reason).toBeInstanceOf(StreamResetError);
      expect((reason as StreamResetError).errorCode).toBe(ErrorCode.CANCEL);
    }
  });

  it('the echo: the handler reads the body through the stream bytes and gets all of it', async () => {
    const { client } = pair(async (req) => new Response(await req.arrayBuffer(), { headers: { 'x-used': String(req.bodyUsed) } }));
    const sent = 'x'.repeat(100_000);
    const res = await client.fetch('https://app.example.com/echo', { method: 'POST', body: sent });
    expect(await res.text()).toBe(sent);
    expect(res.headers.get('x-used')).toBe('true');
  });

  it('a body read that the reset interrupts rejects with the reset', async () => {
    let read!: Promise<unknown>;
    let called!: () => void;
    const handled = new Promise<void>((r) => (called = r));
    const { client } = pair(async (req) => {
      read = req.text().catch((e) => e);
      called();
      await read;
      return new Response('late');
    });
    const controller = new AbortController();
    // One chunk, then the body stays open: the handler's read waits for the rest.
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('part'));
      },
    });
    void client.fetch('https://app.example.com/up', { method: 'POST', body, duplex: 'half', signal: controller.signal } as RequestInit).catch(() => {});
    await handled;
    controller.abort();
    const error = await read;
    expect(error).toBeInstanceOf(StreamResetError);
  });
});

/**
 * The light paths depend on where Node's undici keeps a Request's and a Response's state, found
 * by probes at load (incoming-request.ts, response-message.ts). Elsewhere they fall back, correct
 * but slower; on the Node this repository pins they must be found, or a Node update has taken
 * the fast paths away without a word.
 */
describe.runIf(process.versions.node?.startsWith('20.'))('on the pinned Node (20): the probes find undici’s internals', () => {
  it('server requests are ServerRequests, which the runtime’s Request copies', () => {
    expect(serverRequestsAreLight).toBe(true);
    expect(serverRequest('POST', URL_1, FIELDS, null)).toBeInstanceOf(ServerRequest);
  });

  it('a Response made from a string or bytes gives its bytes without its stream', () => {
    const taken = takeResponse(new Response('hello'));
    expect(taken.bytes && new TextDecoder().decode(taken.bytes)).toBe('hello');
    const bytes = new Uint8Array([1, 2, 3]);
    expect(takeResponse(new Response(bytes)).bytes).toEqual(bytes);
  });
});
