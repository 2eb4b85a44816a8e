/**
 * A Response a server handler can return instead of the runtime's: made like one
 * (`new FastResponse(body, init)`), a Response to `instanceof`, every getter and method working,
 * but a body given as a string, bytes or nothing is kept as it is, and the server's Fetch
 * adapter sends it from there. The runtime's Response (Node's undici builds a ReadableStream for
 * every body, most of what a small response costs) is made only when something needs it: `body`,
 * `clone()`, the reading methods. Other bodies (streams, Blob, FormData, URLSearchParams) and
 * inits the runtime would convert or refuse go to the runtime's Response at once.
 *
 * `installFastResponse()` makes it the global `Response` (opt-in; nothing here does it by itself).
 *
 * @example
 * import { FastResponse } from '@rhttp/core';
 * const handler = () => new FastResponse('ok', { headers: { 'content-type': 'text/plain' } });
 */

import { NULL_BODY_STATUSES } from './fields.js';
import { delegateToRuntime } from './runtime-delegate.js';
import { syncHeaders } from './incoming-request.js';
import { encodeUtf8 } from './utf8.js';

/** The global Response when this module loaded (installFastResponse replaces the global). */
const NativeResponse = Response;

/** The body kinds kept as they are: sent from here without a web stream. */
type HeldBody = string | Uint8Array | null;

/** Response init statuses the runtime refuses (RangeError) lie outside these; it converts non-integers. */
const MIN_STATUS = 200;
const MAX_STATUS = 599;
/** RFC 9110 §15 reason-phrase: HTAB, SP, VCHAR, obs-text. */
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** What `new Response(body)` takes. */
type ResponseBody = ConstructorParameters<typeof Response>[0];

/** The symbol-keyed slots a Response instance carries on this runtime (none where they are private fields). */
const RESPONSE_SLOTS: symbol[] = (() => {
  try {
    return Object.getOwnPropertySymbols(new NativeResponse('probe'));
  } catch {
    return [];
  }
})();

/** A held body as the server sends it: status, headers and the bytes. */
export interface HeldResponse {
  status: number;
  headers: Headers;
  body: Uint8Array | null;
}

let takeHeld!: (response: Response) => HeldResponse | undefined;

/**
 * For the server's Fetch adapter: a FastResponse's status, headers and body bytes if its body is
 * still held as it was given (it then counts as used); undefined for other Responses and once the
 * runtime's Response for it exists. Not a static, so the global Response gets no extra member.
 */
export function takeHeldBody(response: Response): HeldResponse | undefined {
  return takeHeld(response);
}

/** A Response whose string or byte body waits, as it was given, until someone needs a web stream of it. */
export class FastResponse {
  #body: HeldBody = null;
  #status = 200;
  #statusText = '';
  #headers: Headers | undefined;
  #real: Response | undefined;
  /** The server sent the held body: the runtime's Response, if made later, says it was used. */
  #sent = false;

  constructor(body?: ResponseBody, init?: ResponseInit) {
    const held = heldBody(body);
    const status = init?.status;
    const statusText = init?.statusText;
    if (
      held === undefined ||
      (status !== undefined && !(Number.isInteger(status) && status >= MIN_STATUS && status <= MAX_STATUS)) ||
      (statusText !== undefined && !(typeof statusText === 'string' && REASON_PHRASE.test(statusText))) ||
      // Fetch: a body with a null body status is a TypeError.
      (held !== null && NULL_BODY_STATUSES.has(status ?? 200))
    ) {
      // Converted, refused, or a body kind kept by the runtime: its own Response decides.
      this.#real = new NativeResponse(body, init);
      return;
    }
    this.#body = held;
    if (status !== undefined) this.#status = status;
    if (statusText !== undefined) this.#statusText = statusText;
    const headers = (this.#headers = new Headers(init?.headers));
    // Fetch: a string body's type is text/plain;charset=UTF-8 unless the init gave one.
    if (typeof held === 'string' && !headers.has('content-type')) headers.set('content-type', 'text/plain;charset=UTF-8');
  }

  get status(): number {
    return this.#real ? this.#real.status : this.#status;
  }

  get ok(): boolean {
    const status = this.status;
    return status >= 200 && status <= 299;
  }

  get statusText(): string {
    return this.#real ? this.#real.statusText : this.#statusText;
  }

  /** One Headers object for the response's life; the runtime's Response, once made, is kept in step with it. */
  get headers(): Headers {
    return (this.#headers ??= this.#real!.headers);
  }

  get type(): Response['type'] {
    return this.#real ? this.#real.type : 'default';
  }

  get url(): string {
    return this.#real ? this.#real.url : '';
  }

  get redirected(): boolean {
    return this.#real ? this.#real.redirected : false;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#real === undefined && this.#body === null) return null;
    return this.#response().body;
  }

  get bodyUsed(): boolean {
    return this.#real ? this.#real.bodyUsed : this.#sent;
  }

  /** The runtime's Response for this one: made once, its headers brought in step with ours. */
  #response(): Response {
    let real = this.#real;
    if (real === undefined) {
      real = this.#real = new NativeResponse(this.#body, { status: this.#status, statusText: this.#statusText, headers: this.#headers });
      // Already sent from the held bytes: the Response's body must say so.
      if (this.#sent && real.body !== null) void real.arrayBuffer().catch(() => {});
    } else if (this.#headers !== undefined && this.#headers !== real.headers) {
      syncHeaders(real.headers, this.#headers);
    }
    return real;
  }

  static {
    takeHeld = (response) => {
      if (!(#body in response)) return undefined;
      const self = response as unknown as FastResponse;
      if (self.#real !== undefined || self.#sent) return undefined;
      self.#sent = true;
      const body = self.#body;
      return { status: self.#status, headers: self.#headers!, body: typeof body === 'string' ? encodeUtf8(body) : body };
    };
    // Response.json, Response.error and Response.redirect come from the runtime's (they make its Responses).
    Object.setPrototypeOf(FastResponse, NativeResponse);
    Object.setPrototypeOf(FastResponse.prototype, NativeResponse.prototype);
    // Every other getter and method, and the runtime's internal slots, answer from its Response for this one.
    delegateToRuntime(FastResponse, NativeResponse, RESPONSE_SLOTS, (self) => self.#response());
  }

  /** Every Response is one to `instanceof FastResponse` (the runtime's too), so the class can stand in for the global. */
  static [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && Object.prototype.isPrototypeOf.call(NativeResponse.prototype, value);
  }
}

/** A body kept as given: a string, or a copy of its bytes (as the runtime copies them); undefined for others. */
function heldBody(body: ResponseBody | undefined): HeldBody | undefined {
  if (body === null || body === undefined) return null;
  if (typeof body === 'string') return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body.slice(0));
  if (ArrayBuffer.isView(body) && body.buffer instanceof ArrayBuffer) {
    const copy = new Uint8Array(body.byteLength);
    copy.set(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
    return copy;
  }
  return undefined;
}

/**
 * Make FastResponse the global `Response` (opt-in): handlers and libraries that write
 * `new Response('ok')` then skip the runtime's web stream for string and byte bodies. Responses
 * made by the runtime (fetch, `Response.json`, …) still pass `instanceof Response`. Returns a
 * function that puts the previous global back.
 *
 * @example
 * const restore = installFastResponse();
 * // … serve …
 * restore();
 */
export function installFastResponse(): () => void {
  const previous = globalThis.Response;
  globalThis.Response = FastResponse as unknown as typeof Response;
  return () => {
    if (globalThis.Response === (FastResponse as unknown)) globalThis.Response = previous;
  };
}
