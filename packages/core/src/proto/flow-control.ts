import { ConnectionError, ErrorCode, StreamError } from '../errors.js';

/** RFC 9113 §6.9.1: a flow-control window may not exceed 2^31-1 octets. */
export const MAX_WINDOW_SIZE = 2 ** 31 - 1;
/** RFC 9113 §6.9.2: the initial window of every stream and of the connection. */
export const DEFAULT_INITIAL_WINDOW_SIZE = 65_535;

/**
 * One flow-control window (RFC 9113 §6.9): plain arithmetic, no I/O. The window can go negative
 * when the peer shrinks SETTINGS_INITIAL_WINDOW_SIZE (§6.9.2); sending waits until it is positive.
 */
export class FlowWindow {
  /** Octets that may still be sent (send side) or that the peer may still send (receive side). */
  window: number;

  constructor(initial: number) {
    this.window = initial;
  }

  /**
   * Apply a WINDOW_UPDATE increment. Returns false when the result would exceed 2^31-1, which
   * the caller turns into a FLOW_CONTROL_ERROR of the right scope (§6.9.1).
   */
  increase(increment: number): boolean {
    if (this.window + increment > MAX_WINDOW_SIZE) return false;
    this.window += increment;
    return true;
  }

  /** Apply the difference when SETTINGS_INITIAL_WINDOW_SIZE changes (§6.9.2). */
  adjust(delta: number): boolean {
    const next = this.window + delta;
    if (next > MAX_WINDOW_SIZE) return false;
    this.window = next;
    return true;
  }

  /** Octets sent or received under this window. */
  consume(octets: number): void {
    this.window -= octets;
  }

  /** How much may be sent now (never negative). */
  get available(): number {
    return this.window > 0 ? this.window : 0;
  }
}

/**
 * The receive side of one window: the peer's remaining allowance plus the octets that the
 * application has consumed but we have not yet returned with WINDOW_UPDATE. Updates are batched:
 * one is sent when at least half of the target window has been consumed, so a bulk transfer
 * costs one WINDOW_UPDATE per half-window rather than one per frame.
 */
export class ReceiveWindow {
  /** What the peer may still send before it must wait. */
  private allowance: number;
  /** Octets delivered to the application and not yet granted back. */
  private pending = 0;
  /** The window size we want the peer to see. */
  target: number;

  constructor(initial: number, target = initial) {
    this.allowance = initial;
    this.target = target;
  }

  get remaining(): number {
    return this.allowance;
  }

  /**
   * Account for `octets` received. Returns false when the peer overran the window, which the
   * caller reports as FLOW_CONTROL_ERROR (§6.9.1: a receiver MUST treat that as an error).
   */
  receive(octets: number): boolean {
    this.allowance -= octets;
    return this.allowance >= 0;
  }

  /** The application consumed `octets`; returns the WINDOW_UPDATE increment to send now, or 0. */
  release(octets: number): number {
    this.pending += octets;
    if (this.pending < this.target / 2) return 0;
    const increment = this.pending;
    this.allowance += increment;
    this.pending = 0;
    return increment;
  }

  /** Raise the window by `octets` at once (e.g. the connection window above 65,535); returns the increment to send. */
  grow(octets: number): number {
    this.allowance += octets;
    this.target += octets;
    return octets;
  }
}

/** Throw the right flow-control error for a window that would overflow. */
export function windowOverflow(streamId: number): never {
  if (streamId === 0) {
    throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, 'WINDOW_UPDATE would make the connection window exceed 2^31-1 (RFC 9113 §6.9.1)');
  }
  throw new StreamError(streamId, ErrorCode.FLOW_CONTROL_ERROR, 'WINDOW_UPDATE would make the stream window exceed 2^31-1 (RFC 9113 §6.9.1)');
}
