/**
 * The HTTP/3 frame layer (RFC 9114 §7, RFC 9412): frames are plain data, encoded and decoded by
 * pure functions, one file per frame type, dispatched from one table here. Unknown and reserved
 * types decode to `H3UnknownFrame` and pass through. HTTP/2-only types (PRIORITY, PING,
 * WINDOW_UPDATE, CONTINUATION) are refused here, once, with H3_FRAME_UNEXPECTED (§7.2.8).
 *
 * @example
 * const bytes = encodeH3Frame({ kind: 'goaway', id: 4 });   // 07 01 04
 * const frame = decodeH3Frame(0x7, bytes.subarray(2));      // { kind: 'goaway', id: 4 }
 */
import { ConnectionError, Http2UsageError } from '../../errors.js';
import { H3ErrorCode } from '../error-codes.js';
import { decodeH3CancelPush, encodeH3CancelPush } from './cancel-push.js';
import { decodeH3Data, encodeH3Data } from './data.js';
import { decodeH3Goaway, encodeH3Goaway } from './goaway.js';
import { decodeH3Headers, encodeH3Headers } from './headers.js';
import { decodeH3MaxPushId, encodeH3MaxPushId } from './max-push-id.js';
import { decodeH3Origin, encodeH3Origin } from './origin.js';
import { decodeH3PushPromise, encodeH3PushPromise } from './push-promise.js';
import { decodeH3Settings, encodeH3Settings } from './settings.js';
import { type H3Frame, H3FrameType, HTTP2_ONLY_FRAME_TYPES } from './types.js';
import { decodeH3Unknown, encodeH3Unknown } from './unknown.js';

export * from './types.js';
export { allocH3Frame } from './frame-header.js';
export { encodeH3Data, decodeH3Data } from './data.js';
export { encodeH3Headers, decodeH3Headers } from './headers.js';
export { encodeH3CancelPush, decodeH3CancelPush } from './cancel-push.js';
export { encodeH3Settings, decodeH3Settings } from './settings.js';
export { encodeH3PushPromise, decodeH3PushPromise } from './push-promise.js';
export { encodeH3Goaway, decodeH3Goaway } from './goaway.js';
export { encodeH3MaxPushId, decodeH3MaxPushId } from './max-push-id.js';
export { encodeH3Origin, decodeH3Origin } from './origin.js';
export { encodeH3Unknown, decodeH3Unknown } from './unknown.js';

type Decoder = (payload: Uint8Array) => H3Frame;

/** The one dispatch table: frame type → decoder. Types not in it are unknown. */
const decoders = new Map<number, Decoder>([
  [H3FrameType.DATA, decodeH3Data],
  [H3FrameType.HEADERS, decodeH3Headers],
  [H3FrameType.CANCEL_PUSH, decodeH3CancelPush],
  [H3FrameType.SETTINGS, decodeH3Settings],
  [H3FrameType.PUSH_PROMISE, decodeH3PushPromise],
  [H3FrameType.GOAWAY, decodeH3Goaway],
  [H3FrameType.MAX_PUSH_ID, decodeH3MaxPushId],
  [H3FrameType.ORIGIN, decodeH3Origin],
]);

/** True for the frame types this engine decodes (the rest pass through as unknown). */
export function isKnownH3FrameType(type: number): boolean {
  return decoders.has(type);
}

/**
 * Decodes one frame's payload. Pure; byte fields of the result are views into `payload`.
 * Throws `ConnectionError` with the RFC 9114 code when the frame is invalid on its own.
 */
export function decodeH3Frame(type: number, payload: Uint8Array): H3Frame {
  // RFC 9114 §7.2.8: frame types used in HTTP/2 with no HTTP/3 equivalent MUST NOT be sent, and their receipt MUST be treated as H3_FRAME_UNEXPECTED.
  if (HTTP2_ONLY_FRAME_TYPES.has(type)) throw new ConnectionError(H3ErrorCode.H3_FRAME_UNEXPECTED, `HTTP/2 frame type 0x${type.toString(16)} in HTTP/3`);
  const decode = decoders.get(type);
  return decode === undefined ? decodeH3Unknown(type, payload) : decode(payload);
}

/** Encodes a whole frame: type, length and payload in one allocation. */
export function encodeH3Frame(frame: H3Frame): Uint8Array {
  switch (frame.kind) {
    case 'data':
      return encodeH3Data(frame);
    case 'headers':
      return encodeH3Headers(frame);
    case 'cancel-push':
      return encodeH3CancelPush(frame);
    case 'settings':
      return encodeH3Settings(frame);
    case 'push-promise':
      return encodeH3PushPromise(frame);
    case 'goaway':
      return encodeH3Goaway(frame);
    case 'max-push-id':
      return encodeH3MaxPushId(frame);
    case 'origin':
      return encodeH3Origin(frame);
    case 'unknown':
      return encodeH3Unknown(frame);
    default: {
      const never: never = frame;
      throw new Http2UsageError(`cannot encode ${JSON.stringify(never)}`);
    }
  }
}
