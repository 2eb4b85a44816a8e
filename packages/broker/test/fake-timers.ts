/** Timers the test fires by hand: the ones set, and which are still pending. */
export class FakeTimers {
  readonly set: Array<{ ms: number; callback: () => void; cleared: boolean }> = [];
  setTimeout = (callback: () => void, ms: number) => {
    const timer = { ms, callback, cleared: false };
    this.set.push(timer);
    return timer;
  };
  clearTimeout = (handle: unknown) => {
    (handle as { cleared: boolean }).cleared = true;
  };
  pending() {
    return this.set.filter((t) => !t.cleared);
  }
  /** Fires every pending timer, as the clock passing their deadline would. */
  fire() {
    for (const t of this.pending()) {
      t.cleared = true;
      t.callback();
    }
  }
}
