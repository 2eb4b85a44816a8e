/**
 * The HTTP/3 client role (RFC 9114 §4.1, §5.2) against a scripted server: responses malformed or
 * in pieces, interim responses, GOAWAY ids, and the empty-DATA flood bound.
 */
import { describe, expect, it } from 'vitest';
import { connectQuic, encodeH3Frame, H3ErrorCode, type Http3Session } from '../src/h3/index.js';
import { quicPair } from './support/quic-pair.js';
import { H3ScriptedPeer } from './support/h3-scripted-peer.js';
import { readAll } from './support/h3-pair.js';
import { hex } from './frame-vectors.js';

function client(options: { reversed?: boolean } = {}): { session: Http3Session; peer: H3ScriptedPeer } {
  const { client: c, server: s } = quicPair();
  // Reversed: the engine (HTTP client) is the QUIC server and opens QUIC server-initiated streams.
  const [mine, theirs] = options.reversed ? [s, c] : [c, s];
  const session = connectQuic(mine, { role: 'client', quicRole: options.reversed ? 'server' : 'client' });
  return { session, peer: new H3ScriptedPeer(theirs) };
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as { errorCode?: number; retryable?: boolean },
  );

describe('RFC 9114 §4.1 responses (scripted server)', () => {
  it('interim 1xx responses come before the final one, which is the response', async () => {
    const { session, peer } = client();
    await peer.control();
    const exchange = session.open({ method: 'GET', url: new URL('https://a.example/') });
    const { id, frames, writer } = await peer.acceptRequest();
    expect(frames.map((f) => f.kind)).toEqual(['headers']);
    await writer.write(peer.headers([[':status', '103'], ['link', '</s.css>; rel=preload']], id));
    await writer.write(peer.headers([[':status', '200'], ['content-length', '2']], id));
    await writer.write(encodeH3Frame({ kind: 'data', data: hex('6869') }));
    await writer.close();
    const response = await exchange.response;
    expect(response.status).toBe(200);
    expect(new TextDecoder().decode(await readAll(response.body))).toBe('hi');
    session.close();
  });

  it('a response without :status is malformed: H3_MESSAGE_ERROR, the exchange fails, the connection lives', async () => {
    const { session, peer } = client();
    await peer.control();
    const exchange = session.open({ method: 'GET', url: new URL('https://a.example/') });
    const { id, writer } = await peer.acceptRequest();
    void writer.write(peer.headers([['content-type', 'text/plain']], id)).catch(() => {});
    expect((await failure(exchange.response))?.errorCode).toBe(H3ErrorCode.H3_MESSAGE_ERROR);
    expect(session.isClosed).toBe(false);
    session.close();
  });

  it('content-length disagreeing with the DATA fails the body with H3_MESSAGE_ERROR', async () => {
    const { session, peer } = client();
    await peer.control();
    const exchange = session.open({ method: 'GET', url: new URL('https://a.example/') });
    const { id, writer } = await peer.acceptRequest();
    await writer.write(peer.headers([[':status', '200'], ['content-length', '10']], id));
    await writer.write(encodeH3Frame({ kind: 'data', data: hex('6869') }));
    void writer.close().catch(() => {});
    const response = await exchange.response;
    expect((await failure(readAll(response.body)))?.errorCode).toBe(H3ErrorCode.H3_MESSAGE_ERROR);
    session.close();
  });

  it('too many empty DATA frames in a row are H3_EXCESSIVE_LOAD', async () => {
    const { session, peer } = client();
    await peer.control();
    session.open({ method: 'GET', url: new URL('https://a.example/') });
    const { id, writer } = await peer.acceptRequest();
    await writer.write(peer.headers([[':status', '200']], id));
    void writer.write(new Uint8Array(2 * 200).fill(0)).catch(() => {}); // 200 DATA frames of length 0
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_EXCESSIVE_LOAD);
  });
});

describe('RFC 9114 §5.2 GOAWAY received by the client (scripted server)', () => {
  for (const reversed of [false, true]) {
    it(`requests at or above the GOAWAY id fail as retryable, those below finish${reversed ? ' (reversed ids: 1, 5, 9…)' : ''}`, async () => {
      const { session, peer } = client({ reversed });
      const control = await peer.control();
      const first = session.open({ method: 'GET', url: new URL('https://a.example/1') });
      const second = session.open({ method: 'GET', url: new URL('https://a.example/2') });
      const a = await peer.acceptRequest();
      const b = await peer.acceptRequest();
      expect([a.id, b.id]).toEqual(reversed ? [1, 5] : [0, 4]);
      await control.write(encodeH3Frame({ kind: 'goaway', id: b.id }));
      expect(await failure(second.response)).toMatchObject({ retryable: true, errorCode: H3ErrorCode.H3_REQUEST_REJECTED });
      expect(session.draining).toBe(true);
      await a.writer.write(peer.headers([[':status', '204']], a.id));
      await a.writer.close();
      expect((await first.response).status).toBe(204);
      expect(await session.closed).toBeUndefined();
    });
  }

  it('a GOAWAY id that is not a request stream id is H3_ID_ERROR', async () => {
    const { peer } = client();
    const control = await peer.control();
    await control.write(encodeH3Frame({ kind: 'goaway', id: 2 }));
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_ID_ERROR);
  });

  it('a GOAWAY id larger than an earlier one is H3_ID_ERROR', async () => {
    const { session, peer } = client();
    const control = await peer.control();
    session.open({ method: 'GET', url: new URL('https://a.example/') });
    await peer.acceptRequest();
    await control.write(encodeH3Frame({ kind: 'goaway', id: 8 }));
    await control.write(encodeH3Frame({ kind: 'goaway', id: 12 }));
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_ID_ERROR);
  });
});
