export { Connection, Stream, DEFAULT_CONNECTION_WINDOW, GOAWAY_ANNOUNCE_LAST_STREAM_ID, GOAWAY_FINAL_DELAY_MS, type ConnectionEvents, type ConnectionOptions, type ConnectionSink, type StreamListener } from './connection.js';
export { FlowWindow, ReceiveWindow, MAX_WINDOW_SIZE, DEFAULT_INITIAL_WINDOW_SIZE } from './flow-control.js';
export { DEFAULT_LIMITS, type Limits } from './limits.js';
export { CONNECTION_PREFACE, type Role } from './role.js';
export { DEFAULT_LOCAL_SETTINGS, INITIAL_SETTINGS, type Settings } from './settings.js';
export type { StreamState } from './stream-state.js';
export type { KeepAliveOptions } from './ping.js';
