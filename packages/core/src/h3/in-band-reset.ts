/**
 * Stream resets carried in band: rhttp's HTTP/3 extension (RFC 9114 §9) for QUIC APIs that cannot
 * send RESET_STREAM or STOP_SENDING. Deno 2.9's QUIC is one: aborting a stream's writer ends it
 * with a FIN, so a peer reading a response cut off at a frame boundary would take it for
 * complete, and cancelling a reader tells the peer nothing.
 *
 * Negotiated, because it changes what a stream's end means (§9: such extensions MUST be
 * negotiated): each side sends SETTINGS_RHTTP_IN_BAND_RESET = 1; only when the peer did too:
 *
 *     RHTTP_RESET_STREAM Frame {      on a request stream, as its last frame before the FIN
 *       Type (i) = 0x7268747404,
 *       Length (i),
 *       Application Error Code (i),  what RESET_STREAM would have carried
 *     }
 *     RHTTP_STOP_SENDING Frame {      on the control stream, for a stream whose sending half we finished
 *       Type (i) = 0x7268747405,
 *       Length (i),
 *       Stream ID (i),
 *       Application Error Code (i),  what STOP_SENDING would have carried
 *     }
 *
 * A receiver treats the first as RESET_STREAM (the stream is reset: what came before it is not a
 * complete message) and the second as STOP_SENDING. A reset sends the frame and a FIN instead of a
 * QUIC RESET_STREAM (which would discard the frame); a STOP_SENDING also cancels the QUIC reader,
 * so a stack that can send STOP_SENDING does. The values are large, outside the ranges RFC 9114 §11.2
 * registers by Standards Action, and not of the reserved form 0x1f * N + 0x21.
 */
import { encodeVarint, readVarint, varintLength, writeVarint } from './varint.js';

export const SETTINGS_RHTTP_IN_BAND_RESET = 0x7268747404;
export const RHTTP_RESET_STREAM_FRAME = 0x7268747404;
export const RHTTP_STOP_SENDING_FRAME = 0x7268747405;

/** The payload of RHTTP_RESET_STREAM: the error code. */
export function encodeInBandReset(code: number): Uint8Array {
  return encodeVarint(code);
}

/** The payload of RHTTP_STOP_SENDING: the stream id, then the error code. */
export function encodeInBandStopSending(streamId: number, code: number): Uint8Array {
  const out = new Uint8Array(varintLength(streamId) + varintLength(code));
  writeVarint(out, writeVarint(out, 0, streamId), code);
  return out;
}

/** The varints of a payload, exactly `count` of them and nothing after; undefined when malformed. */
export function decodeInBandPayload(payload: Uint8Array, count: 1 | 2): number[] | undefined {
  const values: number[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    const v = readVarint(payload, at);
    if (!v) return undefined;
    values.push(v.value);
    at = v.next;
  }
  return at === payload.length ? values : undefined;
}
