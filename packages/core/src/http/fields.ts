import { ErrorCode, StreamError } from '../errors.js';
import type { HeaderField } from '../frame/types.js';

/**
 * Connection-specific fields that HTTP/2 forbids (RFC 9113 §8.2.2). `te` is allowed with the
 * value "trailers" only.
 */
export const CONNECTION_SPECIFIC_FIELDS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/**
 * Statuses whose responses never have content: 1xx, 204 and 304 (RFC 9110 §6.4.1) and 205
 * (§15.3.6); the Fetch API's `new Response` refuses a body for each of them.
 */
export const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);

/** A response with no content whatever its framing says: to HEAD, or with a status that has none (RFC 9110 §6.4.1). */
export function hasNoContent(method: string, status: number): boolean {
  return method === 'HEAD' || NULL_BODY_STATUSES.has(status);
}

/** What a received request's pseudo-header fields say (RFC 9113 §8.3.1, RFC 8441 §4). */
export interface RequestHead {
  method: string;
  scheme: string;
  authority: string;
  path: string;
  /** RFC 8441 extended CONNECT (`:protocol`), e.g. "websocket". */
  protocol?: string;
  headers: Headers;
}

export interface ResponseHead {
  status: number;
  headers: Headers;
}

/** A token (RFC 9110 §5.6.2) in lower case: what HTTP/2 field names must be (RFC 9113 §8.2.1), and how we list Connection options. */
export const LOWER_CASE_TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/**
 * Validate a received field block and split off its pseudo-header fields. Anything malformed
 * is a stream error of type PROTOCOL_ERROR (RFC 9113 §8.1.1).
 */
export function splitFields(streamId: number, fields: HeaderField[], allowed: ReadonlySet<string>, trailers: boolean): { pseudo: Map<string, string>; headers: Headers } {
  const pseudo = new Map<string, string>();
  const headers = new Headers();
  let regularSeen = false;
  let cookies: string[] | undefined;
  for (const [name, value] of fields) {
    if (name.charCodeAt(0) === 0x3a /* : */) {
      // §8.3: pseudo-header fields MUST NOT appear in trailers, MUST appear before regular
      // fields, MUST NOT repeat, and only the defined ones are allowed.
      if (trailers) throw malformed(streamId, `pseudo-header ${name} in trailers`);
      if (regularSeen) throw malformed(streamId, `pseudo-header ${name} after a regular field`);
      if (!allowed.has(name)) throw malformed(streamId, `pseudo-header ${name} is not allowed here`);
      if (pseudo.has(name)) throw malformed(streamId, `pseudo-header ${name} repeated`);
      pseudo.set(name, value);
      continue;
    }
    regularSeen = true;
    checkRegularField(streamId, name, value);
    if (name === 'cookie') {
      // §8.2.3: split cookie fields are joined with "; " when passed to HTTP/1.1 semantics.
      (cookies ??= []).push(value);
      continue;
    }
    headers.append(name, value);
  }
  if (cookies) headers.set('cookie', cookies.join('; '));
  return { pseudo, headers };
}

/** One received regular field, checked (RFC 9113 §8.2, §8.2.2); throws a PROTOCOL_ERROR stream error. */
function checkRegularField(streamId: number, name: string, value: string): void {
  // §8.2: field names MUST be lower case and valid tokens; values MUST NOT contain NUL, CR or
  // LF, nor start or end with whitespace.
  if (!LOWER_CASE_TOKEN.test(name)) throw malformed(streamId, `invalid field name ${JSON.stringify(name)}`);
  if (!validValue(value)) throw malformed(streamId, `invalid value for field ${name}`);
  // §8.2.2: connection-specific fields make the message malformed.
  if (CONNECTION_SPECIFIC_FIELDS.has(name)) throw malformed(streamId, `connection-specific field ${name}`);
  if (name === 'te' && value !== 'trailers') throw malformed(streamId, 'te other than "trailers"');
}

/**
 * A received request's pseudo-headers and raw fields, checked exactly as `requestHead` checks them
 * (RFC 9113 §8.1.1, §8.2, §8.3.1, RFC 8441 §4) but without building a Headers object.
 */
export interface RequestFieldsHead {
  method: string;
  scheme: string;
  authority: string;
  path: string;
  /** RFC 8441 extended CONNECT (`:protocol`), e.g. "websocket". */
  protocol?: string;
  /** The whole field block as received and validated, pseudo-header fields first. */
  fields: HeaderField[];
  /** The content-length field's value as a number, or -1 when absent or not a number. */
  contentLength: number;
}

/** Like `requestHead`, without a Headers object: for the low-level server stream API. */
export function requestHeadFields(streamId: number, fields: HeaderField[], connectProtocolEnabled: boolean): RequestFieldsHead {
  let method: string | undefined;
  let scheme: string | undefined;
  let authority: string | undefined;
  let path: string | undefined;
  let protocol: string | undefined;
  let host: string | undefined;
  let contentLength = -1;
  let regularSeen = false;
  for (let i = 0; i < fields.length; i++) {
    const name = fields[i][0];
    const value = fields[i][1];
    if (name.charCodeAt(0) === 0x3a /* : */) {
      // §8.3: pseudo-header fields MUST appear before regular fields, MUST NOT repeat, and only
      // the defined ones are allowed.
      if (regularSeen) throw malformed(streamId, `pseudo-header ${name} after a regular field`);
      let repeated: boolean;
      switch (name) {
        case ':method':
          repeated = method !== undefined;
          method = value;
          break;
        case ':scheme':
          repeated = scheme !== undefined;
          scheme = value;
          break;
        case ':authority':
          repeated = authority !== undefined;
          authority = value;
          break;
        case ':path':
          repeated = path !== undefined;
          path = value;
          break;
        case ':protocol':
          repeated = protocol !== undefined;
          protocol = value;
          break;
        default:
          throw malformed(streamId, `pseudo-header ${name} is not allowed here`);
      }
      if (repeated) throw malformed(streamId, `pseudo-header ${name} repeated`);
      continue;
    }
    regularSeen = true;
    checkRegularField(streamId, name, value);
    if (name === 'host') host ??= value;
    else if (name === 'content-length' && contentLength === -1) {
      const n = Number(value);
      if (value !== '' && Number.isSafeInteger(n) && n >= 0) contentLength = n;
    }
  }
  const head = checkRequestPseudo(streamId, method, scheme, authority ?? host ?? '', path, protocol, connectProtocolEnabled);
  return { method: head.method, scheme: head.scheme, authority: head.authority, path: head.path, protocol: head.protocol, fields, contentLength };
}

/** The checks on a request's pseudo-header values shared by both request parsers. */
function checkRequestPseudo(
  streamId: number,
  method: string | undefined,
  scheme: string | undefined,
  authority: string,
  path: string | undefined,
  protocol: string | undefined,
  connectProtocolEnabled: boolean,
): { method: string; scheme: string; authority: string; path: string; protocol?: string } {
  if (!method) throw malformed(streamId, 'missing :method');
  if (method === 'CONNECT' && protocol === undefined) {
    // §8.5: CONNECT has only :method and :authority.
    if (scheme !== undefined || path !== undefined) throw malformed(streamId, 'CONNECT with :scheme or :path');
    if (!authority) throw malformed(streamId, 'CONNECT without :authority');
    return { method, scheme: '', authority, path: '' };
  }
  if (protocol !== undefined) {
    // RFC 8441 §4: :protocol only with CONNECT, and only once we enabled it.
    if (method !== 'CONNECT') throw malformed(streamId, ':protocol on a method other than CONNECT');
    if (!connectProtocolEnabled) throw malformed(streamId, ':protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL');
  }
  // §8.3.1: all HTTP/2 requests MUST include exactly one valid value for :method, :scheme and :path (unless CONNECT).
  if (!scheme) throw malformed(streamId, 'missing :scheme');
  if (!path) throw malformed(streamId, 'missing or empty :path');
  if (path[0] !== '/' && !(path === '*' && method === 'OPTIONS')) throw malformed(streamId, `:path ${JSON.stringify(path)} is not absolute`);
  return { method, scheme, authority: authority || 'localhost', path, protocol };
}

/** Received trailer fields checked without a Headers object (RFC 9113 §8.1, §8.2). */
export function checkTrailerFields(streamId: number, fields: HeaderField[]): void {
  for (let i = 0; i < fields.length; i++) {
    const name = fields[i][0];
    // §8.1: trailers MUST NOT include pseudo-header fields.
    if (name.charCodeAt(0) === 0x3a) throw malformed(streamId, `pseudo-header ${name} in trailers`);
    checkRegularField(streamId, name, fields[i][1]);
  }
}

function validValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return true;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(n - 1);
  if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) return false;
  }
  return true;
}

export function malformed(streamId: number, why: string): StreamError {
  return new StreamError(streamId, ErrorCode.PROTOCOL_ERROR, `malformed message: ${why} (RFC 9113 §8.1.1)`);
}

/** Pseudo-headers of a received request, checked (RFC 9113 §8.3.1, RFC 8441 §4). */
export function requestHead(streamId: number, fields: HeaderField[], connectProtocolEnabled: boolean): RequestHead {
  const { pseudo, headers } = splitFields(streamId, fields, REQUEST_PSEUDO, false);
  const head = checkRequestPseudo(streamId, pseudo.get(':method'), pseudo.get(':scheme'), pseudo.get(':authority') ?? headers.get('host') ?? '', pseudo.get(':path'), pseudo.get(':protocol'), connectProtocolEnabled);
  return { ...head, headers };
}

const REQUEST_PSEUDO = new Set([':method', ':scheme', ':authority', ':path', ':protocol']);
const RESPONSE_PSEUDO = new Set([':status']);

/** Pseudo-headers of a received response (RFC 9113 §8.3.2). */
export function responseHead(streamId: number, fields: HeaderField[]): ResponseHead {
  const { pseudo, headers } = splitFields(streamId, fields, RESPONSE_PSEUDO, false);
  const status = Number(pseudo.get(':status'));
  if (!Number.isInteger(status) || status < 100 || status > 999) throw malformed(streamId, 'missing or invalid :status');
  return { status, headers };
}

/** A received response's status and regular fields, checked as `responseHead` checks them, without a Headers object. */
export interface ResponseFieldsHead {
  status: number;
  /** The regular fields as received and validated (the block without its pseudo-header fields). */
  fields: HeaderField[];
  /** The first content-length value, if any. */
  contentLength: string | undefined;
}

/** Like `responseHead`, without a Headers object: for the client role's low-level API (RFC 9113 §8.3.2). */
export function responseHeadFields(streamId: number, fields: HeaderField[]): ResponseFieldsHead {
  let status: string | undefined;
  let contentLength: string | undefined;
  let first = 0;
  for (let i = 0; i < fields.length; i++) {
    const name = fields[i][0];
    const value = fields[i][1];
    if (name.charCodeAt(0) === 0x3a /* : */) {
      // §8.3: pseudo-header fields MUST appear before regular fields, MUST NOT repeat, and only
      // the defined ones are allowed.
      if (first !== i) throw malformed(streamId, `pseudo-header ${name} after a regular field`);
      if (name !== ':status') throw malformed(streamId, `pseudo-header ${name} is not allowed here`);
      if (status !== undefined) throw malformed(streamId, `pseudo-header ${name} repeated`);
      status = value;
      first = i + 1;
      continue;
    }
    checkRegularField(streamId, name, value);
    if (name === 'content-length') contentLength ??= value;
  }
  const code = Number(status);
  if (status === undefined || !/^\d{3}$/.test(status) || code < 100) throw malformed(streamId, 'missing or invalid :status');
  return { status: code, fields: first === 0 ? fields : fields.slice(first), contentLength };
}

/** Regular fields as a Headers object (for the Fetch adapters). */
export function fieldsToHeaders(fields: readonly HeaderField[]): Headers {
  const headers = new Headers();
  for (let i = 0; i < fields.length; i++) headers.append(fields[i][0], fields[i][1]);
  return headers;
}

/**
 * A request's regular fields as Headers (into `headers`, empty, when given): pseudo-header fields
 * left out, and the cookie crumbs of HTTP/2 and HTTP/3 joined into one field with "; " (RFC 9113
 * §8.2.3, RFC 9114 §4.2.1).
 */
export function requestFieldHeaders(fields: readonly HeaderField[], headers = new Headers()): Headers {
  let cookies: string[] | undefined;
  for (let i = 0; i < fields.length; i++) {
    const name = fields[i][0];
    if (name.charCodeAt(0) === 0x3a /* : */) continue;
    if (name === 'cookie') {
      (cookies ??= []).push(fields[i][1]);
      continue;
    }
    headers.append(name, fields[i][1]);
  }
  if (cookies) headers.append('cookie', cookies.join('; '));
  return headers;
}

/**
 * Whether a comma-separated field value (RFC 9110 §5.6.1: `#token`, as Connection, Upgrade and TE
 * are) lists `token` (lower case), compared case-insensitively and without its parameters.
 */
export function listsToken(value: string | null | undefined, token: string): boolean {
  if (value === null || value === undefined) return false;
  for (const member of value.split(',')) {
    const semicolon = member.indexOf(';');
    if ((semicolon === -1 ? member : member.slice(0, semicolon)).trim().toLowerCase() === token) return true;
  }
  return false;
}

/** A field's value from a Headers object or a list with lower-case names (repeated lines joined with ", ", RFC 9110 §5.3), or null. */
export function fieldValue(fields: Headers | Iterable<readonly [string, string]>, name: string): string | null {
  if (fields instanceof Headers) return fields.get(name);
  let value: string | null = null;
  for (const [n, v] of fields) if (n === name) value = value === null ? v : `${value}, ${v}`;
  return value;
}

/** Fields of received trailers. */
export function trailerHeaders(streamId: number, fields: HeaderField[]): Headers {
  return splitFields(streamId, fields, RESPONSE_PSEUDO, true).headers;
}

/**
 * Regular fields to send, from a Headers object or a field list (lower-case names): without
 * connection-specific ones, TE only as "trailers", cookies split into crumbs.
 */
export function outgoingFields(out: HeaderField[], headers: Headers | Iterable<readonly [string, string]>, skipHost: boolean): HeaderField[] {
  const web = headers instanceof Headers;
  let cookiesDone = false;
  for (const [name, value] of headers) {
    if (CONNECTION_SPECIFIC_FIELDS.has(name)) continue;
    if (name === 'te') {
      if (value.toLowerCase().includes('trailers')) out.push(['te', 'trailers']);
      continue;
    }
    if (skipHost && name === 'host') continue;
    if (name === 'set-cookie' && web) {
      // Each Set-Cookie is its own field; a Headers object may yield them joined (older
      // runtimes) or one by one (the Fetch standard today): getSetCookie() is right for both.
      if (!cookiesDone) for (const cookie of headers.getSetCookie()) out.push(['set-cookie', cookie]);
      cookiesDone = true;
      continue;
    }
    if (name === 'cookie') {
      // §8.2.3: sending cookies as separate fields compresses better with HPACK.
      for (const crumb of value.split('; ')) out.push(['cookie', crumb]);
      continue;
    }
    out.push([name, value]);
  }
  return out;
}

/** Ports the WHATWG URL parser leaves out of `host`. */
const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443, 'ws:': 80, 'wss:': 443 };

/** Fields of an outgoing request (RFC 9113 §8.3.1), its regular ones from a Headers object or a list (lower-case names). */
export function requestFields(method: string, url: URL, headers: Headers | Iterable<readonly [string, string]>, protocol?: string): HeaderField[] {
  const fields: HeaderField[] = [[':method', method]];
  if (method === 'CONNECT' && !protocol) {
    // §8.5: a CONNECT's :authority is the host and port to connect to; the URL leaves out a default port.
    fields.push([':authority', url.port || !(url.protocol in DEFAULT_PORTS) ? url.host : `${url.host}:${DEFAULT_PORTS[url.protocol]}`]);
  } else {
    fields.push([':scheme', url.protocol.slice(0, -1)], [':authority', url.host], [':path', (url.pathname || '/') + url.search]);
    if (protocol) fields.push([':protocol', protocol]);
  }
  return outgoingFields(fields, headers, true);
}
