/**
 * FastResponse (fast-response.ts): a Response that keeps a string or byte body as given until
 * someone needs its web stream, sent by the server's Fetch adapter from the bytes; and
 * `installFastResponse()`, the opt-in that makes it the global Response.
 */
import { describe, expect, it } from 'vitest';
import { sessionPair } from './support/session-pair.js';
import { FastResponse, fromResponse, installFastResponse, nextChunk, responseTrailers, withTrailers, type BodyReader, type Handler } from '../src/index.js';

const NativeResponse = Response;
const dec = new TextDecoder();

const pair = (handler: Handler) => sessionPair(handler);

async function readAll(body: BodyReader): Promise<Uint8Array> {
  const parts: number[] = [];
  for (let c = await nextChunk(body); c !== null; c = await nextChunk(body)) parts.push(...c);
  return new Uint8Array(parts);
}

const fast = (body?: ConstructorParameters<typeof Response>[0], init?: ResponseInit) => new FastResponse(body, init) as unknown as Response;

describe('FastResponse: a Response to every getter and method', () => {
  it('is a Response to instanceof and toString', () => {
    const response = fast('ok');
    expect(response).toBeInstanceOf(Response);
    expect(response).toBeInstanceOf(FastResponse);
    expect(Object.prototype.toString.call(response)).toBe('[object Response]');
  });

  it('status, ok, statusText, headers, type, url and redirected answer as the runtime’s Response', () => {
    const cases: Array<[ConstructorParameters<typeof Response>[0], ResponseInit | undefined]> = [
      ['ok', undefined],
      ['', { status: 201, statusText: 'Made', headers: { 'x-a': '1' } }],
      [new Uint8Array([1, 2]), { status: 404, headers: [['content-type', 'application/x'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']] }],
      [null, { status: 204 }],
      [new ArrayBuffer(3), { headers: new Headers({ 'x-b': '2' }) }],
      ['text', { headers: { 'Content-Type': 'text/html' } }],
      [new URLSearchParams('a=1'), undefined],
      [new Blob(['b'], { type: 'x/y' }), { status: 500 }],
    ];
    for (const [body, init] of cases) {
      const ours = fast(body, init);
      const theirs = new NativeResponse(body, init);
      for (const name of ['status', 'ok', 'statusText', 'type', 'url', 'redirected', 'bodyUsed'] as const) expect(ours[name], name).toBe(theirs[name]);
      expect([...ours.headers]).toEqual([...theirs.headers]);
      expect(ours.headers.getSetCookie()).toEqual(theirs.headers.getSetCookie());
      expect(ours.body === null).toBe(theirs.body === null);
    }
  });

  it('reading methods give the body; a second read rejects, as bodyUsed says', async () => {
    expect(await fast('hello').text()).toBe('hello');
    expect(new Uint8Array(await fast(new Uint8Array([7, 8])).arrayBuffer())).toEqual(new Uint8Array([7, 8]));
    expect(await fast('{"a":1}').json()).toEqual({ a: 1 });
    const blob = await fast('b', { headers: { 'content-type': 'x/y' } }).blob();
    expect([blob.type, await blob.text()]).toEqual(['x/y', 'b']);
    expect((await fast('a=1&b=2', { headers: { 'content-type': 'application/x-www-form-urlencoded' } }).formData()).get('b')).toBe('2');
    const response = fast('once');
    expect(response.bodyUsed).toBe(false);
    await response.text();
    expect(response.bodyUsed).toBe(true);
    await expect(response.text()).rejects.toBeInstanceOf(TypeError);
  });

  it('the bytes are copied when it is made, as the runtime copies them', async () => {
    const bytes = new TextEncoder().encode('abc');
    const response = fast(bytes);
    bytes[0] = 0x7a;
    expect(await response.text()).toBe('abc');
    const view = new Uint8Array([1, 2, 3, 4]).subarray(1, 3);
    expect(new Uint8Array(await fast(view).arrayBuffer())).toEqual(new Uint8Array([2, 3]));
  });

  it('body is a ReadableStream; clone() gives two readers', async () => {
    const response = fast('two');
    const clone = response.clone();
    expect(response.body).toBeInstanceOf(ReadableStream);
    expect(await new NativeResponse(response.body).text()).toBe('two');
    expect(await clone.text()).toBe('two');
  });

  it('headers changed after the runtime’s Response was made reach its clones', () => {
    const response = fast('x');
    void response.body;
    response.headers.set('x-later', '1');
    expect(response.clone().headers.get('x-later')).toBe('1');
  });

  it('refuses what the runtime refuses, with the same error, and converts what it converts', () => {
    const errorOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as Error).constructor;
      }
      return undefined;
    };
    const inits: Array<[ConstructorParameters<typeof Response>[0], ResponseInit]> = [
      ['x', { status: 199 }],
      ['x', { status: 600 }],
      ['x', { status: 204 }],
      ['x', { status: 304 }],
      ['x', { statusText: 'bad\nline' }],
      ['x', { headers: { 'bad name': '1' } }],
      ['x', { status: 200.7 }],
    ];
    for (const [body, init] of inits) {
      const expected = errorOf(() => new NativeResponse(body, init));
      expect(errorOf(() => new FastResponse(body, init)), JSON.stringify(init)).toBe(expected);
      if (!expected) expect(fast(body, init).status).toBe(new NativeResponse(body, init).status);
    }
  });

  it('statics come from the runtime’s Response', async () => {
    const json = FastResponse.json({ a: 1 });
    expect(json).toBeInstanceOf(Response);
    expect(await json.json()).toEqual({ a: 1 });
    expect(FastResponse.error().type).toBe('error');
    expect(FastResponse.redirect('https://a.example/', 302).headers.get('location')).toBe('https://a.example/');
  });
});

describe('FastResponse through the server Fetch adapter', () => {
  it('a held body is sent from its bytes, with its status and headers; it counts as used', async () => {
    let sent!: Response;
    const { client } = pair(() => (sent = fast('held body', { status: 202, headers: { 'x-a': '1' } })));
    const res = await client.fetch('https://app.example.com/');
    expect(res.status).toBe(202);
    expect(res.headers.get('x-a')).toBe('1');
    expect(res.headers.get('content-type')).toBe('text/plain;charset=UTF-8');
    expect(await res.text()).toBe('held body');
    expect(sent.bodyUsed).toBe(true);
  });

  it('trailers follow a held body (withTrailers); HEAD and 204 send none of it', async () => {
    const { client } = pair((req) => {
      if (req.method === 'HEAD') return fast('not sent');
      if (req.url.endsWith('/none')) return fast(null, { status: 204 });
      return withTrailers(fast(new Uint8Array([1, 2, 3])), () => new Headers({ 'grpc-status': '0' }));
    });
    const res = await client.fetch('https://app.example.com/t');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3]));
    expect((await responseTrailers(res)).get('grpc-status')).toBe('0');
    const head = await client.fetch('https://app.example.com/', { method: 'HEAD' });
    expect(await head.text()).toBe('');
    const none = await client.fetch('https://app.example.com/none');
    expect([none.status, await none.text()]).toEqual([204, '']);
  });

  it('a FastResponse whose body a handler already streamed is sent through that stream', async () => {
    const { client } = pair(async () => {
      const response = fast('streamed');
      const reader = response.body!.getReader();
      const first = await reader.read();
      reader.releaseLock();
      void first;
      return response;
    });
    const res = await client.fetch('https://app.example.com/');
    // The one chunk was taken by the handler: what is left is the end.
    expect(await res.text()).toBe('');
  });

  it('a runtime Response made from a string is sent from its source, and counts as used', async () => {
    let sent!: Response;
    const { client } = pair(() => (sent = new NativeResponse('native', { headers: { 'x-n': '1' } })));
    const res = await client.fetch('https://app.example.com/');
    expect([res.headers.get('x-n'), await res.text()]).toEqual(['1', 'native']);
    expect(sent.bodyUsed).toBe(true);
  });

  it('a runtime Response whose body the handler already read from is sent through its stream, not its source', async () => {
    const { client } = pair(async () => {
      const response = new NativeResponse('native');
      const reader = response.body!.getReader();
      await reader.read();
      reader.releaseLock();
      return response;
    });
    const res = await client.fetch('https://app.example.com/');
    // The one chunk was taken by the handler: what is left is the end.
    expect(await res.text()).toBe('');
  });

  it('a runtime Response whose body is locked by a reader is not taken from its source: the stream is reset', async () => {
    const { client } = pair(() => {
      const response = new NativeResponse('native');
      response.body!.getReader();
      return response;
    });
    // Before, the HEADERS went out and the stream then waited forever for a body nobody could read.
    const outcome = await client.fetch('https://app.example.com/').then(
      (res) => res.text().then((text) => `read ${JSON.stringify(text)}`, (error: Error) => `reset: ${error.message}`),
      (error: Error) => `reset: ${error.message}`,
    );
    expect(outcome).toMatch(/^reset: .*CANCEL/);
  });

  it('fromResponse reads a held body as one chunk; trailers final (none)', async () => {
    const message = fromResponse(fast('from bytes', { status: 201 }));
    expect(message.status).toBe(201);
    expect(dec.decode(await readAll(message.body!))).toBe('from bytes');
    expect(message.trailers).toEqual([]);
    expect(fromResponse(fast(null)).body).toBeNull();
  });
});

describe('installFastResponse: opt-in global', () => {
  it('new Response makes FastResponses; statics and instanceof of runtime Responses still work; restore puts the global back', async () => {
    const restore = installFastResponse();
    try {
      expect(globalThis.Response).toBe(FastResponse);
      const made = new Response('g');
      expect(Object.getPrototypeOf(made)).toBe(FastResponse.prototype);
      expect(made).toBeInstanceOf(Response);
      expect(await made.text()).toBe('g');
      expect(new NativeResponse('n')).toBeInstanceOf(Response);
      expect(Response.json({ b: 2 })).toBeInstanceOf(Response);
      expect(await Response.json({ b: 2 }).json()).toEqual({ b: 2 });
      expect(Response.error().type).toBe('error');
      expect(Response.redirect('https://a.example/', 301).status).toBe(301);
      expect({}).not.toBeInstanceOf(Response);
      // A handler writing `new Response` is served through the held-body path.
      const { client } = pair(() => new Response('through global'));
      expect(await (await client.fetch('https://app.example.com/')).text()).toBe('through global');
    } finally {
      restore();
    }
    expect(globalThis.Response).toBe(NativeResponse);
  });
});
