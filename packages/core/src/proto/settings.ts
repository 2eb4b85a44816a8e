import { SettingId } from '../frame/types.js';
import { DEFAULT_INITIAL_WINDOW_SIZE } from './flow-control.js';

/** The SETTINGS values of one endpoint (RFC 9113 §6.5.2, RFC 8441 §3). */
export interface Settings {
  headerTableSize: number;
  enablePush: boolean;
  maxConcurrentStreams: number;
  initialWindowSize: number;
  maxFrameSize: number;
  maxHeaderListSize: number;
  enableConnectProtocol: boolean;
}

/** The values every endpoint starts with before SETTINGS arrive (RFC 9113 §6.5.2). */
export const INITIAL_SETTINGS: Readonly<Settings> = {
  headerTableSize: 4_096,
  enablePush: true,
  maxConcurrentStreams: Infinity,
  initialWindowSize: DEFAULT_INITIAL_WINDOW_SIZE,
  maxFrameSize: 16_384,
  maxHeaderListSize: Infinity,
  enableConnectProtocol: false,
};

/** What rhttp advertises unless told otherwise. */
export const DEFAULT_LOCAL_SETTINGS: Readonly<Settings> = {
  headerTableSize: 4_096,
  enablePush: false,
  // Enough for a browser's page plus a proxy's fan-in; node:http2 and nginx use 100–128.
  maxConcurrentStreams: 1_000,
  // 1 MiB per stream: bulk transfers at tens of ms RTT without stalls; memory stays bounded per stream.
  initialWindowSize: 1 << 20,
  // Larger frames cut per-frame overhead for bulk bodies.
  maxFrameSize: 1 << 16,
  // HPACK-bomb defence: the decoded header list we accept (RFC 9113 §6.5.2).
  maxHeaderListSize: 64 * 1024,
  enableConnectProtocol: true,
};

/** Encode the settings that differ from the protocol's initial values (plus push, always explicit). */
export function settingsToWire(s: Settings): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  if (s.headerTableSize !== INITIAL_SETTINGS.headerTableSize) out.push([SettingId.HEADER_TABLE_SIZE, s.headerTableSize]);
  out.push([SettingId.ENABLE_PUSH, s.enablePush ? 1 : 0]);
  if (Number.isFinite(s.maxConcurrentStreams)) out.push([SettingId.MAX_CONCURRENT_STREAMS, s.maxConcurrentStreams]);
  if (s.initialWindowSize !== INITIAL_SETTINGS.initialWindowSize) out.push([SettingId.INITIAL_WINDOW_SIZE, s.initialWindowSize]);
  if (s.maxFrameSize !== INITIAL_SETTINGS.maxFrameSize) out.push([SettingId.MAX_FRAME_SIZE, s.maxFrameSize]);
  if (Number.isFinite(s.maxHeaderListSize)) out.push([SettingId.MAX_HEADER_LIST_SIZE, s.maxHeaderListSize]);
  if (s.enableConnectProtocol) out.push([SettingId.ENABLE_CONNECT_PROTOCOL, 1]);
  return out;
}
