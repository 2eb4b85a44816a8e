/**
 * DNS for discovery: the RFC 1035 message codec, SVCB/HTTPS RDATA (RFC 9460) in wire and
 * presentation format, a DNS-over-HTTPS client (RFC 8484), and intermediary discovery.
 */
export * from './errors.js';
export * from './ip-address.js';
export * from './name.js';
export * from './message.js';
export * from './svcb.js';
export * from './presentation.js';
export * from './doh.js';
export * from './discovery.js';
