import { describe, expect, it } from 'vitest';
import { sessionPair } from './support/session-pair.js';
import { Http2Session, type Handler, type StreamInfo } from '../src/index.js';

const pair = sessionPair;

async function settled(session: Http2Session) {
  // The client needs the server's SETTINGS (ENABLE_CONNECT_PROTOCOL) before an extended CONNECT.
  for (let i = 0; i < 100 && !session.connection.remote.enableConnectProtocol; i++) await new Promise((r) => setImmediate(r));
}

describe('RFC 8441 §4–§5 extended CONNECT through Http2Session', () => {
  it('the handler sees a POST-like Request with head.protocol; its body and the Response body are the two directions of the tunnel', async () => {
    const seen: Array<{ method: string; url: string; info: StreamInfo['head'] }> = [];
    const { client, server } = pair(async (request, info) => {
      seen.push({ method: request.method, url: request.url, info: info.head });
      // Echo, upper-cased, chunk by chunk, until the client ends its side.
      const upper = new TransformStream<Uint8Array, Uint8Array>({
        transform: (chunk, c) => c.enqueue(new TextEncoder().encode(new TextDecoder().decode(chunk).toUpperCase())),
      });
      return new Response(request.body!.pipeThrough(upper), { status: 200, headers: { 'sec-websocket-protocol': 'chat' } });
    });
    await settled(client);
    let toServer!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (toServer = c) });
    const { response } = await client.request({ method: 'CONNECT', protocol: 'websocket', url: new URL('https://app.example.com/chat?room=1'), headers: new Headers({ 'sec-websocket-version': '13' }), body });
    expect(response.status).toBe(200);
    expect(response.headers.get('sec-websocket-protocol')).toBe('chat');
    expect(seen[0].method).toBe('POST');
    expect(seen[0].url).toBe('https://app.example.com/chat?room=1');
    expect(seen[0].info).toMatchObject({ method: 'CONNECT', protocol: 'websocket', path: '/chat?room=1', authority: 'app.example.com' });
    expect(seen[0].info.headers.get('sec-websocket-version')).toBe('13');
    const reader = response.body!.getReader();
    // Interleaved: each message is answered before the next is sent, so both directions are open at once.
    for (const word of ['one', 'two', 'three']) {
      toServer.enqueue(new TextEncoder().encode(word));
      const { value } = await reader.read();
      expect(new TextDecoder().decode(value)).toBe(word.toUpperCase());
    }
    toServer.close(); // END_STREAM from the client → the handler's body ends → END_STREAM back
    expect((await reader.read()).done).toBe(true);
    client.close();
    server.close();
  });
});
