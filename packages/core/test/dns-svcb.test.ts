/**
 * SVCB/HTTPS RDATA (RFC 9460): the Appendix D test vectors both ways (wire ↔ presentation),
 * the Appendix D.3 failure cases, the wire validity rules of §2.2 and §7–8, and fast-check round
 * trips.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeSvcbRdata,
  encodeSvcbRdata,
  formatSvcbRdata,
  parseSvcbRdata,
  parseSvcParamKeyName,
  SvcbFormatError,
  svcParamKeyName,
  type SvcbRecord,
  type SvcParams,
} from '../src/dns/index.js';

const hex = (s: string) => Uint8Array.from((s.replace(/\s+/g, '').match(/../g) ?? []).map((b) => parseInt(b, 16)));
const FOO_COM = '03 666f6f 07 6578616d706c65 03 636f6d 00';
const FOO_ORG = '03 666f6f 07 6578616d706c65 03 6f7267 00';

/** RFC 9460 Appendix D.1 and D.2: presentation forms (one or more) and the wire form. */
const vectors: { title: string; presentation: string[]; wire: string }[] = [
  { title: 'D.1 AliasMode', presentation: ['0 foo.example.com.'], wire: `0000 ${FOO_COM}` },
  { title: 'D.2 ServiceMode, use the owner name', presentation: ['1 .'], wire: '0001 00' },
  { title: 'D.2 only a port', presentation: ['16 foo.example.com. port=53'], wire: `0010 ${FOO_COM} 0003 0002 0035` },
  { title: 'D.2 unregistered key, unquoted value', presentation: ['1 foo.example.com. key667=hello'], wire: `0001 ${FOO_COM} 029b 0005 68656c6c6f` },
  {
    title: 'D.2 unregistered key, quoted value with a decimal escape',
    presentation: ['1 foo.example.com. key667="hello\\210qoo"'],
    wire: `0001 ${FOO_COM} 029b 0009 68656c6c6fd2716f6f`,
  },
  {
    title: 'D.2 two quoted IPv6 hints',
    presentation: ['1 foo.example.com. ipv6hint="2001:db8::1,2001:db8::53:1"'],
    wire: `0001 ${FOO_COM} 0006 0020 20010db8000000000000000000000001 20010db8000000000000000000530001`,
  },
  {
    title: 'D.2 an IPv6 hint in IPv4-mapped form',
    presentation: ['1 example.com. ipv6hint="2001:db8:ffff:ffff:ffff:ffff:198.51.100.100"'],
    wire: `0001 07 6578616d706c65 03 636f6d 00 0006 0010 20010db8ffffffffffffffffc6336464`,
  },
  {
    title: 'D.2 unsorted params and mandatory keys in presentation, sorted on the wire',
    presentation: ['16 foo.example.org. (alpn=h2,h3-19 mandatory=ipv4hint,alpn\n                    ipv4hint=192.0.2.1)'],
    wire: `0010 ${FOO_ORG} 0000 0004 0001 0004 0001 0009 02 6832 05 68332d3139 0004 0004 c0000201`,
  },
  {
    title: 'D.2 alpn with an escaped comma and an escaped backslash, two presentations',
    presentation: ['16 foo.example.org. alpn="f\\\\\\\\oo\\\\,bar,h2"', '16 foo.example.org. alpn=f\\\\\\092oo\\092,bar,h2'],
    wire: `0010 ${FOO_ORG} 0001 000c 08 665c6f6f2c626172 02 6832`,
  },
];

describe('RFC 9460 Appendix D.1/D.2 test vectors', () => {
  for (const v of vectors) {
    describe(v.title, () => {
      it('presentation → wire', () => {
        for (const text of v.presentation) expect(encodeSvcbRdata(parseSvcbRdata(text))).toEqual(hex(v.wire));
      });
      it('wire → presentation → wire', () => {
        const record = decodeSvcbRdata(hex(v.wire));
        const text = formatSvcbRdata(record);
        expect(parseSvcbRdata(text)).toEqual(record);
        expect(encodeSvcbRdata(parseSvcbRdata(text))).toEqual(hex(v.wire));
      });
    });
  }

  it('decodes the fields of D.2 (mandatory, alpn, ipv4hint)', () => {
    const r = decodeSvcbRdata(hex(vectors[7].wire));
    expect(r).toEqual({ priority: 16, target: 'foo.example.org.', params: { mandatory: [1, 4], alpn: ['h2', 'h3-19'], ipv4hint: ['192.0.2.1'] } });
    expect(formatSvcbRdata(r)).toBe('16 foo.example.org. mandatory=alpn,ipv4hint alpn=h2,h3-19 ipv4hint=192.0.2.1');
  });

  it('decodes the escaped-comma alpn of D.2 into two ids', () => {
    expect(decodeSvcbRdata(hex(vectors[8].wire)).params.alpn).toEqual(['f\\oo,bar', 'h2']);
  });

  it('prints the IPv4-mapped hint in RFC 5952 form and the unknown key as keyNNNNN', () => {
    expect(formatSvcbRdata(decodeSvcbRdata(hex(vectors[6].wire)))).toBe('1 example.com. ipv6hint=2001:db8:ffff:ffff:ffff:ffff:c633:6464');
    expect(formatSvcbRdata(decodeSvcbRdata(hex(vectors[4].wire)))).toBe('1 foo.example.com. key667=hello\\210qoo');
  });
});

describe('RFC 9460 Appendix D.3 failure cases', () => {
  const cases: [string, string, RegExp][] = [
    ['multiple instances of the same SvcParamKey', '1 foo.example.com. key123=abc key123=def', /key123 appears twice/],
    ['mandatory without a value', '1 foo.example.com. mandatory', /mandatory needs a value/],
    ['alpn without a value', '1 foo.example.com. alpn', /alpn needs a value/],
    ['port without a value', '1 foo.example.com. port', /port needs a value/],
    ['ipv4hint without a value', '1 foo.example.com. ipv4hint', /ipv4hint needs a value/],
    ['ipv6hint without a value', '1 foo.example.com. ipv6hint', /ipv6hint needs a value/],
    ['no-default-alpn with a value', '1 foo.example.com. no-default-alpn=abc', /no-default-alpn takes no value/],
    ['a mandatory SvcParam is missing', '1 foo.example.com. mandatory=key123', /mandatory lists key123, which is not in the record/],
    ['mandatory lists "mandatory"', '1 foo.example.com. mandatory=mandatory', /mandatory lists the key "mandatory" itself/],
    ['mandatory lists a key twice', '1 foo.example.com. mandatory=key123,key123 key123=abc', /mandatory lists key123 twice/],
  ];
  for (const [title, text, message] of cases) {
    it(`rejects: ${title}`, () => {
      expect(() => parseSvcbRdata(text)).toThrow(SvcbFormatError);
      expect(() => parseSvcbRdata(text)).toThrow(message);
    });
  }
});

describe('RFC 9460 §2.2 wire-format validity (a malformed RR is rejected)', () => {
  const bad: [string, string, RegExp][] = [
    ['keys out of order', `0001 ${FOO_COM} 0003 0002 0035 0001 0003 026832`, /not in strictly increasing order \(alpn after port\)/],
    ['duplicate key', `0001 ${FOO_COM} 0003 0002 0035 0003 0002 0036`, /port appears twice/],
    ['port of 3 octets', `0001 ${FOO_COM} 0003 0003 003500`, /port value of 3 octets, expected 2/],
    ['ipv4hint not a multiple of 4', `0001 ${FOO_COM} 0004 0003 c00002`, /ipv4hint value of 3 octets/],
    ['empty ipv4hint', `0001 ${FOO_COM} 0004 0000`, /ipv4hint value of 0 octets/],
    ['ipv6hint of 15 octets', `0001 ${FOO_COM} 0006 000f 20010db800000000000000000000ff`, /ipv6hint value of 15 octets/],
    ['empty alpn', `0001 ${FOO_COM} 0001 0000`, /alpn has an empty value/],
    ['empty alpn id', `0001 ${FOO_COM} 0001 0003 00 6832`, /empty protocol id/],
    ['alpn id past its value', `0001 ${FOO_COM} 0001 0003 05 6832`, /runs past the end of the alpn value/],
    ['no-default-alpn with a value', `0001 ${FOO_COM} 0002 0001 00`, /must be empty/],
    ['mandatory unsorted', `0001 ${FOO_COM} 0000 0004 0004 0001 0001 0003 026832 0004 0004 c0000201`, /mandatory keys not in strictly increasing order/],
    ['mandatory of odd length', `0001 ${FOO_COM} 0000 0003 000100`, /mandatory value of 3 octets/],
    ['param value past the RDATA', `0001 ${FOO_COM} 0003 0004 0035`, /runs past the end of the RDATA/],
    ['truncated key/length', `0001 ${FOO_COM} 0003 00`, /truncated/],
    ['compressed TargetName', '0001 c000', /compressed domain name/],
    ['TargetName past the end', '0001 03 666f6f', /TargetName/],
    ['RDATA too short', '0001', /too short/],
    ['key 65535', `0001 ${FOO_COM} ffff 0000`, /65535 is reserved/],
    ['empty ech', `0001 ${FOO_COM} 0005 0000`, /ech has an empty value/],
    // The truncated port of unbound's svcb.test-vectors-wf.zone v22 (lenient secondaries keep it; a client must not).
    ['truncated port value', '0001 00 0003 0002 1e', /runs past the end of the RDATA/],
  ];
  for (const [title, wire, message] of bad) {
    it(`rejects: ${title}`, () => {
      expect(() => decodeSvcbRdata(hex(wire))).toThrow(SvcbFormatError);
      expect(() => decodeSvcbRdata(hex(wire))).toThrow(message);
    });
  }

  it('keeps unknown keys (and ech) as raw octets and writes them back unchanged', () => {
    const wire = hex(`0001 ${FOO_COM} 0005 0003 010203 0007 0002 2f71 ff35 0000`);
    const r = decodeSvcbRdata(wire);
    expect(r.params.ech).toEqual(Uint8Array.of(1, 2, 3));
    expect(r.params.unknown).toEqual(new Map([[7, Uint8Array.of(0x2f, 0x71)], [0xff35, new Uint8Array(0)]]));
    expect(encodeSvcbRdata(r)).toEqual(wire);
    expect(formatSvcbRdata(r)).toBe('1 foo.example.com. ech=AQID key7=/q key65333');
  });

  it('refuses to encode a record that would be malformed', () => {
    expect(() => encodeSvcbRdata({ priority: 1, target: '.', params: { mandatory: [3] } })).toThrow(/mandatory lists port/);
    expect(() => encodeSvcbRdata({ priority: 1, target: '.', params: { alpn: [] } })).toThrow(/alpn has an empty value/);
    expect(() => encodeSvcbRdata({ priority: 1, target: '.', params: { unknown: new Map([[3, new Uint8Array(2)]]) } })).toThrow(/typed field/);
    expect(() => encodeSvcbRdata({ priority: 70000, target: '.', params: {} })).toThrow(/0\.\.65535/);
  });
});

describe('RFC 9460 §2.1 SvcParamKey names (an open set)', () => {
  it('names registered keys and prints others as keyNNNNN', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map(svcParamKeyName)).toEqual(['mandatory', 'alpn', 'no-default-alpn', 'port', 'ipv4hint', 'ech', 'ipv6hint']);
    expect(svcParamKeyName(65333)).toBe('key65333');
    expect(parseSvcParamKeyName('key65333')).toBe(65333);
    expect(parseSvcParamKeyName('key3')).toBe(3);
    expect(parseSvcParamKeyName('alpn')).toBe(1);
  });
  it('rejects leading zeros, out-of-range numbers and unknown mnemonics', () => {
    for (const bad of ['key0123', 'key65536', 'key65535', 'dohpath', 'key']) expect(() => parseSvcParamKeyName(bad)).toThrow(SvcbFormatError);
  });
});

// ---- properties ----

const label = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/);
const targetArb = fc.oneof(fc.constant('.'), fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => `${ls.join('.')}.`));
const octetString = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((b) => String.fromCharCode(...b));
const ipv4 = fc.ipV4();
const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 });
const paramsArb: fc.Arbitrary<SvcParams> = fc
  .record(
    {
      alpn: fc.array(octetString(1, 12), { minLength: 1, maxLength: 4 }),
      noDefaultAlpn: fc.constant(true),
      port: fc.integer({ min: 0, max: 65535 }),
      ipv4hint: fc.array(ipv4, { minLength: 1, maxLength: 3 }),
      ech: fc.uint8Array({ minLength: 1, maxLength: 20 }),
      ipv6hint: fc.array(ipv6, { minLength: 1, maxLength: 3 }),
      unknown: fc.array(fc.tuple(fc.integer({ min: 7, max: 65534 }), fc.uint8Array({ maxLength: 10 })), { minLength: 1, maxLength: 3 }),
    },
    { requiredKeys: [] },
  )
  .chain((p) => {
    const params: SvcParams = { ...p, ipv6hint: undefined, unknown: undefined } as SvcParams;
    delete params.ipv6hint;
    delete params.unknown;
    if (p.ipv6hint) params.ipv6hint = p.ipv6hint.map((b) => decodeSvcbRdata(Uint8Array.of(0, 1, 0, 0, 6, 0, 16, ...b)).params.ipv6hint![0]);
    if (p.unknown) params.unknown = new Map(p.unknown);
    const present = Object.keys(params).length;
    if (present === 0) return fc.constant(params);
    // mandatory: a random non-empty subset of the keys present (never 0).
    return fc.boolean().chain((withMandatory) => {
      if (!withMandatory) return fc.constant(params);
      const keys = encodeAndListKeys(params);
      return fc.subarray(keys, { minLength: 1 }).map((m) => ({ ...params, mandatory: [...m].sort((a, b) => a - b) }));
    });
  });

function encodeAndListKeys(params: SvcParams): number[] {
  const keys: number[] = [];
  const rdata = encodeSvcbRdata({ priority: 1, target: '.', params });
  for (let at = 3; at < rdata.length; ) {
    keys.push((rdata[at] << 8) | rdata[at + 1]);
    at += 4 + ((rdata[at + 2] << 8) | rdata[at + 3]);
  }
  return keys;
}

const recordArb: fc.Arbitrary<SvcbRecord> = fc.record({ priority: fc.integer({ min: 0, max: 65535 }), target: targetArb, params: paramsArb });

describe('SVCB codec properties (fast-check)', () => {
  it('decode(encode(r)) = r', () => {
    fc.assert(
      fc.property(recordArb, (r) => {
        expect(decodeSvcbRdata(encodeSvcbRdata(r))).toEqual(r);
      }),
    );
  });
  it('parse(format(r)) = r, so presentation text is lossless', () => {
    fc.assert(
      fc.property(recordArb, (r) => {
        expect(parseSvcbRdata(formatSvcbRdata(r))).toEqual(r);
      }),
    );
  });
  it('any octets either decode to a record that re-encodes to the same octets, or throw SvcbFormatError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        let r: SvcbRecord;
        try {
          r = decodeSvcbRdata(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(SvcbFormatError);
          return;
        }
        expect(encodeSvcbRdata(r)).toEqual(bytes);
      }),
      { numRuns: 2000 },
    );
  });
  it('one flipped octet in a valid record decodes to a record that re-encodes to those octets, or throws SvcbFormatError', () => {
    fc.assert(
      fc.property(recordArb, fc.nat(), fc.integer({ min: 0, max: 255 }), (r, index, value) => {
        const bytes = encodeSvcbRdata(r).slice();
        bytes[index % bytes.length] = value;
        let decoded: SvcbRecord;
        try {
          decoded = decodeSvcbRdata(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(SvcbFormatError);
          return;
        }
        expect(encodeSvcbRdata(decoded)).toEqual(bytes);
      }),
      { numRuns: 2000 },
    );
  });
});
