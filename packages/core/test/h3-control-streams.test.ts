/**
 * RFC 9114 §6.2 unidirectional streams and §7.2 control frames, against a scripted peer: the
 * control stream's rules, QPACK's streams, push streams, unknown stream types, and frames in the
 * wrong place.
 */
import { describe, expect, it } from 'vitest';
import { connectQuic, H3ErrorCode, type Http3Session, type Http3SessionOptions } from '../src/h3/index.js';
import { quicPair } from './support/quic-pair.js';
import { H3ScriptedPeer } from './support/h3-scripted-peer.js';
import { hex } from './frame-vectors.js';

/** The engine in `role`, and a scripted peer in the other. */
function engine(role: 'client' | 'server', options: Partial<Http3SessionOptions> = {}): { session: Http3Session; peer: H3ScriptedPeer } {
  const { client, server } = quicPair();
  const session = connectQuic(role === 'server' ? server : client, { role, ...options });
  return { session, peer: new H3ScriptedPeer(role === 'server' ? client : server) };
}

describe('RFC 9114 §6.2.1 control streams', () => {
  it('each side opens its control stream first, SETTINGS first on it, then QPACK encoder and decoder streams (RFC 9204 §4.2)', async () => {
    const { session, peer } = engine('server', { origins: ['https://a.example'] });
    const frames = await peer.controlFrameCount(2);
    expect(frames[0].kind).toBe('settings');
    const settings = new Map(frames[0].kind === 'settings' ? frames[0].settings : []);
    expect(settings.get(0x8)).toBe(1); // RFC 9220 SETTINGS_ENABLE_CONNECT_PROTOCOL
    expect(settings.get(0x6)).toBeGreaterThan(0); // SETTINGS_MAX_FIELD_SECTION_SIZE
    expect(settings.has(0x1) && settings.has(0x7)).toBe(true); // QPACK
    expect(frames[1]).toEqual({ kind: 'origin', origins: ['https://a.example'] });
    await peer.uniStreamCount(3);
    expect(peer.uniTypes).toEqual([0x00, 0x02, 0x03]);
    session.close();
  });

  it('a control stream that does not begin with SETTINGS is H3_MISSING_SETTINGS', async () => {
    const { peer } = engine('server');
    await peer.openUni(0x00, { kind: 'goaway', id: 0 });
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_MISSING_SETTINGS);
  });

  it('a second control stream is H3_STREAM_CREATION_ERROR', async () => {
    const { peer } = engine('client');
    await peer.control();
    await peer.control();
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_STREAM_CREATION_ERROR);
  });

  it('closing the control stream is H3_CLOSED_CRITICAL_STREAM', async () => {
    const { peer } = engine('server');
    const writer = await peer.control();
    await writer.close();
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_CLOSED_CRITICAL_STREAM);
  });

  it('resetting a QPACK encoder stream is H3_CLOSED_CRITICAL_STREAM (RFC 9204 §4.2)', async () => {
    const { peer } = engine('server');
    await peer.control();
    const writer = await peer.openUni(0x02);
    await writer.write(new Uint8Array(0)); // the type arrived
    await writer.abort(new Error('reset'));
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_CLOSED_CRITICAL_STREAM);
  });

  it('a second SETTINGS frame is H3_FRAME_UNEXPECTED (§7.2.4)', async () => {
    const { peer } = engine('server');
    await peer.control({ kind: 'settings', settings: [] }, { kind: 'settings', settings: [] });
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_FRAME_UNEXPECTED);
  });

  it('DATA on the control stream is H3_FRAME_UNEXPECTED (§7.2.1)', async () => {
    const { peer } = engine('client');
    await peer.control({ kind: 'settings', settings: [] }, { kind: 'data', data: hex('00') });
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_FRAME_UNEXPECTED);
  });

  it('an HTTP/2 frame type (PING 0x6) is H3_FRAME_UNEXPECTED (§7.2.8)', async () => {
    const { peer } = engine('server');
    await peer.control({ kind: 'settings', settings: [] }, hex('06 08 0000000000000000') as never);
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_FRAME_UNEXPECTED);
  });

  it('an HTTP/2 setting (SETTINGS_MAX_CONCURRENT_STREAMS 0x3) is H3_SETTINGS_ERROR (§7.2.4.1)', async () => {
    const { peer } = engine('server');
    await peer.openUni(0x00, hex('04 02 03 0a'));
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_SETTINGS_ERROR);
  });

  it('MAX_PUSH_ID sent to a client is H3_FRAME_UNEXPECTED (§7.2.7)', async () => {
    const { peer } = engine('client');
    await peer.control({ kind: 'settings', settings: [] }, { kind: 'max-push-id', pushId: 4 });
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_FRAME_UNEXPECTED);
  });

  it('CANCEL_PUSH for a push never allowed is H3_ID_ERROR (§7.2.3)', async () => {
    const { peer } = engine('server');
    await peer.control({ kind: 'settings', settings: [] }, { kind: 'cancel-push', pushId: 0 });
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_ID_ERROR);
  });

  it('unknown and reserved frames on the control stream are ignored (§9)', async () => {
    const { session, peer } = engine('client');
    await peer.control({ kind: 'settings', settings: [[0x21, 7]] }, { kind: 'unknown', type: 0x21, payload: hex('0102') }, { kind: 'unknown', type: 0x40, payload: hex('') });
    await session.ready;
    expect(session.isClosed).toBe(false);
    session.close();
  });
});

describe('RFC 9114 §6.2.2 push streams, §6.2.3 unknown stream types', () => {
  it('a push stream to a client that never sent MAX_PUSH_ID is H3_ID_ERROR (§4.6)', async () => {
    const { peer } = engine('client');
    await peer.openUni(0x01, hex('00'));
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_ID_ERROR);
  });

  it('a push stream opened by a client is H3_STREAM_CREATION_ERROR', async () => {
    const { peer } = engine('server');
    await peer.openUni(0x01, hex('00'));
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_STREAM_CREATION_ERROR);
  });

  it('an unknown stream type is stopped with H3_STREAM_CREATION_ERROR and the connection goes on', async () => {
    const { session, peer } = engine('server');
    await peer.control();
    const writer = await peer.openUni(0x21, hex('0102030405'));
    const error = await writer.closed.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as { streamErrorCode?: number }).streamErrorCode).toBe(H3ErrorCode.H3_STREAM_CREATION_ERROR);
    expect(session.isClosed).toBe(false);
    session.close();
  });

  it('a bidirectional stream opened by the server is H3_STREAM_CREATION_ERROR (§6.1)', async () => {
    const { peer } = engine('client');
    await peer.request([hex('00')], false);
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_STREAM_CREATION_ERROR);
  });
});

describe('RFC 9114 §4.1 request stream framing (scripted client)', () => {
  it('DATA before HEADERS is H3_FRAME_UNEXPECTED', async () => {
    const { peer } = engine('server', { onStream: () => {} });
    await peer.control();
    await peer.request([hex('00 02 6869')]);
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_FRAME_UNEXPECTED);
  });

  it('SETTINGS on a request stream is H3_FRAME_UNEXPECTED (§7.2.4)', async () => {
    const { peer } = engine('server', { onStream: () => {} });
    await peer.control();
    await peer.request([hex('04 00')]);
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_FRAME_UNEXPECTED);
  });

  it('a stream ending inside a frame is H3_FRAME_ERROR (§7.1)', async () => {
    const { peer } = engine('server', { onStream: () => {} });
    await peer.control();
    await peer.request([peer.headers([[':method', 'GET'], [':scheme', 'https'], [':authority', 'a.example'], [':path', '/']]), hex('00 05 6869')]);
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_FRAME_ERROR);
  });

  it('HEADERS after the trailers is H3_FRAME_UNEXPECTED', async () => {
    const { peer } = engine('server', { onStream: () => {} });
    await peer.control();
    const head = peer.headers([[':method', 'POST'], [':scheme', 'https'], [':authority', 'a.example'], [':path', '/']]);
    await peer.request([head, peer.headers([['x-t', '1']]), peer.headers([['x-t', '2']])]);
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_FRAME_UNEXPECTED);
  });

  it('a malformed request (uppercase field name) is reset with H3_MESSAGE_ERROR and never reaches onStream (§4.1.2)', async () => {
    let called = 0;
    const { session, peer } = engine('server', { onStream: () => void called++ });
    await peer.control();
    const { reader } = await peer.request([peer.headers([[':method', 'GET'], [':scheme', 'https'], [':authority', 'a.example'], [':path', '/'], ['X-Upper', '1']])]);
    const error = await reader.read().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as { streamErrorCode?: number }).streamErrorCode).toBe(H3ErrorCode.H3_MESSAGE_ERROR);
    expect(called).toBe(0);
    expect(session.isClosed).toBe(false);
    session.close();
  });

  it('a request without :authority or Host is malformed (§4.3.1)', async () => {
    let called = 0;
    const { session, peer } = engine('server', { onStream: () => void called++ });
    await peer.control();
    const { reader } = await peer.request([peer.headers([[':method', 'GET'], [':scheme', 'https'], [':path', '/']])]);
    const error = await reader.read().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as { streamErrorCode?: number }).streamErrorCode).toBe(H3ErrorCode.H3_MESSAGE_ERROR);
    expect(called).toBe(0);
    session.close();
  });

  it('content-length that disagrees with the DATA is H3_MESSAGE_ERROR (§4.1.2)', async () => {
    const resets: number[] = [];
    const { session, peer } = engine('server', { onStream: (s) => void (s.onReset = (e) => resets.push(e.errorCode)) });
    await peer.control();
    const head = peer.headers([[':method', 'POST'], [':scheme', 'https'], [':authority', 'a.example'], [':path', '/'], ['content-length', '5']]);
    const { reader } = await peer.request([head, hex('00 02 6869')]);
    const error = await reader.read().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as { streamErrorCode?: number }).streamErrorCode).toBe(H3ErrorCode.H3_MESSAGE_ERROR);
    expect(resets).toEqual([H3ErrorCode.H3_MESSAGE_ERROR]);
    session.close();
  });

  it('a stream closed before its HEADERS is reset with H3_REQUEST_INCOMPLETE (§4.1.2)', async () => {
    const { session, peer } = engine('server', { onStream: () => {} });
    await peer.control();
    const { reader } = await peer.request([hex('21 00')]);
    const error = await reader.read().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as { streamErrorCode?: number }).streamErrorCode).toBe(H3ErrorCode.H3_REQUEST_INCOMPLETE);
    session.close();
  });
});
