/**
 * One broker per key (registrable domain): the registry of reversed sessions for that domain's
 * origins, and the dispatcher that sends browser requests over them. "Durable-Object style":
 * single-threaded, all state in memory, no I/O of its own; it schedules over `BrokerSession`.
 *
 * @example
 * const broker = new Broker({ key: 'example.com' });
 * broker.register(session);                       // after the session's origin set is known
 * const response = await broker.dispatch(request, { clientAddress: '203.0.113.7', scheme: 'https' });
 * // or, for a listener that relays bodies chunk by chunk (no web Response on the way):
 * const message = await broker.exchange(request, { clientAddress: '203.0.113.7', scheme: 'https' });
 */
import {
  BadRequestError, BrokerError, RequestRefusedError, ResponseTimeoutError, SessionLostError,
  SessionsBusyError, NoSessionError, OriginResetError,
} from './errors.js';
import { NULL_BODY_STATUSES, toResponse, type ResponseMessage } from '@rhttp/core';
import { forwardRequestFields, rewriteResponseFields } from './forwarding-headers.js';
import { originMatch, originOf, parseOriginEntry, serializeOrigin, type ParsedOrigin } from './origin-match.js';
import { DEFAULT_PROXY_NAME } from './proxy-status.js';
import type { AbortSignalLike, BrokerSession, DispatchInfo, Exchange, ForwardRequest, OutgoingRequest } from './session.js';
import { stripTunnelHandshakeFields } from './tunnel.js';
import { slowStartLimit } from './slow-start.js';

/** How long the origin gets to send response headers (nginx's proxy_read_timeout is 60 s; Cloudflare waits 100 s). */
export const DEFAULT_RESPONSE_TIMEOUT_MS = 100_000;
/** How long a request waits for a free stream when every session is full: long enough to ride out a burst, short enough that the browser hears back. */
export const DEFAULT_QUEUE_TIMEOUT_MS = 5_000;
/** Requests allowed to wait for a stream at once; beyond that the answer is an immediate 503 rather than unbounded memory. */
export const DEFAULT_MAX_QUEUED = 1_024;
/** Errors kept for the status page: enough to see a pattern, bounded so a storm cannot grow memory. */
export const RECENT_ERRORS_LIMIT = 50;
/** Parsed origin-set entries kept; a session's set is re-read on every dispatch, parsing it each time is waste. */
const ORIGIN_CACHE_LIMIT = 4_096;

export interface BrokerOptions {
  /** The key this broker serves (registrable domain), for status output. */
  key?: string;
  /** Time from sending a request until response headers must arrive; then 504. Default 100 s. */
  responseTimeoutMs?: number;
  /** Time a request may wait for a free stream when all sessions are full; then 503. Default 5 s. */
  queueTimeoutMs?: number;
  /** Most requests waiting for a stream at once. Default 1024. */
  maxQueued?: number;
  /** Name in `Proxy-Status` members of the broker's own error responses. Default `rhttp`. */
  proxyName?: string;
  /** Clock in ms (session ages, slow start, error timestamps). Default `Date.now`. */
  now?: () => number;
}

/** One session as the status page shows it. JSON-able: unlimited concurrency is `null`. */
export interface SessionStatus {
  id: string;
  origins: string[];
  openStreams: number;
  maxConcurrentStreams: number | null;
  draining: boolean;
  rttMs: number | null;
  ageMs: number;
}

export interface RecentError {
  /** ISO 8601 time. */
  at: string;
  code: string;
  status: number;
  message: string;
  sessionId?: string;
}

export interface BrokerCounters {
  /** Responses returned, by status class (`'2xx'`…), including the broker's own errors. */
  requests: Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx', number>;
  /** Requests sent a second time after a retryable refusal. */
  retries: number;
  /** Error responses the broker generated, by stable code. */
  errors: Record<string, number>;
  /** Dispatches that ended because the browser went away. */
  aborted: number;
}

/** JSON-able snapshot of a broker. */
export interface BrokerStatus {
  key: string;
  origins: string[];
  sessions: SessionStatus[];
  queued: number;
  counters: BrokerCounters;
  recentErrors: RecentError[];
}

interface SessionEntry {
  readonly session: BrokerSession;
  readonly registeredAt: number;
  /** Streams reserved by `#acquire` whose `session.open` has not settled: a floor for its open streams even if the session counts them late. */
  pending: number;
}

/** True when the session's rejection says the origin certainly did not process the request. */
function isRetryable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === true;
}

/** A body can be sent again only if nobody has started reading it (we never buffer to make it so). */
function bodyReplayable(request: ForwardRequest): boolean {
  return request.body === null || (!request.bodyUsed && !request.body.locked);
}

function statusClass(status: number): keyof BrokerCounters['requests'] {
  const c = Math.min(5, Math.max(1, Math.floor(status / 100)));
  return `${c}xx` as keyof BrokerCounters['requests'];
}

export class Broker {
  readonly key: string;
  readonly #entries = new Map<BrokerSession, SessionEntry>();
  readonly #waiters = new Set<() => void>();
  /** What this broker sets as its sessions' `onSlotFree`: queued requests look again. */
  readonly #onSlotFree = () => this.#wake();
  readonly #originCache = new Map<string, ParsedOrigin | null>();
  readonly #responseTimeoutMs: number;
  readonly #queueTimeoutMs: number;
  readonly #maxQueued: number;
  readonly #proxyName: string;
  readonly #now: () => number;
  readonly #counters: BrokerCounters = {
    requests: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
    retries: 0,
    errors: {},
    aborted: 0,
  };
  readonly #recentErrors: RecentError[] = [];

  constructor(options: BrokerOptions = {}) {
    this.key = options.key ?? '';
    this.#responseTimeoutMs = options.responseTimeoutMs ?? DEFAULT_RESPONSE_TIMEOUT_MS;
    this.#queueTimeoutMs = options.queueTimeoutMs ?? DEFAULT_QUEUE_TIMEOUT_MS;
    this.#maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    this.#proxyName = options.proxyName ?? DEFAULT_PROXY_NAME;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Adds a session; it starts taking requests at once, ramping up (slow start). Idempotent. The
   * broker sets the session's `onSlotFree` to hear when queued requests should look again.
   */
  register(session: BrokerSession): void {
    if (this.#entries.has(session)) return;
    this.#entries.set(session, { session, registeredAt: this.#now(), pending: 0 });
    session.onSlotFree = this.#onSlotFree;
    this.#wake();
  }

  /** Removes a session (closed sessions are also removed on their own at the next dispatch). In-flight requests on it are unaffected. */
  unregister(session: BrokerSession): void {
    if (!this.#entries.delete(session)) return;
    this.#release(session);
    this.#wake();
  }

  /**
   * Tell the broker a session changed in a way `onSlotFree` does not cover (its origin set grew)
   * so queued requests look again now.
   */
  sessionChanged(): void {
    this.#wake();
  }

  /** Registered sessions that are not closed, in registration order (draining ones included). */
  get sessions(): BrokerSession[] {
    this.#reap();
    return [...this.#entries.keys()];
  }

  /** True when the broker has no sessions and nobody waiting: a registry may drop it. */
  get idle(): boolean {
    this.#reap();
    return this.#entries.size === 0 && this.#waiters.size === 0;
  }

  /** Union of the origin sets of live, non-draining sessions (what this broker currently serves), deduplicated. */
  origins(): string[] {
    this.#reap();
    const seen = new Set<string>();
    for (const { session } of this.#entries.values()) {
      if (session.draining) continue;
      for (const o of session.origins) {
        const parsed = this.#parse(o);
        if (parsed) seen.add(serializeOrigin(parsed));
      }
    }
    return [...seen];
  }

  /** JSON-able snapshot for status pages and metrics. */
  status(): BrokerStatus {
    this.#reap();
    const now = this.#now();
    return {
      key: this.key,
      origins: this.origins(),
      sessions: [...this.#entries.values()].map(({ session, registeredAt }) => ({
        id: session.id,
        origins: [...session.origins],
        openStreams: session.openStreams,
        maxConcurrentStreams: Number.isFinite(session.maxConcurrentStreams) ? session.maxConcurrentStreams : null,
        draining: session.draining,
        rttMs: session.rttMs ?? null,
        ageMs: Math.max(0, now - registeredAt),
      })),
      queued: this.#waiters.size,
      counters: structuredClone(this.#counters),
      recentErrors: this.#recentErrors.map((e) => ({ ...e })),
    };
  }

  /**
   * Sends `request` to its origin over the best session and returns the origin's response
   * (headers rewritten, body streamed untouched), or the broker's own error response
   * (503/502/504/400 with `Proxy-Status`). Rejects only when `info.signal` aborts, with its reason.
   * The Fetch adapter of {@link exchange}.
   */
  async dispatch(request: ForwardRequest, info: DispatchInfo): Promise<Response> {
    return toResponse(await this.exchange(request, info));
  }

  /**
   * {@link dispatch} as a message (status, fields, a body read chunk by chunk with credit going
   * back to the agent as it is read, trailers): what a listener relays without web objects.
   */
  exchange(request: ForwardRequest, info: DispatchInfo): Promise<ResponseMessage> {
    return this.#dispatch(request, info, undefined);
  }

  /**
   * Like `dispatch`, but sends `request` (POST-like, see tunnel.ts) as an extended CONNECT with
   * `:protocol` = `protocol` (RFC 8441), or a plain CONNECT (RFC 9113 §8.5) when `protocol` is
   * empty, over a session that takes tunnels (`BrokerSession.tunnels`); same routing, timeouts
   * and error responses. A 2xx response's body is the tunnel toward the browser.
   */
  async tunnel(request: ForwardRequest, protocol: string, info: DispatchInfo): Promise<Response> {
    return toResponse(await this.#dispatch(request, info, protocol));
  }

  async #dispatch(request: ForwardRequest, info: DispatchInfo, protocol: string | undefined): Promise<ResponseMessage> {
    let response: ResponseMessage;
    try {
      response = await this.#forward(request, info, protocol);
    } catch (error) {
      if (!(error instanceof BrokerError)) {
        if (info.signal?.aborted) this.#counters.aborted++;
        throw error;
      }
      this.#recordError(error);
      response = error.toMessage(this.#proxyName);
    }
    this.#counters.requests[statusClass(response.status)]++;
    return response;
  }

  async #forward(request: ForwardRequest, info: DispatchInfo, protocol: string | undefined): Promise<ResponseMessage> {
    let url: URL;
    try {
      url = typeof request.url === 'string' ? new URL(request.url) : request.url;
    } catch {
      throw new BadRequestError('This request has no http or https authority to forward to.');
    }
    const target = originOf(request, url);
    if (target === undefined) throw new BadRequestError('This request has no http or https authority to forward to.');
    const label = serializeOrigin(target);
    if (request.bodyUsed) throw new BadRequestError('The request body was already read before it could be forwarded.');
    const fields = forwardRequestFields(request.headers, {
      clientAddress: info.clientAddress,
      scheme: info.scheme,
      host: info.host ?? url.host,
      httpVersion: info.httpVersion ?? '1.1',
      viaName: info.viaName,
    });
    if (protocol !== undefined) stripTunnelHandshakeFields(fields, protocol);

    const clientSignal = info.signal;
    if (clientSignal?.aborted) throw clientSignal.reason;
    // The browser leaving, or the response timeout, cancels the exchange in flight (no
    // AbortController of our own: the exchange is told directly).
    let exchange: Exchange | undefined;
    let stopped: unknown;
    const stop = (reason: unknown) => {
      stopped ??= reason;
      exchange?.cancel(reason);
    };
    const onClientAbort = () => stop(clientSignal?.reason);
    clientSignal?.addEventListener('abort', onClientAbort, { once: true });
    let delivered = false;
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let exclude: BrokerSession | undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        const acquired = this.#acquire(target, label, exclude, clientSignal, protocol !== undefined);
        const entry = acquired instanceof Promise ? await acquired : acquired;
        timer ??= setTimeout(() => {
          timedOut = true;
          stop(new ResponseTimeoutError(label, this.#responseTimeoutMs, { sessionId: entry.session.id }));
        }, this.#responseTimeoutMs);
        const sessionId = entry.session.id;
        let response: ResponseMessage;
        try {
          if (stopped !== undefined) throw stopped;
          // The body is passed as is (no tee, no buffering) and no Request is built for it.
          const outgoing: OutgoingRequest = protocol === undefined
            ? { method: request.method, url, fields, body: request.body }
            : { method: 'CONNECT', url, fields, body: request.body, ...(protocol === '' ? {} : { protocol }) };
          exchange = entry.session.open(outgoing);
          response = await exchange.response;
        } catch (error) {
          if (timedOut) throw new ResponseTimeoutError(label, this.#responseTimeoutMs, { sessionId, cause: error });
          if (clientSignal?.aborted) throw clientSignal.reason;
          if (isRetryable(error)) {
            // DESIGN "Drain": refused/unprocessed streams are retried once on another session
            // when the body has not been consumed.
            if (attempt === 0 && bodyReplayable(request)) {
              this.#counters.retries++;
              exclude = entry.session;
              exchange = undefined;
              continue;
            }
            throw new RequestRefusedError(label, { sessionId, cause: error });
          }
          throw this.#sessionFailure(entry.session, label, error);
        } finally {
          entry.pending--;
          this.#wake();
        }
        clearTimeout(timer);
        const forwarded = this.#toBrowser(response, info, sessionId, label);
        delivered = true;
        return forwarded;
      }
    } finally {
      clearTimeout(timer);
      // After delivery the listener stays: the browser leaving mid-body must still cancel the stream.
      if (!delivered) clientSignal?.removeEventListener('abort', onClientAbort);
    }
  }

  #toBrowser(response: ResponseMessage, info: DispatchInfo, sessionId: string, label: string): ResponseMessage {
    if (response.status < 200 || response.status > 599) {
      response.body?.cancel();
      throw new OriginResetError(label, { sessionId, details: `origin sent unusable status ${response.status}` });
    }
    // The session's response is ours: its fields are rewritten in place.
    rewriteResponseFields(response.fields, info.viaName);
    if (NULL_BODY_STATUSES.has(response.status) && response.body !== null) {
      response.body.cancel();
      return { status: response.status, fields: response.fields, body: null, trailers: undefined };
    }
    return response;
  }

  /** Classifies a non-retryable rejection: the whole session died (502 connection_terminated) or just this stream was reset (502 http_protocol_error). */
  #sessionFailure(session: BrokerSession, label: string, error: unknown): BrokerError {
    const e = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; errorCode?: unknown };
    if (session.isClosed || e.code === 'ERR_HTTP2_SESSION_CLOSED') return new SessionLostError(label, { sessionId: session.id, cause: error });
    const details = typeof e.errorCode === 'number'
      ? `stream reset before response (HTTP/2 error 0x${e.errorCode.toString(16)})`
      : 'stream reset before response';
    return new OriginResetError(label, { sessionId: session.id, cause: error, details });
  }

  /** True when a live, non-draining session covers `target` (a request to it would not get 503 `destination_unavailable`). */
  serves(target: ParsedOrigin): boolean {
    this.#reap();
    // Asked on the cleartext listener per request: the first covering session answers, no candidate list is built.
    for (const entry of this.#entries.values()) if (this.#coverage(entry, target, false) !== undefined) return true;
    return false;
  }

  /**
   * A session that can take a stream for `target` now, reserved (`pending`, released by the
   * caller); undefined when every candidate is at its limit. Throws NoSessionError when none
   * serves `target`, or the signal's reason.
   */
  #tryAcquire(target: ParsedOrigin, label: string, exclude: BrokerSession | undefined, signal: AbortSignalLike | undefined, tunnel: boolean): SessionEntry | undefined {
    if (signal?.aborted) throw signal.reason;
    const candidates = this.#candidates(target, tunnel);
    if (candidates.length === 0) throw new NoSessionError(label);
    const chosen = this.#choose(candidates, exclude);
    // Reserve the stream now: between here and `session.open` other dispatches may choose too.
    if (chosen) chosen.pending++;
    return chosen;
  }

  /**
   * {@link #tryAcquire}, waiting (queued, up to the queue timeout) while every candidate is at
   * its limit: a promise only then, so the common case costs no await. Throws NoSession/Busy errors or the signal's reason.
   */
  #acquire(target: ParsedOrigin, label: string, exclude: BrokerSession | undefined, signal: AbortSignalLike | undefined, tunnel = false): SessionEntry | Promise<SessionEntry> {
    return this.#tryAcquire(target, label, exclude, signal, tunnel) ?? this.#waitForSlot(target, label, exclude, signal, tunnel);
  }

  async #waitForSlot(target: ParsedOrigin, label: string, exclude: BrokerSession | undefined, signal: AbortSignalLike | undefined, tunnel: boolean): Promise<SessionEntry> {
    if (this.#waiters.size >= this.#maxQueued) throw new SessionsBusyError(label, { details: 'wait queue full' });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.#wake();
    }, this.#queueTimeoutMs);
    try {
      for (;;) {
        // Woken by a session's `onSlotFree`, a reservation released, a session added or removed, or the queue timeout.
        await this.#nextWake(signal);
        const chosen = this.#tryAcquire(target, label, exclude, signal, tunnel);
        if (chosen) return chosen;
        if (timedOut) throw new SessionsBusyError(label);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Live, non-draining sessions whose origin set covers `target`. Exact beats wildcard: if any
   * session lists the origin exactly, only those are candidates.
   */
  #candidates(target: ParsedOrigin, tunnel = false): SessionEntry[] {
    this.#reap();
    const exact: SessionEntry[] = [];
    const wildcard: SessionEntry[] = [];
    for (const entry of this.#entries.values()) {
      const best = this.#coverage(entry, target, tunnel);
      if (best === 'exact') exact.push(entry);
      else if (best === 'wildcard') wildcard.push(entry);
    }
    return exact.length > 0 ? exact : wildcard;
  }

  /** How `entry`'s session may take a new stream for `target`: by an exact entry, a wildcard one, or not at all (draining, closed, no tunnels when one is asked for, or no entry covers it). */
  #coverage(entry: SessionEntry, target: ParsedOrigin, tunnel: boolean): 'exact' | 'wildcard' | undefined {
    const { session } = entry;
    // DESIGN "Drain": a session that sent or received GOAWAY takes no new streams.
    if (session.draining || session.isClosed) return undefined;
    if (tunnel && !session.tunnels) return undefined;
    let best: 'exact' | 'wildcard' | undefined;
    for (const o of session.origins) {
      const parsed = this.#parse(o);
      const m = parsed && originMatch(parsed, target);
      if (m === 'exact') return m;
      if (m === 'wildcard') best = m;
    }
    return best;
  }

  /**
   * Picks the candidate with the fewest open streams that is below its peer's
   * SETTINGS_MAX_CONCURRENT_STREAMS; prefers sessions within their slow-start allowance, but the
   * ramp never makes a request wait (nor does it apply to a lone session). `exclude` (a session
   * that just refused) is used only when no other candidate exists.
   */
  #choose(candidates: SessionEntry[], exclude: BrokerSession | undefined): SessionEntry | undefined {
    const skip = exclude !== undefined && candidates.length > 1 && candidates.some((e) => e.session === exclude) ? exclude : undefined;
    const rampApplies = candidates.length - (skip ? 1 : 0) > 1;
    const now = rampApplies ? this.#now() : 0;
    // The least loaded open candidate, and the least loaded within its slow-start allowance (preferred).
    let open: SessionEntry | undefined;
    let openLoad = Infinity;
    let ramped: SessionEntry | undefined;
    let rampedLoad = Infinity;
    for (const e of candidates) {
      if (e.session === skip) continue;
      const load = Math.max(e.session.openStreams, e.pending);
      // RFC 9113 §5.1.2: "An endpoint that receives a HEADERS frame that causes its advertised
      // concurrent stream limit to be exceeded MUST treat this as a stream error" — so never exceed it.
      if (load >= e.session.maxConcurrentStreams) continue;
      if (load < openLoad) {
        open = e;
        openLoad = load;
      }
      if (rampApplies && load < rampedLoad && load < slowStartLimit(now - e.registeredAt, e.session.maxConcurrentStreams)) {
        ramped = e;
        rampedLoad = load;
      }
    }
    return ramped ?? open;
  }

  #nextWake(signal: AbortSignalLike | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = () => {
        this.#waiters.delete(waiter);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter = () => {
        done();
        resolve();
      };
      const onAbort = () => {
        done();
        reject(signal?.reason);
      };
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  #reap(): void {
    for (const session of this.#entries.keys()) {
      if (!session.isClosed) continue;
      this.#entries.delete(session);
      this.#release(session);
    }
  }

  /** A session that left stops calling this broker (unless another broker took it meanwhile). */
  #release(session: BrokerSession): void {
    if (session.onSlotFree === this.#onSlotFree) session.onSlotFree = undefined;
  }

  #parse(serialized: string): ParsedOrigin | undefined {
    let parsed = this.#originCache.get(serialized);
    if (parsed === undefined) {
      if (this.#originCache.size >= ORIGIN_CACHE_LIMIT) this.#originCache.clear();
      parsed = parseOriginEntry(serialized) ?? null;
      this.#originCache.set(serialized, parsed);
    }
    return parsed ?? undefined;
  }

  #recordError(error: BrokerError): void {
    this.#counters.errors[error.code] = (this.#counters.errors[error.code] ?? 0) + 1;
    this.#recentErrors.push({
      at: new Date(this.#now()).toISOString(),
      code: error.code,
      status: error.status,
      message: error.message,
      ...(error.sessionId === undefined ? {} : { sessionId: error.sessionId }),
    });
    if (this.#recentErrors.length > RECENT_ERRORS_LIMIT) this.#recentErrors.shift();
  }
}
