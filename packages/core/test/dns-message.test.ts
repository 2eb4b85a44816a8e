/**
 * DNS messages (RFC 1035 §4.1): query encoding, response decoding with name decompression
 * (§4.1.4) and its defences, RDATA of A/AAAA/CNAME/SVCB/HTTPS, raw RDATA of other types, EDNS(0)
 * (RFC 6891), and the IP address text forms (RFC 5952).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CLASS_IN,
  decodeMessage,
  decodeName,
  DnsFormatError,
  type DnsMessage,
  encodeMessage,
  encodeName,
  encodeQuery,
  formatRecord,
  ipv6FromBytes,
  ipv6ToBytes,
  ipv4ToBytes,
  namesEqual,
  Rcode,
  rcodeName,
  RRType,
  rrTypeName,
  SvcbFormatError,
} from '../src/dns/index.js';

const hex = (s: string) => Uint8Array.from((s.replace(/\s+/g, '').match(/../g) ?? []).map((b) => parseInt(b, 16)));

describe('RFC 1035 §4.1 query encoding', () => {
  it('encodes header, one question and RD; ID 0 for DoH (RFC 8484 §4.1)', () => {
    const q = encodeQuery('_http-reverse.proxy.example.net', RRType.SVCB);
    expect(q).toEqual(
      hex(
        '0000 0100 0001 0000 0000 0000' +
          '0d 5f687474702d72657665727365 05 70726f7879 07 6578616d706c65 03 6e6574 00' +
          '0040 0001',
      ),
    );
  });
  it('adds an EDNS(0) OPT record when asked (RFC 6891 §6.1.2)', () => {
    const m = decodeMessage(encodeQuery('example.com.', RRType.A, { id: 0x1234, ednsUdpPayloadSize: 1232 }));
    expect(m.id).toBe(0x1234);
    expect(m.rd).toBe(true);
    expect(m.additionals).toEqual([{ name: '.', type: RRType.OPT, class: 1232, ttl: 0, data: { kind: 'raw', bytes: new Uint8Array(0) } }]);
  });
  it('rejects names that cannot be encoded', () => {
    expect(() => encodeQuery(`${'a'.repeat(64)}.example`, RRType.A)).toThrow(/longer than 63/);
    expect(() => encodeQuery('a..example', RRType.A)).toThrow(/empty label/);
    expect(() => encodeQuery(`${'abcdefghi.'.repeat(26)}`, RRType.A)).toThrow(/more than 255/);
  });
});

describe('RFC 1035 §4.1.4 message compression on read', () => {
  // A response to "example.com A" whose answer names are pointers to the question name (offset 12).
  const response = hex(
    '0000 8180 0001 0003 0000 0000' +
      '07 6578616d706c65 03 636f6d 00 0001 0001' + // question example.com. A IN
      'c00c 0001 0001 00000e10 0004 c0000201' + // example.com. A 192.0.2.1
      '03 777777 c00c 0005 0001 0000003c 0002 c00c' + // www.example.com. CNAME example.com. (compressed RDATA)
      'c00c 001c 0001 0000012c 0010 20010db8000000000000000000000001', // AAAA
  );
  it('decodes header, question and answers with pointers', () => {
    const m = decodeMessage(response);
    expect(m).toMatchObject({ id: 0, qr: true, rd: true, ra: true, rcode: Rcode.NOERROR });
    expect(m.questions).toEqual([{ name: 'example.com.', type: RRType.A, class: CLASS_IN }]);
    expect(m.answers).toEqual([
      { name: 'example.com.', type: RRType.A, class: 1, ttl: 3600, data: { kind: 'a', address: '192.0.2.1' } },
      { name: 'www.example.com.', type: RRType.CNAME, class: 1, ttl: 60, data: { kind: 'cname', target: 'example.com.' } },
      { name: 'example.com.', type: RRType.AAAA, class: 1, ttl: 300, data: { kind: 'aaaa', address: '2001:db8::1' } },
    ]);
  });
  it('rejects a pointer loop', () => {
    // question name at 12: label "a" then a pointer back to 12 → loops.
    const loop = hex('0000 8180 0001 0000 0000 0000 01 61 c00c 0001 0001');
    expect(() => decodeMessage(loop)).toThrow(/points forward or loops/);
    // a pointer to itself
    expect(() => decodeMessage(hex('0000 8180 0001 0000 0000 0000 c00c 0001 0001'))).toThrow(/points forward or loops/);
  });
  it('rejects a forward pointer and a pointer outside the message', () => {
    expect(() => decodeMessage(hex('0000 8180 0001 0000 0000 0000 c00e 00 0001 0001'))).toThrow(/points forward or loops/);
    expect(() => decodeMessage(hex('0000 8180 0001 0000 0000 0000 c0ff 0001 0001'))).toThrow(/points outside the message/);
  });
  it('rejects reserved label types, truncation and trailing octets', () => {
    expect(() => decodeMessage(hex('0000 8180 0001 0000 0000 0000 41 00 0001 0001'))).toThrow(/label type 0x40/);
    expect(() => decodeMessage(response.subarray(0, response.length - 3))).toThrow(DnsFormatError);
    expect(() => decodeMessage(hex('0000 8180'))).toThrow(/shorter than its 12-octet header/);
    expect(() => decodeMessage(Uint8Array.of(...response, 0))).toThrow(/1 octets after the last section/);
  });
  it('limits names to 255 octets even through pointers', () => {
    // 5 labels of 63 at offset 12 (a name of 321 octets).
    const long = hex(`0000 8180 0001 0000 0000 0000 ${`3f${'61'.repeat(63)}`.repeat(5)} 00 0001 0001`);
    expect(() => decodeMessage(long)).toThrow(/longer than 255/);
  });
  it('every truncation of a valid message fails with DnsFormatError, never anything else', () => {
    for (let n = 0; n < response.length; n++) expect(() => decodeMessage(response.subarray(0, n))).toThrow(DnsFormatError);
  });
  it('random octets decode or throw DnsFormatError/SvcbFormatError (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 12, maxLength: 80 }), (bytes) => {
        try {
          decodeMessage(bytes);
        } catch (e) {
          expect(e instanceof DnsFormatError || e instanceof SvcbFormatError).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('RFC 1035 §4.1.1 RCODE and flags', () => {
  it('decodes NXDOMAIN and names RCODEs (open set)', () => {
    const m = decodeMessage(encodeMessage({ qr: true, rcode: Rcode.NXDOMAIN, questions: [{ name: 'x.example.', type: RRType.SVCB, class: 1 }] }));
    expect(m.rcode).toBe(3);
    expect(rcodeName(m.rcode)).toBe('NXDOMAIN');
    expect(rcodeName(2)).toBe('SERVFAIL');
    expect(rcodeName(23)).toBe('RCODE23');
    expect(rrTypeName(65)).toBe('HTTPS');
    expect(rrTypeName(1234)).toBe('TYPE1234');
  });
  it('combines the EDNS extended RCODE (RFC 6891 §6.1.3)', () => {
    const bytes = encodeMessage({ qr: true, rcode: Rcode.BADVERS, additionals: [{ name: '.', type: RRType.OPT, class: 1232, ttl: 0, data: { kind: 'raw', bytes: new Uint8Array(0) } }] });
    expect(decodeMessage(bytes).rcode).toBe(16);
  });
  it('round-trips every header flag', () => {
    const flags = { qr: true, opcode: 2, aa: true, tc: true, rd: false, ra: true, ad: true, cd: true };
    expect(decodeMessage(encodeMessage({ id: 7, ...flags }))).toMatchObject({ id: 7, ...flags });
  });
});

describe('RFC 9460 §2.2 SVCB and HTTPS RRs in messages', () => {
  const svcb = { priority: 1, target: 'proxy.example.net.', params: { alpn: ['h2-reverse'], port: 8443, ipv4hint: ['127.0.0.1'] } };
  const message: Partial<DnsMessage> = {
    qr: true,
    questions: [{ name: '_http-reverse.proxy.example.net.', type: RRType.SVCB, class: 1 }],
    answers: [
      { name: '_http-reverse.proxy.example.net.', type: RRType.SVCB, class: 1, ttl: 300, data: { kind: 'svcb', svcb } },
      { name: 'proxy.example.net.', type: RRType.HTTPS, class: 1, ttl: 300, data: { kind: 'svcb', svcb: { priority: 0, target: 'cdn.example.', params: {} } } },
      { name: 'proxy.example.net.', type: RRType.TXT, class: 1, ttl: 300, data: { kind: 'raw', bytes: hex('0568656c6c6f') } },
    ],
  };
  it('round-trips SVCB, HTTPS and raw (TXT) records', () => {
    const m = decodeMessage(encodeMessage(message));
    expect(m.answers).toEqual(message.answers);
    expect(m.answers.map(formatRecord)).toEqual([
      '_http-reverse.proxy.example.net. 300 IN SVCB 1 proxy.example.net. alpn=h2-reverse port=8443 ipv4hint=127.0.0.1',
      'proxy.example.net. 300 IN HTTPS 0 cdn.example.',
      'proxy.example.net. 300 IN TXT \\# 6 0568656c6c6f',
    ]);
  });
  it('rejects the whole message when one SVCB RR is malformed, saying which and why', () => {
    const bytes = encodeMessage(message);
    // Corrupt the port length (00 02 → 00 03) inside the first answer's RDATA.
    const at = bytes.findIndex((_, i) => bytes[i] === 0x00 && bytes[i + 1] === 0x03 && bytes[i + 2] === 0x00 && bytes[i + 3] === 0x02);
    const bad = bytes.slice();
    bad[at + 3] = 0x03;
    expect(() => decodeMessage(bad)).toThrow(SvcbFormatError);
    expect(() => decodeMessage(bad)).toThrow(/malformed SVCB record at _http-reverse\.proxy\.example\.net\. \(the whole RRset is rejected\)/);
  });
  it('rejects A/AAAA RDATA of the wrong length', () => {
    const a = encodeMessage({ answers: [{ name: 'x.', type: RRType.A, class: 1, ttl: 0, data: { kind: 'raw', bytes: Uint8Array.of(1, 2, 3) } }] });
    expect(() => decodeMessage(a)).toThrow(/A record for x\. has 3 octets/);
  });
});

describe('names and addresses', () => {
  it('escapes special octets in labels and compares case-insensitively (RFC 4343)', () => {
    const wire = Uint8Array.of(3, 0x61, 0x2e, 0x20, 2, 0x45, 0x58, 0);
    expect(decodeName(wire, 0).name).toBe('a\\.\\032.EX.');
    expect(encodeName('a\\.\\032.EX.')).toEqual(wire);
    expect(namesEqual('Proxy.Example.NET', 'proxy.example.net.')).toBe(true);
    expect(namesEqual('\\097.example.', 'A.example.')).toBe(true);
  });
  it('a label holding a backslash round-trips (escaped final dot)', () => {
    const wire = Uint8Array.from([1, 0x5c, 0]);
    expect(encodeName(decodeName(wire, 0).name)).toEqual(wire);
  });
  it('names round-trip through the wire (fast-check)', () => {
    const label = fc.uint8Array({ minLength: 1, maxLength: 63 });
    fc.assert(
      fc.property(fc.array(label, { maxLength: 3 }), (labels) => {
        const wire = Uint8Array.from(labels.flatMap((l) => [l.length, ...l]).concat(0));
        const { name, end } = decodeName(wire, 0);
        expect(end).toBe(wire.length);
        expect(encodeName(name)).toEqual(wire);
      }),
    );
  });
  it('formats IPv6 per RFC 5952 and parses the embedded-IPv4 form', () => {
    expect(ipv6FromBytes(ipv6ToBytes('2001:0DB8:0:0:1:0:0:1'))).toBe('2001:db8::1:0:0:1');
    expect(ipv6FromBytes(ipv6ToBytes('::'))).toBe('::');
    expect(ipv6FromBytes(ipv6ToBytes('::ffff:192.0.2.1'))).toBe('::ffff:c000:201');
    expect(ipv6FromBytes(ipv6ToBytes('2001:db8:0:1:1:1:1:1'))).toBe('2001:db8:0:1:1:1:1:1');
    for (const bad of ['1::2::3', '1:2:3:4:5:6:7', '12345::', ':::', '1:2:3:4:5:6:7:8:9', 'g::']) expect(() => ipv6ToBytes(bad)).toThrow(TypeError);
    for (const bad of ['1.2.3', '256.1.1.1', '01.2.3.4', '1.2.3.4.5']) expect(() => ipv4ToBytes(bad)).toThrow(TypeError);
  });
  it('IPv6 text round-trips (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        expect(ipv6ToBytes(ipv6FromBytes(b))).toEqual(b);
      }),
    );
  });
});
