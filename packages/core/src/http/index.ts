export { Http2Session, type Handler, type Http2SessionOptions, type SessionCallbacks, type StreamInfo } from './session.js';
export { bodyReaderOf, bytesBody, carryTrailers, fromResponse, headersToFields, responseTrailers, toResponse, withTrailers } from './response-message.js';
export { ClientExchange, type ResponseMessage } from './client-exchange.js';
export { FastResponse, installFastResponse } from './fast-response.js';
export { nextChunk, readableOf, type BodyReader } from './incoming-body.js';
export { CONNECTION_SPECIFIC_FIELDS, NULL_BODY_STATUSES, fieldValue, fieldsToHeaders, hasNoContent, listsToken, type RequestHead, type ResponseHead } from './fields.js';
export { ServerStream, TAKE_JOIN_BYTES, type OutgoingFields, type ServerStreamHead } from './server-stream.js';
export type { RequestFieldsHead } from './fields.js';
export { HOP_BY_HOP_FIELDS, connectionOptions, isHopByHop, stripHopByHop, stripHopByHopFields, type NextHop } from './hop-by-hop.js';
