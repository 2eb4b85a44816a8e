import { ErrorCode } from '../errors.js';
import type { GoawayFrame } from '../frame/types.js';
import { isPeerInitiated, type Role } from './role.js';

/** RFC 9113 §6.8: the first GOAWAY of a graceful shutdown carries the largest stream id, 2^31-1. */
export const GOAWAY_ANNOUNCE_LAST_STREAM_ID = 2 ** 31 - 1;
/**
 * Longest wait between the announcing GOAWAY and the final one when the peer does not answer the
 * PING sent with it: §6.8 asks for at least one round trip; 1 s covers slow links without holding
 * a shutdown long (the PING ACK normally ends the wait after one RTT).
 */
export const GOAWAY_FINAL_DELAY_MS = 1_000;

/**
 * The GOAWAY frames of one connection (RFC 9113 §6.8): the one we sent, in two phases for a
 * graceful shutdown (announce with 2^31-1, then the real last stream id), and the one we received.
 * The connection encodes and sends the frames and sends the PING that ends the first phase early.
 */
export class Goaway {
  /**
   * The GOAWAY we sent last. During a graceful shutdown's first phase its `lastStreamId` is
   * 2^31-1 until the final GOAWAY replaces it.
   */
  sent: GoawayFrame | undefined;
  /** The GOAWAY the peer sent last. */
  received: GoawayFrame | undefined;
  /** Cancels the wait for the final GOAWAY while a graceful shutdown is in its first phase. */
  private finalTimer: (() => void) | undefined;

  constructor(private readonly setTimer: (fn: () => void, ms: number) => () => void) {}

  /** True once GOAWAY was sent or received: no new streams. */
  get active(): boolean {
    return this.sent !== undefined || this.received !== undefined;
  }

  /** True while our graceful shutdown has announced 2^31-1 and not yet sent the final GOAWAY. */
  get announcing(): boolean {
    return this.finalTimer !== undefined;
  }

  /** A drained connection still waits: a stream may be on its way until our final GOAWAY (§6.8). */
  get waitsForFinal(): boolean {
    return this.finalTimer !== undefined && this.received === undefined;
  }

  /**
   * First phase of a graceful shutdown: the GOAWAY to send, or undefined when one was sent
   * already. Call `awaitFinal` once it (and the PING after it) went out.
   */
  announce(debug: string): GoawayFrame | undefined {
    if (this.sent) return undefined;
    // §6.8: a server that is attempting to gracefully shut down a connection SHOULD send an
    // initial GOAWAY frame with the last stream identifier set to 2^31-1 and a NO_ERROR code.
    this.sent = { kind: 'goaway', lastStreamId: GOAWAY_ANNOUNCE_LAST_STREAM_ID, errorCode: ErrorCode.NO_ERROR, debugData: new TextEncoder().encode(debug) };
    return this.sent;
  }

  /** Send the final GOAWAY through `final` after GOAWAY_FINAL_DELAY_MS, unless the PING's ACK comes first. */
  awaitFinal(final: () => void): void {
    this.finalTimer = this.setTimer(final, GOAWAY_FINAL_DELAY_MS);
  }

  /** Second phase: the final GOAWAY with the last stream id we let the peer open, or undefined when not announcing. */
  final(lastPeerStreamId: number): GoawayFrame | undefined {
    if (!this.finalTimer || !this.sent) return undefined;
    this.cancel();
    // §6.8: after allowing time for any in-flight stream creation (at least one round-trip
    // time), the server MAY send another GOAWAY frame with an updated last stream identifier.
    this.sent = { ...this.sent, lastStreamId: lastPeerStreamId };
    return this.sent;
  }

  /**
   * The connection closes with `errorCode`: the GOAWAY to send, or undefined when our final
   * GOAWAY with NO_ERROR said it already.
   */
  closing(errorCode: number, lastPeerStreamId: number, debug: string): GoawayFrame | undefined {
    // A graceful shutdown still in its first phase has announced 2^31-1: the last word must be the real id.
    if (this.sent && !this.finalTimer && errorCode === ErrorCode.NO_ERROR) return undefined;
    this.sent = { kind: 'goaway', lastStreamId: lastPeerStreamId, errorCode, debugData: new TextEncoder().encode(debug) };
    return this.sent;
  }

  /** §6.8: streams above our GOAWAY's last-stream-id are ignored (the peer will retry them). */
  ignoresPeerStream(streamId: number): boolean {
    return this.sent !== undefined && streamId > this.sent.lastStreamId;
  }

  /** The peer's GOAWAY arrived. */
  receive(frame: GoawayFrame): void {
    this.received = frame;
  }

  /** Stop waiting for the final GOAWAY (sent, or the connection closed). */
  cancel(): void {
    this.finalTimer?.();
    this.finalTimer = undefined;
  }
}

/** §6.8: a stream we opened above the peer's GOAWAY last-stream-id was not processed and may be retried elsewhere. */
export function unprocessedByGoaway(role: Role, frame: GoawayFrame, streamId: number): boolean {
  return !isPeerInitiated(role, streamId) && streamId > frame.lastStreamId;
}
