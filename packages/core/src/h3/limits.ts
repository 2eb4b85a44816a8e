/**
 * Defences of an HTTP/3 connection, as named limits with the attack each answers. Where HTTP/2
 * has the same limit (proto/limits.ts, proto/settings.ts) the default is that one, not a copy.
 * QUIC's own stream and flow-control limits (MAX_STREAMS, MAX_STREAM_DATA) bound what a peer
 * can send; these bound what this engine processes and keeps.
 */
import { DEFAULT_LIMITS } from '../proto/limits.js';
import { DEFAULT_LOCAL_SETTINGS } from '../proto/settings.js';

export interface H3Limits {
  /**
   * Requests processed at once (server role): more are refused with H3_REQUEST_REJECTED, which a
   * client may retry. In the client role, the requests this session opens at once.
   */
  maxConcurrentStreams: number;
  /** QPACK/HPACK bombs: SETTINGS_MAX_FIELD_SECTION_SIZE we advertise and enforce (RFC 9114 §4.2.2). */
  maxFieldSectionSize: number;
  /**
   * Readers that never read: received DATA octets one request stream may hold that the
   * application has not taken. At the budget the engine stops reading that QUIC stream, so
   * QUIC flow control holds the peer; nothing is buffered beyond it but one transport read.
   */
  streamBufferBytes: number;
  /** Rapid Reset (CVE-2023-44487): request streams the peer may reset before they complete, within `resetWindowMs`. */
  maxResetsPerWindow: number;
  resetWindowMs: number;
  /** Empty DATA frames flood: zero-length DATA frames in a row (a reader emits one per wire frame, even when split). */
  maxEmptyDataFrames: number;
  /** Octets of one control-stream frame other than HEADERS (SETTINGS, GOAWAY, ORIGIN...) buffered before it is decoded. */
  maxControlFrameBytes: number;
}

export const DEFAULT_H3_LIMITS: Readonly<H3Limits> = {
  // HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS default: the same fan-in, the same reason.
  maxConcurrentStreams: DEFAULT_LOCAL_SETTINGS.maxConcurrentStreams,
  // HTTP/2's SETTINGS_MAX_HEADER_LIST_SIZE (64 KiB), measured the same way (name + value + 32).
  maxFieldSectionSize: DEFAULT_LOCAL_SETTINGS.maxHeaderListSize,
  // HTTP/2's stream window (1 MiB): bulk transfers at tens of ms RTT without stalls, bounded per stream.
  streamBufferBytes: DEFAULT_LOCAL_SETTINGS.initialWindowSize,
  maxResetsPerWindow: DEFAULT_LIMITS.maxResetsPerWindow,
  resetWindowMs: DEFAULT_LIMITS.resetWindowMs,
  maxEmptyDataFrames: DEFAULT_LIMITS.maxEmptyDataFrames,
  // SETTINGS and GOAWAY are a few dozen octets; an ORIGIN frame listing many origins stays under this.
  maxControlFrameBytes: 16 * 1024,
};
