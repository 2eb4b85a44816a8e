/**
 * Differential property: RequestParser against Node's llhttp (strict, no lenient flags). A proxy
 * whose request framing differs from the next hop's invites request smuggling (RFC 9112 §11.2), so
 * whenever OUR parser accepts a request, llhttp must read the same request from the same bytes:
 * the same method, target, version and persistence, the same body octets, and the same message
 * boundary (where a pipelined request starts). When ours refuses, llhttp may do anything: we are
 * allowed to be stricter. Where llhttp refuses something RFC 9110/9112 lets us accept, the case is
 * listed in {@link allowedDifference} with the RFC's reason.
 *
 * Requests come from a grammar biased toward the places parsers disagree: Content-Length and
 * Transfer-Encoding spellings and combinations, chunk sizes, extensions and trailers, bare CR, LF
 * and NUL, obs-fold, whitespace before the colon, several Host lines, HTTP/1.0 and 1.1, a
 * pipelined request after the first, and random byte mutations of the whole. Ours is fed in random
 * splits, llhttp one octet at a time (so the octet at which it completes a message is known).
 */
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Http1Error, RequestParser, type Http1RequestHead } from '../src/index.js';

// ---------------------------------------------------------------------------------------------
// llhttp, through Node's own binding (what node:http servers parse requests with).

interface LlhttpParserClass {
  new (): LlhttpParser;
  REQUEST: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
}
interface LlhttpParser {
  [callback: number]: unknown;
  initialize(type: number, resource: object, maxHeaderSize: number, lenientFlags: number): void;
  execute(data: Uint8Array): number | (Error & { code: string; reason: string; bytesParsed: number });
  close(): void;
}
const httpCommon = createRequire(import.meta.url)('_http_common') as { HTTPParser: LlhttpParserClass; methods: string[] };
const { HTTPParser, methods: llhttpMethods } = httpCommon;

interface Message {
  method: string;
  target: string;
  minorVersion: number;
  keepAlive: boolean;
  /** llhttp only: it will treat what follows as another protocol (CONNECT, or an accepted Upgrade). */
  upgrade?: boolean;
  /** Ours only: how the body was delimited. */
  framing?: Http1RequestHead['body'];
  body: string;
  /** Offset just past the message's last octet; -1 while incomplete. */
  end: number;
}

interface LlhttpResult {
  messages: Message[];
  /** The error code and the offset of the octet it was raised at, if any. */
  error?: { code: string; at: number };
}

/** Runs llhttp in strict mode over `wire`, one octet per execute. */
function llhttp(wire: Uint8Array): LlhttpResult {
  const parser = new HTTPParser();
  const result: LlhttpResult = { messages: [] };
  let current: Message | undefined;
  let at = 0;
  let url = '';
  let inBody = false;
  parser[HTTPParser.kOnHeaders] = (_headers: string[], urlPart: string) => {
    // Node flushes the head's URL here when a head has many fields, and the trailer fields (with
    // the URL it still holds) at a message's end: only the first belongs to the target.
    if (!inBody) url += urlPart;
  };
  parser[HTTPParser.kOnHeadersComplete] = (major: number, minor: number, _headers: string[], method: number, urlPart: string | undefined, _status: unknown, _reason: unknown, upgrade: boolean, keepAlive: boolean) => {
    current = { method: llhttpMethods[method], target: urlPart ?? url, minorVersion: major === 1 ? minor : -1, keepAlive, upgrade, body: '', end: -1 };
    url = '';
    inBody = true;
    result.messages.push(current);
    return 0;
  };
  parser[HTTPParser.kOnBody] = (b: Uint8Array) => {
    current!.body += latin1(b);
  };
  parser[HTTPParser.kOnMessageComplete] = () => {
    current!.end = at + 1;
    inBody = false;
  };
  parser[HTTPParser.kOnExecute] = () => {};
  parser.initialize(HTTPParser.REQUEST, {}, 0, 0 /* kLenientNone */);
  for (; at < wire.length; at++) {
    const r = parser.execute(wire.subarray(at, at + 1));
    if (typeof r !== 'number' || r < 0) {
      // An error object, or (in an Upgrade request, whose pause Node handles itself) llhttp's error number, negated.
      result.error = { code: typeof r === 'number' ? `llhttp error ${-r}` : r.code, at };
      break;
    }
    const last = result.messages[result.messages.length - 1];
    if (last?.upgrade && last.end !== -1) break; // the rest is the tunnel's, not HTTP
  }
  parser.close();
  return result;
}

// ---------------------------------------------------------------------------------------------
// Ours, fed in the given splits as a server would (push, reset after each message).

interface OursResult {
  messages: Message[];
  error?: Http1Error;
}

function ours(wire: Uint8Array, splits: number[]): OursResult {
  const result: OursResult = { messages: [] };
  let current: Message | undefined;
  const parser = new RequestParser({
    onHead: (head: Http1RequestHead) => {
      current = { method: head.method, target: head.target, minorVersion: head.minorVersion, keepAlive: head.keepAlive, framing: head.body, body: '', end: -1 };
      result.messages.push(current);
    },
    onData: (b) => {
      current!.body += latin1(b);
    },
    onEnd: () => {},
  });
  const cuts = [...new Set(splits.map((s) => s % (wire.length + 1)))].sort((a, b) => a - b);
  cuts.push(wire.length);
  let at = 0;
  try {
    for (const cut of cuts) {
      // Each read: the bytes up to `cut`, pushed from where the parser stopped.
      const piece = wire.subarray(0, Math.max(cut, at));
      while (at < piece.length) {
        at = parser.push(piece, at);
        if (!parser.done) break;
        current!.end = at;
        if (current!.method === 'CONNECT') return result; // a tunnel follows
        parser.reset();
      }
    }
  } catch (error) {
    if (!(error instanceof Http1Error)) throw error;
    result.error = error;
  }
  return result;
}

const latin1 = (b: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
};
const bytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

// ---------------------------------------------------------------------------------------------
// Where llhttp may refuse what we accept: each with the RFC text that lets us accept it.

/**
 * Why llhttp's refusal of `wire` (which ours accepted as `message`, starting at `start`) is not a
 * framing disagreement, or undefined when it would be one.
 */
function allowedDifference(wire: string, start: number, message: Message, theirs: Message | undefined, llhttpError: LlhttpResult['error']): string | undefined {
  const headEnd = headEndOf(wire, start);
  /** The head, from the request line (or the empty lines before it) to the CRLF of its last field line. */
  const head = wire.slice(start, headEnd === -1 ? undefined : headEnd + 2);
  const code = llhttpError?.code;
  // RFC 9110 §9.1: "The method token is case-sensitive", and the set of methods is extensible
  // (§16.1); "An origin server that receives a request method that is unrecognized or not
  // implemented SHOULD respond with the 501 (Not Implemented) status code". llhttp knows a fixed list.
  if (code === 'HPE_INVALID_METHOD' && !llhttpMethods.includes(message.method)) return 'a method llhttp does not know';
  // RFC 9112 §3.2: ours reads the request-target as the octets between the two SPs (no controls,
  // no whitespace) and leaves its own grammar (origin-form, authority-form only with CONNECT,
  // octets above 0x7E) to the application; llhttp refuses some targets as URLs, before any framing.
  const lineEnd = wire.indexOf('\r\n', start + (head.length - head.replace(/^(\r\n)*/, '').length));
  if (code === 'HPE_INVALID_URL' && llhttpError!.at < lineEnd) return 'a request-target llhttp refuses as a URL';
  // RFC 9110 §8.6: "a recipient MAY either reject the message as invalid or replace that
  // invalid field value with a single instance of the decimal value" for a list of identical
  // Content-Length values; ours replaces, llhttp rejects a comma or a second line.
  const lengths = [...head.matchAll(/\r\ncontent-length:([^\r]*)/gi)];
  if (code === 'HPE_INVALID_CONTENT_LENGTH' || code === 'HPE_UNEXPECTED_CONTENT_LENGTH') if (lengths.length > 1 || lengths.some((m) => m[1].includes(','))) return 'identical Content-Length values in a list';
  // RFC 9112 §5: field-line = field-name ":" OWS field-value OWS, and OWS = *( SP / HTAB )
  // (RFC 9110 §5.6.3). llhttp takes a trailing HTAB into a Content-Length's value (refused) or a
  // Transfer-Encoding's (then not chunked, and refused in a request; but in an Upgrade request
  // llhttp skips RFC 9112 §6.3 rule 4, "the server MUST respond with the 400 (Bad Request)", and
  // switches protocols right after the head, taking the chunked body for the new protocol's bytes).
  const refused = code === 'HPE_INVALID_CONTENT_LENGTH' || code === 'HPE_INVALID_TRANSFER_ENCODING' || (theirs?.upgrade === true && theirs.end === headEnd + 4);
  if (refused && /\r\n(content-length|transfer-encoding):[^\r]*\t[ \t]*\r\n/i.test(head)) return 'HTAB in the OWS after a framing field value';
  // RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name ... ), and RFC 9110 §5.6.3:
  // "Recipients MUST accept such bad optional whitespace and remove it before interpreting"; strict
  // llhttp refuses whitespace after the chunk size ("1 ;a").
  // (In an Upgrade request Node hands back a bare llhttp error number, an octet or so late.)
  if (inBody(llhttpError, headEnd, message) && /^[0-9a-f]+(?=[^\r]*[ \t])[ \t]*;/i.test(lineAt(wire, llhttpError!.at))) return 'BWS in a chunk extension';
  // RFC 9110 §5.6.1.2: "A recipient MUST parse and ignore a reasonable number of empty list
  // elements"; ours reads "chunked," as chunked, llhttp as a coding list not ending in chunked.
  const codings = [...head.matchAll(/\r\ntransfer-encoding:([^\r]*)/gi)].map((m) => m[1]).join(',');
  if (code === 'HPE_INVALID_TRANSFER_ENCODING' && codings.split(',').some((c) => c.trim() === '')) return 'empty list elements in Transfer-Encoding';
  // RFC 9110 §6.5.1: fields "that describe message framing" cannot be processed outside the header
  // section; a trailer field is the recipient's to discard (§6.5.2), and ours drops the trailer
  // section whole. llhttp checks a Content-Length or Transfer-Encoding trailer line as if it framed.
  // (In an Upgrade request llhttp stops there with a negative error number.)
  const trailerFraming = headEnd === -1 ? -1 : wire.slice(headEnd + 2, message.end === -1 ? undefined : message.end).search(/\r\n(content-length|transfer-encoding)[ \t]*:/i);
  if (trailerFraming !== -1 && inBody(llhttpError, headEnd, message) && llhttpError!.at >= headEnd + 2 + trailerFraming) return 'a framing field in the trailer section';
  return undefined;
}

/**
 * Whether llhttp's error lies after this message's head and before its end: only then can a
 * difference in its body excuse it (an error in a later pipelined request must not stop this one
 * being compared).
 */
function inBody(llhttpError: LlhttpResult['error'], headEnd: number, message: Message): boolean {
  return llhttpError !== undefined && headEnd !== -1 && llhttpError.at > headEnd && (message.end === -1 || llhttpError.at < message.end);
}

/** Where the head of the request at `start` ends (its CRLF CRLF), past empty lines before it; -1 if it does not. */
function headEndOf(wire: string, start: number): number {
  let at = start;
  while (wire.startsWith('\r\n', at)) at += 2;
  return wire.indexOf('\r\n\r\n', at);
}

/** The line of `wire` (up to its CR) that holds the octet at `at`. */
function lineAt(wire: string, at: number): string {
  const start = wire.lastIndexOf('\n', at - 1) + 1;
  const end = wire.indexOf('\r', start);
  return wire.slice(start, end === -1 ? undefined : end);
}

// ---------------------------------------------------------------------------------------------
// The grammar, biased toward the dangerous places. The framing fields, chunk lines and trailers
// are drawn from their valid and dangerous spellings in every request; the rest of the head
// (line ends, whitespace, controls, request line, other fields) is broken only in a "dirty" third
// of the requests, so that most requests reach their body and the next request.

const pick = <T>(...values: T[]): fc.Arbitrary<T> => fc.constantFrom(...values);
const caseOf = (name: string) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(name) },
    fc.constant(name.toLowerCase()),
    fc.constant(name.toUpperCase()),
    fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((up) => [...name].map((c, i) => (up[i] ? c.toUpperCase() : c.toLowerCase())).join('')),
  );

const contentLengthValue = (length: number) =>
  fc.oneof(
    { weight: 24, arbitrary: fc.constant(String(length)) },
    ...[`0${length}`, `00${length}`, `+${length}`, `-${length}`, `${length}, ${length}`, `${length},${length}`, `${length}, ${length + 1}`, `${length} ${length}`, `${length},`, `,${length}`, '', `0x${length.toString(16)}`, `${length}.0`, `${length}e0`, '99999999999999999999'].map((v) => fc.constant(v)),
    fc.nat({ max: 40 }).map(String),
  );
const transferEncodingValue = fc.oneof(
  { weight: 8, arbitrary: fc.constant('chunked') },
  pick('Chunked', 'CHUNKED', ' chunked', 'chunked ', 'chunked,', ',chunked', ', chunked', 'chunked, chunked', 'gzip, chunked', 'chunked, gzip', 'identity', 'identity, chunked'),
  pick('chunked;q=1', '"chunked"', 'xchunked', 'chunkedx', 'chunk ed', 'chunked\t', 'gzip', 'chunked,,', 'deflate,chunked', ''),
);

function grammar(dirty: boolean) {
  /** `valid`, or in a dirty request now and then `invalid`. */
  const noise = <T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<T>, weight = 20): fc.Arbitrary<T> => (dirty ? fc.oneof({ weight, arbitrary: valid }, invalid) : valid);
  const crlf = noise(fc.constant('\r\n'), pick('\n', '\r', '\r\r\n', '\n\r'));
  const ows = fc.oneof({ weight: 4, arbitrary: fc.constant('') }, pick(' ', '\t', '  ', ' \t'));
  const owsNoise = noise(ows, pick('\x0b', '\x00', '\r', '\x0c'));
  /** A field line: name, whitespace before the colon (refused by both), OWS, value, OWS, a line end. */
  const fieldLine = (name: fc.Arbitrary<string>, value: fc.Arbitrary<string>) =>
    fc
      .tuple(name, noise(fc.constant(''), pick(' ', '\t')), fc.oneof({ weight: 2, arbitrary: fc.constant(' ') }, owsNoise), value, owsNoise, crlf)
      .map(([n, beforeColon, before, v, after, end]) => `${n}${beforeColon}:${before}${v}${after}${end}`);

  /** A chunk: its size line (size spelling, extension, line end), data, and the CRLF after the data. */
  const chunk = fc
    .tuple(
      fc.string({ minLength: 1, maxLength: 12, unit: fc.constantFrom(...'abcdefghij\r\n0; ') }),
      fc.oneof({ weight: 12, arbitrary: fc.constant('') }, pick('0', '00', '0x', '+', '-', ' ')),
      fc.boolean(),
      fc.oneof(
        { weight: 12, arbitrary: fc.constant('') },
        { weight: 4, arbitrary: pick(';a', ';a=b', ';a="q"', ';a="q\\"r"', '; a = b', ' ;a', '\t;a', ';a;b=c', ';a="\x80;"') },
        pick(';', ' ', '\t', ';a=', ';a="', ';="b"', ' x', ';a=b c', ';a=\x01', ';a="\x7f"', ';a=\x80', ';a="\r\n"'),
      ),
      fc.oneof({ weight: 20, arbitrary: fc.constant('\r\n') }, pick('\n', '\r', '\r\r\n')),
      fc.nat({ max: 11 }),
      fc.oneof({ weight: 20, arbitrary: fc.constant('\r\n') }, pick('\n', '\r', '', 'x\r\n', '\r\n\r\n')),
    )
    .map(([data, prefix, upper, extension, sizeEnd, delta, dataEnd]) => {
      const size = upper ? data.length.toString(16).toUpperCase() : data.length.toString(16);
      // Mostly the right size; sometimes it claims fewer octets than follow (the rest then reads as framing).
      const claimed = delta === 11 ? Math.max(0, data.length - 1).toString(16) : size;
      return `${prefix}${claimed}${extension}${sizeEnd}${data}${dataEnd}`;
    });
  const trailerLine = fc.oneof(
    { weight: 6, arbitrary: fieldLine(pick('X-Trailer', 'Expires', 'Content-Length', 'Transfer-Encoding'), pick('1', 'chunked', 'a b')) },
    pick(' folded\r\n', '\tfolded\r\n', 'no-colon\r\n', ': empty-name\r\n', 'a b: c\r\n', 'x:\x01\r\n', 'x:\x00\r\n', 'x: a\rb\r\n', 'x: \x7f\r\n', 'x: \x80\r\n', 'x : 1\r\n'),
  );
  const lastChunk = fc
    .tuple(
      fc.oneof({ weight: 6, arbitrary: pick('0', '00', '000', '0;a=b', '0 ;a') }, pick('0 ', '0;', '0x0', ' 0', '-0')),
      fc.oneof({ weight: 20, arbitrary: fc.constant('\r\n') }, pick('\n', '\r')),
      fc.array(trailerLine, { maxLength: 2 }),
      fc.oneof({ weight: 20, arbitrary: fc.constant('\r\n') }, pick('\n', '\r', '')),
    )
    .map(([size, end, trailers, final]) => `${size}${end}${trailers.join('')}${final}`);
  const chunkedBody = fc.tuple(fc.array(chunk, { maxLength: 3 }), lastChunk).map(([chunks, last]) => chunks.join('') + last);

  const method = fc.oneof({ weight: 10, arbitrary: pick('GET', 'POST', 'PUT') }, pick('HEAD', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'FOO', 'get', 'M-SEARCH'));
  const target = noise(pick('/', '/a?b=c', '/x/y', '*', 'http://a.example/x', 'a.example:443', '/%00', '/#f', '/\x80'), pick('/a b', '/a\tb', '', '/a\x00'));
  const version = noise(fc.oneof({ weight: 5, arbitrary: fc.constant('HTTP/1.1') }, fc.constant('HTTP/1.0')), pick('http/1.1', 'HTTP/1.1 ', 'HTTP/11', 'HTTP/1.01', 'HTTP/0.9', 'HTTP/2.0', 'HTTP /1.1'));
  const sp = noise(fc.constant(' '), pick('  ', '\t'));
  const requestLine = fc.tuple(method, sp, target, sp, version, crlf).map(([m, sp1, t, sp2, v, end]) => `${m}${sp1}${t}${sp2}${v}${end}`);

  const hostLine = fieldLine(caseOf('Host'), noise(pick('a.example', 'a.example:8080', '', '[::1]:80'), pick('a b', 'a.example:x', 'a@b'), 10));
  const otherLine = fc.oneof(
    { weight: 3, arbitrary: fieldLine(caseOf('Connection'), pick('close', 'keep-alive', 'Keep-Alive', 'upgrade', 'close, keep-alive', 'keep-alive, close', 'te', 'closed')) },
    fieldLine(pick('Upgrade'), pick('websocket', 'h2c')),
    { weight: 4, arbitrary: fieldLine(pick('Accept', 'User-Agent', 'Cookie', 'Expect', 'X-Thing'), pick('*/*', 'b/1 (x; y)', 'a=1; b=2', '100-continue', 'a\x80b', 'a"b', '')) },
    ...(dirty ? [fieldLine(pick('X-Thing'), pick('a\x00b', 'a\rb', 'a\nb', 'a\x7fb', 'a\x01b')), pick(' folded\r\n', '\tfolded: x\r\n', 'No-Colon\r\n', 'Bad Name: x\r\n', ': x\r\n', 'Host\r\n')] : []),
  );

  /** One request: request line, Host lines, framing fields, others, in a random order, then a body shaped by the framing fields (sometimes not). */
  return fc
    .record({
      empties: fc.oneof({ weight: 8, arbitrary: fc.constant('') }, pick('\r\n', '\r\n\r\n'), ...(dirty ? [pick('\n', ' \r\n', '\r')] : [])),
      line: requestLine,
      hosts: fc.oneof({ weight: 8, arbitrary: fc.array(hostLine, { minLength: 1, maxLength: 1 }) }, fc.array(hostLine, { maxLength: 3 })),
      data: fc.string({ maxLength: 12, unit: fc.constantFrom(...'abcdefghij\r\n0') }),
      // The framing fields: none, Content-Length, Transfer-Encoding, both (one line each, sometimes two).
      length: fc.nat({ max: 12 }),
      lengthLines: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 4, arbitrary: fc.constant(1) }, fc.constant(2)),
      encodingLines: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 6, arbitrary: fc.constant(1) }, fc.constant(2)),
      others: fc.array(otherLine, { maxLength: 2 }),
      headEnd: crlf,
      chunked: chunkedBody,
      order: fc.array(fc.nat(), { maxLength: 8 }),
    })
    .chain((r) =>
      fc
        .tuple(
          fc.array(fieldLine(caseOf('Content-Length'), contentLengthValue(r.length)), { minLength: r.lengthLines, maxLength: r.lengthLines }),
          fc.array(fieldLine(caseOf('Transfer-Encoding'), transferEncodingValue), { minLength: r.encodingLines, maxLength: r.encodingLines }),
        )
        .map(([lengths, encodings]) => {
          const lines = [...r.hosts, ...lengths, ...encodings, ...r.others];
          // Shuffle the field lines by the drawn order.
          r.order.forEach((k, i) => {
            if (lines.length > 1) [lines[i % lines.length], lines[k % lines.length]] = [lines[k % lines.length], lines[i % lines.length]];
          });
          // The body the framing fields announce, or (with none) a few octets that belong to what follows.
          const body = encodings.length > 0 ? r.chunked : lengths.length > 0 ? r.data.padEnd(r.length, 'x').slice(0, r.length) : r.data.slice(0, r.data.length % 3);
          return `${r.empties}${r.line}${lines.join('')}${r.headEnd}${body}`;
        }),
    );
}

const request = fc.oneof({ weight: 2, arbitrary: grammar(false) }, grammar(true));

const pipelined = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  pick('GET /next HTTP/1.1\r\nHost: b\r\n\r\n', 'POST /next HTTP/1.1\r\nHost: b\r\nContent-Length: 3\r\n\r\nabc', 'POST /next HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', '0\r\n\r\n', 'GET /next HTTP/1.0\r\n\r\n'),
  { weight: 2, arbitrary: request },
);

const mutation = fc.record({ at: fc.nat(), kind: pick('replace', 'insert', 'delete'), octet: fc.oneof({ weight: 6, arbitrary: pick(0x0d, 0x0a, 0x00, 0x20, 0x09, 0x2c, 0x3a, 0x30, 0x3b, 0x22) }, fc.nat({ max: 255 })) });

/** The wire: a request, maybe a pipelined one, in a quarter of the cases mutated at a few octets. */
const wire = fc
  .tuple(request, pipelined, fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, fc.array(mutation, { minLength: 1, maxLength: 3 })))
  .map(([first, second, mutations]) => {
    const octets = [...bytes(first + second)];
    for (const { at, kind, octet } of mutations) {
      const i = at % (octets.length + 1);
      if (kind === 'insert') octets.splice(i, 0, octet);
      else if (i < octets.length) {
        if (kind === 'replace') octets[i] = octet;
        else octets.splice(i, 1);
      }
    }
    return { data: Uint8Array.from(octets), mutated: mutations.length > 0 };
  });

// ---------------------------------------------------------------------------------------------

/** Versions other than 1.0 and 1.1 are another change's (RFC 9110 §6.2, HTTP/1.2 read as 1.1): not compared here. */
const OTHER_MINOR_VERSION = /HTTP\/1\.[2-9]/;

/** What the property compared, so that a generator that stops reaching a kind of message fails the test. */
const compared = { heads: 0, none: 0, length: 0, chunked: 0, pipelined: 0, mutated: 0 };

/**
 * The property, for one wire and one split of it: every message ours accepts (its head, or the
 * whole of it) llhttp reads the same way, unless {@link allowedDifference} says why not.
 */
function agree(data: Uint8Array, splits: number[], mutated: boolean): void {
  const text = latin1(data);
  if (OTHER_MINOR_VERSION.test(text)) return;
  const mine = ours(data, splits);
  if (mine.messages.length === 0) return;
  const theirs = llhttp(data);
  let start = 0;
  for (let k = 0; k < mine.messages.length; k++) {
    const m = mine.messages[k];
    const l = theirs.messages[k];
    const why = allowedDifference(text, start, m, l, theirs.error);
    if (why !== undefined) return; // llhttp may refuse this one; what follows is not compared
    const context = { wire: text, k, ours: m, llhttp: l, llhttpError: theirs.error, oursError: mine.error?.message };
    expect(l, JSON.stringify(context)).toBeDefined();
    // Persistence: where ours keeps the connection, llhttp must too (else it refuses what follows).
    // Ours closing where llhttp would persist is allowed: RFC 9112 §9.3 "If the "close" connection
    // option is present, the connection will not persist after the current response", whatever else
    // Connection lists; llhttp lets "keep-alive" win in HTTP/1.0 ("keep-alive, close").
    // A Connection value with HTAB in its trailing OWS (RFC 9112 §5, as for the framing fields
    // above) is not recognised by llhttp, which then does not see "keep-alive" in HTTP/1.0 and
    // refuses what follows: a refusal, not another framing.
    const tabbed = /\r\nconnection:[^\r]*\t[ \t]*\r\n/i.test(text.slice(start, headEndOf(text, start) + 2));
    expect({ method: l.method, target: l.target, minorVersion: l.minorVersion, keepAlive: l.keepAlive || !m.keepAlive || tabbed }, JSON.stringify(context)).toEqual({ method: m.method, target: m.target, minorVersion: m.minorVersion, keepAlive: true });
    compared.heads++;
    if (m.end === -1) {
      // Ours has not seen the whole message, or refused its body: the head was compared, and
      // unless ours refused, llhttp has not found the message's end within the bytes either.
      if (mine.error === undefined) expect(l.end, JSON.stringify(context)).toBe(-1);
      return;
    }
    expect({ body: l.body, end: l.end }, JSON.stringify(context)).toEqual({ body: m.body, end: m.end });
    compared[m.framing!]++;
    if (k > 0) compared.pipelined++;
    if (mutated) compared.mutated++;
    // After a message that is not to persist (llhttp refuses data after it) or that starts a tunnel, nothing is compared.
    if (!m.keepAlive || !l.keepAlive || l.upgrade) return;
    start = m.end;
  }
}

describe('RequestParser against llhttp (RFC 9112 §11.2: request smuggling)', () => {
  it('the harness reads a pipelined pair the same way in both parsers', () => {
    const data = bytes('POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\nGET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    const mine = ours(data, [7, 60]);
    const theirs = llhttp(data);
    expect(mine.error).toBeUndefined();
    expect(theirs.error).toBeUndefined();
    expect(mine.messages).toEqual([
      { method: 'POST', target: '/a', minorVersion: 1, keepAlive: true, framing: 'chunked', body: 'abc', end: 80 },
      { method: 'GET', target: '/b', minorVersion: 0, keepAlive: true, framing: 'none', body: '', end: data.length },
    ]);
    expect(theirs.messages.map(({ upgrade: _, ...message }) => message)).toEqual(mine.messages.map(({ framing: _, ...message }) => message));
  });

  it('the harness runs llhttp strict: Content-Length with Transfer-Encoding and a bare LF are refused', () => {
    expect(llhttp(bytes('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')).error?.code).toBe('HPE_INVALID_TRANSFER_ENCODING');
    expect(llhttp(bytes('GET / HTTP/1.1\nHost: a\r\n\r\n')).error).toBeDefined();
  });

  it('whatever ours accepts, llhttp reads with the same method, target, version, persistence, body and boundary', () => {
    // RHTTP_DIFFERENTIAL_RUNS=100000 for a longer hunt.
    const numRuns = Number(process.env.RHTTP_DIFFERENTIAL_RUNS ?? 4000);
    fc.assert(
      fc.property(wire, fc.array(fc.nat(), { maxLength: 4 }), ({ data, mutated }, splits) => agree(data, splits, mutated)),
      { numRuns },
    );
    // The comparisons were made, of every kind (a generator that stopped producing accepted messages would pass without them).
    // (About a fifth of the wires have a head both parsers read; of those, about 1 in 15 a chunked body.)
    expect(compared.heads).toBeGreaterThan(numRuns / 10);
    for (const kind of ['none', 'length', 'chunked', 'pipelined', 'mutated'] as const) expect(compared[kind], kind).toBeGreaterThan(numRuns / 400);
  });
});
