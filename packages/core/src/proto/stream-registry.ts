import { ConnectionError, ErrorCode, StreamError } from '../errors.js';
import { firstLocalStreamId, isPeerInitiated, type Role } from './role.js';
import type { Stream } from './stream.js';
import { IdTable } from '../id-table.js';

/**
 * How many recently closed stream ids of each side (the odd and the even ids) we remember to tell
 * "closed" from "idle" (RFC 9113 §5.1). A power of two: the memory is direct-mapped.
 */
export const CLOSED_STREAMS_REMEMBERED = 1_024;

/** How a stream ended: reset by us, reset by the peer, or END_STREAM both ways. */
export type ClosedHow = 'reset' | 'peer-reset' | 'ended';

/** {@link ClosedHow} by its code in a {@link ClosedIds} table (0: an empty slot), and the codes. */
const HOWS: readonly (ClosedHow | undefined)[] = [undefined, 'reset', 'peer-reset', 'ended'];
const HOW_CODES: Readonly<Record<ClosedHow, number>> = { reset: 1, 'peer-reset': 2, ended: 3 };

/**
 * One side's closed ids, direct-mapped: id `n` lives in slot `(n >>> 1) mod CLOSED_STREAMS_REMEMBERED`,
 * so consecutive ids of a side never share a slot, and as ids only grow, a slot is taken over by
 * the id CLOSED_STREAMS_REMEMBERED later. It replaced a Map with a ring of ids: a Map's delete and
 * set per closed stream cost about 1 µs, 3% of the intermediary's time under h2load.
 */
class ClosedIds {
  readonly ids = new Uint32Array(CLOSED_STREAMS_REMEMBERED);
  readonly hows = new Uint8Array(CLOSED_STREAMS_REMEMBERED);
}

/**
 * The streams of one connection (RFC 9113 §5.1): the open ones by id, the ids each side used, a
 * bounded memory of recently closed ones, and the rules that tell an idle id from a closed one.
 */
export class StreamRegistry {
  /** Open streams by id; not a Map, whose churn V8 11.3 turns into promotions (id-table.ts). */
  readonly streams = new IdTable<Stream>();
  /** Highest stream id the peer opened (for GOAWAY's last-stream-id). */
  lastPeerStreamId = 0;
  /** The id our next stream gets. */
  nextStreamId: number;
  /** Streams we opened that are still active. */
  openLocal = 0;
  /** Streams the peer opened that are still active. */
  openPeer = 0;
  /** How recently closed streams ended, for the odd and the even ids (each made on its first close). */
  private closedOdd: ClosedIds | undefined;
  private closedEven: ClosedIds | undefined;
  /** Highest id forgotten (its slot taken by a later one): an unknown id at or below it may be a forgotten stream. */
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
    const table = streamId & 1 ? this.closedOdd : this.closedEven;
    if (table === undefined) return undefined;
    const slot = (streamId >>> 1) & (CLOSED_STREAMS_REMEMBERED - 1);
    return table.ids[slot] === streamId ? HOWS[table.hows[slot]] : undefined;
  }

  /** Remember a closed stream id; the one CLOSED_STREAMS_REMEMBERED ids before it on its side is forgotten. */
  rememberClosed(id: number, how: ClosedHow): void {
    const table = id & 1 ? (this.closedOdd ??= new ClosedIds()) : (this.closedEven ??= new ClosedIds());
    const slot = (id >>> 1) & (CLOSED_STREAMS_REMEMBERED - 1);
    const previous = table.ids[slot];
    if (previous !== id && table.hows[slot] !== 0 && previous > this.forgottenUpTo) this.forgottenUpTo = previous;
    table.ids[slot] = id;
    table.hows[slot] = HOW_CODES[how];
  }

  /** A frame (`what`: its type's name) for a stream we no longer (or never) hold: throws what §5.1 asks for, or returns to ignore it. */
  frameForMissingStream(streamId: number, what: string): void {
    const how = this.howClosed(streamId);
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
