/**
 * gRPC-Web ⇄ gRPC, translated in the agent the way Envoy's `grpc_web` filter does it, next to the
 * `h2c://` gRPC server where HTTP/2 trailers exist. Every intermediary (the Node one and the edge,
 * whose Worker Response cannot send trailers) then carries gRPC-Web as an ordinary HTTP exchange.
 *
 * - Request: `application/grpc-web[-text][+subtype]` becomes `application/grpc[+subtype]` with
 *   `te: trailers`; a `-text` body is base64-decoded as it streams.
 * - Response: the upstream's body as is, then its trailers as the final gRPC-Web trailer frame
 *   (flag 0x80, 4-byte big-endian length, `name: value\r\n` lines with lower-case names); for a
 *   `-text` exchange every chunk is base64-encoded with its own padding, as Envoy sends it.
 * - A trailers-only answer (`grpc-status` in the HEADERS) keeps `grpc-status`/`grpc-message` as
 *   response headers, `grpc-message` still percent-encoded as the server sent it.
 *
 * Pure functions and Web streams only; the protocol is
 * https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md.
 *
 * @example
 * const mode = grpcWebModeOf(request.headers);
 * if (mode) ({ headers, body } = toGrpcRequest(headers, body, mode));
 * const upstream = await session.request({ method, url, headers, body });
 * return mode ? toGrpcWebResponse(upstream, responseTrailers(upstream), mode) : upstream;
 */

/** Flag byte of the trailer frame: the most significant bit marks trailers (PROTOCOL-WEB.md, "Message framing"). */
export const TRAILER_FRAME_FLAG = 0x80;

/** Response headers a browser script may read; gRPC-Web clients need the trailers-only status (CORS, Fetch §3.2.5). */
export const GRPC_WEB_EXPOSED_HEADERS = ['grpc-status', 'grpc-message'];

/** How one gRPC-Web exchange is encoded. */
export interface GrpcWebMode {
  /** The request body is base64 (`application/grpc-web-text`). */
  textRequest: boolean;
  /** The response body goes back as base64: a `-text` request, or an `Accept` that asks for it. */
  textResponse: boolean;
  /** The message codec after `+` (`+proto`, `+json`, …), or `''` for the bare type (proto by default). */
  subtype: string;
}

const GRPC_WEB_TYPE = /^application\/grpc-web(-text)?(\+[!#$%&'*.^_`|~0-9a-z-]+)?$/;
const GRPC_TYPE = /^application\/grpc(\+[!#$%&'*.^_`|~0-9a-z-]+)?$/;

/** The media type of a Content-Type or Accept value, lower-cased, without parameters. */
function mediaType(value: string): string {
  const semi = value.indexOf(';');
  return (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
}

/** The gRPC-Web mode of a request, or `undefined` when it is not gRPC-Web (plain gRPC included). */
export function grpcWebModeOf(headers: Headers): GrpcWebMode | undefined {
  const contentType = headers.get('content-type');
  if (contentType === null) return undefined;
  const match = GRPC_WEB_TYPE.exec(mediaType(contentType));
  if (!match) return undefined;
  const textRequest = match[1] !== undefined;
  const accept = headers.get('accept') ?? '';
  const acceptsText = accept.split(',').some((item) => mediaType(item).startsWith('application/grpc-web-text'));
  return { textRequest, textResponse: textRequest || acceptsText, subtype: match[2] ?? '' };
}

/** A gRPC-Web request made gRPC; `invalid()` names what was wrong with a `-text` body that failed to decode. */
export interface GrpcRequest {
  headers: Headers;
  body: ReadableStream<Uint8Array> | null;
  invalid(): GrpcWebError | undefined;
}

/**
 * The gRPC request for a gRPC-Web one: `headers` is changed in place (Content-Type, `te: trailers`,
 * no Content-Length for a base64 body whose length changes) and the body decoded if it is text.
 */
export function toGrpcRequest(headers: Headers, body: ReadableStream<Uint8Array> | null, mode: GrpcWebMode): GrpcRequest {
  let invalid: GrpcWebError | undefined;
  headers.set('content-type', `application/grpc${mode.subtype}`);
  // gRPC over HTTP/2 requires `te: trailers` (PROTOCOL-HTTP2.md, "Requests"); browsers cannot send it.
  headers.set('te', 'trailers');
  // The Accept of a gRPC-Web client names the gRPC-Web answer it wants, which is ours to produce.
  const accept = headers.get('accept');
  if (accept !== null && accept.toLowerCase().includes('application/grpc-web')) headers.delete('accept');
  if (!mode.textRequest) return { headers, body, invalid: () => invalid };
  headers.delete('content-length');
  const decoded = body === null ? null : body.pipeThrough(base64DecodeStream((error) => (invalid = error)));
  return { headers, body: decoded, invalid: () => invalid };
}

/**
 * The gRPC-Web response for a gRPC one. `trailers` resolves to the upstream's trailers once its body
 * has ended (`responseTrailers`). A response that is not gRPC (an agent's 502, a plain-HTTP error
 * page) goes back unchanged but for the exposed headers: the client maps its HTTP status.
 */
export function toGrpcWebResponse(response: Response, trailers: Promise<Headers>, mode: GrpcWebMode): Response {
  const headers = new Headers(response.headers);
  exposeGrpcHeaders(headers);
  const match = GRPC_TYPE.exec(mediaType(response.headers.get('content-type') ?? ''));
  if (!match) return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  headers.set('content-type', `application/grpc-web${mode.textResponse ? '-text' : ''}${match[1] ?? mode.subtype}`);
  headers.delete('content-length');
  // Trailers-only (PROTOCOL-HTTP2.md, "Responses"): the status is in the HEADERS and nothing follows;
  // gRPC-Web keeps it in the response headers (PROTOCOL-WEB.md), so there is no trailer frame to add.
  if (headers.has('grpc-status') || response.body === null) {
    response.body?.cancel().catch(() => {});
    trailers.catch(() => {});
    return new Response(null, { status: response.status, statusText: response.statusText, headers });
  }
  // Awaited once the body has ended; a body that fails first (the upstream reset) leaves it unread.
  trailers.catch(() => {});
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (!done) {
          // Each chunk goes on as it came, so a streamed message reaches the browser without waiting for the next.
          if (value.byteLength > 0) controller.enqueue(mode.textResponse ? encodeBase64(value) : value);
          return;
        }
        const frame = encodeTrailerFrame(await trailers);
        controller.enqueue(mode.textResponse ? encodeBase64(frame) : frame);
        controller.close();
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}

/** Add `grpc-status, grpc-message` to Access-Control-Expose-Headers, keeping what the app exposed. */
export function exposeGrpcHeaders(headers: Headers): void {
  const current = headers.get('access-control-expose-headers');
  const listed = (current ?? '').split(',').map((name) => name.trim().toLowerCase()).filter(Boolean);
  if (listed.includes('*')) return;
  const missing = GRPC_WEB_EXPOSED_HEADERS.filter((name) => !listed.includes(name));
  if (missing.length === 0) return;
  headers.set('access-control-expose-headers', [...(current ? [current] : []), ...missing].join(', '));
}

/**
 * The trailer frame: flag 0x80, the block's length (4 bytes, big-endian), then one
 * `name: value\r\n` line per field. "Trailer names MUST be lower-case" (PROTOCOL-WEB.md); field
 * values are byte strings, written one byte per character.
 */
export function encodeTrailerFrame(trailers: Headers): Uint8Array {
  let block = '';
  trailers.forEach((value, name) => {
    block += `${name.toLowerCase()}: ${value}\r\n`;
  });
  const frame = new Uint8Array(5 + block.length);
  frame[0] = TRAILER_FRAME_FLAG;
  new DataView(frame.buffer).setUint32(1, block.length);
  for (let i = 0; i < block.length; i++) frame[5 + i] = block.charCodeAt(i) & 0xff;
  return frame;
}

/** The fields of a trailer frame's block (the bytes after the 5-byte prefix); the inverse of {@link encodeTrailerFrame}. */
export function decodeTrailerBlock(block: Uint8Array): Headers {
  const trailers = new Headers();
  let text = '';
  for (const byte of block) text += String.fromCharCode(byte);
  for (const line of text.split('\r\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new GrpcWebError('bad_trailer', `gRPC-Web trailer line without a name: ${JSON.stringify(line)}`);
    trailers.append(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return trailers;
}

/** A gRPC-Web body that cannot be translated; `code` is stable. */
export class GrpcWebError extends Error {
  constructor(
    readonly code: 'bad_base64' | 'bad_trailer',
    message: string,
  ) {
    super(message);
    this.name = 'GrpcWebError';
  }
}

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUE = new Int16Array(128).fill(-1);
for (let i = 0; i < BASE64_ALPHABET.length; i++) BASE64_VALUE[BASE64_ALPHABET.charCodeAt(i)] = i;
const PAD = 0x3d; // '='

/** Base64 (RFC 4648 §4) of `bytes`, padded. */
export function encodeBase64(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(bytes.length / 3) * 4);
  let o = 0;
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out[o++] = BASE64_ALPHABET.charCodeAt(n >> 18);
    out[o++] = BASE64_ALPHABET.charCodeAt((n >> 12) & 63);
    out[o++] = BASE64_ALPHABET.charCodeAt((n >> 6) & 63);
    out[o++] = BASE64_ALPHABET.charCodeAt(n & 63);
  }
  const rest = bytes.length - i;
  if (rest > 0) {
    const n = (bytes[i] << 16) | (rest === 2 ? bytes[i + 1] << 8 : 0);
    out[o++] = BASE64_ALPHABET.charCodeAt(n >> 18);
    out[o++] = BASE64_ALPHABET.charCodeAt((n >> 12) & 63);
    out[o++] = rest === 2 ? BASE64_ALPHABET.charCodeAt((n >> 6) & 63) : PAD;
    out[o++] = PAD;
  }
  return out;
}

/**
 * Decodes base64 as it streams. Chunks may split a 4-character quantum anywhere; a padded quantum
 * may end one segment and another segment follow (PROTOCOL-WEB.md lets a sender pad each chunk);
 * CR, LF, space and tab are skipped. Anything else outside the alphabet errors the stream (and is
 * told to `onInvalid`).
 */
export function base64DecodeStream(onInvalid?: (error: GrpcWebError) => void): TransformStream<Uint8Array, Uint8Array> {
  const quantum = new Uint8Array(4);
  let held = 0;
  const told = <T>(step: () => T): T => {
    try {
      return step();
    } catch (error) {
      if (error instanceof GrpcWebError) onInvalid?.(error);
      throw error;
    }
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    transform: (chunk, controller) => told(() => {
      const out = new Uint8Array(Math.floor((held + chunk.length) / 4) * 3);
      let o = 0;
      for (const c of chunk) {
        if (c === 0x0d || c === 0x0a || c === 0x20 || c === 0x09) continue;
        quantum[held++] = c;
        if (held < 4) continue;
        held = 0;
        o = decodeQuantum(quantum, out, o);
      }
      if (o > 0) controller.enqueue(out.subarray(0, o));
    }),
    flush: () => told(() => {
      if (held !== 0) throw new GrpcWebError('bad_base64', `gRPC-Web text body ends inside a base64 quantum (${held} of 4 characters)`);
    }),
  });
}

/** One 4-character quantum into `out` at `o`; returns the new offset. */
function decodeQuantum(q: Uint8Array, out: Uint8Array, o: number): number {
  const a = value(q[0]);
  const b = value(q[1]);
  if (q[2] === PAD) {
    if (q[3] !== PAD) throw new GrpcWebError('bad_base64', 'gRPC-Web text body has padding inside a base64 quantum');
    out[o++] = (a << 2) | (b >> 4);
    return o;
  }
  const c = value(q[2]);
  if (q[3] === PAD) {
    out[o++] = (a << 2) | (b >> 4);
    out[o++] = ((b & 15) << 4) | (c >> 2);
    return o;
  }
  const d = value(q[3]);
  out[o++] = (a << 2) | (b >> 4);
  out[o++] = ((b & 15) << 4) | (c >> 2);
  out[o++] = ((c & 3) << 6) | d;
  return o;
}

function value(c: number): number {
  const v = c < 128 ? BASE64_VALUE[c] : -1;
  if (v < 0) throw new GrpcWebError('bad_base64', `gRPC-Web text body has a byte outside base64: 0x${c.toString(16).padStart(2, '0')}`);
  return v;
}
