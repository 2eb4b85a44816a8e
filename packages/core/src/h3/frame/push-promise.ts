/**
 * PUSH_PROMISE (RFC 9114 §7.2.5): `Push ID (i) | Encoded Field Section (..)`.
 */
import { varintLength, writeVarint } from '../varint.js';
import { allocH3Frame, PayloadCursor } from './frame-header.js';
import { H3FrameType, type H3PushPromiseFrame } from './types.js';

export function encodeH3PushPromise(frame: H3PushPromiseFrame): Uint8Array {
  const { out, at } = allocH3Frame(H3FrameType.PUSH_PROMISE, varintLength(frame.pushId) + frame.fieldSection.length);
  out.set(frame.fieldSection, writeVarint(out, at, frame.pushId));
  return out;
}

export function decodeH3PushPromise(payload: Uint8Array): H3PushPromiseFrame {
  const cursor = new PayloadCursor(payload, H3FrameType.PUSH_PROMISE);
  const pushId = cursor.varint();
  return { kind: 'push-promise', pushId, fieldSection: cursor.rest() };
}
