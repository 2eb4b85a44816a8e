/**
 * MAX_PUSH_ID (RFC 9114 §7.2.7): the client allows pushes up to this push id. `Push ID (i)`.
 * Only clients send it; this engine never does.
 */
import { decodeIdPayload, encodeIdFrame } from './frame-header.js';
import { H3FrameType, type H3MaxPushIdFrame } from './types.js';

export function encodeH3MaxPushId(frame: H3MaxPushIdFrame): Uint8Array {
  return encodeIdFrame(H3FrameType.MAX_PUSH_ID, frame.pushId);
}

export function decodeH3MaxPushId(payload: Uint8Array): H3MaxPushIdFrame {
  return { kind: 'max-push-id', pushId: decodeIdPayload(H3FrameType.MAX_PUSH_ID, payload) };
}
