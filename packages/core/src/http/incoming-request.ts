/**
 * The Request a server handler receives. It is a real `Request` (instanceof, body, clone, every
 * Fetch API method) whose `signal` is made on first use: an AbortSignal per request is the most
 * expensive part of building one (Node 20's undici spends more on linking a `signal` init than on
 * the rest of the Request), and most handlers never look at it. A reset stream still aborts it,
 * whether the handler read `signal` before or after.
 */

/**
 * The Request's own signal slot, where the runtime keeps it (Node's undici reads it, not the
 * `signal` getter, when it copies a Request with `new Request(request, init)` or `fetch(request)`).
 * Found once on a probe instance; undefined on runtimes that keep it elsewhere, where copies then
 * do not follow a reset (pass `signal: request.signal` to them explicitly).
 */
const SIGNAL_SLOT: symbol | undefined = (() => {
  try {
    const probe = new Request('http://probe.invalid/');
    return Object.getOwnPropertySymbols(probe).find((s) => s.description === 'signal' && (probe as unknown as Record<symbol, unknown>)[s] === probe.signal);
  } catch {
    return undefined;
  }
})();

/** A server-side Request whose AbortSignal exists only once someone asks for it. */
export class IncomingRequest extends Request {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  /** The lazily made signal (installed below as the `signal` getter, which Request declares as a property). */
  #lazySignal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  static {
    // `signal` aborts when the peer resets the stream (or the connection closes) before the response is done.
    Object.defineProperty(IncomingRequest.prototype, 'signal', {
      get(this: IncomingRequest) {
        return this.#lazySignal();
      },
      configurable: true,
    });
    // Copies made with `new Request(this, …)` read the runtime's slot: an accessor on the prototype
    // points it at the lazy signal too. Its setter drops the signal the base constructor stores
    // there (no own property is made per instance, so the object keeps its fast shape).
    if (SIGNAL_SLOT !== undefined) {
      Object.defineProperty(IncomingRequest.prototype, SIGNAL_SLOT, {
        get(this: IncomingRequest) {
          return this.#lazySignal();
        },
        set() {},
        configurable: true,
      });
    }
  }

  /** The stream died: abort the signal now if it exists, or as soon as it is made. */
  abortWith(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}
