/**
 * `rhttp-agent service install|uninstall`: a systemd unit that runs the agent with a config file,
 * restarts it when it exits, stops it with SIGTERM (the agent drains, DESIGN.md "The agent") and
 * confines it (read-only system, no new privileges). Writing the file is all it does; it prints
 * the `systemctl` lines to run.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DEFAULT_DRAIN_TIMEOUT_MS } from './agent.js';

/** Where system units live. */
export const DEFAULT_UNIT_DIR = '/etc/systemd/system';
/** Default unit name. */
export const DEFAULT_SERVICE_NAME = 'rhttp-agent';
/** Wait before systemd restarts a failed agent: the agent's own backoff covers the intermediary, this covers crashes. */
export const SERVICE_RESTART_SEC = 5;
/** systemd's TimeoutStopSec is the drain timeout plus this much, so SIGKILL never cuts a drain short. */
const STOP_TIMEOUT_MARGIN_SEC = 10;

/** What goes into the unit. */
export interface SystemdUnitOptions {
  /** Unit name without `.service`. */
  name: string;
  /** The command: the runtime binary, its arguments, the CLI script, then the agent's flags. */
  execStart: string[];
  /** `User=`; without it the agent runs as root (systemd's default). */
  user?: string;
  /** Files and folders the agent reads (config, certificates): `ReadOnlyPaths=`. */
  readOnlyPaths: string[];
  /** The agent's drain timeout in seconds (`TimeoutStopSec` is longer). */
  drainTimeoutSeconds?: number;
  /** Working directory (`WorkingDirectory=`), e.g. the config file's folder. */
  workingDirectory?: string;
}

/** systemd command-line quoting: words with spaces, quotes, backslashes or `$`/`%` in double quotes. */
function quoteArg(arg: string): string {
  const escaped = arg.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Unit names systemd accepts (without the `.service` suffix). */
export function checkServiceName(name: string): string {
  if (!/^[A-Za-z0-9:_.\\@-]{1,200}$/.test(name) || name.startsWith('-')) throw new TypeError(`--name must be a systemd unit name like rhttp-agent (letters, digits, - _ . : @), got ${name}`);
  return name;
}

/** The text of the unit file. */
export function renderSystemdUnit(options: SystemdUnitOptions): string {
  const drain = options.drainTimeoutSeconds ?? DEFAULT_DRAIN_TIMEOUT_MS / 1000;
  const lines = [
    '# Written by `rhttp-agent service install`; `rhttp-agent service uninstall` removes it.',
    '[Unit]',
    `Description=rhttp agent ${options.name} (Reverse HTTP origin agent)`,
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${options.execStart.map(quoteArg).join(' ')}`,
    ...(options.workingDirectory ? [`WorkingDirectory=${quoteArg(options.workingDirectory)}`] : []),
    ...(options.user ? [`User=${options.user}`] : ['# No User=: runs as root. Pass --user to run as an unprivileged account that can read the key.']),
    'Restart=always',
    `RestartSec=${SERVICE_RESTART_SEC}`,
    '# SIGTERM: the agent sends GOAWAY, lets in-flight requests finish, then exits 0.',
    'KillSignal=SIGTERM',
    'KillMode=mixed',
    `TimeoutStopSec=${Math.ceil(drain) + STOP_TIMEOUT_MARGIN_SEC}`,
    'Environment=NODE_ENV=production',
    '',
    '# Hardening: the agent only reads its config and certificates and dials out.',
    'NoNewPrivileges=true',
    'ProtectSystem=strict',
    'ProtectHome=read-only',
    'PrivateTmp=true',
    'PrivateDevices=true',
    'ProtectKernelTunables=true',
    'ProtectKernelModules=true',
    'ProtectControlGroups=true',
    'RestrictNamespaces=true',
    'RestrictSUIDSGID=true',
    'LockPersonality=true',
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
    'CapabilityBoundingSet=',
    ...(options.readOnlyPaths.length > 0 ? [`ReadOnlyPaths=${[...new Set(options.readOnlyPaths)].map(quoteArg).join(' ')}`] : []),
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return lines.join('\n');
}

/** The command that runs this very CLI again, as an absolute path: node/bun `cli.js`, or `deno run -A cli.js`. */
export function runtimeCommand(cliPath: string, execPath: string = process.execPath): string[] {
  const runtime = globalThis as { Deno?: unknown; Bun?: unknown };
  if (runtime.Deno !== undefined) return [execPath, 'run', '-A', resolve(cliPath)];
  return [execPath, resolve(cliPath)];
}

/** Writes `DIR/NAME.service`; returns its path. Creates DIR when missing. */
export function installSystemdUnit(dir: string, name: string, unit: string): string {
  const path = join(dir, `${name}.service`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, unit, { mode: 0o644 });
  return path;
}

/** Removes `DIR/NAME.service`; returns its path, or undefined when there was none. */
export function uninstallSystemdUnit(dir: string, name: string): string | undefined {
  const path = join(dir, `${name}.service`);
  if (!existsSync(path)) return undefined;
  rmSync(path);
  return path;
}
