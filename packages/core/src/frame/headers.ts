/**
 * HEADERS (RFC 9113 §6.2): opens a stream and carries the first fragment of a field block.
 *
 * ```
 * [Pad Length (8)] [E (1) Stream Dependency (31) Weight (8)] Field Block Fragment (..) [Padding (..)]
 * ```
 *
 * Splitting a large field block into HEADERS + CONTINUATION frames is `encodeHeaderBlock`;
 * reassembling one on receipt is the `FrameReader`'s job.
 */
import { ConnectionError, ErrorCode } from '../errors.js';
import { allocFrame, checkMaxFrameSize, checkStreamId, encodeFrameHeader } from './frame-header.js';
import { checkPadLength, readPadLength } from './padding.js';
import { PRIORITY_SPEC_LENGTH, readPrioritySpec, writePrioritySpec } from './priority.js';
import {
  Flag,
  FRAME_HEADER_LENGTH,
  type FrameHeader,
  FrameType,
  type HeadersFrame,
  type PrioritySpec,
} from './types.js';

/**
 * Encodes a whole HEADERS frame. Flags come from `endStream`, `endHeaders`, `padLength`
 * (PADDED) and `priority` (PRIORITY).
 */
export function encodeHeaders(frame: HeadersFrame): Uint8Array {
  const { fragment, padLength, priority } = frame;
  checkPadLength(padLength);
  const padded = padLength !== undefined;
  const prefix = (padded ? 1 : 0) + (priority ? PRIORITY_SPEC_LENGTH : 0);
  const length = prefix + fragment.length + (padded ? padLength : 0);
  const flags =
    (frame.endStream ? Flag.END_STREAM : 0) |
    (frame.endHeaders ? Flag.END_HEADERS : 0) |
    (padded ? Flag.PADDED : 0) |
    (priority ? Flag.PRIORITY : 0);
  const out = allocFrame(length, FrameType.HEADERS, flags, frame.streamId);
  let at = FRAME_HEADER_LENGTH;
  if (padded) out[at++] = padLength;
  if (priority) {
    writePrioritySpec(out, at, priority);
    at += PRIORITY_SPEC_LENGTH;
  }
  out.set(fragment, at);
  return out;
}

/**
 * Decodes a HEADERS payload; `fragment` is a view into `payload`.
 *
 * A priority that makes the stream depend on itself is NOT rejected here: that is a stream error
 * (RFC 9113 §5.3.1), and throwing before the field block is decoded would desynchronise HPACK.
 * The connection checks `priority.dependency === streamId` after decoding the block.
 */
export function decodeHeaders(header: FrameHeader, payload: Uint8Array): HeadersFrame {
  // RFC 9113 §6.2: if a HEADERS frame is received whose Stream Identifier field is 0x00, the
  // recipient MUST respond with a connection error of type PROTOCOL_ERROR.
  if (header.streamId === 0) {
    throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS frame on stream 0');
  }
  const flags = header.flags;
  const hasPriority = (flags & Flag.PRIORITY) !== 0;
  const padded = (flags & Flag.PADDED) !== 0;
  // Too short for Pad Length / priority → FRAME_SIZE_ERROR; too much padding → PROTOCOL_ERROR.
  const padLength = readPadLength(header, payload, hasPriority ? PRIORITY_SPEC_LENGTH : 0);
  const start = padded ? 1 : 0;
  return {
    kind: 'headers',
    streamId: header.streamId,
    endStream: (flags & Flag.END_STREAM) !== 0,
    endHeaders: (flags & Flag.END_HEADERS) !== 0,
    fragment: payload.subarray(start + (hasPriority ? PRIORITY_SPEC_LENGTH : 0), payload.length - padLength),
    priority: hasPriority ? readPrioritySpec(payload, start) : undefined,
    padLength: padded ? padLength : undefined,
  };
}

/** Options of `encodeHeaderBlock`. */
export interface HeaderBlockOptions {
  endStream: boolean;
  /** The peer's SETTINGS_MAX_FRAME_SIZE: no frame payload is larger. */
  maxFrameSize: number;
  priority?: PrioritySpec;
}

/**
 * Encodes a complete HPACK field block as one HEADERS frame followed by as many CONTINUATION
 * frames as `maxFrameSize` requires (RFC 9113 §4.3: they are sent back to back, nothing in
 * between), all in one buffer. The last frame carries END_HEADERS.
 *
 * @example
 * const bytes = encodeHeaderBlock(1, hpackBlock, { endStream: true, maxFrameSize: 16384 });
 */
export function encodeHeaderBlock(streamId: number, block: Uint8Array, opts: HeaderBlockOptions): Uint8Array {
  checkMaxFrameSize(opts.maxFrameSize);
  const prefix = opts.priority ? PRIORITY_SPEC_LENGTH : 0;
  const flags = (opts.endStream ? Flag.END_STREAM : 0) | (opts.priority ? Flag.PRIORITY : 0);
  const out = splitFieldBlock(FrameType.HEADERS, flags, streamId, prefix, block, opts.maxFrameSize);
  if (opts.priority) writePrioritySpec(out, FRAME_HEADER_LENGTH, opts.priority);
  return out;
}

/**
 * `encodeHeaderBlock` for a field block encoded behind FRAME_HEADER_LENGTH reserved octets
 * (`HpackEncoder.encode(fields, FRAME_HEADER_LENGTH)`). A block that fits one frame, the usual
 * case, gets its frame header written into those octets: no second buffer and no copy.
 */
export function encodeHeaderBlockInPlace(streamId: number, reserved: Uint8Array, opts: HeaderBlockOptions): Uint8Array {
  const length = reserved.length - FRAME_HEADER_LENGTH;
  if (opts.priority || length > opts.maxFrameSize) return encodeHeaderBlock(streamId, reserved.subarray(FRAME_HEADER_LENGTH), opts);
  checkMaxFrameSize(opts.maxFrameSize);
  checkStreamId(streamId);
  const flags = Flag.END_HEADERS | (opts.endStream ? Flag.END_STREAM : 0);
  encodeFrameHeader({ length, type: FrameType.HEADERS, flags, streamId }, reserved, 0);
  return reserved;
}

/**
 * Lays out a field block as a first frame (`type`, `flags`, with `prefixLength` octets of fixed
 * fields left for the caller to fill at offset 9) plus CONTINUATION frames, in one buffer.
 * END_HEADERS is set on the last frame.
 */
export function splitFieldBlock(
  type: number,
  flags: number,
  streamId: number,
  prefixLength: number,
  block: Uint8Array,
  maxFrameSize: number,
): Uint8Array {
  checkStreamId(streamId);
  const firstCapacity = maxFrameSize - prefixLength;
  const firstLength = Math.min(block.length, firstCapacity);
  const rest = block.length - firstLength;
  const continuations = Math.ceil(rest / maxFrameSize);
  const out = new Uint8Array(FRAME_HEADER_LENGTH * (1 + continuations) + prefixLength + block.length);
  encodeFrameHeader(
    { length: prefixLength + firstLength, type, flags: flags | (continuations === 0 ? Flag.END_HEADERS : 0), streamId },
    out,
    0,
  );
  let at = FRAME_HEADER_LENGTH + prefixLength;
  out.set(block.subarray(0, firstLength), at);
  at += firstLength;
  let taken = firstLength;
  for (let i = 1; i <= continuations; i++) {
    const length = Math.min(maxFrameSize, block.length - taken);
    encodeFrameHeader(
      { length, type: FrameType.CONTINUATION, flags: i === continuations ? Flag.END_HEADERS : 0, streamId },
      out,
      at,
    );
    at += FRAME_HEADER_LENGTH;
    out.set(block.subarray(taken, taken + length), at);
    at += length;
    taken += length;
  }
  return out;
}
