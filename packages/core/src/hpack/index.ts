/**
 * HPACK: header compression for HTTP/2 (RFC 7541). One encoder and one decoder per connection;
 * each owns its dynamic table. The connection feeds the decoder complete header blocks (after
 * CONTINUATION assembly) in the order received, and tells both sides about SETTINGS_HEADER_TABLE_SIZE.
 *
 * ```ts
 * const encoder = new HpackEncoder();
 * const decoder = new HpackDecoder();
 * decoder.decode(encoder.encode([[':method', 'GET'], [':path', '/']]));
 * ```
 */
export {
  DEFAULT_HEADER_TABLE_SIZE,
  DEFAULT_MAX_HEADER_LIST_SIZE,
  HeaderListTooLargeError,
  HpackDecoder,
  type HpackDecoderOptions,
} from './decoder.js';
export { DEFAULT_NEVER_INDEX, HpackEncoder, NEVER_INDEX_COOKIE_BELOW, type HpackEncoderOptions } from './encoder.js';
