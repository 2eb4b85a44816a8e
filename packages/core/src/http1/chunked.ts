/**
 * The chunked transfer coding, decoding side (RFC 9112 §7.1): a state machine fed bytes in any
 * split, handing on chunk data as subarrays of what it is given (no copy). The trailer section is
 * read and dropped (a proxy toward HTTP/2 has no use for HTTP/1.1 trailers here).
 *
 *   chunked-body   = *chunk last-chunk trailer-section CRLF
 *   chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-size     = 1*HEXDIG
 *   last-chunk     = 1*("0") [ chunk-ext ] CRLF
 */
import { Http1Error } from './errors.js';
import { isFieldValueOctet, TCHAR } from './token.js';

/**
 * Octets of one chunk-size line, extensions included: a chunk-ext is not length-bounded by the
 * grammar, so a peer could send one without end (a slow memory/CPU drain); 4 KiB is far more than
 * any real extension.
 */
export const MAX_CHUNK_LINE_BYTES = 4 * 1024;
/** Octets of the trailer section, which is read and dropped: as much as a head (64 KiB). */
export const MAX_TRAILER_BYTES = 64 * 1024;
/** Largest chunk size accepted: the largest integer a JavaScript number holds exactly. */
const MAX_CHUNK_SIZE = Number.MAX_SAFE_INTEGER;

const CR = 0x0d;
const LF = 0x0a;

const enum State {
  /** Hex digits of chunk-size. */
  Size,
  /** After chunk-size (its first octet checked there): chunk-ext up to CR, checked there. */
  Extension,
  /** The LF of the chunk-size line. */
  SizeLf,
  /** chunk-data, `remaining` octets still to come. */
  Data,
  /** The CR after chunk-data. */
  DataCr,
  /** The LF after chunk-data. */
  DataLf,
  /** At the start of a trailer line (or the final CRLF). */
  TrailerLineStart,
  /** The field name of a trailer field line, up to its colon. */
  TrailerName,
  /** The rest of a trailer field line, up to CR. */
  TrailerValue,
  /** The LF of a trailer line. */
  TrailerLf,
  /** The LF of the final empty line. */
  FinalLf,
  Done,
}

/**
 * RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ),
 * chunk-ext-name = token, chunk-ext-val = token / quoted-string (RFC 9110 §5.6.4: qdtext = HTAB /
 * SP / %x21 / %x23-5B / %x5D-7E / obs-text, quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )).
 */
const CHUNK_EXT = /^(?:[ \t]*;[ \t]*[-!#$%&'*+.^_`|~0-9A-Za-z]+(?:[ \t]*=[ \t]*(?:[-!#$%&'*+.^_`|~0-9A-Za-z]+|"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"))?)*$/;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * Decodes one chunked body.
 *
 * @example
 * const decoder = new ChunkedDecoder();
 * const next = decoder.decode(bytes, 0, (data) => out.push(data));
 * if (decoder.done) { // bytes from `next` on belong to what follows the message }
 */
export class ChunkedDecoder {
  #state = State.Size;
  #size = 0;
  #digits = 0;
  #remaining = 0;
  #lineBytes = 0;
  #trailerBytes = 0;
  /** The chunk-ext of the chunk-size line being read, as latin1 characters. */
  #extension = '';

  /** The last chunk and the trailer section have been read. */
  get done(): boolean {
    return this.#state === State.Done;
  }

  /**
   * Reads `bytes` from `start`, calling `onData` with each piece of chunk data; returns the index
   * after the last octet that belongs to this body (`bytes.length` unless it ended). Throws an
   * {@link Http1Error} `invalid_chunk` on malformed framing.
   */
  decode(bytes: Uint8Array, start: number, onData: (data: Uint8Array) => void): number {
    let i = start;
    const n = bytes.length;
    while (i < n) {
      switch (this.#state) {
        case State.Size: {
          const c = bytes[i];
          const v = hexValue(c);
          if (v >= 0) {
            if (this.#size > (MAX_CHUNK_SIZE - v) / 16) throw new Http1Error('invalid_chunk', 'chunk size too large');
            this.#size = this.#size * 16 + v;
            this.#digits++;
            this.#countLine();
            i++;
            break;
          }
          // RFC 9112 §7.1: chunk-size = 1*HEXDIG.
          if (this.#digits === 0) throw new Http1Error('invalid_chunk', 'chunk size missing');
          // RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ):
          // right after the size only CR, BWS or ";" may come.
          if (c !== CR && c !== 0x3b && c !== 0x20 && c !== 0x09) throw new Http1Error('invalid_chunk', 'malformed chunk-size line');
          this.#state = State.Extension;
          break;
        }
        case State.Extension: {
          const c = bytes[i++];
          this.#countLine();
          if (c === CR) {
            // Extensions are ignored (RFC 9112 §7.1.1: "A recipient MUST ignore unrecognized chunk
            // extensions"), but only once they are known to be extensions: one outside the grammar
            // (a stray word, an empty name, an unclosed quoted-string) is where parsers part ways
            // on where the chunk-size line ends, so the chunk is refused.
            if (this.#extension !== '' && !CHUNK_EXT.test(this.#extension)) throw new Http1Error('invalid_chunk', 'malformed chunk extension');
            this.#extension = '';
            this.#state = State.SizeLf;
            break;
          }
          // No control octet may appear: a bare LF is not a line end here (see response-parser.ts).
          if (c !== 0x09 && (c < 0x20 || c === 0x7f)) throw new Http1Error('invalid_chunk', 'malformed chunk-size line');
          this.#extension += String.fromCharCode(c);
          break;
        }
        case State.SizeLf: {
          if (bytes[i++] !== LF) throw new Http1Error('invalid_chunk', 'chunk-size line not ended by CRLF');
          this.#lineBytes = 0;
          if (this.#size === 0) {
            this.#state = State.TrailerLineStart;
          } else {
            this.#remaining = this.#size;
            this.#state = State.Data;
          }
          this.#size = 0;
          this.#digits = 0;
          break;
        }
        case State.Data: {
          const take = Math.min(this.#remaining, n - i);
          onData(bytes.subarray(i, i + take));
          i += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#state = State.DataCr;
          break;
        }
        case State.DataCr:
          if (bytes[i++] !== CR) throw new Http1Error('invalid_chunk', 'chunk data not followed by CRLF');
          this.#state = State.DataLf;
          break;
        case State.DataLf:
          if (bytes[i++] !== LF) throw new Http1Error('invalid_chunk', 'chunk data not followed by CRLF');
          this.#state = State.Size;
          break;
        case State.TrailerLineStart: {
          const c = bytes[i++];
          this.#countTrailer();
          if (c === CR) this.#state = State.FinalLf;
          else if (c === LF) throw new Http1Error('invalid_chunk', 'bare LF in the trailer section');
          // RFC 9112 §7.1.2: trailer-section = *( field-line CRLF ), field-line = field-name ":" OWS
          // field-value OWS, the name a token: the lines are dropped, but only well-formed ones
          // (obs-fold, a line without a colon, a control octet are refused as in a head).
          else if (TCHAR[c] === 1) this.#state = State.TrailerName;
          else throw new Http1Error('invalid_chunk', 'malformed trailer field line');
          break;
        }
        case State.TrailerName: {
          const c = bytes[i++];
          this.#countTrailer();
          if (c === 0x3a /* : */) this.#state = State.TrailerValue;
          else if (TCHAR[c] !== 1) throw new Http1Error('invalid_chunk', 'malformed trailer field line');
          break;
        }
        case State.TrailerValue: {
          const c = bytes[i++];
          this.#countTrailer();
          if (c === CR) this.#state = State.TrailerLf;
          // RFC 9110 §5.5: field-value octets are HTAB, SP, VCHAR and obs-text.
          else if (!isFieldValueOctet(c)) throw new Http1Error('invalid_chunk', 'malformed trailer field line');
          break;
        }
        case State.TrailerLf:
          this.#countTrailer();
          if (bytes[i++] !== LF) throw new Http1Error('invalid_chunk', 'bare CR in the trailer section');
          this.#state = State.TrailerLineStart;
          break;
        case State.FinalLf:
          if (bytes[i++] !== LF) throw new Http1Error('invalid_chunk', 'chunked body not ended by CRLF');
          this.#state = State.Done;
          return i;
        case State.Done:
          return i;
      }
    }
    return i;
  }

  #countLine(): void {
    if (++this.#lineBytes > MAX_CHUNK_LINE_BYTES) throw new Http1Error('invalid_chunk', `chunk-size line longer than ${MAX_CHUNK_LINE_BYTES} octets`);
  }

  #countTrailer(): void {
    if (++this.#trailerBytes > MAX_TRAILER_BYTES) throw new Http1Error('invalid_chunk', `trailer section larger than ${MAX_TRAILER_BYTES} octets`);
  }
}
