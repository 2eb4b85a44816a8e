import { pemToDer } from '../origin/certificate.js';
import { webCrypto, type WebCryptoKey } from '../origin/x509.js';
import { SignatureError } from './signature-error.js';

/** Key types a PKCS#8 private key is tried as, in order (certificates of origins are ECDSA or RSA; Ed25519 for completeness). */
const PRIVATE_KEY_ALGORITHMS = [
  { name: 'ECDSA', namedCurve: 'P-256' },
  { name: 'ECDSA', namedCurve: 'P-384' },
  { name: 'Ed25519' },
  { name: 'RSA-PSS', hash: 'SHA-512' },
] as const;

/**
 * Imports a PKCS#8 private key (`-----BEGIN PRIVATE KEY-----` PEM, or DER) for signing HTTP
 * messages with {@link signMessage}. The key type is found by trying each supported algorithm.
 * Throws {@link SignatureError} (`unsupported-algorithm`) for other keys, e.g. a SEC1 `EC
 * PRIVATE KEY` (convert it with `openssl pkcs8 -topk8 -nocrypt`).
 */
export async function importSigningKey(key: string | Uint8Array): Promise<WebCryptoKey> {
  let der: Uint8Array;
  if (typeof key === 'string') {
    if (/-----BEGIN (EC|RSA) PRIVATE KEY-----/.test(key)) {
      throw new SignatureError('unsupported-algorithm', 'the private key is in SEC1/PKCS#1 form; convert it to PKCS#8 ("-----BEGIN PRIVATE KEY-----") with `openssl pkcs8 -topk8 -nocrypt`');
    }
    der = pemToDer(key, 'PRIVATE KEY')[0];
  } else {
    der = key;
  }
  for (const algorithm of PRIVATE_KEY_ALGORITHMS) {
    try {
      return await webCrypto.subtle.importKey('pkcs8', der, algorithm, false, ['sign']);
    } catch {
      // not this type; try the next
    }
  }
  throw new SignatureError('unsupported-algorithm', 'the private key is not an ECDSA P-256/P-384, Ed25519 or RSA key in PKCS#8 form');
}
