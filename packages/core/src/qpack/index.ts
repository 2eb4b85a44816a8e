/**
 * QPACK: field compression for HTTP/3 (RFC 9204). One encoder and one decoder per connection;
 * each owns its dynamic table. The HTTP/3 engine carries their instruction streams: it feeds the
 * peer's encoder stream to the decoder and the peer's decoder stream to the encoder, and writes
 * what `takeEncoderStream` and `takeDecoderStream` return on its own unidirectional streams.
 *
 * ```ts
 * const encoder = new QpackEncoder();
 * const decoder = new QpackDecoder({ maxTableCapacity: 4096, maxBlockedStreams: 16, maxFieldSectionSize: 65536 });
 * encoder.applyPeerSettings(4096, 16);
 * const section = encoder.encode(0, [[':method', 'GET'], [':path', '/']]);
 * const instructions = encoder.takeEncoderStream();
 * if (instructions) decoder.receiveEncoderStream(instructions);
 * decoder.decode(0, section); // [[':method','GET'], [':path','/']]
 * ```
 */
export { QpackDecoder, type QpackDecoderOptions } from './decoder.js';
export { QpackEncoder, type QpackEncoderOptions } from './encoder.js';
export { FieldSectionTooLargeError, QpackError, QpackErrorCode, qpackErrorCodeName } from './errors.js';
export { isNeverIndexed, markNeverIndexed } from './never-indexed.js';
export {
  DEFAULT_QPACK_BLOCKED_STREAMS,
  DEFAULT_QPACK_MAX_TABLE_CAPACITY,
  SETTINGS_QPACK_BLOCKED_STREAMS,
  SETTINGS_QPACK_MAX_TABLE_CAPACITY,
} from './settings.js';
export { QPACK_STATIC_TABLE } from './static-table.js';
