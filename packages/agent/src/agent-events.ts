/**
 * What the agent reports while it runs: one event per thing that happened, as data (for
 * `--log json` and programs) and as one plain sentence (for people reading stderr).
 */

export type AgentEvent =
  /** SVCB discovery (DESIGN.md "Discovery") found these endpoints for a bare `--intermediary` name; looked up again after `ttlSeconds`. */
  | { type: 'discovered'; name: string; endpoints: string[]; ttlSeconds: number }
  /** SVCB discovery failed; `stale` endpoints from an earlier answer are used meanwhile, if any. */
  | { type: 'discovery-failed'; name: string; reason: string; stale: boolean }
  /** An endpoint left the SVCB record set: its connections get GOAWAY, finish their requests and are not replaced. */
  | { type: 'endpoint-removed'; endpoint: string; connections: number }
  /**
   * A connection slot starts dialing. `endpoint` is the intermediary the slot belongs to (an
   * explicit URL, or one SVCB record's `tls://target:port`); `intermediary` the exact place dialed.
   */
  | { type: 'connecting'; connection: number; endpoint: string; intermediary: string }
  /** TLS and ALPN succeeded; SETTINGS and ORIGIN are on their way. */
  /**
   * The intermediary admitted the session (its admission PING or a first request arrived), or
   * `unconfirmed`: it said neither yes nor no within ADMISSION_WAIT_MS (an intermediary that does
   * not send the admission PING).
   */
  | { type: 'connected'; connection: number; endpoint: string; intermediary: string; origins: string[]; tlsVersion: string | null; /** The carrier's agreed protocol: ALPN `h2-reverse`, the WebSocket subprotocol, or `ptth`. */ carrier?: string; unconfirmed?: boolean }
  /** The intermediary ended the session with an error (GOAWAY) or spoke the wrong protocol: a setup problem, retried slowly. */
  | { type: 'refused'; connection: number; endpoint: string; reason: string; errorCode?: string }
  /** TCP or TLS failed before a session existed. */
  | { type: 'connect-failed'; connection: number; endpoint: string; reason: string }
  /** A live session ended. */
  | { type: 'disconnected'; connection: number; endpoint: string; reason: string }
  /** A PING went unanswered: the connection is taken for dead. */
  | { type: 'ping-timeout'; connection: number; endpoint: string; timeoutMs: number }
  | { type: 'reconnecting'; connection: number; endpoint: string; delayMs: number }
  /** The connection reached its maximum age: GOAWAY sent, it drains and is replaced. */
  | { type: 'rotating'; connection: number; endpoint: string; ageMs: number }
  /** `stop({ graceful: true })` began: GOAWAY was sent on every connection. */
  | { type: 'draining'; inFlight: number; connections: number }
  | { type: 'stopped' }
  /** The handler or upstream failed on a request (it was answered with 500 or reset). */
  | { type: 'request-error'; connection: number; endpoint: string; message: string };

/** How much an event matters, for `--log json` and log filters. */
export type AgentEventLevel = 'info' | 'warn' | 'error';

/** The level of each event type: failures the agent recovers from are warnings, refusals and request failures errors. */
export function agentEventLevel(event: AgentEvent): AgentEventLevel {
  switch (event.type) {
    case 'refused':
    case 'request-error':
      return 'error';
    case 'connect-failed':
    case 'disconnected':
    case 'ping-timeout':
    case 'discovery-failed':
      return 'warn';
    default:
      return 'info';
  }
}

/**
 * One `--log json` line's object. The shape is stable: `time` (ISO 8601), `level`, `event` (the
 * event type) and `fields` (everything else the event carries, possibly `{}`), plus `message`,
 * the plain sentence.
 */
export interface AgentLogRecord {
  time: string;
  level: AgentEventLevel;
  event: string;
  message: string;
  fields: Record<string, unknown>;
}

/** The event as a {@link AgentLogRecord}. */
export function agentLogRecord(event: AgentEvent, now: Date = new Date()): AgentLogRecord {
  const { type, ...fields } = event;
  return { time: now.toISOString(), level: agentEventLevel(event), event: type, message: describeAgentEvent(event), fields };
}

/** `40ms`, `1.5s`, `30s`, `5 min`: durations as people say them. */
export function formatDelay(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms >= 10_000) return `${Math.round(ms / 1000)}s`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  return `${(ms / 1000).toFixed(1)}s`;
}

/** The event as one plain sentence, without a trailing newline. */
export function describeAgentEvent(event: AgentEvent): string {
  switch (event.type) {
    case 'discovered':
      return `found ${event.name} through SVCB: ${event.endpoints.join(', ')} (looked up again in ${formatDelay(event.ttlSeconds * 1000)})`;
    case 'discovery-failed':
      return `SVCB discovery of ${event.name} failed: ${event.reason}${event.stale ? '; using the endpoints found before' : ''}`;
    case 'endpoint-removed':
      return `${event.endpoint} left the SVCB record set: its ${event.connections} connection${event.connections === 1 ? '' : 's'} finish in-flight requests and close`;
    case 'connecting':
      return `connection ${event.connection}: connecting to ${event.intermediary}`;
    case 'connected':
      return `connection ${event.connection}: connected to ${event.intermediary}${event.tlsVersion ? ` (${event.tlsVersion}, ${event.carrier ?? 'h2-reverse'})` : ''}; serving ${event.origins.join(', ')}${event.unconfirmed ? ' (the intermediary has not confirmed it admitted this agent)' : ''}`;
    case 'refused':
      return `${slotName(event)}: the intermediary refused this agent: ${event.reason}${event.errorCode ? ` (GOAWAY ${event.errorCode})` : ''}`;
    case 'connect-failed':
      return `${slotName(event)}: could not connect: ${event.reason}`;
    case 'disconnected':
      return `${slotName(event)}: disconnected: ${event.reason}`;
    case 'ping-timeout':
      return `${slotName(event)}: no answer to PING within ${formatDelay(event.timeoutMs)}; closing it as dead`;
    case 'reconnecting':
      return `${slotName(event)}: reconnecting in ${formatDelay(event.delayMs)}`;
    case 'rotating':
      return `${slotName(event)}: replacing it after ${formatDelay(event.ageMs)} (maximum age); in-flight requests finish first`;
    case 'draining':
      return `draining ${event.inFlight} in-flight request${event.inFlight === 1 ? '' : 's'} on ${event.connections} connection${event.connections === 1 ? '' : 's'}`;
    case 'stopped':
      return 'stopped';
    case 'request-error':
      return `${slotName(event)}: a request failed: ${event.message}`;
  }
}

/** `connection 3 (tls://proxy.example.net:8443)`: which slot, at which endpoint (connecting/connected name the dial instead). */
function slotName(event: { connection: number; endpoint: string }): string {
  return `connection ${event.connection} (${event.endpoint})`;
}
