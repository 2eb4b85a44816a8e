/**
 * CANCEL_PUSH (RFC 9114 §7.2.3): a server push is cancelled. `Push ID (i)`. This engine never
 * allows push (it sends no MAX_PUSH_ID), so the connection treats any push id as H3_ID_ERROR.
 */
import { decodeIdPayload, encodeIdFrame } from './frame-header.js';
import { type H3CancelPushFrame, H3FrameType } from './types.js';

export function encodeH3CancelPush(frame: H3CancelPushFrame): Uint8Array {
  return encodeIdFrame(H3FrameType.CANCEL_PUSH, frame.pushId);
}

export function decodeH3CancelPush(payload: Uint8Array): H3CancelPushFrame {
  return { kind: 'cancel-push', pushId: decodeIdPayload(H3FrameType.CANCEL_PUSH, payload) };
}
