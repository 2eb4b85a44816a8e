/**
 * Bounds on what a peer can make the HTTP/3 engine keep, found reviewing it as an attacker would:
 * the peer's origin set (RFC 9412).
 */
import { describe, expect, it } from 'vitest';
import { connectQuic, encodeH3Frame, H3ErrorCode } from '../src/h3/index.js';
import { MAX_PEER_ORIGINS } from '../src/h3/connection.js';
import { quicPair } from './support/quic-pair.js';
import { H3ScriptedPeer } from './support/h3-scripted-peer.js';

async function until(cond: () => boolean, turns = 20_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (cond()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error('condition never held');
}

describe('the peer origin set (RFC 9412) is bounded', () => {
  it(`origins up to ${MAX_PEER_ORIGINS} are kept; one more closes the connection with H3_EXCESSIVE_LOAD`, async () => {
    const { client: c, server: s } = quicPair();
    const session = connectQuic(c, { role: 'client' });
    const peer = new H3ScriptedPeer(s);
    const origins = Array.from({ length: MAX_PEER_ORIGINS }, (_, i) => `https://o${i}.example`);
    // Several frames, each under the control-frame budget: the set grows across frames.
    const frames = [];
    for (let at = 0; at < origins.length; at += 256) frames.push(encodeH3Frame({ kind: 'origin', origins: origins.slice(at, at + 256) }));
    const writer = await peer.openUni(0x00, { kind: 'settings', settings: [] }, ...frames);
    await until(() => session.peerOrigins.length === MAX_PEER_ORIGINS);
    expect(session.connection.isClosed).toBe(false);
    // Origins already in the set add nothing and cost nothing.
    await writer.write(encodeH3Frame({ kind: 'origin', origins: origins.slice(0, 8) }));
    await writer.write(encodeH3Frame({ kind: 'origin', origins: ['https://one-more.example'] }));
    await until(() => session.connection.isClosed || session.peerOrigins.includes('https://one-more.example'));
    expect(session.peerOrigins).not.toContain('https://one-more.example');
    expect((await peer.closed()).closeCode).toBe(H3ErrorCode.H3_EXCESSIVE_LOAD);
  });
});
