/**
 * PUSH_PROMISE (RFC 9113 §6.6): announces a stream the sender intends to open, with the first
 * fragment of the promised request's field block.
 *
 * ```
 * [Pad Length (8)] R (1) Promised Stream ID (31) Field Block Fragment (..) [Padding (..)]
 * ```
 */
import { ConnectionError, ErrorCode } from '../errors.js';
import { allocFrame, checkMaxFrameSize, checkStreamId, readStreamId, writeUint32 } from './frame-header.js';
import { splitFieldBlock } from './headers.js';
import { checkPadLength, readPadLength } from './padding.js';
import { Flag, FRAME_HEADER_LENGTH, type FrameHeader, FrameType, type PushPromiseFrame } from './types.js';

/** The promised stream id takes 4 octets. */
const PROMISED_ID_LENGTH = 4;

/** Encodes a whole PUSH_PROMISE frame. */
export function encodePushPromise(frame: PushPromiseFrame): Uint8Array {
  const { fragment, padLength } = frame;
  checkPadLength(padLength);
  checkStreamId(frame.promisedStreamId, 'promised stream id');
  const padded = padLength !== undefined;
  const length = (padded ? 1 + padLength : 0) + PROMISED_ID_LENGTH + fragment.length;
  const flags = (frame.endHeaders ? Flag.END_HEADERS : 0) | (padded ? Flag.PADDED : 0);
  const out = allocFrame(length, FrameType.PUSH_PROMISE, flags, frame.streamId);
  let at = FRAME_HEADER_LENGTH;
  if (padded) out[at++] = padLength;
  writeUint32(out, at, frame.promisedStreamId);
  out.set(fragment, at + PROMISED_ID_LENGTH);
  return out;
}

/** Decodes a PUSH_PROMISE payload; `fragment` is a view into `payload`. */
export function decodePushPromise(header: FrameHeader, payload: Uint8Array): PushPromiseFrame {
  // RFC 9113 §6.6: if the Stream Identifier field specifies the value 0x00, a recipient MUST
  // respond with a connection error of type PROTOCOL_ERROR.
  if (header.streamId === 0) {
    throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE frame on stream 0');
  }
  const padded = (header.flags & Flag.PADDED) !== 0;
  const padLength = readPadLength(header, payload, PROMISED_ID_LENGTH);
  const start = padded ? 1 : 0;
  return {
    kind: 'push-promise',
    streamId: header.streamId,
    endHeaders: (header.flags & Flag.END_HEADERS) !== 0,
    // Reserved bit masked off (RFC 9113 §6.6).
    promisedStreamId: readStreamId(payload, start),
    fragment: payload.subarray(start + PROMISED_ID_LENGTH, payload.length - padLength),
    padLength: padded ? padLength : undefined,
  };
}

/**
 * Encodes a complete field block as PUSH_PROMISE + CONTINUATION frames sized to
 * `maxFrameSize`, in one buffer (see `encodeHeaderBlock`).
 */
export function encodePushPromiseBlock(
  streamId: number,
  promisedStreamId: number,
  block: Uint8Array,
  opts: { maxFrameSize: number },
): Uint8Array {
  checkMaxFrameSize(opts.maxFrameSize);
  checkStreamId(promisedStreamId, 'promised stream id');
  const out = splitFieldBlock(FrameType.PUSH_PROMISE, 0, streamId, PROMISED_ID_LENGTH, block, opts.maxFrameSize);
  writeUint32(out, FRAME_HEADER_LENGTH, promisedStreamId);
  return out;
}
