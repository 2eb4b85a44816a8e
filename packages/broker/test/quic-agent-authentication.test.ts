/**
 * QuicAgentAuthentication on its own: a real AgentAdmission, real certificates, no QUIC. The
 * RHTTP_AUTHENTICATE timer is an injected fake the test fires; decisions are read from the
 * admission's recorded events.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ErrorCode,
  MAX_QUIC_AUTHENTICATE_LENGTH,
  RHTTP_AUTHENTICATE_FRAME,
  RHTTP_CHALLENGE_FRAME,
  decodeQuicAuthenticate,
  encodeQuicAuthenticate,
  newQuicChallenge,
  signQuicChallenge,
} from '@rhttp/core';
import { FakeTimers } from './fake-timers.js';
import { createDevCa, issueCertificate, type IssuedCertificate } from '../../node/src/certs.js';
import {
  AUTHENTICATE_FRAME_TIMEOUT_MS,
  AgentAdmission,
  ORIGIN_FRAME_TIMEOUT_MS,
  QuicAgentAuthentication,
  type AdmissionRefusal,
} from '../src/index.js';

let ca: IssuedCertificate;
let origin: IssuedCertificate;
beforeAll(async () => {
  ca = await createDevCa();
  origin = await issueCertificate(ca, { dnsNames: ['app.example.com'] });
});

/** An admission and its authentication, with every admission event recorded. */
function connection(options: { trustAnchors?: string; now?: () => Date } = {}) {
  const timers = new FakeTimers();
  const events: Array<['authorize', string[]] | ['refuse', AdmissionRefusal]> = [];
  const admission = new AgentAdmission(
    {
      authorize: (origins) => events.push(['authorize', [...origins]]),
      originsChanged: () => {},
      refuse: (refusal) => events.push(['refuse', { ...refusal }]),
    },
    { timers },
  );
  const auth = new QuicAgentAuthentication(admission, { trustAnchors: options.trustAnchors ?? ca.certPem, timers, now: options.now });
  return { admission, auth, timers, events };
}

async function answer(challenge: Uint8Array, who: IssuedCertificate = origin): Promise<Uint8Array> {
  return signQuicChallenge(challenge, { certChainPem: who.chainPem, keyPem: who.keyPem });
}

describe('QuicAgentAuthentication → AgentAdmission', () => {
  it('sends a fresh challenge per connection, and waits AUTHENTICATE_FRAME_TIMEOUT_MS (less than the ORIGIN frame timeout)', () => {
    const a = connection();
    const b = connection();
    expect(a.auth.challengeFrame()).toEqual({ type: RHTTP_CHALLENGE_FRAME, payload: a.auth.challenge });
    expect(a.auth.challenge).not.toEqual(b.auth.challenge);
    expect(AUTHENTICATE_FRAME_TIMEOUT_MS).toBeLessThan(ORIGIN_FRAME_TIMEOUT_MS);
    expect(a.timers.pending().map((t) => t.ms)).toEqual([ORIGIN_FRAME_TIMEOUT_MS, AUTHENTICATE_FRAME_TIMEOUT_MS]);
    expect(a.auth.receiveControlFrame(0x21 + 0x1f * 3, new Uint8Array(4))).toBe(false); // grease: not ours, ignored
    expect(a.auth.state).toBe('waiting');
  });

  it('a valid RHTTP_AUTHENTICATE gives the admission the identity; with a covered ORIGIN frame it authorizes', async () => {
    const { admission, auth, timers, events } = connection();
    admission.receiveOrigins(['https://app.example.com']);
    expect(events).toEqual([]); // no identity yet: nothing is routed
    expect(auth.receiveControlFrame(RHTTP_AUTHENTICATE_FRAME, await answer(auth.challenge))).toBe(true);
    expect(auth.state).toBe('verifying');
    await auth.settled;
    expect(auth.state).toBe('verified');
    expect(admission.identity?.dnsNames).toEqual(['app.example.com']);
    expect(events).toEqual([['authorize', ['https://app.example.com']]]);
    expect(timers.pending()).toEqual([]);
  });

  it('the admission still checks ORIGIN against the certificate from the in-band proof', async () => {
    const { admission, auth, events } = connection();
    auth.receiveControlFrame(RHTTP_AUTHENTICATE_FRAME, await answer(auth.challenge));
    await auth.settled;
    admission.receiveOrigins(['https://bank.example.com']);
    expect(events).toEqual([['refuse', expect.objectContaining({ kind: 'origin', reason: expect.stringMatching(/bank\.example\.com is not covered/) })]]);
  });

  it('refuses a signature over another connection\'s challenge (replay)', async () => {
    const { admission, auth, events } = connection();
    admission.receiveOrigins(['https://app.example.com']);
    auth.receiveControlFrame(RHTTP_AUTHENTICATE_FRAME, await answer(newQuicChallenge()));
    await auth.settled;
    expect(auth.state).toBe('refused');
    expect(events).toEqual([['refuse', { errorCode: ErrorCode.INADEQUATE_SECURITY, kind: 'certificate', reason: expect.stringMatching(/^in-band authentication refused \(bad-signature\)/) }]]);
  });

  it('refuses a forged signature (the chain of one certificate, signed by another key)', async () => {
    const { auth, events } = connection();
    const thief = await issueCertificate(ca, { dnsNames: ['evil.example.com'] });
    const forged = decodeQuicAuthenticate(await answer(auth.challenge, thief));
    const honest = decodeQuicAuthenticate(await answer(auth.challenge));
    auth.receiveControlFrame(RHTTP_AUTHENTICATE_FRAME, encodeQuicAuthenticate({ ...forged, chain: honest.chain }));
    await auth.settled;
    expect(events).toEqual([['refuse', expect.objectContaining({ kind: 'certificate', reason: expect.stringContaining('bad-signature') })]]);
  });

  it('refuses a chain that does not lead to the trust anchors, with the TLS path\'s wording', async () => {
    const otherCa = await createDevCa();
    const { auth, events } = connection({ trustAnchors: otherCa.certPem });
    auth.receiveControlFrame(RHTTP_AUTHENTICATE_FRAME, await answer(auth.challenge));
    await auth.settled;
    expect(auth.state).toBe('refused');
    expect(events).toEqual([['refuse', { errorCode: ErrorCode.INADEQUATE_SECURITY, kind: 'certificate', reason: expect.stringMatching(/^certificate not trusted: /) }]]);
  });

  it('refuses an expired leaf', async () => {
    const expired = await issueCertificate(ca, { dnsNames: ['app.example.com'], notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });
    const { auth, events } = connection();
    auth.receiveControlFrame(RHTTP_AUTHENTICATE_FRAME, await answer(auth.challenge, expired));
    await auth.settled;
    expect(events).toEqual([['refuse', expect.objectContaining({ kind: 'certificate', reason: expect.stringMatching(/^certificate expired: /) })]]);
  });

  it('refuses truncated and oversized payloads', async () => {
    const valid = connection();
    const payload = await answer(valid.auth.challenge);
    for (const bad of [payload.subarray(0, 3), payload.subarray(0, payload.length >> 1), new Uint8Array(MAX_QUIC_AUTHENTICATE_LENGTH + 1)]) {
      const { auth, events } = connection();
      auth.receiveControlFrame(RHTTP_AUTHENTICATE_FRAME, bad);
      await auth.settled;
      expect(events).toEqual([['refuse', expect.objectContaining({ kind: 'certificate', reason: expect.stringContaining('malformed') })]]);
    }
  });

  it('a missing RHTTP_AUTHENTICATE times out with its own reason; no request was authorized', () => {
    const { admission, auth, timers, events } = connection();
    admission.receiveOrigins(['https://app.example.com']);
    timers.pending().find((t) => t.ms === AUTHENTICATE_FRAME_TIMEOUT_MS)!.callback();
    expect(auth.state).toBe('refused');
    expect(events).toEqual([['refuse', { errorCode: ErrorCode.PROTOCOL_ERROR, kind: 'timeout', reason: expect.stringMatching(/^no RHTTP_AUTHENTICATE frame within 5 s/) }]]);
  });

  it('a late one (after the timeout) changes nothing; a second one, or a CHALLENGE from the agent, is refused', async () => {
    const late = connection();
    late.timers.pending().find((t) => t.ms === AUTHENTICATE_FRAME_TIMEOUT_MS)!.callback();
    expect(late.auth.receiveControlFrame(RHTTP_AUTHENTICATE_FRAME, await answer(late.auth.challenge))).toBe(true);
    await late.auth.settled;
    expect(late.events.map((e) => e[0])).toEqual(['refuse']);
    expect(late.admission.identity).toBeUndefined();

    const twice = connection();
    twice.auth.receiveControlFrame(RHTTP_AUTHENTICATE_FRAME, await answer(twice.auth.challenge));
    await twice.auth.settled;
    twice.auth.receiveControlFrame(RHTTP_AUTHENTICATE_FRAME, await answer(twice.auth.challenge));
    expect(twice.events).toEqual([['refuse', expect.objectContaining({ kind: 'certificate', reason: 'the agent sent RHTTP_AUTHENTICATE twice' })]]);

    const reversed = connection();
    reversed.auth.receiveControlFrame(RHTTP_CHALLENGE_FRAME, newQuicChallenge());
    expect(reversed.events).toEqual([['refuse', expect.objectContaining({ errorCode: ErrorCode.PROTOCOL_ERROR, kind: 'certificate' })]]);
  });

  it('after the connection closed, a verification still under way decides nothing', async () => {
    const { admission, auth, events } = connection();
    auth.receiveControlFrame(RHTTP_AUTHENTICATE_FRAME, await answer(auth.challenge));
    auth.closed();
    admission.closed();
    await auth.settled;
    expect(auth.state).toBe('closed');
    expect(events).toEqual([]);
  });
});
