/**
 * HTTP/2 frames as plain data (RFC 9113 §4, §6; RFC 8336 for ORIGIN). Encoding and decoding are
 * pure functions in one file per frame type; the connection owns all state.
 *
 * Frames are discriminated by `kind`; `type` is the wire number. Unknown frame types decode to
 * `UnknownFrame` and are passed through: whether one is processed is the connection's decision.
 */

/** Frame type numbers. An open set: see `frameTypeName`. */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
  ALTSVC: 0xa,
  ORIGIN: 0xc,
} as const;

const frameTypeNames = new Map<number, string>(Object.entries(FrameType).map(([k, v]) => [v, k]));
/** `frameTypeName(0xc)` → `"ORIGIN"`; unknown types print as `UNKNOWN(0x…)`. */
export function frameTypeName(type: number): string {
  return frameTypeNames.get(type) ?? `UNKNOWN(0x${type.toString(16)})`;
}

/** Flag bits (RFC 9113 §6). */
export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** SETTINGS parameters (RFC 9113 §6.5.2, RFC 8441 §3). An open set: see `settingName`. */
export const SettingId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
  ENABLE_CONNECT_PROTOCOL: 0x8,
  NO_RFC7540_PRIORITIES: 0x9,
} as const;

const settingNames = new Map<number, string>(Object.entries(SettingId).map(([k, v]) => [v, k]));
export function settingName(id: number): string {
  return settingNames.get(id) ?? `UNKNOWN(0x${id.toString(16)})`;
}

/** The 9-octet frame header (RFC 9113 §4.1). */
export interface FrameHeader {
  /** Payload length, 24 bits. */
  length: number;
  type: number;
  flags: number;
  /** 31 bits; the reserved bit is ignored on receipt. */
  streamId: number;
}

export const FRAME_HEADER_LENGTH = 9;
/** RFC 9113 §4.2: the initial and minimum SETTINGS_MAX_FRAME_SIZE. */
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
/** RFC 9113 §4.2: the largest SETTINGS_MAX_FRAME_SIZE a peer may advertise. */
export const MAX_ALLOWED_FRAME_SIZE = 16_777_215;

export interface PrioritySpec {
  exclusive: boolean;
  dependency: number;
  /** 1..256 (wire value + 1). */
  weight: number;
}

export interface DataFrame {
  kind: 'data';
  streamId: number;
  endStream: boolean;
  data: Uint8Array;
  /** Padding length when PADDED was set (or should be set on encode). */
  padLength?: number;
  /** Whole payload length on the wire (data + padding + pad length octet): what flow control counts. */
  flowControlledLength?: number;
}

export interface HeadersFrame {
  kind: 'headers';
  streamId: number;
  endStream: boolean;
  endHeaders: boolean;
  /** HPACK header block fragment. */
  fragment: Uint8Array;
  priority?: PrioritySpec;
  padLength?: number;
}

export interface PriorityFrame {
  kind: 'priority';
  streamId: number;
  priority: PrioritySpec;
}

export interface RstStreamFrame {
  kind: 'rst-stream';
  streamId: number;
  errorCode: number;
}

export interface SettingsFrame {
  kind: 'settings';
  ack: boolean;
  /** In wire order; unknown ids are kept (and ignored by the connection, RFC 9113 §6.5.2). */
  settings: Array<[id: number, value: number]>;
}

export interface PushPromiseFrame {
  kind: 'push-promise';
  streamId: number;
  endHeaders: boolean;
  promisedStreamId: number;
  fragment: Uint8Array;
  padLength?: number;
}

export interface PingFrame {
  kind: 'ping';
  ack: boolean;
  /** Exactly 8 octets. */
  opaque: Uint8Array;
}

export interface GoawayFrame {
  kind: 'goaway';
  lastStreamId: number;
  errorCode: number;
  debugData: Uint8Array;
}

export interface WindowUpdateFrame {
  kind: 'window-update';
  streamId: number;
  increment: number;
}

export interface ContinuationFrame {
  kind: 'continuation';
  streamId: number;
  endHeaders: boolean;
  fragment: Uint8Array;
}

/** RFC 8336 ORIGIN frame: ASCII serialized origins. Wildcard entries are allowed (reverse-http draft). */
export interface OriginFrame {
  kind: 'origin';
  /** Non-zero stream ids are ignored by the connection (RFC 8336 §2). */
  streamId: number;
  origins: string[];
}

/** A frame of a type this engine does not know: passed through untouched (RFC 9113 §4.1, §5.5). */
export interface UnknownFrame {
  kind: 'unknown';
  type: number;
  flags: number;
  streamId: number;
  payload: Uint8Array;
}

export type Frame =
  | DataFrame
  | HeadersFrame
  | PriorityFrame
  | RstStreamFrame
  | SettingsFrame
  | PushPromiseFrame
  | PingFrame
  | GoawayFrame
  | WindowUpdateFrame
  | ContinuationFrame
  | OriginFrame
  | UnknownFrame;

/** One HTTP field as HPACK sees it: lower-case name and value, in order. */
export type HeaderField = [name: string, value: string];
