/**
 * The PTTH request (draft-kazuho-ptth-ptth-01), one definition for every carrier that uses it:
 * the agent's ptth and WebSocket carriers, the Node intermediary's ptth acceptor and the edge.
 *
 *     GET /.well-known/ptth/{serialized_origin}/      (HTTP/1.1 Upgrade: ptth, or websocket at the edge)
 *     :method CONNECT  :protocol ptth  :path /.well-known/ptth/{serialized_origin}/   (RFC 8441)
 *     ALPN: h2                                        (RFC 7639: the protocol run reversed inside)
 *     Client-Cert, Client-Cert-Chain                  (RFC 9440, the origin certificate chain)
 *     Signature-Input, Signature                      (RFC 9421, by the certificate's key)
 *
 * `{serialized_origin}` is the comma-separated, percent-encoded origin list of
 * `serializeOriginList` (origin/origin.ts).
 *
 * @example
 * ptthPath(['https://app.example.com'])              // "/.well-known/ptth/https%3A%2F%2Fapp.example.com/"
 * parsePtthPath('/.well-known/ptth/https%3A%2F%2Fapp.example.com/')   // [{ scheme: 'https', host: 'app.example.com', port: 443 }]
 * offersAlpn(request.headers.get('alpn'), 'h2')     // true for "h2", "http%2F1.1, h2"
 */
import { OriginError, parseOriginList, serializeOriginList, type Origin } from '../origin/origin.js';
import { pemToDer } from '../origin/certificate.js';
import { encodeClientCert, encodeClientCertChain } from '../signature/client-cert.js';
import { signMessage } from '../signature/message-signature.js';
import { importSigningKey } from '../signature/signing-key.js';
import type { WebCryptoKey } from '../origin/x509.js';

/** Path prefix of the PTTH request (the draft's URI template `/.well-known/ptth/{serialized_origin}/`). */
export const PTTH_PATH_PREFIX = '/.well-known/ptth/';
/** The HTTP/1.1 upgrade token and the RFC 8441 `:protocol` value of the draft. */
export const PTTH_PROTOCOL = 'ptth';
/** The ALPN id of the protocol run reversed inside the tunnel; the draft recommends `h2`. */
export const PTTH_REVERSED_ALPN = 'h2';
/** Components the agent's signature covers and an intermediary requires (DESIGN.md, Carrier 2). */
export const PTTH_SIGNED_COMPONENTS: readonly string[] = ['@method', '@authority', '@path', 'client-cert'];
/** Label of the agent's signature in Signature-Input / Signature. */
export const PTTH_SIGNATURE_LABEL = 'rhttp';
/** Longest ALPN field value parsed: a handful of protocol ids, bounded against a hostile header. */
const MAX_ALPN_FIELD_LENGTH = 1024;

/** The PTTH path for `origins` (each normalized, then listed). Throws {@link OriginError} on a bad or empty list. */
export function ptthPath(origins: string[]): string {
  return `${PTTH_PATH_PREFIX}${serializeOriginList(origins)}/`;
}

/** The `{serialized_origin}` segment of a PTTH path (still percent-encoded), or "" if there is none. */
export function ptthOriginSegment(pathname: string): string {
  if (!pathname.startsWith(PTTH_PATH_PREFIX)) return '';
  const rest = pathname.slice(PTTH_PATH_PREFIX.length);
  return rest.endsWith('/') ? rest.slice(0, -1) : rest;
}

/** True when `path` (a request target, query ignored) is a PTTH path. */
export function isPtthPath(path: string): boolean {
  return path.startsWith(PTTH_PATH_PREFIX);
}

/**
 * The origins a PTTH request target lists (a query, if any, is ignored). Throws
 * {@link OriginError} naming what is wrong: not a PTTH path, an empty list, a bad entry.
 */
export function parsePtthPath(path: string): Origin[] {
  const pathname = path.split('?', 1)[0];
  if (!isPtthPath(pathname)) throw new OriginError(`${JSON.stringify(pathname.slice(0, 80))} is not a PTTH path (${PTTH_PATH_PREFIX}{origins}/)`);
  return parseOriginList(ptthOriginSegment(pathname));
}

/**
 * The protocol ids of an RFC 7639 `ALPN` field value (`1#protocol-id`, each percent-decoded, RFC
 * 7639 §2). Empty list elements are skipped (RFC 9110 §5.6.1: a recipient MUST accept them).
 * Throws TypeError on bad percent-encoding or an oversized value.
 */
export function parseAlpnField(value: string): string[] {
  if (value.length > MAX_ALPN_FIELD_LENGTH) throw new TypeError(`the ALPN field is longer than ${MAX_ALPN_FIELD_LENGTH} characters`);
  const ids: string[] = [];
  for (const element of value.split(',')) {
    const token = element.trim();
    if (token === '') continue;
    try {
      ids.push(decodeURIComponent(token));
    } catch {
      throw new TypeError(`the ALPN field entry ${JSON.stringify(token)} is not valid percent-encoding (RFC 7639 §2)`);
    }
  }
  return ids;
}

/**
 * True when the `ALPN` field (absent: null) offers `protocol`. RFC 7639 §2: protocol ids are
 * compared octet by octet after decoding, so `H2` is not `h2`.
 */
export function offersAlpn(field: string | null | undefined, protocol: string): boolean {
  if (field === null || field === undefined) return false;
  try {
    return parseAlpnField(field).includes(protocol);
  } catch {
    return false;
  }
}

/** The agent's certificate and key, and for tests a fixed `created`/`nonce`. */
export interface PtthCredentials {
  /** The origin certificate chain (PEM, leaf first). */
  certChainPem: string;
  /** Its PKCS#8 private key (PEM), or an already imported signing key. */
  keyPem: string | WebCryptoKey;
  created?: number;
  nonce?: string;
}

/**
 * The authentication fields of a PTTH request: `ALPN: h2`, RFC 9440 `Client-Cert` (and
 * `Client-Cert-Chain`), and an RFC 9421 signature by the certificate's key over
 * {@link PTTH_SIGNED_COMPONENTS} with `created` and `nonce`. `url` is the http(s) URL the
 * intermediary will see (its authority and path are signed), `method` GET (HTTP/1.1 Upgrade,
 * WebSocket) or CONNECT (RFC 8441).
 */
export async function ptthRequestFields(method: 'GET' | 'CONNECT', url: string, credentials: PtthCredentials): Promise<Record<string, string>> {
  const chain = pemToDer(credentials.certChainPem);
  const key = typeof credentials.keyPem === 'string' ? await importSigningKey(credentials.keyPem) : credentials.keyPem;
  const fields: Record<string, string> = {
    alpn: PTTH_REVERSED_ALPN,
    'client-cert': encodeClientCert(chain[0]),
  };
  if (chain.length > 1) fields['client-cert-chain'] = encodeClientCertChain(chain.slice(1));
  const signed = await signMessage(
    { method, url, headers: new Headers(fields) },
    {
      key,
      components: [...PTTH_SIGNED_COMPONENTS],
      label: PTTH_SIGNATURE_LABEL,
      ...(credentials.created !== undefined ? { created: credentials.created } : {}),
      ...(credentials.nonce !== undefined ? { nonce: credentials.nonce } : {}),
    },
  );
  fields['signature-input'] = signed.signatureInput;
  fields.signature = signed.signature;
  return fields;
}

/**
 * draft-kazuho-ptth-ptth-01: the `ALPN` field (RFC 7639) offers the protocols the backend can run
 * reversed, and an intermediary that runs reversed HTTP/2 needs `h2` among them. The sentence
 * that refuses the request (400), or undefined when `field` offers it. One rule for the Node
 * intermediary's ptth upgrade and the edge's WebSocket carrier.
 */
export function ptthAlpnRefusal(field: string | null | undefined): string | undefined {
  if (offersAlpn(field, PTTH_REVERSED_ALPN)) return undefined;
  const offered = field === null || field === undefined ? 'no ALPN field' : `ALPN ${JSON.stringify(field)}`;
  return `${offered}: this intermediary runs reversed HTTP/2, so the request must offer "${PTTH_REVERSED_ALPN}" in its ALPN field (RFC 7639)`;
}
