export { Http2Session, carryTrailers, responseTrailers, withTrailers, type Handler, type Http2SessionOptions, type StreamInfo } from './session.js';
export { CONNECTION_SPECIFIC_FIELDS, NULL_BODY_STATUSES, hasNoContent, type RequestHead, type ResponseHead } from './fields.js';
export { ServerStream, type OutgoingFields, type ServerStreamHead } from './server-stream.js';
export type { RequestFieldsHead } from './fields.js';
