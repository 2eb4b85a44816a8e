/** Event-loop turns until `cond` holds (no clock involved); throws if it never does. */
export async function until(cond: () => boolean, turns = 20_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (cond()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error('condition never held');
}
