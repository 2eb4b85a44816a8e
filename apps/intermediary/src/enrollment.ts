/**
 * One-token onboarding, the intermediary's side: an HTTP/1.1 endpoint on the agent TLS listener
 * (ALPN `http/1.1` beside `h2-reverse`; intermediary.ts hands those sockets here) that turns a
 * token and a PKCS#10 request into an origin certificate signed by the CA the intermediary holds.
 *
 * - `POST /.well-known/rhttp/enroll` `{"id","secret","csr"}`: the token (token-store.ts) is
 *   checked and used up; the certificate's SANs are exactly the hosts of the token's origins,
 *   whatever the CSR asks for. Refusals are 401/403 with one sentence (text/plain).
 * - `POST /.well-known/rhttp/renew` `{"csr"}`: the TLS client certificate (the agent's current
 *   one, which must chain to the signing CA and be valid now) is the right to renew; the new
 *   certificate gets the same names. An agent that let its certificate expire needs a new token.
 *
 * Both answer `{"certificate": chain PEM, "ca": signing CA PEM, "intermediaryCa"?: PEM the agent
 * should verify this intermediary with from now on, "origins"?: the token's origins}`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { CertificateError, ENROLL_PATH, RENEW_PATH, parseOrigin, verifyCertificateChain, unbracketHost } from '@rhttp/core';
import { certificateRequestKey, issueCertificateForKey, type IssuedCertificate } from '@rhttp/node/certs';
import { peerCertificateChain } from './agent-session.js';
import type { LogFunction } from './log-format.js';
import { TokenRefusal, type TokenStore } from './token-store.js';

/** Default life of an issued origin certificate; the agent renews at two thirds of it. */
export const DEFAULT_ENROLLED_CERT_LIFETIME_MS = 30 * 24 * 60 * 60 * 1000;
/** Largest request body: a CSR is well under 1 KiB; this bounds what an unauthenticated client makes us buffer. */
const MAX_ENROLL_BODY_BYTES = 16 * 1024;
/** An enrollment request must be complete by then: it is one small POST. */
const ENROLL_REQUEST_TIMEOUT_MS = 10_000;

export interface EnrollmentOptions {
  store: TokenStore;
  /** The CA that signs origin certificates (its certificate and PKCS#8 key, PEM). */
  ca: Pick<IssuedCertificate, 'certPem' | 'keyPem'>;
  /** Life of issued certificates (default {@link DEFAULT_ENROLLED_CERT_LIFETIME_MS}). */
  certificateLifetimeMs?: number;
  /** PEM the agent should verify this intermediary with after enrolling; absent: the system's CAs. */
  intermediaryCa?: string;
  log?: LogFunction;
}

/** A request the endpoint refuses: HTTP status and one sentence. */
class EnrollmentRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The enrollment endpoint. Give it TLS sockets that negotiated ALPN `http/1.1` on the agent listener. */
export class Enrollment {
  private readonly server: Server;
  private readonly options: EnrollmentOptions;
  private readonly log: LogFunction;

  constructor(options: EnrollmentOptions) {
    this.options = options;
    this.log = options.log ?? (() => {});
    this.server = createServer({ requestTimeout: ENROLL_REQUEST_TIMEOUT_MS, headersTimeout: ENROLL_REQUEST_TIMEOUT_MS }, (request, response) => {
      void this.answer(request, response);
    });
  }

  /** Serves HTTP/1.1 on a TLS socket the agent listener accepted. */
  serve(socket: TLSSocket): void {
    this.server.emit('connection', socket);
  }

  private async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const from = `${request.socket.remoteAddress ?? 'unknown'}:${request.socket.remotePort ?? 0}`;
    const path = (request.url ?? '').split('?')[0];
    try {
      if (path !== ENROLL_PATH && path !== RENEW_PATH) throw new EnrollmentRefusal(404, `Nothing here: agents enroll with POST ${ENROLL_PATH}.`);
      if (request.method !== 'POST') throw new EnrollmentRefusal(405, `Use POST for ${path}.`);
      const body = await readJson(request);
      const publicKey = await parseRequest(body.csr);
      let names: { dnsNames: string[]; ipAddresses: string[] };
      let origins: string[] | undefined;
      let what: string;
      if (path === ENROLL_PATH) {
        if (typeof body.id !== 'string' || typeof body.secret !== 'string') throw new EnrollmentRefusal(400, 'The request names no token (id and secret).');
        const record = await this.options.store.redeem(body.id, body.secret);
        origins = record.origins;
        names = hostNames(origins);
        what = `token ${record.id}`;
      } else {
        names = await this.renewalNames(request.socket as TLSSocket);
        what = 'its current certificate';
      }
      const lifetime = this.options.certificateLifetimeMs ?? DEFAULT_ENROLLED_CERT_LIFETIME_MS;
      const ca = { ...this.options.ca, chainPem: this.options.ca.certPem };
      const certPem = await issueCertificateForKey(ca, publicKey, { ...names, notAfter: new Date(Date.now() + lifetime) });
      const answer = { certificate: certPem + this.options.ca.certPem, ca: this.options.ca.certPem, intermediaryCa: this.options.intermediaryCa, origins };
      response.writeHead(200, { 'content-type': 'application/json', connection: 'close' });
      response.end(JSON.stringify(answer));
      const sans = [...names.dnsNames, ...names.ipAddresses].join(', ');
      this.log(`${path === ENROLL_PATH ? 'enrolled' : 'renewed the certificate of'} an agent from ${from} with ${what}: certificate for ${sans}`, {
        level: 'info',
        event: path === ENROLL_PATH ? 'agent.enrolled' : 'agent.renewed',
        remoteAddress: from,
        names: sans,
      });
    } catch (error) {
      const refusal = error instanceof TokenRefusal || error instanceof EnrollmentRefusal ? error : undefined;
      const status = refusal?.status ?? 500;
      const sentence = refusal?.message ?? 'The intermediary failed to issue a certificate; its log says why.';
      if (!refusal) this.log(`enrollment from ${from} failed: ${(error as Error).stack ?? String(error)}`, { level: 'error', event: 'enrollment.failed', remoteAddress: from });
      else this.log(`refused enrollment from ${from}: ${sentence}`, { level: 'warn', event: 'enrollment.refused', remoteAddress: from, status });
      if (!response.headersSent) {
        response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
        response.end(`${sentence}\n`);
      }
    }
  }

  /** Names of the TLS client certificate, when this CA issued it and it is valid now. */
  private async renewalNames(socket: TLSSocket): Promise<{ dnsNames: string[]; ipAddresses: string[] }> {
    const chain = peerCertificateChain(socket);
    if (chain.length === 0) throw new EnrollmentRefusal(401, 'Renewal needs the current certificate as the TLS client certificate.');
    try {
      const identity = await verifyCertificateChain(chain, { trustAnchors: [this.options.ca.certPem] });
      return { dnsNames: [...identity.dnsNames], ipAddresses: [...identity.ipAddresses] };
    } catch (error) {
      if (!(error instanceof CertificateError)) throw error;
      throw new EnrollmentRefusal(403, `This certificate cannot be renewed (${error.message}); enroll again with a new token.`);
    }
  }
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_ENROLL_BODY_BYTES) throw new EnrollmentRefusal(413, `The request body is larger than ${MAX_ENROLL_BODY_BYTES} bytes.`);
    chunks.push(chunk);
  }
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (value === null || typeof value !== 'object') throw new TypeError('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw new EnrollmentRefusal(400, 'The request body is not a JSON object.');
  }
}

/** The CSR's public key, once its signature verifies (proof of possession). */
async function parseRequest(pem: unknown) {
  if (typeof pem !== 'string') throw new EnrollmentRefusal(400, 'The request has no CSR (PEM).');
  try {
    return await certificateRequestKey(pem);
  } catch (error) {
    throw new EnrollmentRefusal(400, (error as Error).message);
  }
}

/** The subjectAltNames that cover `origins`: their hosts, wildcards included, IP literals as iPAddress. */
export function hostNames(origins: string[]): { dnsNames: string[]; ipAddresses: string[] } {
  const hosts = [...new Set(origins.map((o) => unbracketHost(parseOrigin(o).host)))];
  return { dnsNames: hosts.filter((h) => isIP(h) === 0), ipAddresses: hosts.filter((h) => isIP(h) !== 0) };
}
