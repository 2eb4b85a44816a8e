import { describe, expect, it } from 'vitest';
import { sessionPair } from './support/session-pair.js';
import { Http2Session, type Handler, type StreamInfo } from '../src/index.js';

const pair = sessionPair;

describe('RFC 9113 §8.5 CONNECT through the session API', () => {
  it('the handler sees method CONNECT and host:port in info.head (default port filled in), the body is the client bytes, the response body the bytes back', async () => {
    const seen: StreamInfo['head'][] = [];
    const { client } = pair(async (request, info) => {
      seen.push(info.head);
      // An echo tunnel that upper-cases what it gets.
      const upper = request.body!.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          controller.enqueue(new TextEncoder().encode(new TextDecoder().decode(chunk).toUpperCase()));
        },
      }));
      return new Response(upper, { status: 200 });
    });
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const { response } = await client.request({ method: 'CONNECT', url: new URL('https://app.example.com/'), body: readable });
    expect(response.status).toBe(200);
    expect(seen[0].method).toBe('CONNECT');
    expect(seen[0].authority).toBe('app.example.com:443');
    const writer = writable.getWriter();
    const reader = response.body!.getReader();
    await writer.write(new TextEncoder().encode('hello'));
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('HELLO');
    await writer.write(new TextEncoder().encode('again'));
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('AGAIN');
    await writer.close();
    expect((await reader.read()).done).toBe(true);
  });

  it('an explicit port is kept in :authority', async () => {
    let authority = '';
    const { client } = pair((_request, info) => {
      authority = info.head.authority;
      return new Response(null, { status: 403 });
    });
    const { response } = await client.request({ method: 'CONNECT', url: new URL('https://db.example.com:5432/'), body: new ReadableStream() });
    expect(response.status).toBe(403);
    expect(authority).toBe('db.example.com:5432');
  });
});
