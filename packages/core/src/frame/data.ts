/**
 * DATA (RFC 9113 §6.1): a stream's content octets, optionally padded.
 *
 * ```
 * [Pad Length (8)] Data (..) [Padding (..)]
 * ```
 */
import { ConnectionError, ErrorCode } from '../errors.js';
import { allocFrame } from './frame-header.js';
import { checkPadLength, readPadLength } from './padding.js';
import { type DataFrame, Flag, FRAME_HEADER_LENGTH, type FrameHeader, FrameType } from './types.js';

/**
 * Encodes a whole DATA frame (header + payload) in one buffer. PADDED is set when `padLength`
 * is given; the padding octets are zero.
 *
 * @example
 * encodeData({ kind: 'data', streamId: 1, endStream: true, data: new TextEncoder().encode('hi') });
 */
export function encodeData(frame: DataFrame): Uint8Array {
  const { data, padLength } = frame;
  checkPadLength(padLength);
  const padded = padLength !== undefined;
  const length = data.length + (padded ? 1 + padLength : 0);
  const flags = (frame.endStream ? Flag.END_STREAM : 0) | (padded ? Flag.PADDED : 0);
  const out = allocFrame(length, FrameType.DATA, flags, frame.streamId);
  if (padded) {
    out[FRAME_HEADER_LENGTH] = padLength;
    out.set(data, FRAME_HEADER_LENGTH + 1);
  } else {
    out.set(data, FRAME_HEADER_LENGTH);
  }
  return out;
}

/**
 * Decodes a DATA payload. `data` is a view into `payload` (no copy); `flowControlledLength` is
 * the whole payload length, since padding counts against flow control (RFC 9113 §6.1).
 */
export function decodeData(header: FrameHeader, payload: Uint8Array): DataFrame {
  checkDataHeader(header);
  const padLength = readPadLength(header, payload, 0);
  const padded = (header.flags & Flag.PADDED) !== 0;
  const frame: DataFrame = {
    kind: 'data',
    streamId: header.streamId,
    endStream: (header.flags & Flag.END_STREAM) !== 0,
    data: padded ? payload.subarray(1, payload.length - padLength) : payload,
    // Always present (possibly undefined) so that every DataFrame has one shape.
    padLength: padded ? padLength : undefined,
    flowControlledLength: payload.length,
  };
  return frame;
}

/** What a DATA frame's header alone must satisfy; also checked by readers that hand DATA out in pieces. */
export function checkDataHeader(header: FrameHeader): void {
  // RFC 9113 §6.1: if a DATA frame is received whose Stream Identifier field is 0x00, the
  // recipient MUST respond with a connection error of type PROTOCOL_ERROR.
  if (header.streamId === 0) {
    throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'DATA frame on stream 0');
  }
}
