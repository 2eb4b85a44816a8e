/** Unit tests of the Worker's shard arithmetic (apps/edge/src/shards.ts): names, the count, the empty-shard hints, the merged status. */
import { describe, expect, it } from 'vitest';
import { EMPTY_SHARD_TTL_MS, MAX_BROKER_SHARDS, ShardHints, mergeShardStatus, shardCount, shardName } from '../src/shards.js';

describe('shardCount / shardName', () => {
  it('absent is 1; integers 1…MAX; anything else is refused', () => {
    expect(shardCount(undefined)).toBe(1);
    expect(shardCount('')).toBe(1);
    expect(shardCount('4')).toBe(4);
    expect(shardCount(String(MAX_BROKER_SHARDS))).toBe(MAX_BROKER_SHARDS);
    for (const bad of ['0', '-1', '1.5', 'two', String(MAX_BROKER_SHARDS + 1)]) expect(() => shardCount(bad)).toThrow(/BROKER_SHARDS/);
  });
  it('shard 0 keeps the single object\'s name', () => {
    expect(shardName('example.com', 0)).toBe('example.com');
    expect(shardName('example.com', 3)).toBe('example.com#shard-3');
  });
});

describe('ShardHints', () => {
  it('round-robin over all shards when none is known empty', () => {
    const hints = new ShardHints(() => 0);
    const picks = [...Array(8)].map(() => hints.pick('example.com', 4));
    expect(new Set(picks)).toEqual(new Set([0, 1, 2, 3]));
  });
  it('skips the shards that passed a request on until the TTL ends, per domain', () => {
    let now = 1_000;
    const hints = new ShardHints(() => now);
    // Sent to 3, served by 1: 3 and 0 passed it on (the ring wraps).
    hints.passedOn('example.com', 4, 3, 1);
    const picks = new Set([...Array(8)].map(() => hints.pick('example.com', 4)));
    expect(picks).toEqual(new Set([1, 2]));
    expect(new Set([...Array(8)].map(() => hints.pick('other.org', 4)))).toEqual(new Set([0, 1, 2, 3]));
    now += EMPTY_SHARD_TTL_MS;
    expect(new Set([...Array(8)].map(() => hints.pick('example.com', 4)))).toEqual(new Set([0, 1, 2, 3]));
  });
  it('an agent joining a shard clears its hint; all known empty falls back to every shard; a bad shard number is ignored', () => {
    const hints = new ShardHints(() => 0);
    hints.passedOn('example.com', 2, 0, 1);
    expect(new Set([...Array(4)].map(() => hints.pick('example.com', 2)))).toEqual(new Set([1]));
    hints.joined('example.com', 0);
    expect(new Set([...Array(4)].map(() => hints.pick('example.com', 2)))).toEqual(new Set([0, 1]));
    hints.passedOn('example.com', 2, 0, Number.NaN);
    hints.passedOn('example.com', 2, 0, 7);
    expect(new Set([...Array(4)].map(() => hints.pick('example.com', 2)))).toEqual(new Set([0, 1]));
  });
});

describe('mergeShardStatus', () => {
  const shard = (sessions: string[], ok: number, errors: Record<string, number>, at: string) => ({
    key: 'example.com',
    origins: sessions.length ? ['https://app.example.com'] : [],
    sessions: sessions.map((id) => ({ id })),
    agentConnections: sessions.map((id) => ({ id, state: 'authorized' })),
    queued: 1,
    counters: { requests: { '2xx': ok, '5xx': 0 }, retries: 1, errors, aborted: 0 },
    recentErrors: [{ at, code: 'X' }],
  });
  it('tags sessions with their shard, sums counters, unions origins, lists shards', () => {
    const merged = mergeShardStatus([shard(['ws-1'], 3, { A: 1 }, '2026-01-02T00:00:00Z'), shard([], 0, { A: 2, B: 1 }, '2026-01-01T00:00:00Z'), shard(['ws-1', 'ws-2'], 4, {}, '2026-01-03T00:00:00Z')]);
    expect(merged.sessions).toEqual([{ id: 'ws-1', shard: 0 }, { id: 'ws-1', shard: 2 }, { id: 'ws-2', shard: 2 }]);
    expect(merged.origins).toEqual(['https://app.example.com']);
    expect(merged.queued).toBe(3);
    expect(merged.counters).toEqual({ requests: { '2xx': 7, '5xx': 0 }, retries: 3, errors: { A: 3, B: 1 }, aborted: 0 });
    expect((merged.recentErrors as Array<{ shard: number }>).map((e) => e.shard)).toEqual([1, 0, 2]);
    expect((merged.shards as Array<{ sessions: number }>).map((s) => s.sessions)).toEqual([1, 0, 2]);
  });
});
