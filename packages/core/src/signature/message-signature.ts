/**
 * RFC 9421 HTTP Message Signatures, the subset rhttp's WebSocket carrier uses (DESIGN.md,
 * Carrier 2): signing a request with the private key of the agent's certificate and verifying it
 * with the leaf's public key, with Web Crypto only. Derived components `@method`, `@authority`,
 * `@path`, `@query`, `@target-uri`, `@scheme` and `@request-target`, and HTTP fields by name.
 *
 * @example
 * const { signatureInput, signature } = await signMessage(
 *   { method: 'GET', url, headers },
 *   { key: privateKey, components: ['@method', '@authority', '@path', 'client-cert'] },
 * );
 * headers.set('Signature-Input', signatureInput);
 * headers.set('Signature', signature);
 * // … on the other side:
 * const verified = await verifyMessageSignature(request, { key: leafKey, requiredComponents: [...], maxAgeSeconds: 60 });
 */
import { webCrypto, type WebCryptoKey } from '../origin/x509.js';
import { base64UrlEncode } from '../bytes.js';
import { SignatureError } from './signature-error.js';
import {
  Token,
  base64Encode,
  parseDictionary,
  serializeInnerList,
  type BareItem,
  type InnerList,
  type Parameters,
} from './structured-field.js';

/** What a signature covers: a request's method, target URI and fields. `Request` fits. */
export interface SignableMessage {
  method: string;
  url: string;
  headers: { get(name: string): string | null };
}

/** RFC 9421 §2.3 signature parameters. Times are Unix seconds. */
export interface SignatureParameters {
  created?: number;
  expires?: number;
  nonce?: string;
  alg?: string;
  keyid?: string;
  tag?: string;
}

/** RFC 9421 §3.3 algorithms we sign and verify, by registered name. */
export type SignatureAlgorithm = 'ecdsa-p256-sha256' | 'ecdsa-p384-sha384' | 'ed25519' | 'rsa-pss-sha512' | 'rsa-v1_5-sha256';

/** The label rhttp uses in Signature-Input/Signature. */
export const DEFAULT_SIGNATURE_LABEL = 'rhttp';

/** Nonce length in random bytes: 128 bits makes collisions between honest agents negligible. */
const NONCE_BYTES = 16;

/** Options of {@link signMessage}. */
export interface SignOptions {
  /** The signer's private key (ECDSA P-256/P-384, Ed25519, RSA-PSS or RSASSA-PKCS1-v1_5). */
  key: WebCryptoKey;
  /** Component identifiers, in order, e.g. `["@method", "@authority", "@path", "client-cert"]`. */
  components: string[];
  /** Signature label; default `rhttp`. */
  label?: string;
  /** Creation time in Unix seconds; default now. */
  created?: number;
  /** Nonce; default 16 random bytes, base64url. `null` leaves it out. */
  nonce?: string | null;
  keyid?: string;
  expires?: number;
  tag?: string;
}

/** A signature, ready for the `Signature-Input` and `Signature` fields. */
export interface SignedFields {
  signatureInput: string;
  signature: string;
  /** The signature base that was signed (for debugging and tests). */
  base: string;
}

/** Options of {@link verifyMessageSignature}. */
export interface VerifyMessageOptions {
  /** The signer's public key. */
  key: WebCryptoKey;
  /** Label to verify; default `rhttp`. */
  label?: string;
  /** Components the signature must cover (it may cover more). */
  requiredComponents?: string[];
  /** Refuse signatures whose `created` is older than this many seconds (requires `created`). */
  maxAgeSeconds?: number;
  /** Tolerated clock difference for `created` in the future, in seconds; default 5. */
  clockSkewSeconds?: number;
  /** Require a `nonce` parameter. */
  requireNonce?: boolean;
  /** Current time in Unix seconds; default now. */
  now?: number;
}

/** What a verified signature said. */
export interface VerifiedSignature {
  label: string;
  components: string[];
  params: SignatureParameters;
  base: string;
}

/** Default tolerance for a `created` time slightly in the future: clocks of agents and edges drift by seconds. */
const DEFAULT_CLOCK_SKEW_SECONDS = 5;

/**
 * RFC 9421 §2: the value of one component of `message`. Throws {@link SignatureError}
 * (`missing-component`) when a field is absent (§2.5: "If any of the covered components cannot
 * be found … the signer MUST NOT create the signature base", same for the verifier).
 */
export function componentValue(message: SignableMessage, name: string): string {
  if (name.startsWith('@')) {
    const url = new URL(message.url);
    switch (name) {
      case '@method':
        return message.method; // §2.2.1: as-is, case-sensitive (normally upper-case)
      case '@authority':
        return url.host.toLowerCase(); // §2.2.3: host[:port], default port omitted (URL already does)
      case '@scheme':
        return url.protocol.slice(0, -1).toLowerCase();
      case '@target-uri':
        return url.href;
      case '@request-target':
        return `${url.pathname || '/'}${url.search}`;
      case '@path':
        return url.pathname || '/'; // §2.2.6: an empty path is "/"
      case '@query':
        return url.search || '?'; // §2.2.7: an absent query is "?"
      default:
        throw new SignatureError('missing-component', `derived component ${name} is not supported`);
    }
  }
  if (name !== name.toLowerCase() || !/^[a-z0-9!#$%&'*+\-.^_`|~]+$/.test(name)) {
    throw new SignatureError('malformed', `component identifier ${JSON.stringify(name)} must be a lower-case field name (RFC 9421 §2.1)`);
  }
  const value = message.headers.get(name);
  if (value === null) throw new SignatureError('missing-component', `the signed field "${name}" is missing from the request`);
  // §2.1: leading and trailing whitespace removed; Headers already combines repeated fields with ", ".
  return value.trim();
}

/**
 * RFC 9421 §2.5: the signature base — one line `"<component>": <value>` per covered component,
 * then `"@signature-params": <inner list>`, joined by LF, with no trailing LF.
 */
export function signatureBase(message: SignableMessage, components: string[], params: SignatureParameters | Parameters): string {
  const innerList = signatureParamsList(components, params);
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const name of components) {
    // §2.5: "If the component identifier … occurs more than once … the signer MUST NOT create the signature base" (verifier: fail).
    if (seen.has(name)) throw new SignatureError('malformed', `component ${name} is listed twice`);
    seen.add(name);
    if (name === '@signature-params') throw new SignatureError('malformed', '"@signature-params" cannot be a covered component');
    const value = componentValue(message, name);
    if (/[\r\n]/.test(value)) throw new SignatureError('malformed', `component ${name} contains a line break`);
    lines.push(`"${name}": ${value}`);
  }
  lines.push(`"@signature-params": ${serializeInnerList(innerList)}`);
  return lines.join('\n');
}

/** Signs `message` (RFC 9421 §3.1); returns the Signature-Input and Signature field values. */
export async function signMessage(message: SignableMessage, options: SignOptions): Promise<SignedFields> {
  const label = options.label ?? DEFAULT_SIGNATURE_LABEL;
  const alg = algorithmOfKey(options.key);
  const params: SignatureParameters = { created: options.created ?? Math.floor(Date.now() / 1000) };
  if (options.expires !== undefined) params.expires = options.expires;
  const nonce = options.nonce === undefined ? randomNonce() : options.nonce;
  if (nonce !== null) params.nonce = nonce;
  params.alg = alg;
  if (options.keyid !== undefined) params.keyid = options.keyid;
  if (options.tag !== undefined) params.tag = options.tag;
  const base = signatureBase(message, options.components, params);
  const signature = new Uint8Array(
    await webCrypto.subtle.sign(signatureAlgorithmParams(alg), options.key, new TextEncoder().encode(base)),
  );
  return {
    signatureInput: `${label}=${serializeInnerList(signatureParamsList(options.components, params))}`,
    signature: `${label}=:${base64Encode(signature)}:`,
    base,
  };
}

/**
 * Verifies the signature labelled `label` on `message` (RFC 9421 §3.2) with `key`, and the
 * policy in `options` (covered components, age, nonce presence). Replay protection (nonces seen
 * before) is the caller's: it needs state. Throws {@link SignatureError} naming what was wrong.
 */
export async function verifyMessageSignature(message: SignableMessage, options: VerifyMessageOptions): Promise<VerifiedSignature> {
  const label = options.label ?? DEFAULT_SIGNATURE_LABEL;
  const inputField = message.headers.get('signature-input');
  const signatureField = message.headers.get('signature');
  if (inputField === null || signatureField === null) {
    throw new SignatureError('missing', `the request has no ${inputField === null ? 'Signature-Input' : 'Signature'} field (RFC 9421 HTTP message signature required)`);
  }
  let inputs;
  let signatures;
  try {
    inputs = parseDictionary(inputField);
    signatures = parseDictionary(signatureField);
  } catch (cause) {
    throw new SignatureError('malformed', `Signature-Input or Signature is not a structured-field dictionary: ${(cause as Error).message}`, { cause });
  }
  const input = inputs.get(label);
  const sig = signatures.get(label);
  if (input === undefined || sig === undefined) {
    throw new SignatureError('missing', `no signature labelled "${label}" in ${input === undefined ? 'Signature-Input' : 'Signature'}`);
  }
  if (!('items' in input)) throw new SignatureError('malformed', `Signature-Input "${label}" must be an inner list of components`);
  if (!('value' in sig) || !(sig.value instanceof Uint8Array)) throw new SignatureError('malformed', `Signature "${label}" must be a byte sequence`);

  const components: string[] = [];
  for (const item of input.items) {
    if (typeof item.value !== 'string' || item.params.size > 0) {
      throw new SignatureError('malformed', 'covered components must be plain strings (component parameters are not supported)');
    }
    components.push(item.value);
  }
  const params = readParams(input.params);
  for (const required of options.requiredComponents ?? []) {
    if (!components.includes(required)) throw new SignatureError('missing-component', `the signature does not cover "${required}"`);
  }
  if (options.requireNonce && params.nonce === undefined) throw new SignatureError('malformed', 'the signature has no nonce parameter');

  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (options.maxAgeSeconds !== undefined) {
    if (params.created === undefined) throw new SignatureError('malformed', 'the signature has no created parameter');
    const skew = options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
    if (params.created > now + skew) {
      throw new SignatureError('future', `the signature was created ${params.created - now} s in the future; check the agent's clock`);
    }
    if (now - params.created > options.maxAgeSeconds) {
      throw new SignatureError('stale', `the signature was created ${now - params.created} s ago; at most ${options.maxAgeSeconds} s is accepted (check the agent's clock)`);
    }
  }
  // §3.2 step 2.4: an expired signature is refused.
  if (params.expires !== undefined && now > params.expires) throw new SignatureError('expired', 'the signature has expired');

  const keyAlg = algorithmOfKey(options.key);
  // §3.2: "if the alg parameter is present, the verifier MUST … ensure it matches the key".
  if (params.alg !== undefined && params.alg !== keyAlg) {
    throw new SignatureError('unsupported-algorithm', `the signature says alg="${params.alg}" but the certificate's key is ${keyAlg}`);
  }
  const base = signatureBase(message, components, input.params);
  const ok = await webCrypto.subtle.verify(signatureAlgorithmParams(keyAlg), options.key, sig.value, new TextEncoder().encode(base));
  if (!ok) throw new SignatureError('bad-signature', `the ${keyAlg} signature does not verify with the certificate's public key`);
  return { label, components, params, base };
}

/** The RFC 9421 algorithm name of a Web Crypto key. */
export function algorithmOfKey(key: WebCryptoKey): SignatureAlgorithm {
  const algorithm = key.algorithm as { name: string; namedCurve?: string; hash?: { name: string } };
  switch (algorithm.name) {
    case 'ECDSA':
      if (algorithm.namedCurve === 'P-256') return 'ecdsa-p256-sha256';
      if (algorithm.namedCurve === 'P-384') return 'ecdsa-p384-sha384';
      break;
    case 'Ed25519':
      return 'ed25519';
    case 'RSA-PSS':
      return 'rsa-pss-sha512';
    case 'RSASSA-PKCS1-v1_5':
      return 'rsa-v1_5-sha256';
  }
  throw new SignatureError('unsupported-algorithm', `keys of type ${algorithm.name}${algorithm.namedCurve ? ` ${algorithm.namedCurve}` : ''} cannot sign HTTP messages here`);
}

/** The Web Crypto parameters of `crypto.subtle.sign`/`verify` for an RFC 9421 §3.3 algorithm (also used by reverse/quic-authentication.ts). */
export function signatureAlgorithmParams(alg: SignatureAlgorithm): { name: string; hash?: string; saltLength?: number } {
  switch (alg) {
    // RFC 9421 §3.3.4: the signature is r || s, each a fixed-length big-endian integer, which
    // is exactly Web Crypto's ECDSA output (IEEE P1363), not DER.
    case 'ecdsa-p256-sha256':
      return { name: 'ECDSA', hash: 'SHA-256' };
    case 'ecdsa-p384-sha384':
      return { name: 'ECDSA', hash: 'SHA-384' };
    case 'ed25519':
      return { name: 'Ed25519' };
    case 'rsa-pss-sha512':
      return { name: 'RSA-PSS', saltLength: 64 }; // §3.3.1: salt length 64 octets
    case 'rsa-v1_5-sha256':
      return { name: 'RSASSA-PKCS1-v1_5' };
  }
}

function signatureParamsList(components: string[], params: SignatureParameters | Parameters): InnerList {
  let map: Parameters;
  if (params instanceof Map) {
    map = params;
  } else {
    map = new Map();
    for (const [key, value] of Object.entries(params) as [keyof SignatureParameters, string | number | undefined][]) {
      if (value !== undefined) map.set(key, value);
    }
  }
  return { items: components.map((c) => ({ value: c, params: new Map() })), params: map };
}

function readParams(params: Parameters): SignatureParameters {
  const out: SignatureParameters = {};
  const integer = (key: string, value: BareItem): number => {
    if (typeof value !== 'number' || !Number.isInteger(value)) throw new SignatureError('malformed', `signature parameter ${key} must be an integer`);
    return value;
  };
  const string = (key: string, value: BareItem): string => {
    if (typeof value !== 'string') throw new SignatureError('malformed', `signature parameter ${key} must be a string`);
    return value;
  };
  for (const [key, value] of params) {
    if (key === 'created' || key === 'expires') out[key] = integer(key, value);
    else if (key === 'nonce' || key === 'alg' || key === 'keyid' || key === 'tag') out[key] = string(key, value);
    else if (value instanceof Token) continue; // unknown parameters are signed over but carry no meaning for us
  }
  return out;
}

function randomNonce(): string {
  const bytes = webCrypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  return base64UrlEncode(bytes);
}

