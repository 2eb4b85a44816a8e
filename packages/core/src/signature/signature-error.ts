import { RhttpError } from '../errors.js';

/** Why an HTTP message signature (or the certificate fields that travel with it) was refused. */
export type SignatureErrorReason =
  | 'missing'
  | 'malformed'
  | 'missing-component'
  | 'unsupported-algorithm'
  | 'bad-signature'
  | 'stale'
  | 'future'
  | 'expired';

/** An HTTP message signature was refused. `code` is `ERR_RHTTP_SIGNATURE`; `reason` says why. */
export class SignatureError extends RhttpError {
  readonly reason: SignatureErrorReason;
  constructor(reason: SignatureErrorReason, message: string, options?: { cause?: unknown }) {
    super('ERR_RHTTP_SIGNATURE', message, options);
    this.reason = reason;
  }
}
