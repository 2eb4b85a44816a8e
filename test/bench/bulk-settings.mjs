// What the node:http2 side of the bulk benchmark is given so it runs with the same windows and
// frame size that @rhttp/core advertises by default (packages/core/src/proto/settings.ts,
// DEFAULT_CONNECTION_WINDOW in proto/connection.ts): the baseline is node at its best, not at
// its 64 KiB defaults.
export const NODE_SETTINGS = { initialWindowSize: 1 << 20, maxFrameSize: 1 << 16 };
export const NODE_CONNECTION_WINDOW = 16 << 20;
/** Bodies are written (and uploads produced) in chunks of this size on both sides. */
export const BULK_CHUNK = new Uint8Array(64 * 1024).fill(0x61);
