/**
 * Command-line flags of `rhttp-intermediary` (DESIGN.md, "Command-line contract"), parsed with
 * `node:util` parseArgs. Pure: no files, no network; `cli.ts` does the rest.
 */
import { parseArgs } from 'node:util';
import { flagErrorMessage, parseDuration } from '@rhttp/core';
import type { ListenAddress } from './intermediary.js';
import { MAX_WORKERS } from './workers.js';
import type { LogFormat } from './log-format.js';

/** A flag was wrong: the CLI prints the message and exits with status 2. */
export class UsageError extends Error {
  readonly code = 'ERR_RHTTP_USAGE';
}

/** Milliseconds of a duration flag (`30s`, `5m`, `1h` or plain seconds) that must be more than 0; a UsageError otherwise. */
export function positiveDurationFlag(flag: string, text: string): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (error) {
    throw new UsageError(`${flag} ${(error as Error).message}`);
  }
  if (ms <= 0) throw new UsageError(`${flag} ${JSON.stringify(text)} must be more than 0`);
  return ms;
}

export const HELP = `Usage: rhttp-intermediary [--agents HOST:PORT] [--http HOST:PORT] [--https HOST:PORT] [--quic HOST:PORT]
                          [--cert FILE --key FILE --trust FILE] [--state-dir DIR]
                          [--metrics HOST:PORT] [--status-token TOKEN] [--log text|json]
                          [--workers N] [--ca-cert FILE --ca-key FILE] [--cert-lifetime DURATION]
       rhttp-intermediary --print-svcb NAME [--agents HOST:PORT] [--quic HOST:PORT] [--workers N]
       rhttp-intermediary token create --origin URL [--origin URL ...] [--ttl DURATION] [--state-dir DIR]
       rhttp-intermediary token list|revoke ID [--state-dir DIR]

The self-hosted rhttp intermediary: origin agents dial in over TLS (ALPN h2-reverse, or potato's
rh2; client certificate required) on --agents, or over HTTPS on the browsers' own ports (PTTH: Upgrade: ptth
or extended CONNECT at /.well-known/ptth/ORIGINS/, by client certificate or signed request, so an
agent can come through a TLS-terminating proxy), and browsers' requests are sent back to them
over HTTP/2.

Listeners:
  --agents HOST:PORT        TLS listener for agents (default 127.0.0.1:8443)
  --http HOST:PORT          browsers, cleartext HTTP/1.1 and h2c (default 127.0.0.1:8080 when
                            neither --http nor --https is given)
  --https HOST:PORT         browsers, TLS with HTTP/2 and HTTP/1.1 (uses --cert/--key); each
                            HTTP/2 connection gets an ORIGIN frame (RFC 8336) listing the served
                            https origins that the certificate covers, so browsers can reuse it;
                            agents dialing --intermediary https://HOST:PORT (PTTH) come here too
                            (a client certificate is requested, never required)
  --quic HOST:PORT          QUIC (UDP) for agents dialing --intermediary quic://HOST:PORT (ALPN
                            h3-reverse; the agent proves its certificate in-band on HTTP/3's
                            control stream) and browsers speaking HTTP/3 (ALPN h3); uses
                            --cert/--key. Deno only: deno run -A --unstable-net …/cli.js … (Node
                            has no QUIC; it is refused there). May share a TCP listener's port.
                            Browsers get HTTP/3 here as on --https, and responses on --https
                            advertise it: alt-svc: h3=":PORT"; ma=86400 (never on --http: no
                            HTTP/3 for http:// origins); give --https the same port number
  --metrics HOST:PORT       Prometheus metrics at http://HOST:PORT/metrics (a separate listener;
                            none by default)

Certificates:
  --cert FILE               the intermediary's certificate chain (PEM, leaf first)
  --key FILE                its private key (PEM)
  --trust FILE              CA certificate(s) (PEM) that agents' origin certificates must chain to;
                            the intermediary does not start when --trust or --cert holds none
  --state-dir DIR           where development certificates are made when --cert/--key/--trust are
                            not given (default .rhttp): a dev CA (trusted for agents), an
                            intermediary certificate and an origin certificate for app.localhost
  --ca-cert FILE            a CA certificate (PEM) to sign enrolled agents' origin certificates with
  --ca-key FILE             its private key (PEM); agents whose certificates it issued are trusted
                            (besides --trust). Without them, the development CA in --state-dir
                            signs when --cert/--key/--trust are not given; otherwise agents cannot
                            enroll with a token
  --cert-lifetime DURATION  life of certificates issued to enrolled agents (default 30d); agents
                            renew at two thirds of it over their current certificate
  For --https, give a --cert whose SANs cover the origins browsers reach through it (e.g.
  app.example.com or *.example.com): the intermediary cannot issue certificates for them.

Status and logs:
  --status-token TOKEN      require "Authorization: Bearer TOKEN" for /.rhttp/status (or set
                            RHTTP_STATUS_TOKEN); without a token the page is served only to
                            clients on this machine (loopback), since it shows agents' addresses
  --log text|json           log format on stderr: plain words (default) or one JSON object per
                            line {time, level, event, message, ...fields}

DNS:
  --print-svcb NAME         print the SVCB record to publish so that agents given
                            "--intermediary NAME" find this intermediary's --agents port, and exit
                            (with --workers N: one record per worker port)

Processes:
  --workers N               run N intermediary processes (node:cluster) that share the --http and
                            --https listeners (each new browser connection goes to one of them);
                            worker i (0-based) listens for agents on the --agents port + i and for
                            metrics on the --metrics port + i. Every agent must connect to every
                            worker: give agents a name whose SVCB records list all worker ports
                            (--print-svcb NAME --workers N). SIGTERM to this process stops the
                            workers gracefully. /.rhttp/status on a shared browser port shows
                            the worker that took that connection; scrape every worker's metrics
                            port for the whole picture. Default 1 (no workers: this process serves)

Other:
  --response-timeout DURATION  time for an origin's response headers before 504 (default 100s;
                            a DURATION is seconds, or 30s, 5m, 1h, 1h30m)
  --max-requests-per-client N  requests one client address may have in flight at once; more get
                            503 with Proxy-Status (default 512). Each browser HTTP/2 connection
                            also takes at most 100 concurrent streams
  -h, --help                show this help

One-token onboarding (see 'rhttp-intermediary token --help'):
  rhttp-intermediary token create --origin https://app.example.com    # the last line is the token
  then on the origin's machine: rhttp-agent --token TOKEN --upstream http://127.0.0.1:3000
  The agent enrolls on the --agents listener (ALPN http/1.1, POST /.well-known/rhttp/enroll):
  the token's certificate fingerprint pins this intermediary, and it gets a certificate for
  exactly the token's origins. The intermediary and 'token' share --state-dir.

Examples:
  rhttp-intermediary                                   # dev: certificates in .rhttp, prints the agent command
  rhttp-intermediary --agents 0.0.0.0:8443 --https 0.0.0.0:443 \\
                     --cert intermediary.pem --key intermediary.key --trust origin-ca.pem
  rhttp-intermediary --workers 2 --agents 0.0.0.0:8443 --https 0.0.0.0:443 ...   # agents on 8443 and 8444

The intermediary answers GET /.rhttp/status on the browser listeners itself: an HTML page, or
JSON with "Accept: application/json" or ?format=json.
`;

/** What the flags ask for. */
export interface CliConfig {
  agents: ListenAddress;
  http?: ListenAddress;
  https?: ListenAddress;
  /** `--quic`: the QUIC listener (Deno only; cli.ts refuses it elsewhere). */
  quic?: ListenAddress;
  /** All three given, or none (then development certificates are made in `stateDir`). */
  files?: { cert: string; key: string; trust: string };
  stateDir: string;
  responseTimeoutMs?: number;
  maxExchangesPerClient?: number;
  metrics?: ListenAddress;
  statusToken?: string;
  log: LogFormat;
  /** `--print-svcb NAME`: print the record and exit. */
  printSvcb?: string;
  /** `--ca-cert`/`--ca-key`: the CA that signs enrolled agents' certificates. */
  signingCa?: { cert: string; key: string };
  /** `--cert-lifetime`: life of certificates issued to enrolled agents. */
  certLifetimeMs?: number;
  /** `--workers N`: N intermediary processes sharing the browser listeners (absent or 1: this process alone). */
  workers?: number;
}

/** Parses `HOST:PORT` (`[::1]:8080` for IPv6; a bare port means 127.0.0.1). */
export function parseListenAddress(flag: string, text: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(text) ?? /^()()(\d{1,5})$/.exec(text);
  if (!m) throw new UsageError(`${flag} ${JSON.stringify(text)} is not HOST:PORT (e.g. 127.0.0.1:8443, [::1]:8443, 0.0.0.0:443)`);
  const port = Number(m[3]);
  if (port > 65535) throw new UsageError(`${flag} ${JSON.stringify(text)}: port ${port} is above 65535`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

/** Parses argv (without node and the script). Returns `'help'` for -h/--help; throws UsageError. */
export function parseCliArgs(argv: string[]): CliConfig | 'help' | 'token' {
  if (argv[0] === 'token') return 'token';
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        agents: { type: 'string' },
        http: { type: 'string' },
        https: { type: 'string' },
        quic: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        trust: { type: 'string' },
        'state-dir': { type: 'string' },
        'response-timeout': { type: 'string' },
        'max-requests-per-client': { type: 'string' },
        metrics: { type: 'string' },
        'status-token': { type: 'string' },
        log: { type: 'string' },
        'print-svcb': { type: 'string' },
        workers: { type: 'string' },
        'ca-cert': { type: 'string' },
        'ca-key': { type: 'string' },
        'cert-lifetime': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError(flagErrorMessage(error as NodeJS.ErrnoException, 'rhttp-intermediary --help'));
  }
  if (values.help) return 'help';
  const str = (name: string) => values[name] as string | undefined;
  const config: CliConfig = {
    agents: parseListenAddress('--agents', str('agents') ?? '127.0.0.1:8443'),
    stateDir: str('state-dir') ?? '.rhttp',
    log: 'text',
  };
  const log = str('log');
  if (log !== undefined) {
    if (log !== 'text' && log !== 'json') throw new UsageError(`--log ${JSON.stringify(log)}: the format is "text" or "json"`);
    config.log = log;
  }
  if (str('metrics') !== undefined) config.metrics = parseListenAddress('--metrics', str('metrics')!);
  const token = str('status-token');
  if (token !== undefined) {
    // RFC 6750 §2.1 b64token: what may follow "Bearer " in an Authorization header.
    if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) throw new UsageError('--status-token must be a non-empty bearer token (letters, digits and -._~+/ only)');
    config.statusToken = token;
  }
  const svcbName = str('print-svcb');
  if (svcbName !== undefined) {
    if (!/^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/.test(svcbName)) {
      throw new UsageError(`--print-svcb ${JSON.stringify(svcbName)} is not a DNS name (e.g. proxy.example.net)`);
    }
    config.printSvcb = svcbName;
  }
  if (str('http') !== undefined) config.http = parseListenAddress('--http', str('http')!);
  if (str('https') !== undefined) config.https = parseListenAddress('--https', str('https')!);
  if (!config.http && !config.https) config.http = parseListenAddress('--http', '127.0.0.1:8080');
  if (str('quic') !== undefined) config.quic = parseListenAddress('--quic', str('quic')!);
  const given = (['cert', 'key', 'trust'] as const).filter((f) => str(f) !== undefined);
  if (given.length === 3) {
    config.files = { cert: str('cert')!, key: str('key')!, trust: str('trust')! };
  } else if (given.length > 0) {
    const missing = (['cert', 'key', 'trust'] as const).filter((f) => str(f) === undefined).map((f) => `--${f}`);
    throw new UsageError(
      `${given.map((f) => `--${f}`).join(' and ')} given without ${missing.join(' and ')}: pass --cert, --key and --trust together, or none of them for development certificates in --state-dir`,
    );
  }
  if ((str('ca-cert') === undefined) !== (str('ca-key') === undefined)) {
    throw new UsageError(`${str('ca-cert') !== undefined ? '--ca-cert given without --ca-key' : '--ca-key given without --ca-cert'}: pass both, the CA certificate and its key`);
  }
  if (str('ca-cert') !== undefined) config.signingCa = { cert: str('ca-cert')!, key: str('ca-key')! };
  const lifetime = str('cert-lifetime');
  if (lifetime !== undefined) config.certLifetimeMs = positiveDurationFlag('--cert-lifetime', lifetime);
  const timeout = str('response-timeout');
  if (timeout !== undefined) config.responseTimeoutMs = positiveDurationFlag('--response-timeout', timeout);
  const perClient = str('max-requests-per-client');
  if (perClient !== undefined) {
    const n = Number(perClient);
    if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--max-requests-per-client ${JSON.stringify(perClient)} is not a positive whole number`);
    config.maxExchangesPerClient = n;
  }
  const workers = str('workers');
  if (workers !== undefined) {
    const n = Number(workers);
    if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) throw new UsageError(`--workers ${JSON.stringify(workers)} is not a whole number from 1 to ${MAX_WORKERS}`);
    config.workers = n;
  }
  // With --workers N, worker i listens for agents (and metrics) on the given port + i.
  const count = config.workers ?? 1;
  // QUIC runs under Deno, which has no node:cluster workers; one process holds the UDP port.
  if (config.quic && count > 1) throw new UsageError(`--quic runs in one process: it cannot be combined with --workers ${count}`);
  const perWorker = (a: ListenAddress | undefined, flag: string): ListenAddress[] => {
    if (!a || count === 1) return a ? [a] : [];
    if (a.port === 0) throw new UsageError(`--workers ${count} needs a real ${flag} port, not 0: worker i listens on that port + i`);
    if (a.port + count - 1 > 65535) throw new UsageError(`--workers ${count}: ${flag} ports ${a.port}..${a.port + count - 1} go past 65535`);
    return Array.from({ length: count }, (_, i) => ({ host: a.host, port: a.port + i }));
  };
  const bound = [...perWorker(config.agents, '--agents'), config.http, config.https, ...perWorker(config.metrics, '--metrics')].filter(
    (a): a is ListenAddress => a !== undefined && a.port !== 0,
  );
  const seen = new Set<string>();
  for (const a of bound) {
    const key = `${a.host}:${a.port}`;
    if (seen.has(key)) throw new UsageError(`two listeners on ${key}: --agents, --http, --https and --metrics need different ports${count > 1 ? ` (with --workers ${count}, --agents and --metrics take ${count} ports each)` : ''}`);
    seen.add(key);
  }
  return config;
}
