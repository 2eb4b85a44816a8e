/** Nonces of accepted upgrade signatures: @rhttp/broker's nonce-cache.ts, shared with the Node intermediary. */
export { MAX_REMEMBERED_NONCES, NonceCache } from '@rhttp/broker';
