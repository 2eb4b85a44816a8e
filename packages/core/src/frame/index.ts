/**
 * The HTTP/2 frame layer (RFC 9113 §4, §6; RFC 8336): frames are plain data, and encoding and
 * decoding are pure functions, one file per frame type, dispatched from one table here. Unknown
 * frame types decode to `UnknownFrame` and pass through.
 *
 * @example
 * const bytes = encodeFrame({ kind: 'ping', ack: false, opaque: new Uint8Array(8) });
 * const header = decodeFrameHeader(bytes);
 * const frame = decodeFrame(header, bytes.subarray(FRAME_HEADER_LENGTH)); // { kind: 'ping', ... }
 */
import { Http2UsageError } from '../errors.js';
import { decodeContinuation, encodeContinuation } from './continuation.js';
import { decodeData, encodeData } from './data.js';
import { decodeGoaway, encodeGoaway } from './goaway.js';
import { decodeHeaders, encodeHeaders } from './headers.js';
import { decodeOrigin, encodeOrigin } from './origin.js';
import { decodePing, encodePing } from './ping.js';
import { decodePriority, encodePriority } from './priority.js';
import { decodePushPromise, encodePushPromise } from './push-promise.js';
import { decodeRstStream, encodeRstStream } from './rst-stream.js';
import { decodeSettings, encodeSettings } from './settings.js';
import { type Frame, type FrameHeader, FrameType } from './types.js';
import { decodeUnknown, encodeUnknown } from './unknown.js';
import { decodeWindowUpdate, encodeWindowUpdate } from './window-update.js';

export * from './types.js';
export { encodeFrameHeader, decodeFrameHeader, MAX_STREAM_ID } from './frame-header.js';
export { encodeData, decodeData } from './data.js';
export { encodeHeaders, decodeHeaders, encodeHeaderBlock, encodeHeaderBlockInPlace, type HeaderBlockOptions } from './headers.js';
export { encodePriority, decodePriority } from './priority.js';
export { encodeRstStream, decodeRstStream } from './rst-stream.js';
export { encodeSettings, decodeSettings } from './settings.js';
export { encodePushPromise, decodePushPromise, encodePushPromiseBlock } from './push-promise.js';
export { encodePing, decodePing, PING_PAYLOAD_LENGTH } from './ping.js';
export { encodeGoaway, decodeGoaway } from './goaway.js';
export { encodeWindowUpdate, decodeWindowUpdate, MAX_WINDOW_INCREMENT } from './window-update.js';
export { encodeContinuation, decodeContinuation } from './continuation.js';
export { encodeOrigin, decodeOrigin } from './origin.js';
export { encodeUnknown, decodeUnknown } from './unknown.js';

type Decoder = (header: FrameHeader, payload: Uint8Array) => Frame;

/** The one dispatch table: frame type number → decoder. Holes are unknown types. */
const decoders: Array<Decoder | undefined> = [];
decoders[FrameType.DATA] = decodeData;
decoders[FrameType.HEADERS] = decodeHeaders;
decoders[FrameType.PRIORITY] = decodePriority;
decoders[FrameType.RST_STREAM] = decodeRstStream;
decoders[FrameType.SETTINGS] = decodeSettings;
decoders[FrameType.PUSH_PROMISE] = decodePushPromise;
decoders[FrameType.PING] = decodePing;
decoders[FrameType.GOAWAY] = decodeGoaway;
decoders[FrameType.WINDOW_UPDATE] = decodeWindowUpdate;
decoders[FrameType.CONTINUATION] = decodeContinuation;
decoders[FrameType.ORIGIN] = decodeOrigin;

/**
 * Decodes one frame's payload (`payload.length === header.length`). Pure. Payload fields of the
 * result (`data`, `fragment`, `opaque`, ...) are views into `payload`, not copies.
 * Throws `ConnectionError` or `StreamError` with the RFC's error code when the frame is invalid
 * on its own (wrong stream 0-ness, wrong length, bad padding, bad SETTINGS value...).
 */
export function decodeFrame(header: FrameHeader, payload: Uint8Array): Frame {
  if (payload.length !== header.length) {
    throw new Http2UsageError(`payload of ${payload.length} octets for a frame header saying ${header.length}`);
  }
  const decode = decoders[header.type];
  return decode === undefined ? decodeUnknown(header, payload) : decode(header, payload);
}

/**
 * Encodes a whole frame, 9-octet header and payload, in one allocation. Flags come from the
 * frame's boolean fields; `padLength` adds padding; `priority` on HEADERS sets PRIORITY.
 * Throws `Http2UsageError` only for values the wire cannot represent (semantically invalid but
 * representable frames, e.g. WINDOW_UPDATE 0, are encoded: peers in tests need them).
 */
export function encodeFrame(frame: Frame): Uint8Array {
  switch (frame.kind) {
    case 'data':
      return encodeData(frame);
    case 'headers':
      return encodeHeaders(frame);
    case 'priority':
      return encodePriority(frame);
    case 'rst-stream':
      return encodeRstStream(frame);
    case 'settings':
      return encodeSettings(frame);
    case 'push-promise':
      return encodePushPromise(frame);
    case 'ping':
      return encodePing(frame);
    case 'goaway':
      return encodeGoaway(frame);
    case 'window-update':
      return encodeWindowUpdate(frame);
    case 'continuation':
      return encodeContinuation(frame);
    case 'origin':
      return encodeOrigin(frame);
    case 'unknown':
      return encodeUnknown(frame);
    default: {
      const never: never = frame;
      throw new Http2UsageError(`cannot encode ${JSON.stringify(never)}`);
    }
  }
}
