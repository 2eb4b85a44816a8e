/**
 * Checks an agent's PTTH request (draft-kazuho-ptth-ptth-01; DESIGN.md, Carrier 2) before any
 * reversed connection exists: the edge's WebSocket upgrade, and the Node intermediary's
 * `Upgrade: ptth` and extended CONNECT `:protocol ptth`. One rule for both.
 *
 * 1. the certificate chain: a TLS client certificate the caller's own TLS handshake received
 *    (`tlsClientChain`, the Node intermediary) or Cloudflare's TLS terminator verified
 *    (`request.cf.tlsClientAuth`), since TLS already proved possession of its key — otherwise
 *    RFC 9440 `Client-Cert` + `Client-Cert-Chain`; verified to the trust anchors;
 * 2. otherwise an RFC 9421 signature by the leaf's key over `"@method" "@authority" "@path"
 *    "client-cert"`, `created` within {@link SIGNATURE_MAX_AGE_SECONDS}, and a `nonce` not seen
 *    before in that window;
 * 3. every origin in the URL covered by the certificate.
 *
 * Status codes: `401` when the credentials are missing or not acceptable (no/broken certificate
 * fields, untrusted or expired chain, bad/stale/replayed signature) — retrying with other
 * credentials may help; `403` when the credentials are fine but do not cover a listed origin.
 * The body is one plain sentence that the agent prints.
 */
import {
  CertificateError,
  PTTH_SIGNATURE_LABEL,
  PTTH_SIGNED_COMPONENTS,
  SignatureError,
  decodeClientCert,
  decodeClientCertChain,
  leafPublicKey,
  serializeOrigin,
  unauthorizedOrigins,
  verifyCertificateChain,
  verifyMessageSignature,
  type CertificateIdentity,
  type Origin,
  type SignableMessage,
} from '@rhttp/core';
import type { NonceCache } from './nonce-cache.js';

/** Oldest upgrade signature accepted, in seconds: long enough for clock drift and a slow handshake, short enough that a captured request is soon useless. */
export const SIGNATURE_MAX_AGE_SECONDS = 60;
/** Components the upgrade signature must cover (core's reverse/ptth.ts: the agent signs the same list). */
export const REQUIRED_SIGNED_COMPONENTS: readonly string[] = PTTH_SIGNED_COMPONENTS;
/** Label of the agent's signature in Signature-Input / Signature. */
export const AGENT_SIGNATURE_LABEL = PTTH_SIGNATURE_LABEL;

/** An accepted agent. */
export interface AgentCredentials {
  identity: CertificateIdentity;
  /** How the certificate was shown: a signed Client-Cert, or TLS (ours or Cloudflare's). */
  via: 'signature' | 'mtls';
}

/** A refused upgrade: the status and the sentence for the body. */
export class AgentRefusal extends Error {
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
  }

  toResponse(): Response {
    return new Response(`${this.message}\n`, { status: this.status, headers: this.headers() });
  }

  /** The refusal's header fields (a 401 says how to authenticate). */
  headers(): Record<string, string> {
    const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' };
    if (this.status === 401) {
      // RFC 9110 §15.5.2: a 401 MUST carry WWW-Authenticate. RFC 9421 §5.1: Accept-Signature says what to sign.
      headers['www-authenticate'] = 'Signature realm="rhttp"';
      headers['accept-signature'] = `${AGENT_SIGNATURE_LABEL}=(${REQUIRED_SIGNED_COMPONENTS.map((c) => `"${c}"`).join(' ')});created;nonce`;
    }
    return headers;
  }
}

/** Cloudflare's view of the TLS client certificate (subset of `request.cf.tlsClientAuth`). */
interface TlsClientAuth {
  certPresented?: string;
  certVerified?: string;
  certRFC9440?: string;
  certChainRFC9440?: string;
}

/**
 * Authenticates the PTTH `request` (its method, URL and fields; a Fetch Request fits) for
 * `origins` (already parsed from its URL). Throws {@link AgentRefusal}. `tlsClientChain` is the
 * certificate chain (DER, leaf first) our TLS handshake received, when one was presented. `nowMs`
 * is injectable for tests of freshness.
 */
export async function authenticateAgent(
  request: SignableMessage,
  origins: Origin[],
  options: { trustAnchors: string | undefined; nonces: NonceCache; nowMs?: number; tlsClientChain?: Uint8Array[] },
): Promise<AgentCredentials> {
  const nowMs = options.nowMs ?? Date.now();
  if (!options.trustAnchors || !options.trustAnchors.includes('-----BEGIN CERTIFICATE-----')) {
    // Not the agent's fault, but nothing can be accepted: say so plainly rather than a 500.
    throw new AgentRefusal(401, 'this edge has no TRUST_ANCHORS configured, so it cannot accept any agent certificate (operator: `wrangler secret put TRUST_ANCHORS` with the CA PEM)');
  }

  const mtls = (request as SignableMessage & { cf?: { tlsClientAuth?: TlsClientAuth } }).cf?.tlsClientAuth;
  let chain: Uint8Array[];
  let via: AgentCredentials['via'];
  try {
    if (options.tlsClientChain && options.tlsClientChain.length > 0) {
      chain = options.tlsClientChain;
      via = 'mtls';
    } else if (mtls?.certPresented === '1' && mtls.certVerified === 'SUCCESS' && mtls.certRFC9440) {
      chain = [decodeClientCert(mtls.certRFC9440), ...decodeClientCertChain(mtls.certChainRFC9440 ?? '')];
      via = 'mtls';
    } else {
      const leaf = request.headers.get('client-cert');
      if (leaf === null) {
        throw new AgentRefusal(401, 'no Client-Cert field: the upgrade request must carry the origin certificate (RFC 9440) and an HTTP message signature made with its key (RFC 9421)');
      }
      chain = [decodeClientCert(leaf), ...decodeClientCertChain(request.headers.get('client-cert-chain') ?? '')];
      via = 'signature';
    }
  } catch (error) {
    if (error instanceof AgentRefusal) throw error;
    throw new AgentRefusal(401, (error as Error).message);
  }

  let identity: CertificateIdentity;
  try {
    identity = await verifyCertificateChain(chain, { trustAnchors: [options.trustAnchors], now: new Date(nowMs) });
  } catch (error) {
    if (error instanceof CertificateError) throw new AgentRefusal(401, `certificate refused (${error.reason}): ${error.message}`);
    throw error;
  }

  if (via === 'signature') {
    try {
      const verified = await verifyMessageSignature(request, {
        key: await leafPublicKey(chain),
        label: AGENT_SIGNATURE_LABEL,
        requiredComponents: [...REQUIRED_SIGNED_COMPONENTS],
        maxAgeSeconds: SIGNATURE_MAX_AGE_SECONDS,
        requireNonce: true,
        now: Math.floor(nowMs / 1000),
      });
      // The nonce is recorded only once the signature verified, so forged requests cannot burn honest nonces.
      if (!options.nonces.use(verified.params.nonce!, nowMs)) {
        throw new AgentRefusal(401, `signature refused (replay): the nonce "${verified.params.nonce}" was already used; sign every upgrade request with a fresh nonce`);
      }
    } catch (error) {
      if (error instanceof AgentRefusal) throw error;
      if (error instanceof SignatureError || error instanceof CertificateError) {
        throw new AgentRefusal(401, `signature refused (${error.reason}): ${error.message}`);
      }
      throw error;
    }
  }

  const uncovered = unauthorizedOrigins(identity, origins);
  if (uncovered.length > 0) {
    const sans = [...identity.dnsNames, ...identity.ipAddresses].join(', ') || 'none';
    throw new AgentRefusal(403, `origin ${uncovered.map(serializeOrigin).join(', ')} is not covered by the certificate "${identity.subject}" (SANs: ${sans})`);
  }
  return { identity, via };
}
