/** QPACK's HTTP/3 settings (RFC 9204 §5) and the defaults rhttp uses for them. */

/** SETTINGS_QPACK_MAX_TABLE_CAPACITY (RFC 9204 §5): the decoder's dynamic table limit; default 0. */
export const SETTINGS_QPACK_MAX_TABLE_CAPACITY = 0x01;
/** SETTINGS_QPACK_BLOCKED_STREAMS (RFC 9204 §5): how many streams may wait on inserts; default 0. */
export const SETTINGS_QPACK_BLOCKED_STREAMS = 0x07;

/** The capacity our encoder uses at most and our decoder advertises: as HPACK's 4096-octet default. */
export const DEFAULT_QPACK_MAX_TABLE_CAPACITY = 4096;
/** Streams our decoder lets wait on inserts: each holds one encoded section in memory until then. */
export const DEFAULT_QPACK_BLOCKED_STREAMS = 16;
