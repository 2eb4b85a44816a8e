/**
 * One-token onboarding, the agent's side (`rhttp-agent --token TOKEN`): make a key (ECDSA P-256),
 * send a PKCS#10 request to the intermediary's enrollment endpoint over TLS pinned to the
 * certificate fingerprint in the token (no CA file: the token is the trust), and keep what comes
 * back in a state directory, every file 0600:
 *
 *   key.pem    our private key (it never leaves this machine)
 *   cert.pem   our origin certificate chain, for exactly the token's origins
 *   ca.pem     what to verify the intermediary with from now on (absent: the system's CAs)
 *   state.json where to connect, the origins, the token id, when the certificate was issued
 *
 * A later start with the same state directory needs no token. Renewal ({@link renewEnrolled}) runs
 * at two thirds of the certificate's life, over mTLS with the current certificate: holding a valid
 * certificate the intermediary issued is the right to a new one for the same names.
 *
 * @example
 * const identity = await enroll(decodeEnrollmentToken(text), { stateDir: '.rhttp-agent' });
 * new Agent({ intermediary: identity.intermediary, origins: identity.origins, cert: identity.cert, key: identity.key, ca: identity.ca, upstream });
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { ENROLL_PATH, RENEW_PATH, unbracketHost, type EnrollmentToken } from '@rhttp/core';
import { createCertificateRequest } from '@rhttp/node/certs';

/** Renewal point, as a fraction of the certificate's life since we got it: a third left to retry in. */
export const RENEW_AT_FRACTION = 2 / 3;
/** A failed renewal is tried again after this long (the certificate still has a third of its life). */
export const RENEW_RETRY_MS = 60_000;
/** One enrollment or renewal request: TCP, TLS and one small POST. */
const ENROLL_TIMEOUT_MS = 15_000;
/** Largest answer read: a chain of a few certificates is a few KiB. */
const MAX_ANSWER_BYTES = 64 * 1024;
/** ALPN the intermediary's enrollment endpoint answers on (beside h2-reverse on the same port). */
const ENROLLMENT_ALPN = 'http/1.1';

/** What an enrolled agent runs with. */
export interface EnrolledIdentity {
  /** `tls://host:port` of the intermediary's agent listener. */
  intermediary: string;
  origins: string[];
  /** Certificate chain (PEM, leaf first). */
  cert: string;
  /** Private key (PKCS#8 PEM). */
  key: string;
  /** PEM to verify the intermediary with; undefined: the system's CAs. */
  ca?: string;
  /**
   * The name to check the intermediary's certificate against, when the token's host is not one of
   * its names (a dev certificate reached through a public name or a NAT): one of the names of the
   * pinned certificate itself.
   */
  servername?: string;
  /** The token this identity came from (a restart with the same --token does not spend it again). */
  tokenId: string;
  /** When we received the current certificate, and when it expires. */
  issuedAt: Date;
  notAfter: Date;
}

/** The intermediary refused the token or the renewal (401/403): its one sentence is the message. */
export class EnrollmentRefusedError extends Error {
  readonly code = 'ERR_RHTTP_ENROLLMENT_REFUSED';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Enrollment could not happen: unreachable, wrong certificate (pinning), bad answer. */
export class EnrollmentError extends Error {
  readonly code = 'ERR_RHTTP_ENROLLMENT';
}

interface StateFile {
  intermediary: string;
  servername?: string;
  origins: string[];
  tokenId: string;
  issuedAt: string;
}

/** Enrolls with a token and writes the state directory. */
export async function enroll(token: EnrollmentToken, opts: { stateDir: string }): Promise<EnrolledIdentity> {
  const { host, port } = splitAddress(token.address);
  const { csrPem, keyPem } = await createCertificateRequest();
  let servername: string | undefined;
  const answer = await postJson({ host, port, rejectUnauthorized: false, ALPNProtocols: [ENROLLMENT_ALPN] }, ENROLL_PATH, { id: token.id, secret: token.secret, csr: csrPem }, (socket) => {
    // The token is the trust: nothing (not even the request line) is sent to a certificate other than the pinned one.
    const peer = socket.getPeerCertificate();
    const shown = peer.fingerprint256?.replace(/:/g, '').toLowerCase();
    if (shown !== token.fingerprint) {
      throw new EnrollmentError(
        `the intermediary at ${token.address} shows a certificate with SHA-256 fingerprint ${shown ?? '(none)'}, not the token's ${token.fingerprint}: not sending the certificate request (is the token for this intermediary?)`,
      );
    }
    // Later connections verify the certificate by name: when the token's host is not among its names, use one that is.
    if (tls.checkServerIdentity(host, peer) !== undefined) servername = /DNS:([^,\s*]+)/.exec(peer.subjectaltname ?? '')?.[1];
  });
  if (!Array.isArray(answer.origins) || answer.origins.some((o) => typeof o !== 'string')) throw new EnrollmentError('the intermediary answered without the origins');
  const identity = identityFrom(answer, keyPem, { intermediary: `tls://${token.address}`, origins: answer.origins as string[], tokenId: token.id, servername });
  await saveEnrolled(opts.stateDir, identity);
  return identity;
}

/** Gets a new certificate (and key) for the same names over mTLS with the current one; writes the state directory. */
export async function renewEnrolled(current: EnrolledIdentity, opts: { stateDir: string }): Promise<EnrolledIdentity> {
  const url = new URL(current.intermediary.replace(/^tls:/, 'https:'));
  const host = unbracketHost(url.hostname);
  const { csrPem, keyPem } = await createCertificateRequest();
  const answer = await postJson(
    { host, port: Number(url.port || 443), servername: current.servername ?? (isIP(host) ? undefined : host), ca: current.ca, cert: current.cert, key: current.key, ALPNProtocols: [ENROLLMENT_ALPN] },
    RENEW_PATH,
    { csr: csrPem },
  );
  const identity = identityFrom(answer, keyPem, { intermediary: current.intermediary, origins: current.origins, tokenId: current.tokenId, servername: current.servername });
  await saveEnrolled(opts.stateDir, identity);
  return identity;
}

/** The identity in `stateDir`, or undefined when nobody enrolled there. */
export async function loadEnrolled(stateDir: string): Promise<EnrolledIdentity | undefined> {
  let state: StateFile;
  try {
    state = JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8')) as StateFile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new EnrollmentError(`${join(stateDir, 'state.json')} is damaged (${(error as Error).message}); remove ${stateDir} and enroll again with a new token`);
  }
  const read = (name: string) => readFile(join(stateDir, name), 'utf8');
  const [cert, key, ca] = await Promise.all([read('cert.pem'), read('key.pem'), read('ca.pem').catch(() => undefined)]);
  return { intermediary: state.intermediary, servername: state.servername, origins: state.origins, cert, key, ca, tokenId: state.tokenId, issuedAt: new Date(state.issuedAt), notAfter: new Date(new X509Certificate(cert).validTo) };
}

/** Milliseconds from `now` until the certificate should be renewed (0 when that time has passed). */
export function renewalDelayMs(identity: Pick<EnrolledIdentity, 'issuedAt' | 'notAfter'>, now = Date.now()): number {
  const at = identity.issuedAt.getTime() + (identity.notAfter.getTime() - identity.issuedAt.getTime()) * RENEW_AT_FRACTION;
  return Math.max(0, at - now);
}

function identityFrom(answer: Record<string, unknown>, keyPem: string, rest: Pick<EnrolledIdentity, 'intermediary' | 'origins' | 'tokenId' | 'servername'>): EnrolledIdentity {
  if (typeof answer.certificate !== 'string') throw new EnrollmentError('the intermediary answered without a certificate');
  let notAfter: Date;
  try {
    notAfter = new Date(new X509Certificate(answer.certificate).validTo);
  } catch (error) {
    throw new EnrollmentError(`the intermediary answered with a certificate that does not parse: ${(error as Error).message}`);
  }
  const ca = typeof answer.intermediaryCa === 'string' ? answer.intermediaryCa : undefined;
  return { ...rest, cert: answer.certificate, key: keyPem, ca, issuedAt: new Date(), notAfter };
}

async function saveEnrolled(stateDir: string, identity: EnrolledIdentity): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const write = async (name: string, text: string) => {
    const path = join(stateDir, name);
    await writeFile(`${path}.tmp`, text, { mode: 0o600 });
    await rename(`${path}.tmp`, path);
  };
  // Each file is replaced whole (temporary file, then rename), so none is ever half written.
  await write('key.pem', identity.key);
  await write('cert.pem', identity.cert);
  if (identity.ca !== undefined) await write('ca.pem', identity.ca);
  else await rm(join(stateDir, 'ca.pem'), { force: true });
  const state: StateFile = { intermediary: identity.intermediary, servername: identity.servername, origins: identity.origins, tokenId: identity.tokenId, issuedAt: identity.issuedAt.toISOString() };
  await write('state.json', `${JSON.stringify(state, null, 2)}\n`);
}

function splitAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(address);
  if (!m) throw new EnrollmentError(`the token's address ${address} is not host:port`);
  return { host: m[1] ?? m[2], port: Number(m[3]) };
}

/**
 * One POST over its own TLS connection. `check` runs once the handshake is done and before
 * anything is written; throwing there closes the connection unused.
 */
function postJson(options: tls.ConnectionOptions, path: string, body: unknown, check?: (socket: tls.TLSSocket) => void): Promise<Record<string, unknown>> {
  const where = `${options.host}:${options.port}`;
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ ...options, minVersion: 'TLSv1.3' });
    const timer = setTimeout(() => fail(new EnrollmentError(`no answer from the intermediary at ${where} within ${ENROLL_TIMEOUT_MS / 1000} s`)), ENROLL_TIMEOUT_MS);
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.once('error', (error: NodeJS.ErrnoException) => fail(error instanceof EnrollmentError ? error : new EnrollmentError(`cannot reach the intermediary at ${where}: ${error.code ?? ''} ${error.message}`.replace(/ {2,}/g, ' '))));
    socket.once('secureConnect', () => {
      try {
        check?.(socket);
      } catch (error) {
        return fail(error as Error);
      }
      if (socket.alpnProtocol !== ENROLLMENT_ALPN) return fail(new EnrollmentError(`the intermediary at ${where} does not offer enrollment (ALPN ${ENROLLMENT_ALPN}); it needs --ca-cert/--ca-key or its development CA`));
      const payload = JSON.stringify(body);
      const request = http.request({
        createConnection: () => socket,
        method: 'POST',
        path,
        headers: { host: where, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), connection: 'close' },
      });
      request.once('error', (error) => fail(new EnrollmentError(`enrollment request to ${where} failed: ${error.message}`)));
      request.once('response', (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) return fail(new EnrollmentError(`the intermediary's answer is larger than ${MAX_ANSWER_BYTES} bytes`));
          chunks.push(chunk);
        });
        response.once('error', (error) => fail(new EnrollmentError(`enrollment answer from ${where} broke off: ${error.message}`)));
        response.once('end', () => {
          clearTimeout(timer);
          socket.destroy();
          const text = Buffer.concat(chunks).toString('utf8');
          const status = response.statusCode ?? 0;
          const sentence = text.trim().split('\n')[0] ?? '';
          if (status === 401 || status === 403) return reject(new EnrollmentRefusedError(status, sentence || `refused (${status})`));
          if (status !== 200) return reject(new EnrollmentError(`the intermediary answered ${status}: ${sentence}`));
          try {
            resolve(JSON.parse(text) as Record<string, unknown>);
          } catch {
            reject(new EnrollmentError('the intermediary answered with something that is not JSON'));
          }
        });
      });
      request.end(payload);
    });
  });
}
