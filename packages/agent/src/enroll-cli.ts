/**
 * What `rhttp-agent --token TOKEN [--state-dir DIR]` does before the agent starts, and the renewal
 * timer after. enroll.ts (with @peculiar/x509 behind it) is loaded only when a token or a state
 * directory is in play, so an agent run with --cert never loads it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { decodeEnrollmentToken, EnrollmentTokenError } from '@rhttp/core';
import type { EnrolledIdentity } from './enroll.js';

/** Default state directory, beside the app like the intermediary's `.rhttp`. */
export const DEFAULT_AGENT_STATE_DIR = '.rhttp-agent';
/** Connections are replaced at this fraction of the certificate's life, so a renewed certificate comes into use long before the old one expires. */
const CONNECTION_AGE_FRACTION = 1 / 4;
/** setTimeout's largest delay (2^31 - 1 ms, about 24.8 days); longer waits are taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** An enrolled identity and where it lives. */
export interface AgentEnrollment {
  identity: EnrolledIdentity;
  stateDir: string;
  /** The certificate file, for messages. */
  certPath: string;
  /** A --max-connection-age for this certificate's life, when none was given. */
  maxConnectionAgeMs: number;
}

/**
 * The identity to run with: enrolled now with `token`, or found in the state directory (a start
 * without --token and --cert). `undefined` when neither applies (the agent then needs --cert).
 * Prints one line and returns `'refused'` when the intermediary refuses or cannot be enrolled with.
 */
export async function enrolledIdentity(opts: {
  token?: string;
  stateDir?: string;
  certGiven: boolean;
  log: (message: string) => void;
  usage: (message: string) => Error;
}): Promise<AgentEnrollment | 'refused' | undefined> {
  const stateDir = opts.stateDir ?? DEFAULT_AGENT_STATE_DIR;
  if (opts.token === undefined && (opts.certGiven || !existsSync(join(stateDir, 'state.json')))) {
    if (opts.stateDir !== undefined && !opts.certGiven) throw opts.usage(`--state-dir ${stateDir} holds no enrollment: the first start needs --token TOKEN (from 'rhttp-intermediary token create')`);
    return undefined;
  }
  if (opts.token !== undefined && opts.certGiven) throw opts.usage('--token and --cert exclude each other: the token gets the agent its certificate');
  const { enroll, loadEnrolled, EnrollmentError, EnrollmentRefusedError } = await import('./enroll.js');
  const found = (identity: EnrolledIdentity): AgentEnrollment => ({
    identity,
    stateDir,
    certPath: join(stateDir, 'cert.pem'),
    maxConnectionAgeMs: Math.max(1000, (identity.notAfter.getTime() - identity.issuedAt.getTime()) * CONNECTION_AGE_FRACTION),
  });
  let saved: EnrolledIdentity | undefined;
  try {
    saved = await loadEnrolled(stateDir);
  } catch (error) {
    if (!(error instanceof EnrollmentError)) throw error;
    throw opts.usage(error.message);
  }
  const now = Date.now();
  if (opts.token === undefined) {
    if (saved!.notAfter.getTime() <= now) {
      opts.log(`the certificate in ${stateDir} expired at ${saved!.notAfter.toISOString()}; enroll again with a new token (--token)`);
      return 'refused';
    }
    return found(saved!);
  }
  let token;
  try {
    token = decodeEnrollmentToken(opts.token);
  } catch (error) {
    if (!(error instanceof EnrollmentTokenError)) throw error;
    throw opts.usage(`--token: ${error.message}`);
  }
  // The same command run again (a restart) must not spend a used token: its certificate is kept.
  if (saved && saved.tokenId === token.id && saved.notAfter.getTime() > now) return found(saved);
  try {
    const identity = await enroll(token, { stateDir });
    opts.log(`enrolled with token ${token.id} at ${token.address}: certificate for ${identity.origins.join(', ')} until ${identity.notAfter.toISOString()}, kept in ${stateDir}`);
    return found(identity);
  } catch (error) {
    if (error instanceof EnrollmentRefusedError) opts.log(`the intermediary refused the token: ${error.message}`);
    else if (error instanceof EnrollmentError) opts.log(`cannot enroll: ${error.message}`);
    else throw error;
    return 'refused';
  }
}

/** Renews the enrolled certificate at two thirds of its life, again a minute after a failure. */
export class RenewalSchedule {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private current: EnrolledIdentity;

  constructor(
    private readonly enrollment: AgentEnrollment,
    private readonly apply: (identity: EnrolledIdentity) => void,
    private readonly line: (level: 'info' | 'warn', event: string, message: string, fields?: Record<string, unknown>) => void,
  ) {
    this.current = enrollment.identity;
  }

  start(): void {
    void import('./enroll.js').then(({ renewalDelayMs }) => this.wait(renewalDelayMs(this.current)));
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private wait(ms: number): void {
    const until = Date.now() + ms;
    const step = () => {
      const left = until - Date.now();
      if (left > 0) {
        this.timer = setTimeout(step, Math.min(left, MAX_TIMER_MS));
        this.timer.unref?.();
        return;
      }
      void this.renew();
    };
    step();
  }

  private async renew(): Promise<void> {
    const { renewEnrolled, renewalDelayMs, RENEW_RETRY_MS } = await import('./enroll.js');
    try {
      this.current = await renewEnrolled(this.current, { stateDir: this.enrollment.stateDir });
      this.apply(this.current);
      this.line('info', 'certificate-renewed', `renewed the certificate: valid until ${this.current.notAfter.toISOString()} (kept in ${this.enrollment.stateDir})`, {
        notAfter: this.current.notAfter.toISOString(),
      });
      this.wait(renewalDelayMs(this.current));
    } catch (error) {
      this.line('warn', 'renewal-failed', `renewing the certificate failed: ${(error as Error).message}; trying again in ${RENEW_RETRY_MS / 1000} s`, { reason: (error as Error).message });
      this.wait(RENEW_RETRY_MS);
    }
  }
}
