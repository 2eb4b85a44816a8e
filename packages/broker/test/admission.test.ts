/**
 * AgentAdmission on its own: no session, no socket. The ORIGIN frame timer is an injected fake
 * that the test fires; every decision is read from the recorded events.
 */
import { describe, expect, it } from 'vitest';
import { CertificateError, ErrorCode, parseOrigin, type CertificateIdentity } from '@rhttp/core';
import { FakeTimers } from './fake-timers.js';
import { AgentAdmission, ORIGIN_FRAME_TIMEOUT_MS, describeCertificateError, type AdmissionOptions, type AdmissionRefusal } from '../src/index.js';

/** A verified identity with these SANs (the admission never looks at the dates or fingerprint). */
function identity(dnsNames: string[], ipAddresses: string[] = []): CertificateIdentity {
  return { subject: `CN=${dnsNames[0] ?? ipAddresses[0]}`, dnsNames, ipAddresses, notBefore: new Date(0), notAfter: new Date(0), fingerprintSha256: '00' };
}

/** An admission whose events are recorded in order. */
function admit(options: AdmissionOptions = {}) {
  const timers = new FakeTimers();
  const events: Array<['authorize', string[]] | ['originsChanged', string[], string[]] | ['refuse', AdmissionRefusal]> = [];
  const admission = new AgentAdmission(
    {
      authorize: (origins) => events.push(['authorize', [...origins]]),
      originsChanged: (origins, added) => events.push(['originsChanged', [...origins], [...added]]),
      refuse: (refusal) => events.push(['refuse', { ...refusal }]),
    },
    { timers, ...options },
  );
  return { admission, timers, events };
}

const APP = identity(['app.example.com', '*.wild.example.com'], ['192.0.2.7']);

describe('AgentAdmission: states', () => {
  it('starts verifying with the ORIGIN frame timer set to ORIGIN_FRAME_TIMEOUT_MS; no origins until authorized', () => {
    const { admission, timers, events } = admit();
    expect(admission.state).toBe('verifying');
    expect(admission.origins).toEqual([]);
    expect(timers.pending().map((t) => t.ms)).toEqual([ORIGIN_FRAME_TIMEOUT_MS]);
    expect(ORIGIN_FRAME_TIMEOUT_MS).toBe(10_000);
    expect(events).toEqual([]);
  });

  it('identity first, then a covered ORIGIN frame: authorized once, timer cleared, origins serialized and deduplicated', () => {
    const { admission, timers, events } = admit();
    admission.identityVerified(APP);
    expect(admission.state).toBe('verifying');
    admission.receiveOrigins(['https://app.example.com', 'https://APP.example.com:443', 'http://192.0.2.7:8080'], ['https://app.example.com']);
    expect(admission.state).toBe('authorized');
    expect(admission.origins).toEqual(['https://app.example.com', 'http://192.0.2.7:8080']);
    expect(events).toEqual([['authorize', ['https://app.example.com', 'http://192.0.2.7:8080']]]);
    expect(timers.pending()).toEqual([]);
  });

  it('ORIGIN frame first, then the identity: authorized when the identity arrives', () => {
    const { admission, timers, events } = admit();
    admission.receiveOrigins(['https://app.example.com'], ['https://app.example.com']);
    expect(admission.state).toBe('verifying');
    expect(timers.pending()).toHaveLength(1); // still waiting for the certificate check
    admission.identityVerified(APP);
    expect(events).toEqual([['authorize', ['https://app.example.com']]]);
    expect(admission.identity).toBe(APP);
  });

  it('an identity given at construction (the edge) needs only the ORIGIN frame', () => {
    const { admission, events } = admit({ identity: APP });
    admission.receiveOrigins(['https://app.example.com']);
    expect(events).toEqual([['authorize', ['https://app.example.com']]]);
  });

  it('an empty ORIGIN frame claims nothing: still verifying, timer still running', () => {
    const { admission, timers, events } = admit({ identity: APP });
    admission.receiveOrigins([], []);
    expect(admission.state).toBe('verifying');
    expect(timers.pending()).toHaveLength(1);
    expect(events).toEqual([]);
  });

  it('a later ORIGIN frame: originsChanged with the whole set and what it added, also when it added nothing', () => {
    const { admission, events } = admit({ identity: APP });
    admission.receiveOrigins(['https://app.example.com'], ['https://app.example.com']);
    admission.receiveOrigins(['https://app.example.com', 'https://*.wild.example.com'], ['https://*.wild.example.com']);
    admission.receiveOrigins(['https://app.example.com', 'https://*.wild.example.com'], []);
    expect(events.slice(1)).toEqual([
      ['originsChanged', ['https://app.example.com', 'https://*.wild.example.com'], ['https://*.wild.example.com']],
      ['originsChanged', ['https://app.example.com', 'https://*.wild.example.com'], []],
    ]);
    expect(admission.origins).toEqual(['https://app.example.com', 'https://*.wild.example.com']);
  });

  it('a later ORIGIN frame with an uncovered entry refuses an authorized admission; its origins are gone', () => {
    const { admission, events } = admit({ identity: APP });
    admission.receiveOrigins(['https://app.example.com']);
    admission.receiveOrigins(['https://app.example.com', 'https://bank.example']);
    expect(admission.state).toBe('refused');
    expect(admission.origins).toEqual([]);
    expect(events[1]).toEqual(['refuse', { errorCode: ErrorCode.INADEQUATE_SECURITY, reason: 'origin https://bank.example is not covered by the certificate (SANs: app.example.com, *.wild.example.com, 192.0.2.7)', kind: 'origin' }]);
  });

  it('refuses once: a second refusal, a late identity or ORIGIN frame, and the timer decide nothing more', () => {
    const { admission, timers, events } = admit();
    expect(admission.refuse(ErrorCode.PROTOCOL_ERROR, 'origins in two registrable domains')).toBe(true);
    expect(admission.refuse(ErrorCode.CANCEL, 'again', 'timeout')).toBe(false);
    admission.identityVerified(APP);
    admission.receiveOrigins(['https://app.example.com']);
    timers.fire();
    expect(events).toEqual([['refuse', { errorCode: ErrorCode.PROTOCOL_ERROR, reason: 'origins in two registrable domains', kind: 'other' }]]);
    expect(admission.refusal).toEqual({ errorCode: ErrorCode.PROTOCOL_ERROR, reason: 'origins in two registrable domains', kind: 'other' });
    expect(timers.pending()).toEqual([]);
  });

  it('closed: the timer is cleared and nothing is decided after', () => {
    const { admission, timers, events } = admit({ identity: APP });
    admission.closed();
    expect(admission.state).toBe('closed');
    expect(timers.pending()).toEqual([]);
    admission.receiveOrigins(['https://app.example.com']);
    expect(admission.refuse(ErrorCode.CANCEL, 'late')).toBe(false);
    expect(events).toEqual([]);
    expect(admission.refusal).toBeUndefined();
  });
});

describe('AgentAdmission: ORIGIN frame timeout', () => {
  it('no ORIGIN frame before the timer fires: refused with PROTOCOL_ERROR, kind timeout', () => {
    const { admission, timers, events } = admit({ identity: APP });
    timers.fire();
    expect(admission.state).toBe('refused');
    expect(events).toEqual([['refuse', { errorCode: ErrorCode.PROTOCOL_ERROR, reason: 'no ORIGIN frame within 10 s: an agent must list the origins it serves', kind: 'timeout' }]]);
  });

  it('an ORIGIN frame without a verified identity does not stop the timer', () => {
    const { admission, timers, events } = admit();
    admission.receiveOrigins(['https://app.example.com']);
    expect(timers.pending()).toHaveLength(1);
    timers.fire();
    expect(events).toEqual([['refuse', { errorCode: ErrorCode.PROTOCOL_ERROR, reason: 'no ORIGIN frame within 10 s: an agent must list the origins it serves', kind: 'timeout' }]]);
  });

  it('the sentence follows an injected timeout', () => {
    const { timers, events } = admit({ originTimeoutMs: 2_500 });
    expect(timers.pending().map((t) => t.ms)).toEqual([2_500]);
    timers.fire();
    expect(events).toEqual([['refuse', { errorCode: ErrorCode.PROTOCOL_ERROR, reason: 'no ORIGIN frame within 2.5 s: an agent must list the origins it serves', kind: 'timeout' }]]);
  });

  it('once authorized the timer is gone and cannot refuse', () => {
    const { admission, timers, events } = admit({ identity: APP });
    admission.receiveOrigins(['https://app.example.com']);
    timers.fire();
    expect(admission.state).toBe('authorized');
    expect(events.map((e) => e[0])).toEqual(['authorize']);
  });
});

describe('AgentAdmission: refusal reasons', () => {
  it('certificate not trusted, expired, not yet valid, other reasons, and non-certificate errors, as INADEQUATE_SECURITY kind certificate', () => {
    const cases: Array<[unknown, string]> = [
      [new CertificateError('untrusted', 'no path to a trust anchor'), 'certificate not trusted: no path to a trust anchor'],
      [new CertificateError('expired', 'notAfter 2020-01-01'), 'certificate expired: notAfter 2020-01-01'],
      [new CertificateError('not-yet-valid', 'notBefore 2099-01-01'), 'certificate not yet valid: notBefore 2099-01-01'],
      [new CertificateError('bad-signature', 'leaf signature'), 'certificate refused (bad-signature): leaf signature'],
      [new Error('boom'), 'certificate could not be checked: boom'],
      ['text', 'certificate could not be checked: text'],
    ];
    for (const [error, reason] of cases) {
      expect(describeCertificateError(error)).toBe(reason);
      const { admission, timers, events } = admit();
      admission.certificateFailed(error);
      expect(events).toEqual([['refuse', { errorCode: ErrorCode.INADEQUATE_SECURITY, reason, kind: 'certificate' }]]);
      expect(timers.pending()).toEqual([]);
    }
  });

  it('an entry that is not an origin: PROTOCOL_ERROR with the parser\'s sentence', () => {
    const run = admit({ identity: APP });
    run.admission.receiveOrigins(['https://app.example.com', 'ftp://app.example.com']);
    expect(run.events).toHaveLength(1);
    const [, refusal] = run.events[0] as ['refuse', AdmissionRefusal];
    expect(refusal.errorCode).toBe(ErrorCode.PROTOCOL_ERROR);
    expect(refusal.kind).toBe('origin');
    expect(refusal.reason).toBe('ORIGIN frame entry is not an origin: origin "ftp://app.example.com" has scheme "ftp"; only https:// and http:// origins are supported');
  });

  it('an uncovered origin quotes at most four SANs, "none" when there are none, and no SANs with quoteSans: false', () => {
    const many = admit({ identity: identity(['a.example', 'b.example', 'c.example', 'd.example', 'e.example']) });
    many.admission.receiveOrigins(['https://z.example']);
    expect(many.events[0]).toEqual(['refuse', { errorCode: ErrorCode.INADEQUATE_SECURITY, reason: 'origin https://z.example is not covered by the certificate (SANs: a.example, b.example, c.example, d.example, …)', kind: 'origin' }]);

    const none = admit({ identity: identity([]) });
    none.admission.receiveOrigins(['https://z.example']);
    expect((none.events[0][1] as AdmissionRefusal).reason).toBe('origin https://z.example is not covered by the certificate (SANs: none)');

    const quiet = admit({ identity: APP, quoteSans: false });
    quiet.admission.receiveOrigins(['https://z.example']);
    expect((quiet.events[0][1] as AdmissionRefusal).reason).toBe('origin https://z.example is not covered by the certificate');
  });

  it('a wildcard origin needs the wildcard SAN itself: explicit children do not cover it', () => {
    const run = admit({ identity: identity(['a.wild.example.com', 'b.wild.example.com']) });
    run.admission.receiveOrigins(['https://*.wild.example.com']);
    expect((run.events[0][1] as AdmissionRefusal).reason).toMatch(/^origin https:\/\/\*\.wild\.example\.com is not covered by the certificate/);
  });
});

describe('AgentAdmission: allowedOrigins (the edge\'s upgrade URL)', () => {
  const url = [parseOrigin('https://app.example.com'), parseOrigin('https://*.wild.example.com')];

  it('entries equal to a URL origin, or one label under a wildcard URL origin, are admitted', () => {
    const run = admit({ identity: APP, allowedOrigins: url, quoteSans: false });
    run.admission.receiveOrigins(['https://app.example.com', 'https://*.wild.example.com', 'https://a.wild.example.com']);
    expect(run.events).toEqual([['authorize', ['https://app.example.com', 'https://*.wild.example.com', 'https://a.wild.example.com']]]);
  });

  it('an entry outside the URL origins: INADEQUATE_SECURITY naming the URL origins, even if the certificate covers it', () => {
    const run = admit({ identity: APP, allowedOrigins: [parseOrigin('https://app.example.com')], quoteSans: false });
    run.admission.receiveOrigins(['https://app.example.com', 'http://192.0.2.7:8080']);
    expect(run.events).toEqual([['refuse', { errorCode: ErrorCode.INADEQUATE_SECURITY, reason: 'ORIGIN frame entry http://192.0.2.7:8080 is not among the origins in the upgrade URL (https://app.example.com)', kind: 'origin' }]]);
  });

  it('a wildcard entry under a wildcard URL origin is not within it (only the same wildcard is)', () => {
    const run = admit({ identity: identity(['*.a.wild.example.com', '*.wild.example.com']), allowedOrigins: url, quoteSans: false });
    run.admission.receiveOrigins(['https://*.a.wild.example.com']);
    expect((run.events[0][1] as AdmissionRefusal).reason).toBe('ORIGIN frame entry https://*.a.wild.example.com is not among the origins in the upgrade URL (https://app.example.com, https://*.wild.example.com)');
  });

  it('entries are checked in order: an entry outside the URL is reported before a later unparsable one', () => {
    const run = admit({ identity: APP, allowedOrigins: url, quoteSans: false });
    run.admission.receiveOrigins(['https://other.example.com', 'nonsense']);
    expect((run.events[0][1] as AdmissionRefusal).reason).toMatch(/^ORIGIN frame entry https:\/\/other\.example\.com is not among the origins in the upgrade URL/);
  });
});
