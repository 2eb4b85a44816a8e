import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  base64DecodeStream,
  decodeTrailerBlock,
  encodeBase64,
  encodeTrailerFrame,
  grpcWebModeOf,
  toGrpcRequest,
  toGrpcWebResponse,
  type GrpcWebMode,
} from '../src/grpc-web.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of stream as unknown as AsyncIterable<Uint8Array>) parts.push(part);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
}

/** Split `data` at the given cut points (sorted, deduplicated, inside the data). */
function split(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, data.length]) {
    chunks.push(data.subarray(from, p));
    from = p;
  }
  return chunks;
}

describe('gRPC-Web content types (PROTOCOL-WEB.md "Protocol differences vs gRPC over HTTP2")', () => {
  const cases: Array<[string, string | null, GrpcWebMode | undefined]> = [
    ['application/grpc-web', null, { textRequest: false, textResponse: false, subtype: '' }],
    ['application/grpc-web+proto', null, { textRequest: false, textResponse: false, subtype: '+proto' }],
    ['application/grpc-web+json; charset=utf-8', null, { textRequest: false, textResponse: false, subtype: '+json' }],
    ['Application/GRPC-Web-Text', null, { textRequest: true, textResponse: true, subtype: '' }],
    ['application/grpc-web-text+proto', null, { textRequest: true, textResponse: true, subtype: '+proto' }],
    ['application/grpc-web+proto', 'application/grpc-web-text', { textRequest: false, textResponse: true, subtype: '+proto' }],
    ['application/grpc', null, undefined],
    ['application/grpc+proto', null, undefined],
    ['application/json', null, undefined],
    ['application/grpc-webby', null, undefined],
  ];
  it.each(cases)('%s (accept %s)', (contentType, accept, mode) => {
    const headers = new Headers({ 'content-type': contentType });
    if (accept) headers.set('accept', accept);
    expect(grpcWebModeOf(headers)).toEqual(mode);
  });

  it('a request without Content-Type is not gRPC-Web', () => {
    expect(grpcWebModeOf(new Headers())).toBeUndefined();
  });
});

describe('gRPC-Web trailer frame (PROTOCOL-WEB.md "Message framing"), both ways', () => {
  const vectors: Array<[Record<string, string>, string]> = [
    [{ 'grpc-status': '0' }, 'grpc-status: 0\r\n'],
    [{ 'grpc-status': '5', 'grpc-message': 'no%20such%20thing%3A%20%C3%BC' }, 'grpc-message: no%20such%20thing%3A%20%C3%BC\r\ngrpc-status: 5\r\n'],
    [{}, ''],
  ];
  it.each(vectors)('%j', (fields, block) => {
    const frame = encodeTrailerFrame(new Headers(fields));
    expect(frame[0]).toBe(0x80);
    expect(new DataView(frame.buffer).getUint32(1)).toBe(block.length);
    expect(text(frame.subarray(5))).toBe(block);
    expect(Object.fromEntries(decodeTrailerBlock(frame.subarray(5)))).toEqual(fields);
  });

  it('names are written lower-case (trailer names MUST be lower-case)', () => {
    const frame = encodeTrailerFrame(new Headers([['Grpc-Status', '0'], ['X-Custom', 'v']]));
    expect(text(frame.subarray(5))).toBe('grpc-status: 0\r\nx-custom: v\r\n');
  });

  it('a value with bytes above 0x7f is written one byte per character', () => {
    const frame = encodeTrailerFrame(new Headers([['x-latin', 'caf\u00e9']]));
    expect([...frame.subarray(5)].slice(-3)).toEqual([0xe9, 0x0d, 0x0a]);
    expect(decodeTrailerBlock(frame.subarray(5)).get('x-latin')).toBe('caf\u00e9');
  });

  it('a line without a name is refused', () => {
    expect(() => decodeTrailerBlock(bytes(': x\r\n'))).toThrow(/without a name/);
  });
});

describe('base64 for grpc-web-text (RFC 4648 §4)', () => {
  it('encodes as Buffer does, padded', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (data) => {
        expect(text(encodeBase64(data))).toBe(Buffer.from(data).toString('base64'));
      }),
    );
  });

  it('decodes at any chunk boundary, including padded segments one after another', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 10 }), async (segments, cuts) => {
        // Each segment padded on its own, as a sender that encodes chunk by chunk (Envoy) writes it.
        const encoded = bytes(segments.map((s) => Buffer.from(s).toString('base64')).join(''));
        const decoded = await collect(streamOf(split(encoded, cuts)).pipeThrough(base64DecodeStream()));
        expect(Buffer.from(decoded)).toEqual(Buffer.concat(segments));
      }),
    );
  });

  it('skips line breaks and refuses bytes outside the alphabet or a cut quantum', async () => {
    expect(text(await collect(streamOf([bytes('aGVs\r\nbG8=\n')]).pipeThrough(base64DecodeStream())))).toBe('hello');
    await expect(collect(streamOf([bytes('aGV*')]).pipeThrough(base64DecodeStream()))).rejects.toThrow(/outside base64/);
    await expect(collect(streamOf([bytes('aGVsb')]).pipeThrough(base64DecodeStream()))).rejects.toThrow(/inside a base64 quantum/);
    await expect(collect(streamOf([bytes('aG=s')]).pipeThrough(base64DecodeStream()))).rejects.toThrow(/padding inside/);
  });

  it('tells what was wrong to the request, whose invalid() names it', async () => {
    const headers = new Headers({ 'content-type': 'application/grpc-web-text' });
    const request = toGrpcRequest(headers, streamOf([bytes('aGVs'), bytes('b')]), grpcWebModeOf(headers)!);
    expect(request.invalid()).toBeUndefined();
    await expect(collect(request.body!)).rejects.toThrow();
    expect(request.invalid()).toMatchObject({ code: 'bad_base64', message: expect.stringMatching(/inside a base64 quantum/) });
  });
});

describe('gRPC-Web request → gRPC request', () => {
  it('binary: content type with the same subtype, te: trailers, body and length as they are', async () => {
    const headers = new Headers({ 'content-type': 'application/grpc-web+proto', 'content-length': '7', accept: 'application/grpc-web+proto', 'x-grpc-web': '1' });
    const mode = grpcWebModeOf(headers)!;
    const { body } = toGrpcRequest(headers, streamOf([bytes('message')]), mode);
    expect(Object.fromEntries(headers)).toEqual({ 'content-type': 'application/grpc+proto', 'content-length': '7', te: 'trailers', 'x-grpc-web': '1' });
    expect(text(await collect(body!))).toBe('message');
  });

  it('text: the body is base64-decoded as it streams and Content-Length goes', async () => {
    const headers = new Headers({ 'content-type': 'application/grpc-web-text', 'content-length': '12' });
    const { body } = toGrpcRequest(headers, streamOf([bytes('bWVz'), bytes('c2Fn'), bytes('ZQ==')]), grpcWebModeOf(headers)!);
    expect(Object.fromEntries(headers)).toEqual({ 'content-type': 'application/grpc', te: 'trailers' });
    expect(text(await collect(body!))).toBe('message');
  });
});

describe('gRPC response → gRPC-Web response', () => {
  const binary: GrpcWebMode = { textRequest: false, textResponse: false, subtype: '+proto' };
  const textMode: GrpcWebMode = { textRequest: true, textResponse: true, subtype: '' };
  const message = new Uint8Array([0, 0, 0, 0, 2, 8, 1]);
  const trailerFrame = encodeTrailerFrame(new Headers({ 'grpc-status': '0', 'grpc-message': '' }));

  it('the body as is, then the trailers as the final frame; exposed headers; no Content-Length', async () => {
    const upstream = new Response(streamOf([message]), { headers: { 'content-type': 'application/grpc+proto', 'content-length': '7', 'x-app': 'a' } });
    const response = toGrpcWebResponse(upstream, Promise.resolve(new Headers({ 'grpc-status': '0', 'grpc-message': '' })), binary);
    expect(response.headers.get('content-type')).toBe('application/grpc-web+proto');
    expect(response.headers.get('content-length')).toBeNull();
    expect(response.headers.get('x-app')).toBe('a');
    expect(response.headers.get('access-control-expose-headers')).toBe('grpc-status, grpc-message');
    expect([...(await collect(response.body!))]).toEqual([...message, ...trailerFrame]);
  });

  it('text: each chunk and the trailer frame base64-encoded, each padded on its own', async () => {
    const upstream = new Response(streamOf([message.subarray(0, 5), message.subarray(5)]), { headers: { 'content-type': 'application/grpc' } });
    const response = toGrpcWebResponse(upstream, Promise.resolve(new Headers({ 'grpc-status': '0', 'grpc-message': '' })), textMode);
    expect(response.headers.get('content-type')).toBe('application/grpc-web-text');
    const body = text(await collect(response.body!));
    const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
    expect(body).toBe(b64(message.subarray(0, 5)) + b64(message.subarray(5)) + b64(trailerFrame));
    const decoded = await collect(streamOf([bytes(body)]).pipeThrough(base64DecodeStream()));
    expect([...decoded]).toEqual([...message, ...trailerFrame]);
  });

  it('trailers-only: grpc-status and the percent-encoded grpc-message stay headers, with no body', async () => {
    const upstream = new Response(null, { headers: { 'content-type': 'application/grpc+proto', 'grpc-status': '5', 'grpc-message': '%C3%BCn%C3%AFcode%20%E2%9C%93' } });
    const response = toGrpcWebResponse(upstream, Promise.resolve(new Headers()), binary);
    expect(response.body).toBeNull();
    expect(response.headers.get('grpc-status')).toBe('5');
    expect(response.headers.get('grpc-message')).toBe('%C3%BCn%C3%AFcode%20%E2%9C%93');
    expect(response.headers.get('content-type')).toBe('application/grpc-web+proto');
  });

  it('a response that is not gRPC passes unchanged but for the exposed headers; an app list is kept', async () => {
    const upstream = new Response('502: down\n', { status: 502, headers: { 'content-type': 'text/plain', 'access-control-expose-headers': 'x-app, grpc-status' } });
    const response = toGrpcWebResponse(upstream, Promise.resolve(new Headers()), binary);
    expect(response.status).toBe(502);
    expect(response.headers.get('content-type')).toBe('text/plain');
    expect(response.headers.get('access-control-expose-headers')).toBe('x-app, grpc-status, grpc-message');
    expect(await response.text()).toBe('502: down\n');
  });

  it('an upstream body that fails errors the gRPC-Web body, and its rejected trailers go unhandled nowhere', async () => {
    const upstreamBody = new ReadableStream<Uint8Array>({ pull: (controller) => controller.error(new Error('stream reset')) });
    const response = toGrpcWebResponse(new Response(upstreamBody, { headers: { 'content-type': 'application/grpc' } }), Promise.reject(new Error('stream reset')), binary);
    await expect(collect(response.body!)).rejects.toThrow(/stream reset/);
  });

  it('cancelling the gRPC-Web body cancels the upstream body', async () => {
    let cancelled: unknown;
    const upstreamBody = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}), cancel: (reason) => void (cancelled = reason ?? 'cancelled') });
    const response = toGrpcWebResponse(new Response(upstreamBody, { headers: { 'content-type': 'application/grpc' } }), new Promise(() => {}), binary);
    await response.body!.cancel('gone');
    expect(cancelled).toBe('gone');
  });
});
