/**
 * Sharded brokers (issue 15 item 1; docs/edge.md, "Shards"). An origin's agent connections are
 * spread over `BROKER_SHARDS` broker objects per registrable domain instead of one, so one
 * object's CPU no longer caps a popular origin.
 *
 * - Names: shard 0 is the object named by the registrable domain alone (what a single broker has
 *   always been called, so BROKER_SHARDS=1 is today's edge, object for object); shard k > 0 is
 *   `{domain}#shard-{k}`.
 * - Agents: the Worker asks every shard how many agent connections it holds (one small internal
 *   request each, only when an agent connects) and sends the upgrade to the least loaded one.
 * - Browsers: the Worker picks a shard round-robin among those not recently seen empty (isolate
 *   memory, `EMPTY_SHARD_TTL_MS`). A shard with no live, non-draining session for the request's
 *   origin passes the request, body untouched, to the next shard of the ring; the shard that
 *   serves it says which it is, and the Worker remembers the ones that passed as empty. So a
 *   request never ends on an empty shard while another has a session, and the cache is only a
 *   hint: a stale entry costs one hop, never a failed request.
 */

/** The Worker → object header naming the shard a request is for: `{index}`. Set only by the Worker or a shard; a browser's copy is overwritten. */
export const SHARD_HEADER = 'x-rhttp-shard';
/** The object → object header: how many shards already passed this request on (stops the ring after one round). */
export const SHARD_HOPS_HEADER = 'x-rhttp-shard-hops';
/** The object → Worker response header: the shard that served a request some other shard passed on (the Worker removes it). */
export const SERVED_BY_HEADER = 'x-rhttp-served-by-shard';
/** The internal path on which a shard answers its agent-connection count (the Worker asks when an agent connects). */
export const SHARD_LOAD_PATH = '/.rhttp/shard-load';

/** Most shards per registrable domain: an agent upgrade asks each one for its load, and the status page asks each one for its status. */
export const MAX_BROKER_SHARDS = 64;
/**
 * How long the Worker skips a shard it saw pass a request on (no session there). Short, so a
 * shard that an agent just joined gets browser traffic within seconds; a wrong guess either way
 * costs one object-to-object hop, never a failed request.
 */
export const EMPTY_SHARD_TTL_MS = 5_000;
/** Domains whose empty-shard hints an isolate keeps; beyond it the oldest are dropped (bounded memory). */
const EMPTY_HINT_DOMAINS_LIMIT = 10_000;

/** `BROKER_SHARDS` as a count: an integer 1…MAX_BROKER_SHARDS; absent means 1. Throws on anything else. */
export function shardCount(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return 1;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_BROKER_SHARDS) {
    throw new Error(`BROKER_SHARDS must be an integer from 1 to ${MAX_BROKER_SHARDS} (got ${JSON.stringify(value)})`);
  }
  return n;
}

/** The Durable Object name of shard `index` of `domain`. */
export function shardName(domain: string, index: number): string {
  return index === 0 ? domain : `${domain}#shard-${index}`;
}

/** The shard index a request carries (the Worker's header), or 0. */
export function requestShard(request: Request, shards: number): number {
  const n = Number(request.headers.get(SHARD_HEADER) ?? '0');
  return Number.isInteger(n) && n >= 0 && n < shards ? n : 0;
}

/** A copy of `request` (body passed on, not read) with `fields` set. */
export function withFields(request: Request, fields: Record<string, string>): Request {
  const headers = new Headers(request.headers);
  for (const [name, value] of Object.entries(fields)) headers.set(name, value);
  return new Request(request, { headers });
}

/**
 * The Worker's per-isolate view of which shards recently had no session, per domain. Nothing in
 * it is needed for correctness: the shards pass on what they cannot serve.
 */
export class ShardHints {
  readonly #empty = new Map<string, Map<number, number>>();
  #next = 0;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** The shard to send a browser request for `domain` to: round-robin over the shards not known empty. */
  pick(domain: string, shards: number): number {
    if (shards === 1) return 0;
    const empty = this.#empty.get(domain);
    const now = this.#now();
    const live: number[] = [];
    for (let i = 0; i < shards; i++) {
      const until = empty?.get(i);
      if (until === undefined || until <= now) live.push(i);
    }
    const pool = live.length > 0 ? live : [...Array(shards).keys()];
    this.#next = (this.#next + 1) % 1_000_000;
    return pool[this.#next % pool.length];
  }

  /** An agent connection was just sent to `shard`: it is not empty any more (for this isolate at once; others within the TTL). */
  joined(domain: string, shard: number): void {
    this.#empty.get(domain)?.delete(shard);
  }

  /** The request sent to `from` was served by `servedBy`: the shards between them on the ring passed it on (empty). */
  passedOn(domain: string, shards: number, from: number, servedBy: number): void {
    if (!Number.isInteger(servedBy) || servedBy < 0 || servedBy >= shards) return;
    let empty = this.#empty.get(domain);
    if (empty === undefined) {
      if (this.#empty.size >= EMPTY_HINT_DOMAINS_LIMIT) this.#empty.delete(this.#empty.keys().next().value!);
      empty = new Map();
      this.#empty.set(domain, empty);
    }
    const until = this.#now() + EMPTY_SHARD_TTL_MS;
    for (let i = from; i !== servedBy; i = (i + 1) % shards) empty.set(i, until);
    empty.delete(servedBy);
  }
}

/** What a shard's status looks like to the merge (BrokerStatus + the object's agent connections). */
interface ShardStatus {
  key: string;
  origins: string[];
  sessions: Array<Record<string, unknown>>;
  queued: number;
  counters: { requests: Record<string, number>; retries: number; errors: Record<string, number>; aborted: number };
  recentErrors: Array<{ at: string } & Record<string, unknown>>;
  agentConnections?: Array<Record<string, unknown>>;
}

/** Most recent errors in the merged status (as one broker keeps). */
const MERGED_RECENT_ERRORS = 50;

/**
 * One status document for all shards of a domain: the same top-level fields as one broker's
 * (sessions and agent connections tagged with their `shard`, counters summed, origins unioned)
 * plus `shards`, each shard's own status.
 */
export function mergeShardStatus(statuses: ShardStatus[]): Record<string, unknown> {
  const sum = (into: Record<string, number>, from: Record<string, number>) => {
    for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  };
  const requests: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let retries = 0;
  let aborted = 0;
  for (const s of statuses) {
    sum(requests, s.counters.requests);
    sum(errors, s.counters.errors);
    retries += s.counters.retries;
    aborted += s.counters.aborted;
  }
  return {
    key: statuses[0]?.key ?? '',
    origins: [...new Set(statuses.flatMap((s) => s.origins))],
    sessions: statuses.flatMap((s, shard) => s.sessions.map((session) => ({ ...session, shard }))),
    agentConnections: statuses.flatMap((s, shard) => (s.agentConnections ?? []).map((c) => ({ ...c, shard }))),
    queued: statuses.reduce((n, s) => n + s.queued, 0),
    counters: { requests, retries, errors, aborted },
    recentErrors: statuses
      .flatMap((s, shard) => s.recentErrors.map((e) => ({ ...e, shard })))
      .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
      .slice(-MERGED_RECENT_ERRORS),
    shards: statuses.map((s, shard) => ({ shard, sessions: s.sessions.length, agentConnections: s.agentConnections?.length ?? 0, queued: s.queued, origins: s.origins })),
  };
}
