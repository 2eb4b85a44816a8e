/**
 * Defences of the connection, as named limits with the reason for each default. Every one can be
 * overridden through `ConnectionOptions.limits`.
 */
export interface Limits {
  /** Rapid Reset (CVE-2023-44487): streams the peer may reset within `resetWindowMs` before we GOAWAY. */
  maxResetsPerWindow: number;
  resetWindowMs: number;
  /** SETTINGS/PING flood: control frames (SETTINGS, PING) we must answer while our output is blocked. */
  maxQueuedControlFrames: number;
  /** Empty DATA frames flood: consecutive zero-length DATA frames without END_STREAM. */
  maxEmptyDataFrames: number;
  /** Zero-window stall: how long a stream may wait for the peer to open its window before we reset it. */
  stallTimeoutMs: number;
  /** How long we wait for the peer to acknowledge our SETTINGS (RFC 9113 §6.5.3 SETTINGS_TIMEOUT). */
  settingsTimeoutMs: number;
  /** Stream-id exhaustion: once our next stream id passes this, we stop opening streams and GOAWAY. */
  maxStreamId: number;
  /**
   * Readers that never read: DATA received and not yet taken by the application, over all streams.
   * Beyond it the streams whose readers went longest without reading are reset (CANCEL).
   */
  maxBufferedBytes: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = {
  // Browsers cancel streams legitimately (navigation, aborted fetches), but never hundreds per
  // second; nghttp2 and Go picked budgets of this order after the 2023 attack.
  maxResetsPerWindow: 200,
  resetWindowMs: 1_000,
  // A well-behaved peer reads its socket; 10k unanswered acks means it does not, and each costs memory.
  maxQueuedControlFrames: 10_000,
  // Zero-length DATA frames cost the receiver work and carry nothing; Go and nghttp2 bound them too.
  maxEmptyDataFrames: 100,
  // Long enough for a slow consumer, short enough that a peer cannot pin stream memory forever.
  stallTimeoutMs: 60_000,
  // RFC 9113 leaves this to the implementation; nghttp2 and Go use 10 s.
  settingsTimeoutMs: 10_000,
  // Stream ids are 31 bits (RFC 9113 §5.1.1); leave headroom for in-flight opens.
  maxStreamId: 2 ** 31 - 1 - 1_000,
  // The connection's credit is returned on receipt (so one stalled stream cannot starve the
  // others), which leaves stream windows (1 MiB each) as the only other bound: 64 stalled
  // streams' worth per connection, then the longest-stalled ones go.
  maxBufferedBytes: 64 << 20,
};
