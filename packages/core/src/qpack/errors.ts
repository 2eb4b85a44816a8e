/**
 * QPACK errors (RFC 9204 §6): each is an HTTP/3 connection error with one of three codes, decided
 * here at the codec boundary, except FieldSectionTooLargeError, which concerns one stream.
 */
import { RhttpError } from '../errors.js';
import { H3ErrorCode, h3ErrorCodeName } from '../h3/error-codes.js';

/** QPACK's HTTP/3 error codes (RFC 9204 §6), as h3/error-codes.ts lists them. An open set, like the other code tables. */
export const QpackErrorCode = {
  DECOMPRESSION_FAILED: H3ErrorCode.QPACK_DECOMPRESSION_FAILED,
  ENCODER_STREAM_ERROR: H3ErrorCode.QPACK_ENCODER_STREAM_ERROR,
  DECODER_STREAM_ERROR: H3ErrorCode.QPACK_DECODER_STREAM_ERROR,
} as const;

/** `qpackErrorCodeName(0x200)` → `"QPACK_DECOMPRESSION_FAILED"`; unknown codes print as `UNKNOWN(0x…)`. The HTTP/3 table names them. */
export const qpackErrorCodeName = h3ErrorCodeName;

/**
 * The peer's QPACK input broke RFC 9204: close the HTTP/3 connection with `h3Code`
 * (QpackErrorCode). `reason` is the message without the code prefix (CONNECTION_CLOSE's reason).
 */
export class QpackError extends RhttpError {
  /** The HTTP/3 error code to close the connection (or, for FieldSectionTooLargeError, the stream) with. */
  readonly h3Code: number;
  readonly reason: string;
  constructor(h3Code: number, message: string, options?: { cause?: unknown }, code = 'ERR_QPACK') {
    super(code, `${qpackErrorCodeName(h3Code)}: ${message}`, options);
    this.h3Code = h3Code;
    this.reason = message;
  }
}

/**
 * A decoded field section exceeded the decoder's `maxFieldSectionSize` (RFC 9114 §4.2.2 size:
 * name + value + 32 per field). The section was fully processed and acknowledged, so the QPACK
 * state is intact: this concerns `streamId` only (answer 431, or reset the stream with `h3Code`,
 * H3_EXCESSIVE_LOAD), not the connection.
 */
export class FieldSectionTooLargeError extends QpackError {
  readonly streamId: number;
  readonly size: number;
  readonly limit: number;
  constructor(streamId: number, size: number, limit: number) {
    super(H3ErrorCode.H3_EXCESSIVE_LOAD, `stream ${streamId}: field section of ${size} octets exceeds the limit of ${limit}`, undefined, 'ERR_QPACK_FIELD_SECTION_TOO_LARGE');
    this.streamId = streamId;
    this.size = size;
    this.limit = limit;
  }
}
