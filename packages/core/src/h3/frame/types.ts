/**
 * HTTP/3 frames as plain data (RFC 9114 §7; RFC 9412 for ORIGIN). Encoding and decoding are
 * pure functions, one file per frame type, dispatched from one table (index.ts). Each frame on
 * the wire is `Type (i) | Length (i) | Frame Payload (..)`, both varints (§7.1).
 *
 * Frames are discriminated by `kind`; unknown and reserved ("grease", §7.2.8) types decode to
 * `H3UnknownFrame` and pass through: whether one is processed is the connection's decision.
 */

/** Frame type numbers. An open set: see `h3FrameTypeName`. */
export const H3FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  CANCEL_PUSH: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  GOAWAY: 0x7,
  ORIGIN: 0xc,
  MAX_PUSH_ID: 0xd,
} as const;

/**
 * RFC 9114 §7.2.8: frame types of HTTP/2 with no HTTP/3 counterpart (PRIORITY, PING,
 * WINDOW_UPDATE, CONTINUATION). Their receipt MUST be treated as H3_FRAME_UNEXPECTED.
 */
export const HTTP2_ONLY_FRAME_TYPES: ReadonlySet<number> = new Set([0x2, 0x6, 0x8, 0x9]);

const frameTypeNames = new Map<number, string>(Object.entries(H3FrameType).map(([k, v]) => [v, k]));
/** `h3FrameTypeName(0x4)` → `"SETTINGS"`; unknown types print as `UNKNOWN(0x…)`. */
export function h3FrameTypeName(type: number): string {
  return frameTypeNames.get(type) ?? `UNKNOWN(0x${type.toString(16)})`;
}

/** SETTINGS parameters (RFC 9114 §7.2.4.1, RFC 9204 §5, RFC 9220 §3, RFC 9297 §2.1.1). An open set. */
export const H3SettingId = {
  QPACK_MAX_TABLE_CAPACITY: 0x1,
  MAX_FIELD_SECTION_SIZE: 0x6,
  QPACK_BLOCKED_STREAMS: 0x7,
  ENABLE_CONNECT_PROTOCOL: 0x8,
  H3_DATAGRAM: 0x33,
} as const;

/** RFC 9114 §7.2.4.1: setting ids of HTTP/2 with no HTTP/3 counterpart; receiving one MUST be H3_SETTINGS_ERROR. */
export const HTTP2_ONLY_SETTING_IDS: ReadonlySet<number> = new Set([0x2, 0x3, 0x4, 0x5]);

const settingNames = new Map<number, string>(Object.entries(H3SettingId).map(([k, v]) => [v, k]));
export function h3SettingName(id: number): string {
  return settingNames.get(id) ?? `UNKNOWN(0x${id.toString(16)})`;
}

/** Unidirectional stream types (RFC 9114 §6.2, RFC 9204 §4.2). An open set: unknown ones are read and discarded. */
export const H3StreamType = {
  CONTROL: 0x00,
  PUSH: 0x01,
  QPACK_ENCODER: 0x02,
  QPACK_DECODER: 0x03,
} as const;

/** Reserved frame, stream and setting types of the form 0x1f * N + 0x21 (RFC 9114 §7.2.8, §6.2.3, §7.2.4.1): grease. */
export function isReservedH3Type(value: number): boolean {
  return value >= 0x21 && (value - 0x21) % 0x1f === 0;
}

export interface H3DataFrame {
  kind: 'data';
  data: Uint8Array;
}

export interface H3HeadersFrame {
  kind: 'headers';
  /** The QPACK-encoded field section (RFC 9204 §4.5). */
  fieldSection: Uint8Array;
}

export interface H3CancelPushFrame {
  kind: 'cancel-push';
  pushId: number;
}

export interface H3SettingsFrame {
  kind: 'settings';
  /** In wire order; unknown ids are kept (and ignored by the connection, RFC 9114 §7.2.4). */
  settings: Array<[id: number, value: number]>;
}

export interface H3PushPromiseFrame {
  kind: 'push-promise';
  pushId: number;
  fieldSection: Uint8Array;
}

export interface H3GoawayFrame {
  kind: 'goaway';
  /** A client-initiated bidirectional stream id when the server sends it, a push id when the client does (RFC 9114 §5.2). */
  id: number;
}

export interface H3MaxPushIdFrame {
  kind: 'max-push-id';
  pushId: number;
}

/** RFC 9412 ORIGIN: the same payload as HTTP/2's (RFC 8336 §2). */
export interface H3OriginFrame {
  kind: 'origin';
  origins: string[];
}

/** A frame of a type this engine does not know: passed through untouched (RFC 9114 §9: MUST be ignored). */
export interface H3UnknownFrame {
  kind: 'unknown';
  type: number;
  payload: Uint8Array;
}

export type H3Frame =
  | H3DataFrame
  | H3HeadersFrame
  | H3CancelPushFrame
  | H3SettingsFrame
  | H3PushPromiseFrame
  | H3GoawayFrame
  | H3MaxPushIdFrame
  | H3OriginFrame
  | H3UnknownFrame;
