/**
 * HTTP/3 error codes (RFC 9114 §8.1) and QPACK's (RFC 9204 §6): an open set, as application
 * error codes of QUIC's RESET_STREAM, STOP_SENDING and CONNECTION_CLOSE. Unknown codes are kept
 * and printed as `UNKNOWN(0x…)`; RFC 9114 §9: unknown error codes MUST NOT be treated as errors
 * of their own (they mean H3_NO_ERROR-like "unspecified", and are reserved for greasing).
 */
export const H3ErrorCode = {
  H3_NO_ERROR: 0x100,
  H3_GENERAL_PROTOCOL_ERROR: 0x101,
  H3_INTERNAL_ERROR: 0x102,
  H3_STREAM_CREATION_ERROR: 0x103,
  H3_CLOSED_CRITICAL_STREAM: 0x104,
  H3_FRAME_UNEXPECTED: 0x105,
  H3_FRAME_ERROR: 0x106,
  H3_EXCESSIVE_LOAD: 0x107,
  H3_ID_ERROR: 0x108,
  H3_SETTINGS_ERROR: 0x109,
  H3_MISSING_SETTINGS: 0x10a,
  H3_REQUEST_REJECTED: 0x10b,
  H3_REQUEST_CANCELLED: 0x10c,
  H3_REQUEST_INCOMPLETE: 0x10d,
  H3_MESSAGE_ERROR: 0x10e,
  H3_CONNECT_ERROR: 0x10f,
  H3_VERSION_FALLBACK: 0x110,
  QPACK_DECOMPRESSION_FAILED: 0x200,
  QPACK_ENCODER_STREAM_ERROR: 0x201,
  QPACK_DECODER_STREAM_ERROR: 0x202,
} as const;

const h3ErrorCodeNames = new Map<number, string>(Object.entries(H3ErrorCode).map(([k, v]) => [v, k]));

/** `h3ErrorCodeName(0x10c)` → `"H3_REQUEST_CANCELLED"`; unknown codes print as `UNKNOWN(0x…)`. */
export function h3ErrorCodeName(code: number): string {
  return h3ErrorCodeNames.get(code) ?? `UNKNOWN(0x${code.toString(16)})`;
}

/** True for the HTTP/3 and QPACK codes above (not for HTTP/2's 0x0-0xd, which share no value with them). */
export function isH3ErrorCode(code: number): boolean {
  return h3ErrorCodeNames.has(code);
}

/**
 * The HTTP/3 code for an HTTP/2 one, for the API both engines share (`ServerStream.reset(code)`,
 * `goaway(code)` take HTTP/2's `ErrorCode`): the meaning carried over (RFC 9114 §A.4 lists
 * the correspondence). HTTP/3 codes pass through unchanged.
 */
export function h3CodeFor(code: number): number {
  if (code >= 0x100) return code;
  switch (code) {
    case 0x0: // NO_ERROR
      return H3ErrorCode.H3_NO_ERROR;
    case 0x1: // PROTOCOL_ERROR: in a request's own framing, what HTTP/3 calls a malformed message
      return H3ErrorCode.H3_MESSAGE_ERROR;
    case 0x7: // REFUSED_STREAM
      return H3ErrorCode.H3_REQUEST_REJECTED;
    case 0x8: // CANCEL
      return H3ErrorCode.H3_REQUEST_CANCELLED;
    case 0xa: // CONNECT_ERROR
      return H3ErrorCode.H3_CONNECT_ERROR;
    case 0xb: // ENHANCE_YOUR_CALM
      return H3ErrorCode.H3_EXCESSIVE_LOAD;
    case 0xd: // HTTP_1_1_REQUIRED
      return H3ErrorCode.H3_VERSION_FALLBACK;
    case 0x9: // COMPRESSION_ERROR
      return H3ErrorCode.QPACK_DECOMPRESSION_FAILED;
    default: // INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, STREAM_CLOSED, FRAME_SIZE_ERROR, INADEQUATE_SECURITY, unknown
      return H3ErrorCode.H3_INTERNAL_ERROR;
  }
}
