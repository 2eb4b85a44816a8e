/**
 * HTTP/3 with QPACK's dynamic table (RFC 9204 §2.1.2 blocked streams) and the engine's defences
 * (RFC 9114 §10.5), against a scripted client.
 */
import { describe, expect, it } from 'vitest';
import { connectQuic, encodeH3Frame, H3ErrorCode, type Http3Session, type Http3SessionOptions } from '../src/h3/index.js';
import type { ServerStream } from '../src/http/server-stream.js';
import { QpackEncoder } from '../src/qpack/index.js';
import { quicPair } from './support/quic-pair.js';
import { H3ScriptedPeer } from './support/h3-scripted-peer.js';
import { hex } from './frame-vectors.js';
import { until } from './support/until.js';

function server(options: Partial<Http3SessionOptions>): { session: Http3Session; peer: H3ScriptedPeer } {
  const { client, server: quic } = quicPair();
  return { session: connectQuic(quic, { role: 'server', ...options }), peer: new H3ScriptedPeer(client) };
}

const GET = (authority: string): Array<[string, string]> => [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':authority', authority],
  [':path', '/'],
  ['user-agent', 'h3-test/1'],
];

describe('RFC 9204 §2.1.2 a blocked field section', () => {
  it('waits for the encoder stream, then the request is delivered whole, DATA and FIN after it', async () => {
    const seen: ServerStream[] = [];
    const { session, peer } = server({ onStream: (s) => void seen.push(s) });
    await peer.control({ kind: 'settings', settings: [] });
    const encoder = new QpackEncoder({ maxTableCapacity: 4096 });
    encoder.applyPeerSettings(4096, 16); // what the engine advertises by default
    const section = encoder.encode(0, GET('blocked.example'));
    const instructions = encoder.takeEncoderStream();
    expect(instructions?.length).toBeGreaterThan(0); // the section refers to entries only the encoder stream inserts
    const request = await peer.request([encodeH3Frame({ kind: 'headers', fieldSection: section }), encodeH3Frame({ kind: 'data', data: hex('6869') })]);
    await until(() => session.openStreams === 1);
    for (let i = 0; i < 50; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    expect(seen).toHaveLength(0); // blocked: not delivered, not refused
    await peer.openUni(0x02, instructions!);
    await until(() => seen.length === 1);
    expect(seen[0].head.authority).toBe('blocked.example');
    expect(seen[0].header('user-agent')).toBe('h3-test/1');
    // The DATA and FIN held behind the blocked HEADERS follow it, in order.
    expect(new TextDecoder().decode(await seen[0].bytes())).toBe('hi');
    seen[0].respond(204, {}, { endStream: true });
    const frames = await request.frames();
    expect(frames.map((f) => f.kind)).toEqual(['headers']);
    session.close();
  });

  it('session to session with the dynamic table on both sides: repeated requests decode', async () => {
    const { client, server: quic } = quicPair();
    const s = connectQuic(quic, { role: 'server', onStream: (stream) => stream.respond(200, { 'x-authority': stream.head.authority }, { endStream: true }) });
    const c = connectQuic(client, { role: 'client' });
    await c.ready;
    for (let i = 0; i < 5; i++) {
      const response = await c.open({ method: 'GET', url: new URL('https://dyn.example/'), headers: [['user-agent', 'rhttp']] }).response;
      expect(response.fields).toContainEqual(['x-authority', 'dyn.example']);
    }
    c.close();
    await s.closed;
  });
});

describe('RFC 9114 §10.5 defences', () => {
  it('rapid reset: request streams reset before they complete, past the budget, close the connection with H3_EXCESSIVE_LOAD', async () => {
    let resets = 0;
    const seenResets = () => resets;
    const { peer } = server({ onStream: (s) => void (s.onReset = () => resets++), limits: { maxResetsPerWindow: 5 }, now: () => 0 });
    await peer.control();
    let opened = 0;
    for (; opened < 20 && !peer.quic.closeInfo; opened++) {
      const { writer } = await peer.request([peer.headers(GET('a.example'), opened * 4)], false);
      await writer.write(new Uint8Array(0)); // the HEADERS were read
      await writer.abort(new Error('cancel'));
      await until(() => seenResets() >= opened + 1 || peer.quic.closeInfo !== undefined);
    }
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_EXCESSIVE_LOAD);
    // The sixth reset within the window is the one over the budget of five.
    expect(opened).toBe(6);
  });

  it('a few resets within the budget leave the connection up', async () => {
    const { session, peer } = server({ onStream: () => {}, limits: { maxResetsPerWindow: 5 }, now: () => 0 });
    await peer.control();
    for (let i = 0; i < 4; i++) {
      const { writer } = await peer.request([peer.headers(GET('a.example'), i * 4)], false);
      await writer.ready;
      await writer.abort(new Error('cancel'));
    }
    await until(() => session.openStreams === 0);
    expect(session.isClosed).toBe(false);
    session.close();
  });

  it('a HEADERS frame over the field section budget is H3_EXCESSIVE_LOAD before it is buffered', async () => {
    const { peer } = server({ onStream: () => {}, limits: { maxFieldSectionSize: 1024 } });
    await peer.control();
    await peer.request([hex('01 4800')], false); // HEADERS of 2048 octets announced
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_EXCESSIVE_LOAD);
  });

  it('request trailers reach the ServerStream (§4.1)', async () => {
    let seen!: ServerStream;
    const { session, peer } = server({ onStream: (s) => void (seen = s) });
    await peer.control();
    const head = peer.headers([[':method', 'POST'], [':scheme', 'https'], [':authority', 'a.example'], [':path', '/'], ['te', 'trailers']]);
    await peer.request([head, encodeH3Frame({ kind: 'data', data: hex('6869') }), peer.headers([['x-checksum', 'abc']])]);
    await until(() => seen !== undefined && seen.received);
    expect(new TextDecoder().decode(await seen.bytes())).toBe('hi');
    expect(seen.trailers).toEqual([['x-checksum', 'abc']]);
    session.close();
  });
});
