/**
 * `rhttp-intermediary token create|list|revoke`: enrollment tokens in --state-dir (token-store.ts),
 * the same directory the running intermediary reads them from. `create` prints the token as the
 * last line of its output, so `rhttp-intermediary token create … | tail -n1` is the token.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeEnrollmentToken, flagErrorMessage, parseOrigin, registrableDomain, unbracketHost } from '@rhttp/core';
import { UsageError, parseListenAddress, positiveDurationFlag } from './cli-args.js';
import { formatAddress } from './intermediary.js';
import { DEFAULT_TOKEN_TTL_MS, MAX_TOKEN_TTL_MS, TokenStore } from './token-store.js';

export const TOKEN_HELP = `Usage: rhttp-intermediary token create --origin URL [--origin URL ...] [--ttl DURATION] [--state-dir DIR]
                                      [--address HOST:PORT]
       rhttp-intermediary token list [--state-dir DIR]
       rhttp-intermediary token revoke ID [--state-dir DIR]

One-token onboarding: a token lets one agent enroll. On the origin's machine,
  rhttp-agent --token TOKEN --upstream http://127.0.0.1:3000
makes a key, sends a certificate request to this intermediary (over TLS pinned to the certificate
fingerprint in the token), gets a certificate for exactly the token's origins, keeps it in its
--state-dir and connects. Tokens are single-use and expire; only a hash of the secret is stored.

The intermediary must run with the same --state-dir and with a CA to sign with (--ca-cert and
--ca-key, or its development CA when run without --cert/--key/--trust); tokens made while it runs
work at once.

  --origin URL           an origin the agent may serve (https://app.example.com, https://*.example.com);
                         repeat for more, all in one registrable domain (example.com)
  --ttl DURATION         how long the token can be used (default 1h, at most 30d): seconds, or
                         a number with a unit like 30s, 5m, 1h, 2d
  --state-dir DIR        the intermediary's state directory (default .rhttp)
  --address HOST:PORT    where agents reach the intermediary's agent listener, when it is not the
                         address it listens on (a public name, a port forwarded by NAT)
  -h, --help             show this help
`;

/** Written by the running intermediary: where its agent listener is and which certificate it shows. */
export const ENROLLMENT_ADVERT_FILE = 'enrollment.json';

export interface EnrollmentAdvert {
  /** `host:port` agents dial. */
  address: string;
  /** SHA-256 of the agent listener's certificate (leaf) DER, lowercase hex. */
  fingerprint: string;
}

/** SHA-256 of the first certificate of a PEM chain, as the token carries it. */
export function certificateFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();
}

/** Records (0600) where the running intermediary can be enrolled with; `undefined` removes a stale one. */
export async function writeEnrollmentAdvert(stateDir: string, advert: EnrollmentAdvert | undefined): Promise<void> {
  const path = join(stateDir, ENROLLMENT_ADVERT_FILE);
  if (!advert) return rm(path, { force: true });
  await mkdir(stateDir, { recursive: true });
  await writeFile(path, `${JSON.stringify(advert, null, 2)}\n`, { mode: 0o600 });
}

async function readAdvert(stateDir: string): Promise<EnrollmentAdvert | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDir, ENROLLMENT_ADVERT_FILE), 'utf8')) as EnrollmentAdvert;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Runs `token …`; returns the exit status. Usage mistakes throw UsageError (exit 2). */
export async function runTokenCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  let parsed: { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: true,
      options: {
        origin: { type: 'string', multiple: true },
        ttl: { type: 'string' },
        'state-dir': { type: 'string' },
        address: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError(flagErrorMessage(error as NodeJS.ErrnoException, 'rhttp-intermediary token --help'));
  }
  const { values, positionals } = parsed;
  if (action === undefined || action === '--help' || action === '-h' || values.help) {
    process.stdout.write(TOKEN_HELP);
    return action === undefined ? 2 : 0;
  }
  const stateDir = (values['state-dir'] as string | undefined) ?? '.rhttp';
  const store = new TokenStore(stateDir);
  const only = (what: string) => {
    if (positionals.length > 0 && what !== 'revoke') throw new UsageError(`unexpected argument ${positionals[0]} (run 'rhttp-intermediary token --help' for the flags)`);
  };
  switch (action) {
    case 'create': {
      only(action);
      const origins = (values.origin as string[] | undefined) ?? [];
      if (origins.length === 0) throw new UsageError('token create needs --origin URL (e.g. --origin https://app.example.com): the origins the agent may serve');
      for (const o of origins) {
        try {
          parseOrigin(o);
        } catch (error) {
          throw new UsageError(`--origin: ${(error as Error).message}`);
        }
      }
      // The intermediary admits one registrable domain per agent connection (intermediary.ts onAuthorized): say so now, not at the agent's first connection.
      const domains = [...new Set(origins.map((o) => registrableDomain(unbracketHost(parseOrigin(o).host))))];
      if (domains.length > 1) {
        throw new UsageError(`the --origin values span ${domains.length} registrable domains (${domains.join(', ')}); an agent connection serves one: make one token per domain`);
      }
      let ttlMs = DEFAULT_TOKEN_TTL_MS;
      if (values.ttl !== undefined) {
        ttlMs = positiveDurationFlag('--ttl', values.ttl as string);
        if (ttlMs > MAX_TOKEN_TTL_MS) throw new UsageError(`--ttl ${JSON.stringify(values.ttl)} must be at most 30d`);
      }
      const advert = await readAdvert(stateDir);
      if (!advert) {
        process.stderr.write(
          `rhttp-intermediary: no intermediary that can enroll agents has run with --state-dir ${stateDir}: start 'rhttp-intermediary --state-dir ${stateDir}' (development CA) or give it --ca-cert and --ca-key, then create the token\n`,
        );
        return 1;
      }
      const address = values.address !== undefined ? formatAddress(parseListenAddress('--address', values.address as string)) : advert.address;
      const { record, secret } = await store.create({ origins, ttlMs });
      const token = encodeEnrollmentToken({ address, fingerprint: advert.fingerprint, id: record.id, secret });
      process.stderr.write(
        `Token ${record.id} for ${origins.join(', ')}: one agent may enroll with it until ${record.expiresAt}, at ${address}.\n` +
          `On the origin's machine:\n  rhttp-agent --token TOKEN --upstream http://127.0.0.1:3000\n`,
      );
      process.stdout.write(`${token}\n`);
      return 0;
    }
    case 'list': {
      only(action);
      const tokens = await store.list();
      if (tokens.length === 0) {
        process.stdout.write(`No tokens in ${store.dir}.\n`);
        return 0;
      }
      const rows = [['ID', 'STATE', 'EXPIRES', 'ORIGINS'], ...tokens.map((t) => [t.id, t.state === 'used' ? `used ${t.usedAt}` : t.state === 'revoked' ? `revoked ${t.revokedAt}` : t.state, t.expiresAt, t.origins.join(',')])];
      const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
      process.stdout.write(rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n') + '\n');
      return 0;
    }
    case 'revoke': {
      if (positionals.length !== 1) throw new UsageError("token revoke needs one ID (see 'rhttp-intermediary token list')");
      if (!(await store.revoke(positionals[0]))) {
        process.stderr.write(`rhttp-intermediary: no token ${positionals[0]} in ${store.dir}\n`);
        return 1;
      }
      process.stdout.write(`Revoked token ${positionals[0]}: it can no longer enroll an agent (agents already enrolled with it keep their certificates).\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown token command ${action} (create, list, revoke; run 'rhttp-intermediary token --help')`);
  }
}
