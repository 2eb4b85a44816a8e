/**
 * GOAWAY (RFC 9114 §7.2.6, §5.2): graceful shutdown. `Stream ID/Push ID (i)`: the server sends
 * the first client-initiated bidirectional stream id it will not process, the client a push id.
 */
import { decodeIdPayload, encodeIdFrame } from './frame-header.js';
import { H3FrameType, type H3GoawayFrame } from './types.js';

export function encodeH3Goaway(frame: H3GoawayFrame): Uint8Array {
  return encodeIdFrame(H3FrameType.GOAWAY, frame.id);
}

export function decodeH3Goaway(payload: Uint8Array): H3GoawayFrame {
  return { kind: 'goaway', id: decodeIdPayload(H3FrameType.GOAWAY, payload) };
}
