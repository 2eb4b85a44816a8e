/**
 * ORIGIN (RFC 8336 §2): the origins the server claims authority for on this connection.
 *
 * ```
 * (Origin-Len (16) ASCII-Origin (..)) ...
 * ```
 *
 * This file only moves strings: it does not parse origins. Entries are returned verbatim, wildcard
 * ones such as `https://*.example.com` included (allowed by this project, not by RFC 8336);
 * checking each entry (RFC 8336 Appendix A: an entry that does not parse is skipped), the stream
 * id and the role are the connection's and the origin set's business.
 */
import { Http2UsageError } from '../errors.js';
import { allocFrame } from './frame-header.js';
import { decodeUnknown } from './unknown.js';
import { FRAME_HEADER_LENGTH, type FrameHeader, FrameType, type OriginFrame, type UnknownFrame } from './types.js';

/** Origin-Len is 16 bits. */
const MAX_ORIGIN_LENGTH = 0xffff;
/** Characters per `String.fromCharCode` call, well under engines' argument-count limits. */
const DECODE_SLICE = 8192;

/** Encodes a whole ORIGIN frame (flags 0). Entries must be ASCII and at most 65535 octets. */
export function encodeOrigin(frame: OriginFrame): Uint8Array {
  let length = 0;
  for (const origin of frame.origins) {
    if (origin.length > MAX_ORIGIN_LENGTH) throw new Http2UsageError(`ORIGIN entry of ${origin.length} characters is too long`);
    // Only ASCII can be written one octet per character.
    if (!/^[\x00-\x7f]*$/.test(origin)) throw new Http2UsageError(`ORIGIN entry ${JSON.stringify(origin)} is not ASCII`);
    length += 2 + origin.length;
  }
  const out = allocFrame(length, FrameType.ORIGIN, 0, frame.streamId);
  let at = FRAME_HEADER_LENGTH;
  for (const origin of frame.origins) {
    out[at] = origin.length >>> 8;
    out[at + 1] = origin.length & 0xff;
    at += 2;
    for (let i = 0; i < origin.length; i++) out[at + i] = origin.charCodeAt(i);
    at += origin.length;
  }
  return out;
}

/**
 * Decodes an ORIGIN payload. Flags are ignored (none are defined) and so is the stream id here.
 *
 * A payload whose entries do not exactly fill it (an Origin-Len running past the end, or a lone
 * trailing octet) cannot be parsed. ORIGIN is a non-critical extension (RFC 8336 §2.2: endpoints
 * that do not support it can safely ignore it), so such a frame is not an error: it decodes to
 * an `UnknownFrame` of type ORIGIN, which the connection discards like any unknown frame (as
 * nghttp2 does), rather than to a partial or empty origin list that would change the Origin Set.
 */
export function decodeOrigin(header: FrameHeader, payload: Uint8Array): OriginFrame | UnknownFrame {
  const origins: string[] = [];
  let at = 0;
  while (at < payload.length) {
    if (payload.length - at < 2) return decodeUnknown(header, payload);
    const length = (payload[at] << 8) | payload[at + 1];
    at += 2;
    if (length > payload.length - at) return decodeUnknown(header, payload);
    origins.push(asciiString(payload, at, at + length));
    at += length;
  }
  return { kind: 'origin', streamId: header.streamId, origins };
}

/** One character per octet. Non-ASCII octets become U+0080..U+00FF, which no origin parser accepts. */
function asciiString(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i += DECODE_SLICE) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(end, i + DECODE_SLICE)) as unknown as number[]);
  }
  return s;
}
