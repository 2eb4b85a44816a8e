import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenRefusal, TokenStore } from '../src/token-store.js';

/** The enrollment token store (token-store.ts): single use, expiry, revocation, only a hash kept. */
let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function store(): TokenStore {
  dir = mkdtempSync(join(tmpdir(), 'rhttp-token-store-'));
  return new TokenStore(dir);
}

const refusal = async (p: Promise<unknown>): Promise<TokenRefusal> => {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TokenRefusal);
  return error as TokenRefusal;
};

describe('TokenStore', () => {
  it('of many redemptions of one token at once, exactly one succeeds; the others are told it was used', async () => {
    const tokens = store();
    const { record, secret } = await tokens.create({ origins: ['https://app.example.com'], ttlMs: 60_000 });
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => new TokenStore(dir!).redeem(record.id, secret)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as TokenRefusal).message).toMatch(/already used/);
    expect((await tokens.list()).map((t) => t.state)).toEqual(['used']);
  });

  it('keeps only the SHA-256 of the secret', async () => {
    const tokens = store();
    const { secret } = await tokens.create({ origins: ['https://app.example.com'], ttlMs: 60_000 });
    const files = readdirSync(join(dir!, 'tokens'));
    expect(files.map((f) => readFileSync(join(dir!, 'tokens', f), 'utf8')).join('')).not.toContain(secret);
  });

  it('refuses an expired token (403) and does not mark it used', async () => {
    const tokens = store();
    const created = new Date('2030-01-01T00:00:00Z');
    const { record, secret } = await tokens.create({ origins: ['https://app.example.com'], ttlMs: 1_000, now: created });
    const r = await refusal(tokens.redeem(record.id, secret, { now: new Date(created.getTime() + 1_000) }));
    expect([r.status, r.message]).toEqual([403, `This token expired at 2030-01-01T00:00:01.000Z; ask the intermediary's operator for a new one ('rhttp-intermediary token create').`]);
    expect((await tokens.list(new Date(created.getTime() + 1_000)))[0].state).toBe('expired');
  });

  it('refuses a revoked token (403), a wrong secret and an unknown id (401)', async () => {
    const tokens = store();
    const { record, secret } = await tokens.create({ origins: ['https://app.example.com'], ttlMs: 60_000 });
    expect((await refusal(tokens.redeem(record.id, `${secret}x`))).status).toBe(401);
    expect((await refusal(tokens.redeem('0123456789ab', secret))).status).toBe(401);
    expect((await refusal(tokens.redeem('../../etc/passwd', secret))).status).toBe(401);
    expect(await tokens.revoke(record.id)).toBe(true);
    expect(await tokens.revoke('0123456789ab')).toBe(false);
    const r = await refusal(tokens.redeem(record.id, secret));
    expect(r.status).toBe(403);
    expect(r.message).toMatch(/^This token was revoked at /);
  });
});
