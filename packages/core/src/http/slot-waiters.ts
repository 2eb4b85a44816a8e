/**
 * Requests waiting for a stream slot on a client session, for either engine (Http2Session,
 * Http3Session): each waits until the connection can open a stream, fails once it drains or
 * closes, and is looked at again whenever the session says a slot may have freed (`wake`).
 */
import type { Http2Error } from '../errors.js';

/** What the waiters read off the engine's connection. */
export interface SlotSource {
  readonly canOpenStream: boolean;
  readonly draining: boolean;
  readonly isClosed: boolean;
  readonly closeError: Http2Error | undefined;
}

export class SlotWaiters {
  private waiters: Array<() => void> = [];

  /**
   * `source`: the engine's connection (read when needed, so a session may make this before it).
   * `shuttingDown`: the error for a request refused because the connection drains (GOAWAY) without an error of its own.
   * `onSlotFree`: the session's own listener (its `onSlotFree` option), told after the waiters on every `wake`.
   */
  constructor(
    private readonly source: () => SlotSource,
    private readonly shuttingDown: () => Error,
    private readonly onSlotFree: () => void,
  ) {}

  /** A stream may open now. */
  get open(): boolean {
    return this.source().canOpenStream;
  }

  /** Resolves once a stream may open; rejects when the connection drains or closes first, or `signal` aborts. */
  wait(signal?: AbortSignal): Promise<void> {
    const c = this.source();
    const refused = () => c.closeError ?? this.shuttingDown();
    if (c.canOpenStream) return Promise.resolve();
    if (c.draining || c.isClosed) return Promise.reject(refused());
    return new Promise((resolve, reject) => {
      const check = () => {
        if (c.canOpenStream) resolve();
        else if (c.draining || c.isClosed) reject(refused());
        else if (signal?.aborted) reject(signal.reason);
        else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  /** A slot may have freed (a stream closed, SETTINGS, GOAWAY, the close): every waiter looks again. */
  wake(): void {
    for (const w of this.waiters.splice(0)) w();
    this.onSlotFree();
  }
}
