/**
 * DNS over HTTPS client (RFC 8484) on `fetch`, so it runs on Node, Bun, Deno and workerd alike.
 *
 * @example
 * ```ts
 * const reply = await dohQuery('_http-reverse.proxy.example.net', RRType.SVCB, { doh: DEFAULT_DOH_URL });
 * ```
 */
import { base64UrlDecode, base64UrlEncode } from '../bytes.js';
import { DnsRcodeError, DohError, SvcbFormatError } from './errors.js';
import { decodeMessage, type DnsMessage, encodeQuery, MAX_DNS_MESSAGE_LENGTH, Rcode, rcodeName, rrTypeName } from './message.js';
import { fqdn, namesEqual } from './name.js';

/** The resolver used when none is configured: Cloudflare's public DoH endpoint (RFC 8484). */
export const DEFAULT_DOH_URL = 'https://cloudflare-dns.com/dns-query';
/** How long one DoH exchange may take: public resolvers answer in well under a second. */
export const DEFAULT_DOH_TIMEOUT_MS = 5000;
/** RFC 8484 §6: the media type of DNS wire-format messages. */
export const DNS_MESSAGE_MEDIA_TYPE = 'application/dns-message';

/** Options of `dohQuery`. */
export interface DohOptions {
  /** DoH endpoint URL (its URI Template without variables, RFC 8484 §4.1), e.g. `https://cloudflare-dns.com/dns-query`. */
  doh: string;
  /** `GET` (cache-friendly, the default) or `POST`. */
  method?: 'GET' | 'POST';
  /** The fetch to use (tests, custom agents). Default: the global one. */
  fetch?: typeof fetch;
  /** Give up after this long. Default `DEFAULT_DOH_TIMEOUT_MS`. */
  timeoutMs?: number;
}

// RFC 8484 §4.1: the `dns` parameter is base64url without padding (bytes.ts); re-exported for callers of this module.
export { base64UrlDecode, base64UrlEncode };

/**
 * Sends one query (class IN, ID 0, RD) to a DoH server and returns the decoded response.
 * Throws `DohError` (network, timeout, HTTP status, content type, undecodable or mismatched
 * answer) and `DnsRcodeError` for a non-zero RCODE (NXDOMAIN, SERVFAIL, …).
 */
export async function dohQuery(name: string, type: number, options: DohOptions): Promise<DnsMessage> {
  const qname = fqdn(name);
  const what = `${qname} ${rrTypeName(type)}`;
  // RFC 8484 §4.1: DoH clients ... SHOULD use a DNS ID of 0 in every DNS request.
  const query = encodeQuery(qname, type, { id: 0 });
  let url: URL;
  try {
    url = new URL(options.doh);
  } catch (e) {
    throw new DohError(`the DoH URL ${JSON.stringify(options.doh)} is not a URL`, { cause: e });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new DohError(`the DoH URL ${options.doh} must be https://`);
  const method = options.method ?? 'GET';
  const init: RequestInit = { method, headers: { accept: DNS_MESSAGE_MEDIA_TYPE } };
  if (method === 'GET') {
    url.searchParams.set('dns', base64UrlEncode(query));
  } else {
    init.headers = { accept: DNS_MESSAGE_MEDIA_TYPE, 'content-type': DNS_MESSAGE_MEDIA_TYPE };
    init.body = query;
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_DOH_TIMEOUT_MS;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  init.signal = controller.signal;
  const doFetch = options.fetch ?? fetch;
  let body: Uint8Array;
  try {
    let response: Response;
    try {
      response = await doFetch(url.href, init);
    } catch (e) {
      if (controller.signal.aborted) throw new DohError(`no answer from ${url.origin} for ${what} within ${timeoutMs} ms`, { cause: e });
      throw new DohError(`could not reach the DoH server ${url.origin} for ${what}: ${(e as Error).message}`, { cause: e });
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      throw new DohError(`the DoH server ${url.origin} answered HTTP ${response.status} for ${what}`, { status: response.status });
    }
    const contentType = (response.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (contentType !== DNS_MESSAGE_MEDIA_TYPE) {
      await response.body?.cancel().catch(() => {});
      throw new DohError(`the DoH server ${url.origin} answered with content type ${JSON.stringify(contentType)}, not ${DNS_MESSAGE_MEDIA_TYPE}`, { status: response.status });
    }
    try {
      body = await readLimited(response, MAX_DNS_MESSAGE_LENGTH);
    } catch (e) {
      if (e instanceof DohError) throw e;
      if (controller.signal.aborted) throw new DohError(`no answer from ${url.origin} for ${what} within ${timeoutMs} ms`, { cause: e });
      throw new DohError(`reading the DoH answer from ${url.origin} failed: ${(e as Error).message}`, { cause: e });
    }
  } finally {
    clearTimeout(timer);
  }
  let reply: DnsMessage;
  try {
    reply = decodeMessage(body);
  } catch (e) {
    if (e instanceof SvcbFormatError) throw e; // says what was wrong; the RRset is unusable
    throw new DohError(`the DoH server ${url.origin} sent a bad DNS message for ${what}: ${(e as Error).message}`, { cause: e });
  }
  const q = reply.questions[0];
  if (!reply.qr || reply.id !== 0 || (q !== undefined && (!namesEqual(q.name, qname) || q.type !== type))) {
    throw new DohError(`the DoH server ${url.origin} sent an answer that does not match the query for ${what}`);
  }
  if (reply.tc) throw new DohError(`the DoH server ${url.origin} sent a truncated answer for ${what}`);
  if (reply.rcode !== Rcode.NOERROR) throw new DnsRcodeError(reply.rcode, rcodeName(reply.rcode), qname, rrTypeName(type));
  return reply;
}

async function readLimited(response: Response, limit: number): Promise<Uint8Array> {
  const length = Number(response.headers.get('content-length') ?? NaN);
  if (length > limit) {
    await response.body?.cancel().catch(() => {});
    throw new DohError(`DoH answer of ${length} octets is longer than a DNS message can be (${limit})`);
  }
  const body = new Uint8Array(await response.arrayBuffer());
  if (body.length > limit) throw new DohError(`DoH answer of ${body.length} octets is longer than a DNS message can be (${limit})`);
  return body;
}
