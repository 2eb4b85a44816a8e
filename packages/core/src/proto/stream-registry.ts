import { ConnectionError, ErrorCode, StreamError } from '../errors.js';
import { firstLocalStreamId, isPeerInitiated, type Role } from './role.js';
import type { Stream } from './stream.js';

/** How many recently closed stream ids we remember to tell "closed" from "idle" (RFC 9113 §5.1). */
export const CLOSED_STREAMS_REMEMBERED = 1_024;

/** How a stream ended: reset by us, reset by the peer, or END_STREAM both ways. */
export type ClosedHow = 'reset' | 'peer-reset' | 'ended';

/**
 * The streams of one connection (RFC 9113 §5.1): the open ones by id, the ids each side used, a
 * bounded memory of recently closed ones, and the rules that tell an idle id from a closed one.
 */
export class StreamRegistry {
  readonly streams = new Map<number, Stream>();
  /** Highest stream id the peer opened (for GOAWAY's last-stream-id). */
  lastPeerStreamId = 0;
  /** The id our next stream gets. */
  nextStreamId: number;
  /** Streams we opened that are still active. */
  openLocal = 0;
  /** Streams the peer opened that are still active. */
  openPeer = 0;
  /** How recently closed streams ended (created on the first close). */
  private closedStreams: Map<number, ClosedHow> | undefined;
  /**
   * The remembered ids in the order they closed, a ring of CLOSED_STREAMS_REMEMBERED slots: the
   * oldest is found here, not by iterating the Map (whose deleted entries it would walk past).
   */
  private closedOrder: Uint32Array | undefined;
  /** Next slot of `closedOrder` to write. */
  private closedNext = 0;
  /** Highest id dropped from `closedStreams`: an unknown id at or below it may be a forgotten stream. */
  private forgottenUpTo = 0;

  constructor(private readonly role: Role) {
    this.nextStreamId = firstLocalStreamId(role);
  }

  get(streamId: number): Stream | undefined {
    return this.streams.get(streamId);
  }

  /** A stream becomes active (opened by us or by the peer). */
  add(stream: Stream): void {
    this.streams.set(stream.id, stream);
    if (isPeerInitiated(this.role, stream.id)) this.openPeer++;
    else this.openLocal++;
  }

  /** The stream closed: forget it, remember how. False when it was not active. */
  remove(stream: Stream, how: ClosedHow): boolean {
    if (!this.streams.delete(stream.id)) return false;
    if (isPeerInitiated(this.role, stream.id)) this.openPeer--;
    else this.openLocal--;
    this.rememberClosed(stream.id, how);
    return true;
  }

  /**
   * §5.1: a stream id neither side has used yet is "idle": above the last the peer opened (its
   * ids), or not yet reached by ours.
   */
  isIdle(streamId: number): boolean {
    return isPeerInitiated(this.role, streamId) ? streamId > this.lastPeerStreamId : streamId >= this.nextStreamId;
  }

  /** How a remembered closed stream ended, or undefined (never opened, forgotten, or still open). */
  howClosed(streamId: number): ClosedHow | undefined {
    return this.closedStreams?.get(streamId);
  }

  /** Remember a closed stream id; the oldest is forgotten past CLOSED_STREAMS_REMEMBERED. */
  rememberClosed(id: number, how: ClosedHow): void {
    const closed = (this.closedStreams ??= new Map());
    const order = (this.closedOrder ??= new Uint32Array(CLOSED_STREAMS_REMEMBERED));
    if (closed.has(id)) {
      closed.set(id, how); // already in the ring: only how it ended changes
      return;
    }
    if (closed.size === CLOSED_STREAMS_REMEMBERED) {
      const oldest = order[this.closedNext];
      closed.delete(oldest);
      if (oldest > this.forgottenUpTo) this.forgottenUpTo = oldest;
    }
    closed.set(id, how);
    order[this.closedNext] = id;
    this.closedNext = (this.closedNext + 1) % CLOSED_STREAMS_REMEMBERED;
  }

  /** A frame (`what`: its type's name) for a stream we no longer (or never) hold: throws what §5.1 asks for, or returns to ignore it. */
  frameForMissingStream(streamId: number, what: string): void {
    const how = this.closedStreams?.get(streamId);
    const peerStream = isPeerInitiated(this.role, streamId);
    if (this.isIdle(streamId)) {
      // §5.1: idle: receiving any frame other than HEADERS or PRIORITY on a stream in this state
      // MUST be treated as a connection error of type PROTOCOL_ERROR.
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `${what} on idle stream ${streamId} (RFC 9113 §5.1)`);
    }
    if (how === 'peer-reset') {
      // §5.1: an endpoint that receives any frame other than PRIORITY after receiving a
      // RST_STREAM MUST treat that as a stream error of type STREAM_CLOSED.
      throw new StreamError(streamId, ErrorCode.STREAM_CLOSED, `${what} after the peer reset stream ${streamId} (RFC 9113 §5.1)`);
    }
    if (how === 'ended') {
      // §5.1: closed: an endpoint that receives frames after END_STREAM in both directions MUST
      // treat that as a connection error of type STREAM_CLOSED (for DATA, a stream error is enough).
      if (what === 'DATA') throw new StreamError(streamId, ErrorCode.STREAM_CLOSED, `${what} on closed stream ${streamId} (RFC 9113 §5.1)`);
      throw new ConnectionError(ErrorCode.STREAM_CLOSED, `${what} on closed stream ${streamId} (RFC 9113 §5.1)`);
    }
    if (how === undefined && peerStream && streamId > this.forgottenUpTo) {
      // §5.1.1: the first use of a new stream identifier implicitly closes all streams in the
      // "idle" state ... with a lower-valued stream identifier. An endpoint that receives an
      // unexpected stream identifier MUST respond with a connection error of type PROTOCOL_ERROR.
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `${what} on stream ${streamId}, below stream ${this.lastPeerStreamId} that the peer opened later (RFC 9113 §5.1.1)`);
    }
    // Reset by us (or forgotten): §5.1 says frames in flight MUST be ignored.
  }
}
