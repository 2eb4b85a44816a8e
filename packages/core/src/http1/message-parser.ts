/**
 * What the HTTP/1.1 request and response parsers share (RFC 9112), one rule in one place: the
 * scan of a head (CRLF-only line ends, its size bound, pieces across reads, the ASCII fast
 * decode), the field-line grammar (§5), the framing fields (Content-Length §6.3 rule 5,
 * Transfer-Encoding §6.1 and §7, Connection §9.3) and the body state machine (Content-Length,
 * chunked, until close). {@link RequestParser} and {@link ResponseParser} add their start line and
 * their role's framing rules (RFC 9112 §6.3 differs for requests and responses).
 *
 * Line ends are CRLF only: RFC 9112 §2.2 lets a recipient accept a bare LF ("MAY recognize a
 * single LF as a line terminator"); a proxy that reads framing differently from the next hop
 * invites request smuggling and response splitting, so a bare LF (and a bare CR, §2.2 "MUST
 * consider that element to be invalid") makes the message invalid.
 */
import { concatBytes } from '../bytes.js';
import { decodeLatin1 } from '../hpack/latin1.js';
import { connectionOptions } from '../http/hop-by-hop.js';
import { ChunkedDecoder } from './chunked.js';
import { Http1Error } from './errors.js';
import { isFieldValueOctet, TCHAR } from './token.js';

/**
 * Octets of a head (start line and field lines), as the engine's maxHeaderListSize for HTTP/2
 * (64 KiB): a peer cannot make us buffer more before a body starts.
 */
export const MAX_HEAD_BYTES = 64 * 1024;
/**
 * Field lines in one head: each becomes two strings, and 64 KiB of minimal lines ("a:" CRLF)
 * would be 16,384 of them; no application sends more than a few hundred.
 */
export const MAX_HEAD_FIELDS = 1000;
/**
 * Octets a read must offer before the head's scan reads it by words: the word view of the buffer
 * costs an allocation that a few octets do not repay.
 */
const WORD_SCAN_FROM = 64;
/** Decimal digits of a Content-Length: 15 keep it within a JavaScript number's exact integers. */
const MAX_CONTENT_LENGTH_DIGITS = 15;

const CR = 0x0d;
const LF = 0x0a;

/**
 * What each octet is to the head's scan: every octet of a head outside its line ends is an HTAB,
 * SP, VCHAR or obs-text (field values, RFC 9110 §5.5, and every part of a start line are made of
 * these), so the one scan checks them all: NUL, the other controls and DEL are refused there.
 */
const enum Octet {
  Invalid,
  Plain,
  Cr,
  Lf,
}
const OCTET: Uint8Array = (() => {
  const table = new Uint8Array(256);
  for (let c = 0; c < 256; c++) table[c] = isFieldValueOctet(c) ? Octet.Plain : Octet.Invalid;
  table[CR] = Octet.Cr;
  table[LF] = Octet.Lf;
  return table;
})();

/** What a message parser hands its body to. */
export interface MessageBodyHandler {
  onData(bytes: Uint8Array): void;
  onEnd(): void;
}

/** How a message's body is delimited, once its head is read (RFC 9112 §6.3). */
export type BodyFraming = 'none' | 'length' | 'chunked' | 'until-close';

const enum State {
  Head,
  Length,
  Chunked,
  UntilClose,
  Done,
}

/**
 * One message's head and body, read from bytes in any split. A subclass parses the head's text
 * ({@link parseHead}: start line, then {@link parseFieldLines}, then {@link startBody}).
 */
export abstract class MessageParser {
  #state = State.Head;
  /** Line-end scanner of the head: 0 in a line, 1 after CR, 2 after CRLF, 3 after CRLF CR. */
  #lineEnd = 0;
  #headBytes = 0;
  #headPieces: Uint8Array[] = [];
  /** The OR of the head's octets so far: below 0x80, the head is ASCII and decodes natively. */
  #headHigh = 0;
  /**
   * Where each line of the head so far ends (the offset of its CR from the head's start); entries
   * past `#lines` are stale. A plain array grown as lines come, not a typed array of the bound:
   * that was 4 KiB outside the JavaScript heap per parser, and the agent makes a parser per
   * upstream exchange.
   */
  readonly #lineEnds: number[] = [];
  #lines = 0;
  #remaining = 0;
  #chunked: ChunkedDecoder | undefined;
  readonly #body: MessageBodyHandler;
  readonly #onData: (bytes: Uint8Array) => void;
  /** Field names kept as received (response) or lower-cased (request). */
  readonly #lowerCaseNames: boolean;
  /** 'request' or 'response', for the error messages. */
  protected readonly role: string;
  /** The Content-Length field lines of the head just read, joined with ", " (undefined: none). */
  protected contentLength: string | undefined;
  /** The Transfer-Encoding field lines of the head just read, joined with ", ". */
  protected transferEncoding: string | undefined;
  /** The Connection field lines of the head just read, joined with ", ". */
  protected connection: string | undefined;

  constructor(role: 'request' | 'response', lowerCaseNames: boolean, body: MessageBodyHandler) {
    this.role = role;
    this.#lowerCaseNames = lowerCaseNames;
    this.#body = body;
    this.#onData = (bytes) => body.onData(bytes);
  }

  /** The message is complete. */
  get done(): boolean {
    return this.#state === State.Done;
  }

  /** The head is still being read (nothing of it may have come yet). */
  protected get readingHead(): boolean {
    return this.#state === State.Head;
  }

  /** Octets of an unfinished head taken so far (0 between reads of a head that came whole). */
  protected get headBytesTaken(): number {
    return this.#headBytes;
  }

  /** The body runs until the connection closes (a response, RFC 9112 §6.3 rules 4 and 8). */
  protected get readingUntilClose(): boolean {
    return this.#state === State.UntilClose;
  }

  /**
   * The head text (without its final CRLF CRLF), its first line ending at `startLineEnd`: parse
   * the start line, then {@link parseFieldLines}, report the head, {@link startBody}.
   */
  protected abstract parseHead(text: string, startLineEnd: number): void;

  /** One field line of the head being parsed, its name lower-cased when the parser asks for that. */
  protected abstract addField(name: string, value: string): void;

  /** Reads from `bytes[start..]` until they run out or the message is complete; returns the index after what was taken. */
  protected read(bytes: Uint8Array, start: number): number {
    let i = start;
    const n = bytes.length;
    while (i < n) {
      switch (this.#state) {
        case State.Head:
          i = this.#readHead(bytes, i);
          break;
        case State.Length: {
          const take = Math.min(this.#remaining, n - i);
          this.#remaining -= take;
          this.#body.onData(bytes.subarray(i, i + take));
          i += take;
          if (this.#remaining === 0) this.endMessage();
          break;
        }
        case State.Chunked: {
          const decoder = this.#chunked!;
          i = decoder.decode(bytes, i, this.#onData);
          if (decoder.done) this.endMessage();
          break;
        }
        case State.UntilClose:
          this.#body.onData(i === 0 ? bytes : bytes.subarray(i));
          i = n;
          break;
        case State.Done:
          return i;
      }
    }
    return i;
  }

  /**
   * After the head was reported: how the body is delimited. Does nothing when the handler already
   * moved the parser on from the head (it ended or reset it from onHead).
   */
  protected startBody(framing: BodyFraming, length: number): void {
    if (this.#state !== State.Head) return;
    if (framing === 'none' || (framing === 'length' && length === 0)) this.endMessage();
    else if (framing === 'length') {
      this.#remaining = length;
      this.#state = State.Length;
    } else if (framing === 'chunked') {
      this.#chunked = new ChunkedDecoder();
      this.#state = State.Chunked;
    } else this.#state = State.UntilClose;
  }

  /** The message is complete. */
  protected endMessage(): void {
    this.#state = State.Done;
    this.#body.onEnd();
  }

  /** Back to reading a head, for the next message. */
  protected resetMessage(): void {
    this.#state = State.Head;
    this.#lineEnd = 0;
    this.#headBytes = 0;
    if (this.#headPieces.length > 0) this.#headPieces = [];
    this.#headHigh = 0;
    this.#lines = 0;
    this.#remaining = 0;
    this.#chunked = undefined;
  }

  /** The error for a head that reached {@link MAX_HEAD_BYTES}; `startLineEnded` says whether its first line had ended (the request parser's distinction). */
  protected headTooLarge(startLineEnded: boolean): Http1Error {
    void startLineEnded;
    return new Http1Error('head_too_large', `${this.role} head larger than ${MAX_HEAD_BYTES} octets`);
  }

  /** Scans for the empty line ending the head; parses it once found. Returns the index after what was taken. */
  #readHead(bytes: Uint8Array, start: number): number {
    let s = this.#lineEnd;
    let high = this.#headHigh;
    let lines = this.#lines;
    const lineEnds = this.#lineEnds;
    const n = bytes.length;
    const limit = Math.min(n, start + MAX_HEAD_BYTES - this.#headBytes);
    /** Offset in the head of the octet at index 0 of `bytes`. */
    const base = this.#headBytes - start;
    // Within a line, whole aligned words of printable ASCII are skipped four octets at a time.
    const offset = bytes.byteOffset;
    const words = limit - start >= WORD_SCAN_FROM ? new Int32Array(bytes.buffer, 0, (offset + limit) >>> 2) : undefined;
    let j = start;
    let found = false;
    for (; j < limit; j++) {
      if (s === 0 && words !== undefined && ((offset + j) & 3) === 0) {
        let w = (offset + j) >>> 2;
        for (const end = words.length; w < end; w++) {
          const x = words[w];
          // Some octet below 0x20 (x - 0x20202020 & ~x), above 0x7E (x + 0x01010101) or 0x80 and up (x).
          if ((((x - 0x20202020) & ~x) | (x + 0x01010101) | x) & 0x80808080) break;
        }
        j = w * 4 - offset;
        if (j >= limit) break;
      }
      const c = bytes[j];
      const octet = OCTET[c];
      if (octet === Octet.Plain) {
        // RFC 9112 §2.2: "A recipient of such a bare CR MUST consider that element to be invalid".
        if (s !== 0) {
          if (s !== 2) throw new Http1Error('invalid_head', `bare CR in the ${this.role} head`);
          s = 0;
        }
        high |= c;
      } else if (octet === Octet.Cr) {
        if (s === 1 || s === 3) throw new Http1Error('invalid_head', `bare CR in the ${this.role} head`);
        s = s === 2 ? 3 : 1;
      } else if (octet === Octet.Lf) {
        if (s === 1) {
          s = 2;
          // The start line and MAX_HEAD_FIELDS field lines: refused here, before the head ends.
          if (lines === MAX_HEAD_FIELDS + 1) throw new Http1Error('head_too_large', `more than ${MAX_HEAD_FIELDS} fields in the ${this.role} head`);
          lineEnds[lines++] = base + j - 1;
        } else if (s === 3) {
          j++;
          found = true;
          break;
        } else throw new Http1Error('invalid_head', `bare LF in the ${this.role} head (only CRLF ends a line here)`);
      } else {
        // RFC 9110 §5.5: field-value = *field-content (VCHAR, obs-text, SP, HTAB); NUL, CR, LF and
        // other controls are refused, and no other part of a head has them either.
        throw new Http1Error('invalid_head', `invalid octet 0x${c.toString(16).padStart(2, '0')} in the ${this.role} head`);
      }
    }
    if (!found) {
      // The scan stopped at `limit` without the empty line: at the bound, whether this read had more or not.
      if (this.#headBytes + (limit - start) >= MAX_HEAD_BYTES) {
        // Every LF of a head so far ended a line the scan counted (a bare one was refused).
        throw this.headTooLarge(lines > 0);
      }
      this.#lineEnd = s;
      this.#headHigh = high;
      this.#lines = lines;
      this.#headBytes += n - start;
      this.#headPieces.push(bytes.subarray(start));
      return n;
    }
    let head: Uint8Array;
    if (this.#headPieces.length === 0) {
      head = bytes.subarray(start, j);
    } else {
      this.#headPieces.push(bytes.subarray(start, j));
      head = concatBytes(this.#headPieces, this.#headBytes + (j - start));
      this.#headPieces = [];
    }
    this.#lineEnd = 0;
    this.#headBytes = 0;
    this.#headHigh = 0;
    this.#lines = lines;
    this.parseHead(high < 0x80 ? ASCII.decode(head.subarray(0, head.length - 4)) : decodeLatin1(head, 0, head.length - 4), lineEnds[0]);
    this.#lines = 0;
    return j;
  }

  /**
   * The field lines of the head's text being parsed (the lines after the start line, where the scan
   * found them), RFC 9112 §5; each goes to {@link addField}, and the framing fields are noted for
   * the subclass.
   */
  protected parseFieldLines(text: string): void {
    this.contentLength = undefined;
    this.transferEncoding = undefined;
    this.connection = undefined;
    const lineEnds = this.#lineEnds;
    const lines = this.#lines;
    for (let k = 1; k < lines; k++) this.#parseFieldLine(text, lineEnds[k - 1] + 2, lineEnds[k]);
  }

  /** One field line, RFC 9112 §5: field-line = field-name ":" OWS field-value OWS. */
  #parseFieldLine(text: string, start: number, end: number): void {
    const first = text.charCodeAt(start);
    // RFC 9112 §5.2: obs-fold (a line starting with SP or HTAB) is refused: a server "MUST either
    // reject the message by sending a 400 (Bad Request)", a proxy may "discard the message and
    // replace it with a 502"; unfolding would read the field differently from the next hop.
    if (first === 0x20 || first === 0x09) throw new Http1Error('invalid_head', `obs-fold (a field line continued on the next line) in the ${this.role} head`);
    let colon = start;
    let kinds = 0;
    for (; colon < end; colon++) {
      const kind = NAME_OCTET[text.charCodeAt(colon)];
      if (kind === 0) break;
      kinds |= kind;
    }
    // RFC 9112 §5.1: "No whitespace is allowed between the field name and colon"; the name is a token.
    if (colon === start || colon === end || text.charCodeAt(colon) !== 0x3a /* : */) throw new Http1Error('invalid_head', `invalid field line ${JSON.stringify(text.slice(start, Math.min(end, start + 64)))}`);
    let v = colon + 1;
    let w = end;
    while (v < w && isOws(text.charCodeAt(v))) v++;
    while (w > v && isOws(text.charCodeAt(w - 1))) w--;
    // The value's octets were checked by the scan (RFC 9110 §5.5, see OCTET).
    let name = text.slice(start, colon);
    const value = text.slice(v, w);
    const length = colon - start;
    if (this.#lowerCaseNames && kinds > 1) name = name.toLowerCase();
    if (length === 14 || length === 17 || length === 10) {
      const lower = this.#lowerCaseNames ? name : name.toLowerCase();
      if (lower === 'content-length') this.contentLength = this.contentLength === undefined ? value : `${this.contentLength}, ${value}`;
      else if (lower === 'transfer-encoding') this.transferEncoding = this.transferEncoding === undefined ? value : `${this.transferEncoding}, ${value}`;
      else if (lower === 'connection') this.connection = this.connection === undefined ? value : `${this.connection}, ${value}`;
    }
    this.addField(name, value);
  }
}

/**
 * The Content-Length field lines' values (joined with ", ") as one length. RFC 9110 §8.6: a list
 * of identical values may stand for one; anything else (a different value, a non-digit, a sign) is
 * invalid, and RFC 9112 §6.3 rule 5: "the message framing is invalid and the recipient MUST treat
 * it as an unrecoverable error".
 */
export function contentLengthValue(value: string): number {
  // The common case, one plain number, without splitting.
  const n = value.length;
  if (n > 0 && n <= MAX_CONTENT_LENGTH_DIGITS) {
    let length = 0;
    let k = 0;
    for (; k < n; k++) {
      const d = value.charCodeAt(k) - 0x30;
      if (d < 0 || d > 9) break;
      length = length * 10 + d;
    }
    if (k === n) return length;
  }
  let merged = -1;
  for (const part of value.split(',')) {
    const digits = part.trim();
    if (digits.length === 0 || digits.length > MAX_CONTENT_LENGTH_DIGITS || !/^[0-9]+$/.test(digits)) throw new Http1Error('invalid_framing', `invalid Content-Length ${JSON.stringify(value)}`);
    const length = Number(digits);
    if (merged !== -1 && merged !== length) throw new Http1Error('invalid_framing', `conflicting Content-Length values (${merged} and ${length})`);
    merged = length;
  }
  return merged;
}

/** What a message's Transfer-Encoding lists, once it is known to be a valid framing (see {@link transferCodings}). */
export type TransferCodings = 'chunked' | 'codings-then-chunked' | 'no-chunked';

/**
 * The Transfer-Encoding checks a request and a response share: refused in HTTP/1.0, with a
 * Content-Length, or with chunked anywhere but last; otherwise, where chunked stands.
 */
export function transferCodings(transferEncoding: string, minorVersion: number, hasContentLength: boolean, role: string): TransferCodings {
  // RFC 9112 §6.1: "A server or client that receives an HTTP/1.0 message containing a
  // Transfer-Encoding header field MUST treat the message as if the framing is faulty".
  if (minorVersion === 0) throw new Http1Error('invalid_framing', `Transfer-Encoding in an HTTP/1.0 ${role}`);
  // RFC 9112 §6.3 rule 3: both "ought to be handled as an error" (request smuggling, response splitting).
  if (hasContentLength) throw new Http1Error('invalid_framing', `both Content-Length and Transfer-Encoding in the ${role}`);
  if (transferEncoding.length === 7 && transferEncoding.toLowerCase() === 'chunked') return 'chunked';
  const codings = transferEncoding.split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '');
  const chunkedAt = codings.indexOf('chunked');
  // RFC 9112 §7: "A sender MUST NOT apply the chunked transfer coding more than once".
  if (chunkedAt !== -1 && chunkedAt !== codings.length - 1) throw new Http1Error('invalid_framing', 'chunked is not the final transfer coding');
  if (chunkedAt === -1) return 'no-chunked';
  return codings.length === 1 ? 'chunked' : 'codings-then-chunked';
}

/**
 * RFC 9112 §9.3: whether the connection persists after this message: "If the "close" connection
 * option is present ..., the connection will not persist"; else HTTP/1.1 persists, and HTTP/1.0
 * only when the "keep-alive" option is present.
 */
export function persists(minorVersion: number, connection: string | undefined): boolean {
  if (connection === undefined) return minorVersion >= 1;
  // The common values without building the set of options.
  if (connection.length === 10 || connection.length === 5) {
    const only = connection.toLowerCase();
    if (only === 'keep-alive') return true;
    if (only === 'close') return false;
  }
  const options = connectionOptions([['connection', connection]]);
  return !options.has('close') && (minorVersion >= 1 || options.has('keep-alive'));
}

/** `NAME_OCTET[c]`: 0 when `c` is not a tchar, 2 for an upper-case letter, 1 for the other tchars. */
const NAME_OCTET: Uint8Array = (() => {
  const table = TCHAR.slice();
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 2;
  return table;
})();

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Decodes an ASCII-only head (UTF-8 and ASCII agree there), far faster than char by char. */
const ASCII = new TextDecoder();
