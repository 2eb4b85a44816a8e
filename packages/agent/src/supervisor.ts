/**
 * The agent's connection supervision, runtime-neutral: it holds `connections` connection slots
 * to each endpoint of the intermediary (the URL given, or every ServiceMode record of a bare
 * name's SVCB record set, looked up again after each TTL), dials them through a
 * {@link DialCarrier} (carriers/tls.ts, carriers/websocket.ts), runs the HTTP/2 server session on
 * each carrier, PINGs it, rotates it after its maximum age (make before break), reconnects with
 * exponential backoff and jitter, and drains on stop. It imports no runtime module: the carriers
 * are given to it.
 */
import {
  connectQuic,
  connectSocket,
  type Endpoint,
  ErrorCode,
  errorCodeName,
  isAdmissionPing,
  REVERSED_RESETS_PER_WINDOW,
  RHTTP_ADMITTED_FRAME,
  RHTTP_AUTHENTICATE_FRAME,
  RHTTP_CHALLENGE_FRAME,
  type Http2Session,
  type Http3Session,
  type ServerStream,
  type StreamInfo,
} from '@rhttp/core';
import { backoffDelay, type BackoffPolicy } from './backoff.js';
import { describeConnectError } from './connect-errors.js';
import type { AgentEvent } from './agent-events.js';
import { CarrierDialError, type AnyCarrier, type Carrier, type Dial, type DialCarrier, type QuicCarrier } from './carrier.js';
import type { discoverIntermediaryDetails } from './discover.js';

/** PING period: well under the idle timeouts of NATs and load balancers (often 60 s or more). */
export const DEFAULT_PING_INTERVAL_MS = 30_000;
/** A PING unanswered this long means the path is dead even if TCP has not noticed. */
export const DEFAULT_PING_TIMEOUT_MS = 10_000;
/** How long `stop({ graceful: true })` waits for in-flight requests (SSE may never end), then closes; under Kubernetes' 30 s grace period. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 25_000;
/** Rotation times are spread over the last tenth of the maximum age, so the connections of one agent do not all rotate at once. */
const ROTATION_JITTER = 0.1;
/**
 * After a rotation's replacement connects, how long the old session still takes requests unless the
 * replacement gets one first: the intermediary registers it only once it has checked our certificate
 * and ORIGIN frame, and does not tell us when (a few round trips).
 */
const ROTATION_HANDOVER_MS = 1_000;
/**
 * How long "connected" waits for the intermediary's admission PING before it is said unconfirmed:
 * rhttp's intermediaries check a certificate and an ORIGIN frame in milliseconds; one that sends
 * no admission PING (another implementation) is then assumed to have admitted us.
 */
const ADMISSION_WAIT_MS = 5_000;
/** Shortest time discovered endpoints are kept: a TTL of 0 must not turn every reconnect into a DNS lookup. */
export const MIN_DISCOVERY_TTL_S = 30;
/** Longest time discovered endpoints are kept, whatever the TTL: an operator moving the intermediary should not wait a day. */
export const MAX_DISCOVERY_TTL_S = 3600;
/**
 * An endpoint that could not be reached at any of its addresses may have left the record set:
 * the name is looked up again, but no more often than this (a dead host must not turn every
 * backoff round into a DNS query).
 */
const REDISCOVERY_AFTER_FAILURE_MS = 5_000;
/** After our own GOAWAY has drained, how long we wait for the peer to close the carrier before destroying it. */
const SOCKET_LINGER_MS = 1_000;

/** One connection slot as `status()` shows it. */
export interface ConnectionStatus {
  connection: number;
  /** The endpoint this connection belongs to: the URL given, or one SVCB record's `tls://target:port`. */
  endpoint: string;
  state: 'idle' | 'connecting' | 'connected' | 'waiting' | 'stopped';
  /** ISO time the current session was established. */
  connectedSince?: string;
  rttMs?: number;
  openStreams: number;
  /** Failures since the last healthy connection (drives the backoff). */
  failures: number;
  lastError?: string;
  /** ISO time of the next attempt while `waiting`. */
  retryAt?: string;
}

/**
 * One intermediary endpoint as `status()` shows it: the URL given, or one ServiceMode record of
 * the SVCB record set (its target and port; the record's addresses are alternatives for it).
 */
export interface EndpointStatus {
  endpoint: string;
  /** Where its connections dial, in order: one address after the other when one cannot be reached. */
  dials: string[];
  /** Connections held to it now, of `connections`. */
  connected: number;
  connections: number;
  /** Requests it has sent us. */
  requests: number;
}

/** Options of {@link Supervisor}. */
export interface SupervisorOptions {
  /** Origins we claim, in our ORIGIN frame (serialized). */
  origins: string[];
  /** Slots per endpoint. */
  connectionsPerEndpoint: number;
  /** Opens a carrier to one dial (TLS or WebSocket). */
  dial: DialCarrier;
  /** The one endpoint of a URL given; without it, `discovery` names the endpoints. */
  fixed?: Dial;
  /** A bare name: how to look it up, and the TLS server name to use instead of each record's target. */
  discovery?: { name: string; lookup: () => ReturnType<typeof discoverIntermediaryDetails>; servername?: string };
  /** Answers every request the stream path leaves (see `Agent`). */
  handle: (request: Request, info: StreamInfo) => Response | Promise<Response>;
  /** The stream API's hot path: takes a request stream, or returns false to leave it to `handle`. */
  serveStream?: (stream: ServerStream) => void | false;
  emit: (event: AgentEvent) => void;
  backoff: BackoffPolicy;
  random?: () => number;
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
  maxConnectionAgeMs?: number;
}

/**
 * One intermediary the agent holds `connections` connections to: the URL given, or one SVCB
 * ServiceMode record's target and port. Its dials are alternatives for the one intermediary (the
 * record's addresses, then its WebSocket carrier), not separate intermediaries.
 */
interface EndpointSlots {
  label: string;
  dials: Dial[];
  slots: Slot[];
  /** Requests received over its connections. */
  requests: number;
  /** It left the record set: its slots finish their requests and stop. */
  removed: boolean;
}

interface Slot {
  index: number;
  endpoint: EndpointSlots;
  /** Dials made by this slot: all but the first are reconnects. */
  dials: number;
  state: ConnectionStatus['state'];
  failures: number;
  /** Aborts the dial in progress (stop, endpoint removed). */
  dialing?: AbortController;
  session?: AgentEngine;
  connectedAt?: number;
  lastError?: string;
  retryAt?: number;
  /** Ends the current backoff wait early (stop). */
  wake?: () => void;
  /** The session rotation replaces: it keeps taking requests until its replacement is registered. */
  replaced?: AgentEngine;
}

/** A reversed session's engine: HTTP/2 on a byte stream, HTTP/3 on QUIC. */
type AgentEngine = Http2Session | Http3Session;

/** What `serve` hears from a running session, whatever its engine. */
interface RunHooks {
  /** A request arrived (it is counted, and proves we are registered). */
  request(): void;
  /** The intermediary said it admitted us (the admission PING, or RHTTP_ADMITTED). */
  admitted(): void;
  error(error: unknown): void;
}

/** How a session ended, as the events say it. */
interface SessionEnd {
  type: 'refused' | 'connect-failed' | 'disconnected';
  reason: string;
  errorCode?: string;
}

/** One engine's session on its carrier, as `serve` drives it. */
interface RunningSession {
  session: AgentEngine;
  /** Settles (never rejects) once the session and its carrier are gone. */
  closed: Promise<Error | undefined>;
  /** Why it ended; `admitted`: the intermediary had admitted us. */
  end(error: Error | undefined, admitted: boolean): SessionEnd;
}

/** How one connection attempt ended. */
interface Outcome {
  /** The intermediary refused us: wait the long refusal delay. */
  refused: boolean;
  /** The session lived long enough to count as healthy: the backoff starts over. */
  healthy: boolean;
  /** We closed it on purpose (rotation): reconnect at once. */
  rotated?: boolean;
  /** No session came about (TCP/TLS/upgrade failed, not a refusal): try the next endpoint at once. */
  unreached?: boolean;
}

/** Holds the agent's connections from `start()` until `stop()`. */
export class Supervisor {
  private readonly options: SupervisorOptions;
  /** Endpoints by `target:port` (or the URL given), each with its connection slots. */
  private readonly endpoints = new Map<string, EndpointSlots>();
  private nextSlotIndex = 1;
  private readonly loops: Promise<void>[] = [];
  /** Sessions replaced by rotation that are still draining. */
  private readonly retired = new Set<AgentEngine>();
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  /** A bare name: the loop that looks it up again after each TTL, when it last asked, when it asks next, and what went wrong. */
  private discoveryTask: Promise<void> | undefined;
  private lastLookupAt = 0;
  private nextLookupAt = 0;
  private wakeDiscovery: (() => void) | undefined;
  private discoveryError: string | undefined;
  /** Dials after a slot's first one (reconnects after failures, refusals and rotations). */
  reconnects = 0;

  constructor(options: SupervisorOptions) {
    this.options = options;
    // A URL given is one endpoint; a bare name gets its endpoints from each SVCB answer (reconcile).
    if (options.fixed) this.addEndpoint(options.fixed.label, options.fixed.label, [options.fixed]);
  }

  /** Requests being answered right now, over all connections. */
  get inFlight(): number {
    let n = 0;
    for (const session of this.liveSessions()) n += session.openStreams;
    return n;
  }

  /** Every connection slot of every current endpoint. */
  private get slots(): Slot[] {
    return [...this.endpoints.values()].flatMap((e) => e.slots);
  }

  /** Open sessions: the slots' and those still draining (rotated, or of endpoints that left the record set). */
  private liveSessions(): Set<AgentEngine> {
    const live = new Set<AgentEngine>();
    for (const s of this.slots) if (s.session && !s.session.isClosed) live.add(s.session);
    for (const session of this.retired) if (!session.isClosed) live.add(session);
    return live;
  }

  /** Open the connections (each keeps itself up until `stop()`). */
  start(): void {
    if (this.state !== 'new') return;
    this.state = 'running';
    if (this.options.discovery) this.discoveryTask = this.discoveryLoop();
    for (const slot of this.slots) this.loops.push(this.runSlot(slot));
  }

  /**
   * Graceful: GOAWAY on every connection, wait for in-flight requests (at most `timeoutMs`), then
   * close; otherwise close at once. Resolves when every slot has stopped.
   */
  async stop(graceful: boolean, timeoutMs: number): Promise<void> {
    const wasStarted = this.state !== 'new';
    this.state = 'stopping';
    this.wakeDiscovery?.();
    for (const slot of this.slots) slot.wake?.();
    const live = [...this.liveSessions()];
    if (graceful && wasStarted) this.emit({ type: 'draining', inFlight: this.inFlight, connections: live.length });
    if (graceful && live.length > 0) {
      for (const session of live) session.goaway(ErrorCode.NO_ERROR, 'the agent is shutting down');
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([Promise.all(live.map((s) => s.closed)), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    for (const session of live) session.close();
    for (const slot of this.slots) {
      slot.session?.close();
      if (slot.state === 'connecting') slot.dialing?.abort();
    }
    await this.discoveryTask;
    await Promise.all(this.loops);
    this.state = 'stopped';
  }

  /** The endpoints as `status()` shows them. */
  endpointStatus(): EndpointStatus[] {
    return [...this.endpoints.values()].map((e) => ({
      endpoint: e.label,
      dials: e.dials.map((d) => d.label),
      connected: e.slots.filter((s) => s.state === 'connected').length,
      connections: e.slots.length,
      requests: e.requests,
    }));
  }

  /** The connection slots as `status()` shows them. */
  connectionStatus(): ConnectionStatus[] {
    return this.slots.map((s) => ({
      connection: s.index,
      endpoint: s.endpoint.label,
      state: s.state,
      connectedSince: s.state === 'connected' && s.connectedAt !== undefined ? new Date(s.connectedAt).toISOString() : undefined,
      rttMs: s.state === 'connected' ? s.session?.rttMs : undefined,
      openStreams: s.session && !s.session.isClosed ? s.session.openStreams : 0,
      failures: s.failures,
      lastError: s.lastError,
      retryAt: s.state === 'waiting' && s.retryAt !== undefined ? new Date(s.retryAt).toISOString() : undefined,
    }));
  }

  /** A bare name: the SVCB lookup's last error and, while running, when it asks next. */
  discoveryStatus(): { lastError?: string; nextLookup?: string } {
    return {
      lastError: this.discoveryError,
      nextLookup: this.running && this.nextLookupAt > 0 ? new Date(this.nextLookupAt).toISOString() : undefined,
    };
  }

  /** Slots per state (and rotated sessions still draining), PING round trips and per-endpoint figures. */
  connectionMetrics(): {
    connections: Record<ConnectionStatus['state'] | 'draining', number>;
    pingRttMs: { connection: number; endpoint: string; rttMs: number }[];
    endpoints: { endpoint: string; connected: number; requests: number }[];
  } {
    const connections: Record<ConnectionStatus['state'] | 'draining', number> = { idle: 0, connecting: 0, connected: 0, waiting: 0, stopped: 0, draining: this.retired.size };
    for (const s of this.slots) connections[s.state]++;
    const pingRttMs: { connection: number; endpoint: string; rttMs: number }[] = [];
    for (const s of this.slots) {
      const rttMs = s.state === 'connected' ? s.session?.rttMs : undefined;
      if (rttMs !== undefined) pingRttMs.push({ connection: s.index, endpoint: s.endpoint.label, rttMs });
    }
    const endpoints = [...this.endpoints.values()].map((e) => ({ endpoint: e.label, connected: e.slots.filter((s) => s.state === 'connected').length, requests: e.requests }));
    return { connections, pingRttMs, endpoints };
  }

  private emit(event: AgentEvent): void {
    this.options.emit(event);
  }

  private get running(): boolean {
    return this.state === 'running';
  }

  /** The slot should keep its connection: the agent runs and its endpoint is still in the record set. */
  private active(slot: Slot): boolean {
    return this.state === 'running' && !slot.endpoint.removed;
  }

  private async runSlot(slot: Slot): Promise<void> {
    while (this.active(slot)) {
      const outcome = await this.attempt(slot);
      if (!this.active(slot)) break;
      if (outcome.healthy) slot.failures = 0;
      if (outcome.rotated) continue;
      const delay = outcome.refused ? this.options.backoff.refusedMs : backoffDelay(slot.failures, this.options.backoff, this.options.random);
      slot.failures++;
      slot.state = 'waiting';
      slot.retryAt = Date.now() + delay;
      this.emit({ type: 'reconnecting', connection: slot.index, endpoint: slot.endpoint.label, delayMs: delay });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        slot.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      slot.wake = undefined;
      slot.retryAt = undefined;
    }
    // The endpoint left the record set while a rotation's replacement was being dialed: the old
    // session hands over to nobody, so it drains now.
    if (slot.replaced && this.running) slot.replaced.goaway(ErrorCode.NO_ERROR, 'the endpoint left the SVCB record set');
    slot.replaced = undefined;
    slot.state = 'stopped';
  }

  /**
   * One round: the endpoint's dials in order, moving to the next at once when one cannot be
   * reached (its addresses are alternatives). When none could be reached, the name is looked up
   * again soon: the record set may have changed. Never rejects.
   */
  private async attempt(slot: Slot): Promise<Outcome> {
    for (const dial of slot.endpoint.dials) {
      if (!this.active(slot)) break;
      const outcome = await this.connectOnce(slot, dial);
      if (!outcome.unreached) return outcome;
    }
    this.rediscoverSoon();
    return { refused: false, healthy: false };
  }

  /** A new endpoint with its slots (started when the agent runs). */
  private addEndpoint(key: string, label: string, dials: Dial[]): EndpointSlots {
    const endpoint: EndpointSlots = { label, dials, slots: [], requests: 0, removed: false };
    for (let i = 0; i < this.options.connectionsPerEndpoint; i++) endpoint.slots.push({ index: this.nextSlotIndex++, endpoint, dials: 0, state: 'idle', failures: 0 });
    this.endpoints.set(key, endpoint);
    if (this.running) for (const slot of endpoint.slots) this.loops.push(this.runSlot(slot));
    return endpoint;
  }

  /**
   * Brings the endpoints in line with an SVCB answer: new records get their slots, records still
   * there keep their slots (and backoff) with their addresses updated, and the slots of records
   * that are gone send GOAWAY, finish their in-flight requests and stop.
   */
  private reconcile(found: Map<string, { label: string; dials: Dial[] }>): void {
    for (const [key, { label, dials }] of found) {
      const known = this.endpoints.get(key);
      if (known) known.dials = dials;
      else this.addEndpoint(key, label, dials);
    }
    for (const [key, endpoint] of this.endpoints) {
      if (found.has(key)) continue;
      this.endpoints.delete(key);
      endpoint.removed = true;
      let draining = 0;
      for (const slot of endpoint.slots) {
        slot.wake?.();
        if (slot.state === 'connecting') slot.dialing?.abort();
        const session = slot.session;
        if (!session || session.isClosed) continue;
        draining++;
        this.retired.add(session);
        session.goaway(ErrorCode.NO_ERROR, 'the endpoint left the SVCB record set');
        // Requests such as SSE may never end: close after the same grace period as stop().
        const timer = setTimeout(() => session.close(), DEFAULT_DRAIN_TIMEOUT_MS);
        (timer as { unref?: () => void }).unref?.();
        void session.closed.then(() => clearTimeout(timer));
      }
      this.emit({ type: 'endpoint-removed', endpoint: endpoint.label, connections: draining });
    }
  }

  /** A bare name: look it up, hold connections to what it names, and look again after the TTL (sooner after failures). */
  private async discoveryLoop(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        const ttl = await this.discover();
        failures = 0;
        this.nextLookupAt = this.lastLookupAt + ttl * 1000;
      } catch {
        // Known endpoints keep serving (an unreachable resolver should not take down an agent that
        // knows where to go); the lookup is retried with the connections' backoff.
        this.nextLookupAt = Date.now() + backoffDelay(failures++, this.options.backoff, this.options.random);
      }
      while (this.running && Date.now() < this.nextLookupAt) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.nextLookupAt - Date.now());
          this.wakeDiscovery = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wakeDiscovery = undefined;
      }
    }
  }

  /** Look the name up again soon (an endpoint could not be reached), at most every `REDISCOVERY_AFTER_FAILURE_MS`. */
  private rediscoverSoon(): void {
    if (!this.options.discovery) return;
    const soonest = this.lastLookupAt + REDISCOVERY_AFTER_FAILURE_MS;
    if (soonest >= this.nextLookupAt) return;
    this.nextLookupAt = soonest;
    this.wakeDiscovery?.();
  }

  /** One SVCB lookup, applied to the endpoints. Resolves with the TTL to keep the answer for. */
  private async discover(): Promise<number> {
    const { name, lookup } = this.options.discovery!;
    this.lastLookupAt = Date.now();
    let found;
    try {
      found = await lookup();
    } catch (error) {
      this.discoveryError = (error as Error).message;
      this.emit({ type: 'discovery-failed', name, reason: this.discoveryError, stale: this.endpoints.size > 0 });
      throw error;
    }
    this.discoveryError = undefined;
    const ttl = Math.min(MAX_DISCOVERY_TTL_S, Math.max(MIN_DISCOVERY_TTL_S, Math.min(...found.records.map((r) => r.ttl))));
    const groups = this.endpointsOf(found.endpoints);
    this.emit({ type: 'discovered', name, endpoints: [...groups.values()].map(describeDials), ttlSeconds: ttl });
    if (this.running) this.reconcile(groups);
    return ttl;
  }

  /**
   * Discovered endpoints grouped into intermediaries: one per ServiceMode target and port (a record
   * listing both carriers is one intermediary reached either way), in the answer's order.
   */
  private endpointsOf(endpoints: Endpoint[]): Map<string, { label: string; dials: Dial[] }> {
    const groups = new Map<string, { label: string; dials: Dial[] }>();
    for (const e of endpoints) {
      const key = `${e.target.toLowerCase()}:${e.port}`;
      const group = groups.get(key) ?? { label: e.url, dials: [] };
      group.dials.push(...this.dialsOf(e));
      groups.set(key, group);
    }
    return groups;
  }

  /** A discovered endpoint as dials: TLS or QUIC once per address (the name stays the TLS server name), WebSocket by URL. */
  private dialsOf(e: Endpoint): Dial[] {
    if (e.carrier === 'ws') return [{ carrier: 'ws', host: e.target, port: e.port, url: e.url, label: e.url }];
    const servername = this.options.discovery?.servername ?? e.target;
    const addresses = e.addresses.length > 0 ? e.addresses : [e.target];
    return addresses.map((address) => ({
      carrier: e.carrier,
      host: address,
      port: e.port,
      servername,
      label: address === e.target ? e.url : `${e.url} (${address})`,
    }));
  }

  /** One connection from dial to close. Never rejects. */
  private async connectOnce(slot: Slot, dial: Dial): Promise<Outcome> {
    slot.dials++;
    if (slot.dials > 1) this.reconnects++;
    slot.state = 'connecting';
    slot.session = undefined;
    slot.connectedAt = undefined;
    this.emit({ type: 'connecting', connection: slot.index, endpoint: slot.endpoint.label, intermediary: dial.label });
    const dialing = new AbortController();
    slot.dialing = dialing;
    let carrier: AnyCarrier;
    try {
      carrier = await this.options.dial(dial, dialing.signal);
    } catch (error) {
      // A dial given up on (stop, the endpoint left the record set) is not a failure to report.
      if (!this.active(slot)) return { refused: false, healthy: false };
      const failure = error instanceof CarrierDialError ? error : new CarrierDialError((error as Error)?.message ?? String(error), { refused: false, unreached: true, cause: error });
      slot.lastError = failure.message;
      this.emit(
        failure.refused
          ? { type: 'refused', connection: slot.index, endpoint: slot.endpoint.label, reason: failure.message }
          : { type: 'connect-failed', connection: slot.index, endpoint: slot.endpoint.label, reason: failure.message },
      );
      return { refused: failure.refused, healthy: false, unreached: failure.unreached };
    } finally {
      slot.dialing = undefined;
    }
    if (!this.active(slot)) {
      carrier.destroy();
      return { refused: false, healthy: false };
    }
    return this.serve(slot, dial, carrier);
  }

  /** Run the reversed session on an established carrier until it closes: HTTP/2 on a byte stream, HTTP/3 on QUIC. */
  private async serve(slot: Slot, dial: Dial, carrier: AnyCarrier): Promise<Outcome> {
    let handOver: (() => void) | undefined;
    // "connected" is said once the intermediary admitted us, not when TLS or QUIC is up: a refusal
    // may still come after its certificate and ORIGIN checks (reverse/admission.ts).
    let admissionWait: ReturnType<typeof setTimeout> | undefined;
    let admitted = false;
    const origins = this.options.origins;
    const announce = (unconfirmed: boolean) => {
      if (admitted) return;
      admitted = true;
      clearTimeout(admissionWait);
      this.emit({ type: 'connected', connection: slot.index, endpoint: slot.endpoint.label, intermediary: dial.label, origins: [...origins], tlsVersion: carrier.protocol, carrier: carrier.alpnProtocol, ...(unconfirmed ? { unconfirmed } : {}) });
    };
    const hooks: RunHooks = {
      request: () => {
        announce(false);
        handOver?.();
        slot.endpoint.requests++;
      },
      admitted: () => announce(false),
      error: (error) => this.emit({ type: 'request-error', connection: slot.index, endpoint: slot.endpoint.label, message: (error as Error)?.message ?? String(error) }),
    };
    const run = 'quic' in carrier ? this.runHttp3(carrier, hooks) : this.runHttp2(slot, carrier, hooks);
    const session = run.session;
    const connectedAt = Date.now();
    slot.session = session;
    slot.connectedAt = connectedAt;
    slot.state = 'connected';
    admissionWait = setTimeout(() => announce(true), ADMISSION_WAIT_MS);
    // Make before break (draft §7.2): the session this one replaces stops taking requests only once
    // this one is registered, which its first request proves (or we assume after a while).
    const replaced = slot.replaced;
    slot.replaced = undefined;
    let handover: ReturnType<typeof setTimeout> | undefined;
    if (replaced) {
      handOver = () => {
        handOver = undefined;
        clearTimeout(handover);
        replaced.goaway(ErrorCode.NO_ERROR, 'connection rotation (maximum age)');
      };
      handover = setTimeout(handOver, ROTATION_HANDOVER_MS);
    }

    const closed = run.closed.then((error) => {
      this.retired.delete(session);
      if (handOver) {
        // Gone before taking over: the old session keeps serving until the next replacement.
        clearTimeout(handover);
        handOver = undefined;
        slot.replaced ??= replaced;
      }
      return { rotated: false as const, error };
    });
    let rotation: ReturnType<typeof setTimeout> | undefined;
    const maxAge = this.options.maxConnectionAgeMs;
    const rotated = new Promise<{ rotated: true }>((resolve) => {
      if (maxAge === undefined || maxAge <= 0) return;
      rotation = setTimeout(() => resolve({ rotated: true }), maxAge * (1 - ROTATION_JITTER * (this.options.random ?? Math.random)()));
    });
    const ended = await Promise.race([closed, rotated]);
    clearTimeout(rotation);
    clearTimeout(admissionWait);
    if (ended.rotated) {
      // This slot dials the replacement now; the old session gets GOAWAY once that one serves and
      // then drains on its own (in-flight requests finish).
      this.emit({ type: 'rotating', connection: slot.index, endpoint: slot.endpoint.label, ageMs: Date.now() - connectedAt });
      this.retired.add(session);
      slot.replaced = session;
      return { refused: false, healthy: true, rotated: true };
    }
    const healthy = Date.now() - connectedAt >= this.options.backoff.healthyAfterMs;
    if (!this.active(slot)) return { refused: false, healthy };
    const end = run.end(ended.error, admitted);
    slot.lastError = end.reason;
    if (end.type === 'refused') {
      this.emit({ type: 'refused', connection: slot.index, endpoint: slot.endpoint.label, reason: end.reason, ...(end.errorCode ? { errorCode: end.errorCode } : {}) });
      return { refused: true, healthy: false };
    }
    this.emit({ type: end.type, connection: slot.index, endpoint: slot.endpoint.label, reason: end.reason });
    return { refused: false, healthy: end.type === 'disconnected' && healthy };
  }

  /**
   * How either engine's server session takes requests: every stream meets `serveStream` first
   * when there is one (it may leave the request to `handle`, the Fetch path); each is counted.
   * The intermediary's resets are bounded as reverse/agent-limits.ts says, on both engines.
   */
  private requestPaths(hooks: RunHooks): {
    onStream?: (stream: ServerStream) => void | false;
    handler: SupervisorOptions['handle'];
    onError: (error: unknown) => void;
    limits: { maxResetsPerWindow: number };
  } {
    const { serveStream, handle } = this.options;
    return {
      limits: { maxResetsPerWindow: REVERSED_RESETS_PER_WINDOW },
      onStream: serveStream
        ? (stream) => {
            hooks.request();
            return serveStream(stream);
          }
        : undefined,
      handler: (request, info) => {
        if (!serveStream) hooks.request();
        return handle(request, info);
      },
      onError: hooks.error,
    };
  }

  /** HTTP/2 on a byte-stream carrier (TLS, WebSocket, ptth): PING keepalive, the admission PING, GOAWAY's reason. */
  private runHttp2(slot: Slot, carrier: Carrier, hooks: RunHooks): RunningSession {
    const socket = carrier.socket;
    let pingTimedOut = false;
    // In TLS 1.3 the server checks our certificate after our side of the handshake is done; when it
    // refuses it, Node's client sees only the connection end. Silence until then tells us that much.
    let heardFromPeer = false;
    const onFirstData = () => {
      heardFromPeer = true;
      socket.off('data', onFirstData);
    };
    socket.on('data', onFirstData);
    const session = connectSocket(socket, {
      role: 'server',
      // RFC 8336 / draft §2: the agent sends SETTINGS and then, immediately, ORIGIN with the origins it claims.
      origins: this.options.origins,
      ...this.requestPaths(hooks),
      onPing: (opaque) => {
        if (isAdmissionPing(opaque)) hooks.admitted();
      },
    });
    const stopKeepalive = this.keepalive(session, slot, () => {
      pingTimedOut = true;
      carrier.destroy();
    });
    const closed = session.closed.then(async (error) => {
      stopKeepalive();
      // Our side is done; give the peer a moment to close the carrier cleanly, then make sure it is
      // gone. Wait for it: the last response's final DATA frame may still sit in the socket's
      // buffer, and a process that exits now (after stop()) would cut it off.
      if (!socket.destroyed) {
        await new Promise<void>((resolve) => {
          const linger = setTimeout(() => {
            carrier.destroy();
            resolve();
          }, SOCKET_LINGER_MS);
          socket.once('close', () => {
            clearTimeout(linger);
            resolve();
          });
        });
      }
      return error;
    });
    const end = (error: Error | undefined): SessionEnd => {
      const goaway = session.connection.goawayReceived;
      if (goaway && goaway.errorCode !== ErrorCode.NO_ERROR) {
        const codeName = errorCodeName(goaway.errorCode);
        let debug = new TextDecoder().decode(goaway.debugData).trim();
        // Our engine prefixes the code name to the debug text; the event carries the code separately.
        if (debug.startsWith(`${codeName}: `)) debug = debug.slice(codeName.length + 2);
        return { type: 'refused', reason: debug || 'no reason given', errorCode: codeName };
      }
      if (!heardFromPeer && !carrier.error && !pingTimedOut) {
        const reason =
          'the intermediary closed the connection right after the TLS handshake without a word: it probably does not accept our certificate ' +
          '(check --cert/--key and that the intermediary trusts the CA that issued them)';
        return { type: 'connect-failed', reason };
      }
      let reason: string;
      if (pingTimedOut) reason = 'the intermediary stopped answering PINGs';
      else if (goaway) reason = `the intermediary is shutting down the connection (GOAWAY${goaway.debugData.length ? `: ${new TextDecoder().decode(goaway.debugData)}` : ''})`;
      else if (carrier.error) reason = describeConnectError(carrier.error, carrier.peer);
      else if (error) reason = error.message;
      else reason = 'the intermediary closed the connection';
      return { type: 'disconnected', reason };
    };
    return { session, closed, end };
  }

  /**
   * HTTP/3 on QUIC (`h3-reverse`): we are the HTTP/3 server on the intermediary's server-initiated
   * streams. The certificate is proven in-band (RHTTP_CHALLENGE → RHTTP_AUTHENTICATE, core's
   * reverse/quic-authentication.ts) and RHTTP_ADMITTED says we were admitted; QUIC keeps the path
   * alive (the carrier's keep-alive), so there is no PING.
   */
  private runHttp3(carrier: QuicCarrier, hooks: RunHooks): RunningSession {
    const session = connectQuic(carrier.quic, {
      role: 'server',
      quicRole: 'client',
      origins: this.options.origins,
      ...this.requestPaths(hooks),
      onExtensionFrame: (type, payload) => {
        if (type === RHTTP_CHALLENGE_FRAME) {
          carrier.answerChallenge(payload).then(
            (answer) => session.sendExtensionFrame(RHTTP_AUTHENTICATE_FRAME, answer),
            (error: unknown) => carrier.destroy(error instanceof Error ? error : new Error(String(error))),
          );
        } else if (type === RHTTP_ADMITTED_FRAME) hooks.admitted();
      },
    });
    const end = (error: Error | undefined, admitted: boolean): SessionEnd => {
      const goaway = session.connection.goawayReceived !== undefined;
      const reason =
        carrier.error?.message ?? error?.message ?? (goaway ? 'the intermediary is shutting down the connection (GOAWAY)' : 'the intermediary closed the QUIC connection');
      // Closed with an error before it ever admitted us: that is the intermediary's refusal (its reason says why).
      if (!admitted && (carrier.error || error)) return { type: 'refused', reason };
      return { type: 'disconnected', reason };
    };
    // session.closed waits for the QUIC connection itself: after a drain it lingers until the
    // intermediary has read our last response and closed (core's connect-quic.ts), so a process
    // that exits once it settles does not cut that response off.
    return { session, closed: session.closed, end };
  }

  /** PING every interval (the session's keepAlive); an unanswered PING is an event, then `dead`. Returns the function that stops it. */
  private keepalive(session: Http2Session, slot: Slot, dead: () => void): () => void {
    const timeoutMs = this.options.pingTimeoutMs ?? DEFAULT_PING_TIMEOUT_MS;
    return session.keepAlive({
      intervalMs: this.options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
      timeoutMs,
      onTimeout: () => {
        this.emit({ type: 'ping-timeout', connection: slot.index, endpoint: slot.endpoint.label, timeoutMs });
        dead();
      },
    });
  }
}

/** An endpoint as the `discovered` event names it: `tls://proxy.example.net:8443 (192.0.2.7, 192.0.2.8)`, plus ` or wss://…` (or ` or tls://…` after QUIC) alternatives. */
function describeDials(endpoint: { label: string; dials: Dial[] }): string {
  const first = endpoint.dials[0]?.carrier;
  const addresses = endpoint.dials.filter((d) => d.carrier === first && first !== 'ws' && d.label !== endpoint.label).map((d) => d.host);
  // The other carriers by URL, once each (their per-address labels end in " (ADDRESS)").
  const others = [...new Set(endpoint.dials.filter((d) => d.carrier !== first).map((d) => d.label.replace(/ \(.*\)$/, '')))];
  let text = endpoint.label;
  if (addresses.length > 0) text += ` (${addresses.join(', ')})`;
  for (const o of others) text += ` or ${o}`;
  return text;
}
