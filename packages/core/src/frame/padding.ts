/**
 * Padding shared by DATA, HEADERS and PUSH_PROMISE (RFC 9113 §6.1, §6.2, §6.6): with the PADDED
 * flag, a 1-octet Pad Length comes first and that many zero octets come last.
 */
import { ConnectionError, ErrorCode, Http2UsageError } from '../errors.js';
import { Flag, type FrameHeader, frameTypeName } from './types.js';

/** Pad Length is one octet. */
export const MAX_PAD_LENGTH = 255;

/**
 * Validates the padding of a received frame and returns its Pad Length (0 when not PADDED).
 * `fixedLength` counts the fixed fields between Pad Length and the content (priority: 5,
 * promised stream id: 4). The content is then `[start, payload.length - padLength)` with
 * `start = (padded ? 1 : 0) + fixedLength`.
 */
export function readPadLength(header: FrameHeader, payload: Uint8Array, fixedLength: number): number {
  const padded = (header.flags & Flag.PADDED) !== 0;
  const minimum = (padded ? 1 : 0) + fixedLength;
  if (payload.length < minimum) {
    // RFC 9113 §4.2: a frame too small to contain mandatory frame data is a FRAME_SIZE_ERROR; a
    // connection error here, since the frame may carry a field block or flow-controlled bytes.
    throw new ConnectionError(
      ErrorCode.FRAME_SIZE_ERROR,
      `${frameTypeName(header.type)} payload of ${payload.length} octets is shorter than its ${minimum} fixed octets`,
    );
  }
  if (!padded) return 0;
  return checkPadFits(header, payload[0], payload.length, minimum);
}

/**
 * Checks a received Pad Length against the frame's payload length, with `minimum` octets of Pad
 * Length and fixed fields before the content; returns it. For readers that
 * see the Pad Length before the rest of the payload (DATA handed out as it arrives).
 */
export function checkPadFits(header: FrameHeader, padLength: number, payloadLength: number, minimum: number): number {
  // RFC 9113 §6.1/§6.2/§6.6: padding that is the length of the frame payload or greater (i.e. that
  // exceeds what remains for the content) MUST be treated as a connection error of type PROTOCOL_ERROR.
  if (padLength > payloadLength - minimum) {
    throw new ConnectionError(
      ErrorCode.PROTOCOL_ERROR,
      `${frameTypeName(header.type)} pad length ${padLength} exceeds the ${payloadLength}-octet payload`,
    );
  }
  return padLength;
}

/** Throws `Http2UsageError` unless `padLength` is undefined or in [0, 255]. */
export function checkPadLength(padLength: number | undefined): void {
  if (padLength !== undefined && !(padLength >= 0 && padLength <= MAX_PAD_LENGTH && Math.floor(padLength) === padLength)) {
    throw new Http2UsageError(`pad length ${padLength} is not in [0, ${MAX_PAD_LENGTH}]`);
  }
}
