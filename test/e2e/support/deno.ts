/**
 * Deno launchers for the e2e tests of the QUIC carrier (`h3-reverse`): only Deno has QUIC, behind
 * `--unstable-net`. They start the built CLIs (or a script) as `deno run -A --unstable-net …`,
 * tracked by support.ts's `startProcess` (so `stopAll` kills them), and wait for their ready
 * lines as the Node helpers there do.
 */
import { spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { agentArgs, agentCli, denoBin, intermediaryArgs, intermediaryCli, READY_TIMEOUT_MS, startProcess, type CertPaths, type Proc } from '../support.js';

/** The flags every Deno process here runs with: all permissions, and the unstable QUIC API. */
export const DENO_RUN = ['run', '-A', '--unstable-net'] as const;

/** Why Deno cannot start here (a test then skips with this reason), or undefined when it can. */
export function denoUnavailable(): string | undefined {
  if (!existsSync(denoBin)) return `no Deno binary at ${denoBin} (it comes from the optional dependency @deno/linux-x64-glibc: npm ci)`;
  const r = spawnSync(denoBin, ['eval', '--unstable-net', 'if (typeof Deno.QuicEndpoint !== "function") Deno.exit(3)'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error) return `Deno cannot start: ${r.error.message}`;
  if (r.status === 3) return 'this Deno has no Deno.QuicEndpoint even with --unstable-net';
  if (r.status !== 0) return `Deno cannot start (exit ${r.status}): ${(r.stderr || r.stdout).trim().slice(0, 300)}`;
  return undefined;
}

/** A UDP port on 127.0.0.1 that was free a moment ago (the OS picks it). */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

/** `deno run -A --unstable-net SCRIPT ARGS…`. */
export function startDeno(name: string, script: string, args: string[] = []): Proc {
  return startProcess(name, denoBin, [...DENO_RUN, script, ...args]);
}

export interface DenoIntermediaryPorts {
  agents: number;
  http: number;
  quic: number;
  /** `--https` too (TCP; it may share its number with the UDP `quic`). */
  https?: number;
}

/**
 * `deno run -A --unstable-net rhttp-intermediary --agents … --http … --quic … --cert … --key …
 * --trust …`, once it says its QUIC listener is up (the last listener it starts).
 */
export async function startDenoIntermediary(certs: CertPaths, ports: DenoIntermediaryPorts, name = 'rhttp-intermediary (deno)'): Promise<Proc> {
  const proc = startDeno(name, intermediaryCli, intermediaryArgs(certs, ports, [...(ports.https === undefined ? [] : ['--https', `127.0.0.1:${ports.https}`]), '--quic', `127.0.0.1:${ports.quic}`]));
  await proc.waitFor(new RegExp(`listening for agents and browsers on quic://127\\.0\\.0\\.1:${ports.quic}\\b`), READY_TIMEOUT_MS);
  return proc;
}

export interface DenoAgentOptions {
  /** `quic://127.0.0.1:PORT`, or any other --intermediary value. */
  intermediary: string;
  origins: string[];
  upstream: string;
  cert: string;
  key: string;
  ca: string;
  extra?: string[];
  name?: string;
}

/** `deno run -A --unstable-net rhttp-agent --intermediary …`, once it says it is connecting. */
export async function startDenoAgent(opts: DenoAgentOptions): Promise<Proc> {
  const proc = startDeno(opts.name ?? 'rhttp-agent (deno)', agentCli, agentArgs(opts.intermediary, opts));
  await proc.waitFor(/: connecting to /, READY_TIMEOUT_MS);
  return proc;
}
