/**
 * HTTP/3 (RFC 9114) in both HTTP roles over a `QuicConnection` (quic.ts), with the exchange types
 * HTTP/2 uses: `ServerStream` in the server role, `ClientExchange`/`ResponseMessage` in the client
 * role. QPACK is in ../qpack/.
 *
 * @example
 * const session = connectQuic(quic, { role: 'server', quicRole: 'client', onStream: (stream) => upstream.serve(stream) });
 */
export * from './frame/index.js';
export { encodeVarint, readVarint, varintLength, writeVarint, MAX_VARINT } from './varint.js';
export { H3ErrorCode, h3CodeFor, h3ErrorCodeName, isH3ErrorCode } from './error-codes.js';
export { H3FrameReader, DEFAULT_MAX_H3_FRAME_BYTES, type H3FrameReaderOptions } from './frame-reader.js';
export { DEFAULT_H3_LIMITS, type H3Limits } from './limits.js';
export type { H3Role } from './role.js';
export { H3Connection, H3IncomingUni, H3RequestStream, resetCodeOf, type H3ConnectionEvents, type H3ConnectionOptions, type H3PeerSettings, type H3StreamIo, type H3Transport } from './connection.js';
export { Http3Session, type Http3SessionOptions } from './session.js';
export { connectQuic, QUIC_CLOSE_LINGER_MS, QuicStreamAbort } from './connect-quic.js';
export type { QuicBidirectionalStream, QuicCloseInfo, QuicConnection, QuicReceiveStream, QuicSendStream, QuicStreamId } from './quic.js';
