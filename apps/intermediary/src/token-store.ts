/**
 * Enrollment tokens on disk, in `<state-dir>/tokens/`, shared by `rhttp-intermediary token …`
 * and the running intermediary (which reads the store at every enrollment, so a token made while
 * it runs works at once). One record per token, `ID.json` (0600), holding the SHA-256 of the
 * secret, never the secret. Redeeming creates `ID.used` with O_EXCL: of two enrollments racing
 * with one token (two --workers processes, say) exactly one wins.
 *
 * @example
 * const store = new TokenStore('.rhttp');
 * const { record, secret } = await store.create({ origins: ['https://app.example.com'], ttlMs: 3_600_000 });
 * const redeemed = await store.redeem(record.id, secret); // the record, or a TokenRefusal
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomEnrollmentSecret } from '@rhttp/core';

/** Default life of a token: long enough to paste it on the other machine, short enough not to lie around. */
export const DEFAULT_TOKEN_TTL_MS = 60 * 60 * 1000;
/** Longest life a token may be given: a token is a credential; one that lives for months is a password. */
export const MAX_TOKEN_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** Bytes of a token id: enough that ids never collide in one store; not secret. */
const TOKEN_ID_BYTES = 6;

/** A token as stored. */
export interface TokenRecord {
  id: string;
  /** SHA-256 (hex) of the secret. */
  secretSha256: string;
  /** Exactly the origins the issued certificate covers. */
  origins: string[];
  createdAt: string;
  expiresAt: string;
  revokedAt?: string;
}

/** A record with what `token list` shows. */
export interface TokenListing extends TokenRecord {
  usedAt?: string;
  state: 'valid' | 'used' | 'expired' | 'revoked';
}

/** Why a token was not accepted; `status` is the HTTP status to answer with, `message` one sentence. */
export class TokenRefusal extends Error {
  readonly code = 'ERR_RHTTP_TOKEN_REFUSED';
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const CREATE_HINT = "ask the intermediary's operator for a new one ('rhttp-intermediary token create')";

export class TokenStore {
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'tokens');
  }

  /** Makes a token; the secret is returned once and stored only as its hash. */
  async create(opts: { origins: string[]; ttlMs: number; now?: Date }): Promise<{ record: TokenRecord; secret: string }> {
    const now = opts.now ?? new Date();
    const secret = randomEnrollmentSecret();
    const record: TokenRecord = {
      id: randomBytes(TOKEN_ID_BYTES).toString('hex'),
      secretSha256: sha256(secret),
      origins: opts.origins,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + opts.ttlMs).toISOString(),
    };
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await this.write(record);
    return { record, secret };
  }

  /** Every token, newest first, with its state now. */
  async list(now = new Date()): Promise<TokenListing[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const listings: TokenListing[] = [];
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      const record = await this.read(name.slice(0, -'.json'.length));
      if (!record) continue;
      const usedAt = await this.usedAt(record.id);
      const state = record.revokedAt ? 'revoked' : usedAt ? 'used' : Date.parse(record.expiresAt) <= now.getTime() ? 'expired' : 'valid';
      listings.push({ ...record, ...(usedAt ? { usedAt } : {}), state });
    }
    return listings.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /** Marks a token revoked; false when there is no such token. */
  async revoke(id: string, now = new Date()): Promise<boolean> {
    const record = await this.read(id);
    if (!record) return false;
    if (!record.revokedAt) await this.write({ ...record, revokedAt: now.toISOString() });
    return true;
  }

  /**
   * Checks `secret` against token `id` and marks the token used (validate the rest of the request
   * first: a redeemed token is spent). Throws {@link TokenRefusal} with one sentence.
   */
  async redeem(id: string, secret: string, opts: { now?: Date } = {}): Promise<TokenRecord> {
    const now = opts.now ?? new Date();
    const record = /^[A-Za-z0-9_-]{1,64}$/.test(id) ? await this.read(id) : undefined;
    const given = Buffer.from(sha256(secret), 'hex');
    if (!record || !timingSafeEqual(given, Buffer.from(record.secretSha256, 'hex'))) {
      throw new TokenRefusal(401, `This intermediary knows no such token; ${CREATE_HINT}.`);
    }
    if (record.revokedAt) throw new TokenRefusal(403, `This token was revoked at ${record.revokedAt}; ${CREATE_HINT}.`);
    const usedAt = await this.usedAt(id);
    if (usedAt) throw new TokenRefusal(403, `This token was already used at ${usedAt} (a token enrolls one agent); ${CREATE_HINT}.`);
    if (Date.parse(record.expiresAt) <= now.getTime()) throw new TokenRefusal(403, `This token expired at ${record.expiresAt}; ${CREATE_HINT}.`);
    try {
      await writeFile(join(this.dir, `${id}.used`), `${now.toISOString()}\n`, { flag: 'wx', mode: 0o600 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      throw new TokenRefusal(403, `This token was already used at ${(await this.usedAt(id)) ?? 'this moment'} (a token enrolls one agent); ${CREATE_HINT}.`);
    }
    return record;
  }

  private async read(id: string): Promise<TokenRecord | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dir, `${id}.json`), 'utf8')) as TokenRecord;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  private async usedAt(id: string): Promise<string | undefined> {
    try {
      return (await readFile(join(this.dir, `${id}.used`), 'utf8')).trim();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Writes a record atomically (temporary file, then rename), mode 0600. */
  private async write(record: TokenRecord): Promise<void> {
    const path = join(this.dir, `${record.id}.json`);
    const temporary = `${path}.${process.pid}.tmp`;
    try {
      await writeFile(temporary, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
      await rename(temporary, path);
    } finally {
      await rm(temporary, { force: true });
    }
  }
}
