/**
 * RFC 9440 Client-Cert and Client-Cert-Chain fields: how a TLS-terminating proxy (or, in rhttp's
 * WebSocket carrier, the agent itself) passes a client certificate chain in HTTP. `Client-Cert`
 * is a Structured Field Byte Sequence of the leaf's DER (§2.2); `Client-Cert-Chain` is a List of
 * Byte Sequences, the certificates after the leaf in chain order, the leaf excluded (§2.3).
 *
 * @example
 * headers.set('Client-Cert', encodeClientCert(chain[0]));
 * headers.set('Client-Cert-Chain', encodeClientCertChain(chain.slice(1)));
 * const chainDer = [decodeClientCert(headers.get('Client-Cert')!), ...decodeClientCertChain(headers.get('Client-Cert-Chain') ?? '')];
 */
import { parseItem, parseList, serializeBareItem } from './structured-field.js';
import { SignatureError } from './signature-error.js';

/** Most certificates we accept in Client-Cert-Chain: real web PKI chains have 1–3 after the leaf. */
export const MAX_CLIENT_CERT_CHAIN = 8;

/** RFC 9440 §2.2: the Client-Cert value, `:base64(DER):`. */
export function encodeClientCert(der: Uint8Array): string {
  return serializeBareItem(der);
}

/** RFC 9440 §2.3: the Client-Cert-Chain value, a list of `:base64(DER):` (may be empty: omit the field then). */
export function encodeClientCertChain(ders: Uint8Array[]): string {
  return ders.map((der) => serializeBareItem(der)).join(', ');
}

/** DER of a Client-Cert value. Throws {@link SignatureError} (`malformed`) when it is not one Byte Sequence. */
export function decodeClientCert(value: string): Uint8Array {
  let item;
  try {
    item = parseItem(value);
  } catch (cause) {
    throw new SignatureError('malformed', `Client-Cert is not a structured-field byte sequence (RFC 9440 §2.2): ${(cause as Error).message}`, { cause });
  }
  if (!(item.value instanceof Uint8Array) || item.value.length === 0) {
    throw new SignatureError('malformed', 'Client-Cert must be a byte sequence, ":base64(DER):" (RFC 9440 §2.2)');
  }
  return item.value;
}

/** DER of each certificate in a Client-Cert-Chain value, in order. Empty string → empty array. */
export function decodeClientCertChain(value: string): Uint8Array[] {
  if (value.trim() === '') return [];
  let list;
  try {
    list = parseList(value);
  } catch (cause) {
    throw new SignatureError('malformed', `Client-Cert-Chain is not a structured-field list (RFC 9440 §2.3): ${(cause as Error).message}`, { cause });
  }
  if (list.length > MAX_CLIENT_CERT_CHAIN) {
    throw new SignatureError('malformed', `Client-Cert-Chain has ${list.length} certificates; at most ${MAX_CLIENT_CERT_CHAIN} are accepted`);
  }
  return list.map((member, i) => {
    if (!('value' in member) || !(member.value instanceof Uint8Array) || member.value.length === 0) {
      throw new SignatureError('malformed', `Client-Cert-Chain entry ${i + 1} is not a byte sequence (RFC 9440 §2.3)`);
    }
    return member.value;
  });
}
