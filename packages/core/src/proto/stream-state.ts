import { ConnectionError, ErrorCode, StreamError } from '../errors.js';

/**
 * Stream states (RFC 9113 §5.1). This engine never sends PUSH_PROMISE and refuses to receive it,
 * so the reserved states are never entered; they are listed for completeness.
 *
 *                              +--------+
 *                      send PP |        | recv PP
 *                     ,--------+  idle  +--------.
 *                    /         |        |         \
 *                   v          +--------+          v
 *            +----------+          |           +----------+
 *            |          |          | send H /  |          |
 *     ,------+ reserved |          | recv H    | reserved +------.
 *     |      | (local)  |          |           | (remote) |      |
 *     |      +---+------+          v           +------+---+      |
 *     |          |             +--------+             |          |
 *     |          |     recv ES |        | send ES     |          |
 *     |   send H |     ,-------+  open  +-------.     | recv H   |
 *     |          |    /        |        |        \    |          |
 *     |          v   v         +---+----+         v   v          |
 *     |      +----------+          |           +----------+      |
 *     |      |   half-  |          |           |   half-  |      |
 *     |      |  closed  |          | send R /  |  closed  |      |
 *     |      | (remote) |          | recv R    | (local)  |      |
 *     |      +----+-----+          |           +-----+----+      |
 *     |           |                |                 |           |
 *     |           | send ES /      |       recv ES / |           |
 *     |           | send R /       v        send R / |           |
 *     |           | recv R     +--------+   recv R   |           |
 *     | send R /  `----------->|        |<-----------'  send R / |
 *     | recv R                 | closed |               recv R   |
 *     `----------------------->|        |<-----------------------'
 *                              +--------+
 *
 * Only `transition` changes a state.
 */
export type StreamState =
  | 'idle'
  | 'reserved-local'
  | 'reserved-remote'
  | 'open'
  | 'half-closed-local'
  | 'half-closed-remote'
  | 'closed';

/**
 * What moves a stream. `abandon`: the stream ends without a frame of its own, because its
 * connection closed or the peer's GOAWAY says it was never processed (RFC 9113 §6.8).
 */
export type StreamEvent = 'send-headers' | 'recv-headers' | 'send-end-stream' | 'recv-end-stream' | 'send-reset' | 'recv-reset' | 'abandon';

/** The next state, or an error when the event is not allowed in `state`. */
export function transition(streamId: number, state: StreamState, event: StreamEvent): StreamState {
  if (event === 'abandon') return 'closed';
  if (event === 'send-reset' || event === 'recv-reset') {
    if (state === 'idle') {
      // §6.4: RST_STREAM frames MUST NOT be sent for a stream in the "idle" state ... If a
      // RST_STREAM frame identifying an idle stream is received, the recipient MUST treat this as
      // a connection error of type PROTOCOL_ERROR.
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${streamId} (RFC 9113 §6.4)`);
    }
    return 'closed';
  }
  switch (state) {
    case 'idle':
      if (event === 'send-headers' || event === 'recv-headers') return 'open';
      break;
    case 'open':
      if (event === 'send-end-stream') return 'half-closed-local';
      if (event === 'recv-end-stream') return 'half-closed-remote';
      if (event === 'send-headers' || event === 'recv-headers') return 'open';
      break;
    case 'half-closed-local':
      if (event === 'recv-end-stream') return 'closed';
      if (event === 'recv-headers' || event === 'send-headers') return state;
      break;
    case 'half-closed-remote':
      if (event === 'send-end-stream') return 'closed';
      if (event === 'send-headers') return state;
      // §5.1: half-closed (remote): If an endpoint receives additional frames, other than
      // WINDOW_UPDATE, PRIORITY, or RST_STREAM, for a stream that is in this state, it MUST respond
      // with a stream error of type STREAM_CLOSED.
      if (event === 'recv-headers' || event === 'recv-end-stream') {
        throw new StreamError(streamId, ErrorCode.STREAM_CLOSED, 'frame received after END_STREAM (RFC 9113 §5.1)');
      }
      break;
    case 'closed':
      if (event.startsWith('recv')) {
        throw new StreamError(streamId, ErrorCode.STREAM_CLOSED, 'frame received on a closed stream (RFC 9113 §5.1)');
      }
      break;
    default:
      break;
  }
  throw new StreamError(streamId, ErrorCode.PROTOCOL_ERROR, `${event} is not allowed in state ${state} (RFC 9113 §5.1)`);
}

/** May the peer still send DATA/HEADERS on a stream in this state? */
export function peerCanSend(state: StreamState): boolean {
  return state === 'open' || state === 'half-closed-local';
}

/** May we still send DATA/HEADERS on a stream in this state? */
export function localCanSend(state: StreamState): boolean {
  return state === 'open' || state === 'half-closed-remote';
}
