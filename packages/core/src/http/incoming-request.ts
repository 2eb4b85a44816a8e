/**
 * The Request a server handler receives. Two shapes, one contract (a working `Request`:
 * instanceof, body, clone, copies, every Fetch API method, a `signal` that a reset aborts):
 *
 * - {@link ServerRequest}, the usual one: answers method, url, headers and the body-reading
 *   methods from the stream itself, and makes the runtime's own Request (an {@link IncomingRequest})
 *   only when something needs it (`body`, `clone()`, `blob()`, `formData()`, a copy with
 *   `new Request(request)` or `fetch(request)`). Making an undici Request costs about as much as
 *   node:http2 spends on a whole request, and most handlers never need one.
 * - {@link IncomingRequest}, a Request subclass, for requests whose method or URL the runtime
 *   would rewrite or refuse (it does both checks itself), and on runtimes where a copy of a
 *   ServerRequest does not work (checked once at load).
 *
 * Both make their AbortSignal on first use: per request it is the most expensive part of a
 * Request in Node 20, and most handlers never look at it.
 */
import type { HeaderField } from '../frame/types.js';
import { concatBytes } from '../bytes.js';
import type { BodyReader } from './incoming-body.js';
import { requestFieldHeaders } from './fields.js';
import { delegateToRuntime } from './runtime-delegate.js';

/** The global Request when this module loaded (someone may replace the global later). */
const NativeRequest = Request;

/** A request body that can also be read as a web stream (IncomingBody). */
export type RequestBodySource = BodyReader & { readonly readable: ReadableStream<Uint8Array> };

/**
 * A request's abort, kept until someone asks for the signal: one per request, shared by a
 * ServerRequest and the IncomingRequest it makes, so both answer the same `signal`.
 */
export class RequestAbort {
  private controller: AbortController | undefined;
  private aborted = false;
  private reason: unknown;

  /** The signal, made now if nobody asked before; already aborted if the stream died. */
  signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}

/**
 * The Request's own signal slot, where the runtime keeps it (Node's undici reads it, not the
 * `signal` getter, when it copies a Request with `new Request(request, init)` or `fetch(request)`).
 * Found once on a probe instance; undefined on runtimes that keep it elsewhere, where copies then
 * do not follow a reset (pass `signal: request.signal` to them explicitly).
 */
const SIGNAL_SLOT: symbol | undefined = (() => {
  try {
    const probe = new NativeRequest('http://probe.invalid/');
    return Object.getOwnPropertySymbols(probe).find((s) => s.description === 'signal' && (probe as unknown as Record<symbol, unknown>)[s] === probe.signal);
  } catch {
    return undefined;
  }
})();

/** A server-side Request subclass whose AbortSignal exists only once someone asks for it. */
export class IncomingRequest extends NativeRequest {
  #abort: RequestAbort;

  constructor(input: string, init: RequestInit, abort = new RequestAbort()) {
    super(input, init);
    this.#abort = abort;
  }

  static {
    // `signal` aborts when the peer resets the stream (or the connection closes) before the response is done.
    Object.defineProperty(IncomingRequest.prototype, 'signal', {
      get(this: IncomingRequest) {
        return this.#abort.signal();
      },
      configurable: true,
    });
    // A clone whose signal follows this one's. The runtime's clone follows only a signal it made
    // itself (Node's undici links it to the original's internal controller): a copy of that
    // clone is given ours instead.
    const nativeClone = NativeRequest.prototype.clone;
    Object.defineProperty(IncomingRequest.prototype, 'clone', {
      value(this: IncomingRequest) {
        return new NativeRequest(nativeClone.call(this), { signal: this.signal });
      },
      writable: true,
      configurable: true,
    });
    // Copies made with `new Request(this, …)` read the runtime's slot: an accessor on the prototype
    // points it at the lazy signal too. Its setter drops the signal the base constructor stores
    // there (no own property is made per instance, so the object keeps its fast shape).
    if (SIGNAL_SLOT !== undefined) {
      Object.defineProperty(IncomingRequest.prototype, SIGNAL_SLOT, {
        get(this: IncomingRequest) {
          return this.#abort.signal();
        },
        set() {},
        configurable: true,
      });
    }
  }

  /** The stream died: abort the signal now if it exists, or as soon as it is made. */
  abortWith(reason: unknown): void {
    this.#abort.abort(reason);
  }
}

/** The symbol-keyed slots a Request instance carries on this runtime (none where they are private fields). */
const REQUEST_SLOTS: symbol[] = (() => {
  try {
    return Object.getOwnPropertySymbols(new NativeRequest('http://probe.invalid/', { method: 'POST', body: 'probe' }));
  } catch {
    return [];
  }
})();

const utf8 = new TextDecoder();

const bodyUnusable = () => new TypeError('Body is unusable: the request body was already read');

/**
 * A Request answered from the stream: `instanceof Request` holds (its prototype chain reaches
 * `Request.prototype`), method, url, headers, signal and the body as bytes, text or JSON come
 * without the runtime's Request; the rest is forwarded to one, made on first need. Reading the
 * body through the stream's bytes skips the ReadableStream, whose credit-on-read behaviour it keeps.
 */
export class ServerRequest {
  readonly #method: string;
  readonly #url: string;
  readonly #fields: readonly HeaderField[];
  readonly #body: RequestBodySource | null;
  readonly #abort: RequestAbort;
  #headers: Headers | undefined;
  #real: IncomingRequest | undefined;
  /** The body was (or is being) read through the bytes, not through a web stream. */
  #used = false;

  constructor(method: string, url: string, fields: readonly HeaderField[], body: RequestBodySource | null, abort = new RequestAbort()) {
    this.#method = method;
    this.#url = url;
    this.#fields = fields;
    this.#body = body;
    this.#abort = abort;
  }

  get method(): string {
    return this.#method;
  }

  get url(): string {
    return this.#url;
  }

  /** One Headers object for the request's life; the runtime's Request, once made, is kept in step with it. */
  get headers(): Headers {
    return (this.#headers ??= this.#real ? this.#real.headers : requestFieldHeaders(this.#fields));
  }

  get signal(): AbortSignal {
    return this.#abort.signal();
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#body === null && this.#real === undefined) return null;
    return this.#request().body;
  }

  get bodyUsed(): boolean {
    return this.#real ? this.#real.bodyUsed : this.#used;
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    if (this.#real) return this.#real.arrayBuffer();
    if (this.#body === null) return Promise.resolve(new ArrayBuffer(0));
    // #read() gives a new Uint8Array over the whole of a new ArrayBuffer.
    return this.#read(this.#body).then((bytes) => bytes.buffer as ArrayBuffer);
  }

  bytes(): Promise<Uint8Array> {
    if (this.#real) return (this.#real as unknown as { bytes(): Promise<Uint8Array> }).bytes();
    return this.#bytes();
  }

  text(): Promise<string> {
    if (this.#real) return this.#real.text();
    return this.#bytes().then((bytes) => utf8.decode(bytes));
  }

  json(): Promise<unknown> {
    if (this.#real) return this.#real.json();
    return this.#bytes().then((bytes) => JSON.parse(utf8.decode(bytes)));
  }

  blob(): Promise<Blob> {
    return this.#request().blob();
  }

  formData(): Promise<FormData> {
    return this.#request().formData();
  }

  clone(): Request {
    return this.#request().clone();
  }

  /** The stream died: abort the signal now if it exists, or as soon as it is made. */
  abortWith(reason: unknown): void {
    this.#abort.abort(reason);
  }

  /** The whole body as one copy of its bytes (empty for a bodyless request, which stays unused). */
  #bytes(): Promise<Uint8Array> {
    return this.#body === null ? Promise.resolve(new Uint8Array(0)) : this.#read(this.#body);
  }

  async #read(body: BodyReader): Promise<Uint8Array> {
    if (this.#used) throw bodyUnusable();
    this.#used = true;
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      // read() hands the chunk's flow-control credit back; it throws if the stream was reset.
      const chunk = body.read();
      if (chunk === undefined) {
        await body.wait();
        continue;
      }
      if (chunk === null) break;
      chunks.push(chunk);
      total += chunk.length;
    }
    // The chunks may be views of the transport's buffers (Node Buffers, whose slice() is a view
    // too): the caller gets its own copy, exactly as long as the body.
    if (chunks.length !== 1) return concatBytes(chunks, total);
    const copy = new Uint8Array(total);
    copy.set(chunks[0]);
    return copy;
  }

  /** The runtime's Request for this one: made once, its headers brought in step with ours. */
  #request(): IncomingRequest {
    let real = this.#real;
    if (real === undefined) {
      const body = this.#body;
      const init: RequestInit & { duplex: 'half' } = { method: this.#method, headers: this.#headers ?? requestFieldHeaders(this.#fields), body: null, duplex: 'half' };
      if (body !== null) init.body = this.#used ? new ReadableStream({ start: (c) => c.close() }) : body.readable;
      real = this.#real = new IncomingRequest(this.#url, init, this.#abort);
      // Already read through its bytes: the Request's body must say so (bodyUsed, a second read rejects).
      if (this.#used) void real.arrayBuffer().catch(() => {});
    } else if (this.#headers !== undefined && this.#headers !== real.headers) {
      syncHeaders(real.headers, this.#headers);
    }
    return real;
  }

  static {
    Object.setPrototypeOf(ServerRequest.prototype, NativeRequest.prototype);
    // `new request.constructor(…)` makes a Request, as it would on the runtime's own.
    Object.defineProperty(ServerRequest.prototype, 'constructor', { value: NativeRequest, writable: true, configurable: true });
    // Everything else a Request has (mode, cache, redirect, duplex, …) and the runtime's internal
    // slots (Node's undici reads them to copy a Request: `new Request(r)`, `fetch(r)`) answer
    // from the runtime's Request for this one.
    delegateToRuntime(ServerRequest, NativeRequest, REQUEST_SLOTS, (self) => self.#request());
  }
}

/** `to` made equal to `from` (names, values, order of Set-Cookie): the runtime's object kept in step with ours. */
export function syncHeaders(to: Headers, from: Headers): void {
  for (const name of [...to.keys()]) to.delete(name);
  from.forEach((value, name) => {
    if (name !== 'set-cookie') to.append(name, value);
  });
  for (const cookie of from.getSetCookie()) to.append('set-cookie', cookie);
}

/**
 * Whether a copy of a ServerRequest (`new Request(r)`, what `fetch(r)` does) works on this
 * runtime: checked once on a probe. Where it does not (the runtime keeps a Request's state in
 * private fields), server requests are IncomingRequests.
 */
const COPIES_WORK: boolean = (() => {
  try {
    const probe = new ServerRequest('PUT', 'http://probe.invalid/p?q', [['x-probe', '1']], null);
    const copy = new NativeRequest(probe as unknown as Request);
    return copy.method === 'PUT' && copy.url === 'http://probe.invalid/p?q' && copy.headers.get('x-probe') === '1' && probe instanceof NativeRequest;
  } catch {
    return false;
  }
})();

/** Methods the runtime's Request keeps as they are (others it may upper-case or refuse: it checks them itself). */
const PLAIN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);

/**
 * A URL the WHATWG parser would serialise unchanged: http(s), a lower-case host name whose labels
 * start with a letter (not IPv4, not punycode) or a dotted-quad IPv4, an optional non-default
 * port, and a path and query of characters it leaves alone, with no dot segment. Others go
 * through the runtime's Request, which normalises or refuses them.
 */
const PLAIN_URL = /^(https?):\/\/((?:[a-z][a-z0-9-]*\.)*[a-z][a-z0-9-]*|(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))(?::([1-9]\d{0,4}))?(\/[\w\-.~!$&'()*+,;=:@/%]*)(\?[\w\-.~!$&()*+,;=:@/%?]*)?$/;
const DOT_SEGMENT_OR_PUNYCODE = /\/\.|%2e|xn--/i;
const MAX_PORT = 65535;

function isPlainUrl(url: string): boolean {
  const m = PLAIN_URL.exec(url);
  if (m === null || DOT_SEGMENT_OR_PUNYCODE.test(m[2]) || DOT_SEGMENT_OR_PUNYCODE.test(m[4])) return false;
  if (m[3] !== undefined) {
    const port = Number(m[3]);
    // The parser drops a scheme's default port and refuses one above 65535.
    if (port > MAX_PORT || (m[1] === 'http' && port === 80) || (m[1] === 'https' && port === 443)) return false;
  }
  return true;
}

/**
 * The Request for a server handler: a ServerRequest when the runtime's Request would take the
 * method and URL as they are, else an IncomingRequest (which throws where the runtime refuses them).
 */
export function serverRequest(method: string, url: string, fields: readonly HeaderField[], body: RequestBodySource | null): ServerRequest | IncomingRequest {
  if (COPIES_WORK && PLAIN_METHODS.has(method) && isPlainUrl(url)) return new ServerRequest(method, url, fields, body);
  const request = new IncomingRequest(url, { method, body: body === null ? null : body.readable, duplex: 'half' } as RequestInit);
  requestFieldHeaders(fields, request.headers);
  return request;
}

/** For tests: whether this runtime gets ServerRequests (copies of them work here). */
export const serverRequestsAreLight = COPIES_WORK;
