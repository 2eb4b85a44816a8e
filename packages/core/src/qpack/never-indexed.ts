/**
 * The N bit (RFC 9204 §4.5.4–§4.5.6, §7.1.3): a field the peer sent as a literal "never index"
 * must not be put in a dynamic table when it is re-encoded, for instance by an intermediary.
 * HeaderField is a plain tuple, so the bit travels beside it: the decoder marks the tuples it
 * returns, and the encoder (QPACK or HPACK callers that check) honours the mark.
 */
import type { HeaderField } from '../frame/types.js';

const NEVER_INDEXED = new WeakSet<HeaderField>();

/** Marks `field` as never to be indexed; returns it. */
export function markNeverIndexed(field: HeaderField): HeaderField {
  NEVER_INDEXED.add(field);
  return field;
}

/** Whether `field` (this tuple object) was received, or marked, as never indexed. */
export function isNeverIndexed(field: HeaderField): boolean {
  return NEVER_INDEXED.has(field);
}
