export { ChunkedDecoder, MAX_CHUNK_LINE_BYTES, MAX_TRAILER_BYTES } from './chunked.js';
export { Http1Error, type Http1ErrorCode } from './errors.js';
export { fieldLine, httpDate, InvalidRequestHeadError, requestHead, responseHead } from './request-head.js';
export { contentLengthValue } from './message-parser.js';
export { MAX_REQUEST_FIELDS, MAX_REQUEST_HEAD_BYTES, MAX_REQUEST_TARGET_BYTES, RequestParser, type Http1RequestHead, type RequestParserHandler } from './request-parser.js';
export { MAX_RESPONSE_FIELDS, MAX_RESPONSE_HEAD_BYTES, ResponseParser, type Http1ResponseHead, type ResponseParserHandler } from './response-parser.js';
export { isFieldValueOctet, isToken } from './token.js';
