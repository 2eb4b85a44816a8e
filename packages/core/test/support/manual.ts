/** Small test doubles shared by the proto/ unit tests. */

/** Timers that fire only when told to, with a record of what was armed and cancelled. */
export function manualTimers() {
  const timers: Array<{ fn: () => void; ms: number; cancelled: boolean }> = [];
  const setTimer = (fn: () => void, ms: number) => {
    const t = { fn, ms, cancelled: false };
    timers.push(t);
    return () => {
      t.cancelled = true;
    };
  };
  return { timers, setTimer };
}

/** What `fn` throws, or undefined. */
export function caught(fn: () => void): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}
