#!/usr/bin/env node
/**
 * `rhttp-agent`: the command line of the origin agent. Runs unchanged on Node (`npx rhttp-agent`),
 * Bun (`bunx rhttp-agent`) and Deno (`deno run -A npm:rhttp-agent`): only `node:` modules that
 * all three provide. Exit codes: 0 done, 1 failed while running, 2 bad command line.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CertificateError, DEFAULT_DOH_URL, DiscoveryError, DURATION_FORMS, flagErrorMessage, isReversedH2Alpn, parseDuration, parseOrigin, pemToDer, REVERSED_H2_ALPNS, serializeOrigin, unauthorizedOrigins, verifyCertificateChain } from '@rhttp/core';
import { Agent, DEFAULT_CONNECTIONS, DEFAULT_DRAIN_TIMEOUT_MS, MAX_CONNECTIONS, parseIntermediary } from './agent.js';
import { TlsMaterialError } from './carriers/tls.js';
import { dialableCarriers, quicUnavailable } from './carriers/quic.js';
import { agentLogRecord, describeAgentEvent, type AgentEvent, type AgentEventLevel } from './agent-events.js';
import { ConfigError, loadAgentConfig, type AgentConfig } from './config.js';
import { DEFAULT_AGENT_STATE_DIR, enrolledIdentity, RenewalSchedule } from './enroll-cli.js';
import { discoverIntermediaryDetails, formatDiscovery, parseBareIntermediary } from './discover.js';
import { loadHandlerModule } from './handler-module.js';
import { IngressRouter, ingressOrigins } from './ingress.js';
import { parseListenAddress, serveMetrics, type MetricsServer } from './metrics-server.js';
import { tuneForProxying } from '@rhttp/node/v8-tuning';
import { checkServiceName, DEFAULT_SERVICE_NAME, DEFAULT_UNIT_DIR, installSystemdUnit, renderSystemdUnit, runtimeCommand, uninstallSystemdUnit } from './service.js';

/** Exit status for a bad command line (as in BSD sysexits' tradition of 2 for usage errors). */
const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

const TOOL_HELP = `rhttp-agent — serve an origin through a Reverse HTTP intermediary (draft-bt-httpbis-reverse-http-01)

The agent dials out to the intermediary over TLS 1.3 (ALPN h2-reverse) or a WebSocket, announces
the origins it serves, and answers the requests the intermediary sends back — from a local app
(--upstream), an in-process fetch handler (--handler) or ingress rules in a config file (--config).

Usage:
  rhttp-agent --token TOKEN --upstream URL [--state-dir DIR]
  rhttp-agent --intermediary tls://HOST:PORT|quic://HOST:PORT|https://HOST[:PORT]|ws://HOST:PORT|wss://HOST|NAME --origin URL [--origin URL ...]
              (--upstream URL | --handler MODULE) --cert FILE --key FILE [options]
  rhttp-agent --config rhttp.yaml [flags that override it]
  rhttp-agent discover NAME[:PORT] [--doh URL]
  rhttp-agent certs --dir DIR --origin URL [--origin URL ...] [--intermediary-name NAME ...] [--force]
  rhttp-agent service install|uninstall [--config FILE] [--name NAME] [--user USER] [--unit-dir DIR]
  rhttp-agent help [run|certs|discover|service|config]

Run 'rhttp-agent --help' for the agent's flags and 'rhttp-agent COMMAND --help' for the others.
`;

const RUN_HELP = `Usage: rhttp-agent --token TOKEN (--upstream URL | --handler MODULE) [--state-dir DIR] [options]
       rhttp-agent --intermediary tls://HOST:PORT --origin URL [--origin URL ...]
                   (--upstream URL | --handler MODULE) --cert FILE --key FILE [options]
       rhttp-agent --config rhttp.yaml [options]

Serve one or more origins through an intermediary.

One token (from 'rhttp-intermediary token create --origin URL'):
  --token TOKEN                   enroll with the intermediary the token names: make a key, send a
                                  certificate request over TLS pinned to the token's certificate
                                  fingerprint, get a certificate for the token's origins; then
                                  connect with it. --intermediary, --origin, --cert, --key and --ca
                                  come from the enrollment. A token is used once; a refused one
                                  (used, expired, revoked) exits 1 with the intermediary's sentence
  --state-dir DIR                 where the key, certificate and intermediary CA are kept (files 0600;
                                  default ${DEFAULT_AGENT_STATE_DIR}). A start without --token and --cert uses
                                  it, so only the first start needs the token. The certificate is
                                  renewed at two thirds of its life over the current one

Required (on the command line or in --config):
  --intermediary tls://HOST:PORT  the intermediary's agent port (TLS carrier, ALPN h2-reverse);
                 https://HOST[:PORT]  or its https (browser) port, or a TLS-terminating proxy in
                                  front of it such as nginx: HTTPS upgraded to ptth
                                  (draft-kazuho-ptth-ptth-01; client certificate and a signed
                                  request, so it works where the proxy drops the certificate);
                 ws://HOST:PORT   or an rhttp edge (WebSocket carrier; wss://HOST[:PORT] with TLS);
                 quic://HOST:PORT or the intermediary's QUIC port (--quic): QUIC with ALPN
                                  h3-reverse, the certificate proven in-band on HTTP/3's control
                                  stream. Deno only: deno run -A --unstable-net npm:rhttp-agent …
                                  (Node and Bun have no QUIC; it is refused there);
                 NAME[:PORT]      or a bare name, found through its SVCB record
                                  _http-reverse.NAME (_PORT._http-reverse.NAME) over DNS-over-HTTPS;
                                  the agent connects to every record (each target:port is one
                                  intermediary, so several behind one name share the load; a
                                  record's addresses are tried in order) and looks the name up
                                  again after its TTL
  --origin URL                    an origin to serve, e.g. https://app.example.com; repeat for more;
                                  wildcards like https://*.app.example.com are allowed (default with
                                  --config: https://HOSTNAME of each ingress rule)
  --upstream URL                  forward requests to this local HTTP/1.1 app, e.g. http://127.0.0.1:3000,
                                  or over HTTP/2 prior knowledge with h2c://127.0.0.1:50051 (gRPC)
  --handler MODULE                or answer them in-process: a module whose default export has
                                  fetch(request) (a Hono app works as is) or is a function
                                  (either one replaces the config file's ingress rules)
  --cert FILE                     our certificate chain (PEM, leaf first); it must cover every --origin
                                  and be valid now (checked before dialing: exit 2 otherwise)
  --key FILE                      its private key (PEM)

Options:
  --config FILE                   read settings and ingress rules from a YAML file (see
                                  'rhttp-agent help config'); flags given here override it
  --ca FILE                       CA certificate(s) to verify the intermediary with (default: the system's)
  --servername NAME               the name to expect in the intermediary's certificate (default: its
                                  host, or the SVCB target name)
  --doh URL                       DNS-over-HTTPS resolver for a bare --intermediary name
                                  (default ${DEFAULT_DOH_URL})
  --ptth upgrade|connect          https:// only: HTTP/1.1 Upgrade: ptth (default; passes any proxy
                                  that passes WebSockets), or extended CONNECT :protocol ptth over
                                  HTTP/2 (RFC 8441) where the peer offers it, Upgrade where not
  --alpn h2-reverse|rh2           tls:// only: the ALPN naming reversed HTTP/2, h2-reverse
                                  (draft-bt-httpbis-reverse-http, default) or rh2
                                  (draft-thomson-ptth-potato)
  --connections N                 connections to hold to each intermediary endpoint (each SVCB
                                  record of a bare name), for failover and rotation (default
                                  ${DEFAULT_CONNECTIONS}, at most ${MAX_CONNECTIONS})
  --drain-timeout DURATION        on SIGTERM/SIGINT, how long to let in-flight requests finish (default ${DEFAULT_DRAIN_TIMEOUT_MS / 1000}s)
  --max-connection-age DURATION   replace each connection after about this long (default: never)
                                  (a DURATION is seconds, or 30s, 5m, 1h, 1h30m)
  --via-discovery                 also connect to intermediaries named in requests' Via field that have
                                  a _http-reverse SVCB record (draft §3.2; ALPN must say h2-reverse)
  --metrics HOST:PORT             serve Prometheus metrics at http://HOST:PORT/metrics (e.g. 127.0.0.1:9101)
  --log text|json                 event lines on stderr as sentences (default) or JSON objects
                                  {"time","level","event","message","fields"}
  -h, --help                      show this help
  -v, --version                   print the version

The agent reconnects on its own (exponential backoff with jitter). On SIGTERM or SIGINT it sends
GOAWAY, lets in-flight requests finish and exits 0; a second signal exits at once.

Examples:
  rhttp-agent --token rhttp1.eyJ2Ijox… --upstream http://127.0.0.1:3000
  rhttp-agent --intermediary tls://127.0.0.1:8443 --origin https://app.example.com \\
              --upstream http://127.0.0.1:3000 --cert .rhttp/origin.pem --key .rhttp/origin.key --ca .rhttp/ca.pem
  rhttp-agent --intermediary proxy.example.net --origin https://app.example.com \\
              --upstream http://127.0.0.1:3000 --cert origin.pem --key origin.key
  rhttp-agent --config /etc/rhttp/rhttp.yaml --metrics 127.0.0.1:9101 --log json

Other commands:
  rhttp-agent discover NAME       show the SVCB answer for NAME and what the agent would connect to
  rhttp-agent certs ...           make a development CA and certificates (see 'rhttp-agent certs --help')
  rhttp-agent service install     write a systemd unit (see 'rhttp-agent service --help')
`;

const CONFIG_HELP = `The config file (--config rhttp.yaml): YAML, one file; flags on the command line override it.

  intermediary: tls://127.0.0.1:8443     # or quic://… (Deno), https://… (ptth), ws://…, wss://…, or a bare NAME[:PORT] (SVCB discovery)
  ptth: upgrade                          # https:// only: upgrade (HTTP/1.1) or connect (HTTP/2 extended CONNECT)
  alpn: h2-reverse                       # tls:// only: h2-reverse or rh2 (draft-thomson-ptth-potato)
  doh: https://cloudflare-dns.com/dns-query
  cert: origin.pem                       # relative paths are relative to the config file's folder
  key: origin.key
  ca: ca.pem
  servername: proxy.example.net
  connections: 2                         # per endpoint (each SVCB record of a bare name)
  drain-timeout: 25s                     # a duration: 25 (seconds), 25s, 5m, 1h, 1h30m
  max-connection-age: 1h
  log: json
  metrics: 127.0.0.1:9101
  origins: [https://app.example.com]     # default: https://HOSTNAME of each ingress rule
  ingress:                               # first match wins
    - hostname: app.example.com
      path: /api/*                       # optional glob on the path (* matches anything, / included)
      service: http://127.0.0.1:3000
    - hostname: "*.app.example.com"      # one label under app.example.com
      service: http://127.0.0.1:4000
    - service: http_status:404           # catch-all (no hostname, no path), required last

A service is http://HOST:PORT, https://HOST:PORT (a path prefixes request paths) or
http_status:NNN. Mistakes are reported with the file, line and key.
`;

const DISCOVER_HELP = `Usage: rhttp-agent discover NAME[:PORT] [--doh URL]

Look up the SVCB record of an intermediary (_http-reverse.NAME, or _PORT._http-reverse.NAME when a
port other than 443 is given) over DNS-over-HTTPS, and print the answer and the endpoints the agent
would hold connections to (--connections to each). Exits 1 when there is no usable record.

  --doh URL      the DNS-over-HTTPS resolver (default ${DEFAULT_DOH_URL})
  -h, --help     show this help
`;

const SERVICE_HELP = `Usage: rhttp-agent service install --config FILE [--name NAME] [--user USER] [--unit-dir DIR]
       rhttp-agent service uninstall [--name NAME] [--unit-dir DIR]

install writes a systemd unit that runs 'rhttp-agent --config FILE' with this runtime and CLI
(absolute paths), restarts it when it exits, stops it with SIGTERM (the agent drains) and confines
it (ProtectSystem=strict, NoNewPrivileges, the config and certificates read-only). It prints the
systemctl commands to run; it runs none. uninstall removes the unit file (run
'systemctl disable --now NAME' first).

  --config FILE      the agent's config file (required for install; made absolute)
  --name NAME        unit name (default ${DEFAULT_SERVICE_NAME}: ${DEFAULT_UNIT_DIR}/${DEFAULT_SERVICE_NAME}.service)
  --user USER        run as this user (default: root); it must be able to read the key
  --unit-dir DIR     where to write the unit (default ${DEFAULT_UNIT_DIR})
  -h, --help         show this help
`;

const CERTS_HELP = `Usage: rhttp-agent certs --dir DIR --origin URL [--origin URL ...] [--intermediary-name NAME ...] [--force]

Make development certificates: a private CA, a certificate for the intermediary and one for the
origins. Existing files are kept unless --force (a kept CA keeps existing trust).

  --dir DIR                   where to write ca.pem/.key, intermediary.pem/.key and origin.pem/.key
  --origin URL                an origin the origin certificate must cover; repeat for more
  --intermediary-name NAME    a DNS name or IP address for the intermediary certificate; repeat for
                              more (default: localhost, 127.0.0.1, ::1)
  --force                     replace existing files
  -h, --help                  show this help
`;

/** A command-line mistake: printed with a hint, exit 2. */
class UsageError extends Error {}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** parseArgs' errors in the wording every rhttp command uses (@rhttp/core flagErrorMessage). */
function parseFlags<T extends Parameters<typeof parseArgs>[0]>(config: T, help: string) {
  try {
    return parseArgs({ ...config, strict: true });
  } catch (error) {
    throw new UsageError(flagErrorMessage(error as NodeJS.ErrnoException, help));
  }
}

/**
 * Checks, before dialing, what the intermediary will check of our certificate (DESIGN.md, Carrier
 * 1 step 4) that we can check alone: the chain we send is valid now and its leaf's SANs cover
 * every origin we will claim. Our chain is anchored at its own last certificate (the leaf itself
 * when it comes alone): the CA the intermediary trusts is not ours to know.
 */
async function checkOwnCertificate(chainPem: string, origins: string[], what: string): Promise<void> {
  try {
    const chain = pemToDer(chainPem);
    const identity = await verifyCertificateChain(chain, { trustAnchors: [chain[chain.length - 1]], anchorWord: 'certificate' });
    const uncovered = unauthorizedOrigins(identity, origins.map(parseOrigin));
    if (uncovered.length > 0) {
      const names = [...identity.dnsNames, ...identity.ipAddresses].join(', ') || 'no DNS name or IP address';
      throw new UsageError(
        `${what} does not cover ${uncovered.map(serializeOrigin).join(', ')}: its names are ${names}; the intermediary would refuse ${uncovered.length > 1 ? 'them' : 'it'} (make a certificate that covers every --origin)`,
      );
    }
  } catch (error) {
    if (!(error instanceof CertificateError)) throw error;
    throw new UsageError(`${what}: ${error.message}`);
  }
}

/** Milliseconds of a duration flag (`30s`, `5m`, `1h` or plain seconds); a UsageError otherwise. */
function durationFlag(flag: string, text: string): number {
  try {
    return parseDuration(text);
  } catch {
    throw new UsageError(`${flag} must be a duration (${DURATION_FORMS}), got ${text}`);
  }
}

/** Reads a PEM file named by `flag` (`--cert`, or `cert (from rhttp.yaml)` for the config file's absolute paths). */
function readPem(flag: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'it is a directory' : e.message;
    throw new UsageError(`cannot read ${flag} ${path}: ${why}`);
  }
}

function checkOrigins(origins: string[] | undefined): string[] {
  if (!origins || origins.length === 0) throw new UsageError('--origin is required (e.g. --origin https://app.example.com)');
  for (const o of origins) {
    try {
      parseOrigin(o);
    } catch (error) {
      throw new UsageError(`--origin: ${(error as Error).message}`);
    }
  }
  return origins;
}

/** Writes agent events and the CLI's own lines to stderr, as sentences or as one JSON object a line. */
interface Printer {
  event(event: AgentEvent): void;
  /** A line of the CLI itself (not an agent event), with the same JSON shape. */
  line(level: AgentEventLevel, event: string, message: string, fields?: Record<string, unknown>): void;
}

function printer(format: 'text' | 'json'): Printer {
  if (format === 'json') {
    return {
      event: (event) => process.stderr.write(JSON.stringify(agentLogRecord(event)) + '\n'),
      line: (level, event, message, fields = {}) => process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level, event, message, fields }) + '\n'),
    };
  }
  return {
    event: (event) => process.stderr.write(`rhttp-agent: ${describeAgentEvent(event)}\n`),
    line: (_level, _event, message) => process.stderr.write(`rhttp-agent: ${message}\n`),
  };
}

/** Accepts every --intermediary form; throws UsageError with the reason otherwise. */
function checkIntermediary(value: string, from: string): void {
  let carrier: string | undefined;
  try {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) carrier = parseIntermediary(value).carrier;
    else parseBareIntermediary(value);
  } catch (error) {
    throw new UsageError(`${from === '--intermediary' ? '' : `${from}: `}${(error as Error).message}`);
  }
  // quic:// needs Deno's QUIC: refused at startup on Node and Bun, and on Deno without --unstable-net.
  const unavailable = carrier === 'quic' ? quicUnavailable() : undefined;
  if (unavailable) throw new UsageError(unavailable);
}

async function runAgent(argv: string[]): Promise<number> {
  tuneForProxying();
  const { values } = parseFlags(
    {
      args: argv,
      options: {
        config: { type: 'string' },
        intermediary: { type: 'string' },
        doh: { type: 'string' },
        origin: { type: 'string', multiple: true },
        upstream: { type: 'string' },
        handler: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        ca: { type: 'string' },
        servername: { type: 'string' },
        ptth: { type: 'string' },
        alpn: { type: 'string' },
        connections: { type: 'string' },
        'drain-timeout': { type: 'string' },
        'max-connection-age': { type: 'string' },
        'via-discovery': { type: 'boolean' },
        metrics: { type: 'string' },
        log: { type: 'string' },
        token: { type: 'string' },
        'state-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    },
    'rhttp-agent --help',
  );
  if (values.help) {
    process.stdout.write(RUN_HELP);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`rhttp-agent ${version()}\n`);
    return 0;
  }
  let config: AgentConfig = { path: '' };
  if (values.config !== undefined) {
    try {
      config = loadAgentConfig(values.config as string);
    } catch (error) {
      if (error instanceof ConfigError) throw new UsageError(`--config ${error.message}`);
      throw error;
    }
  }
  const fromConfig = (key: string) => `${key} (from ${values.config as string})`;

  // One-token onboarding (enroll-cli.ts): an identity from --token or from --state-dir fills in
  // the intermediary, origins, certificate, key and CA that were not given.
  const enrollment = await enrolledIdentity({
    token: values.token as string | undefined,
    stateDir: values['state-dir'] as string | undefined,
    certGiven: values.cert !== undefined || config.cert !== undefined,
    log: (message) => process.stderr.write(`rhttp-agent: ${message}\n`),
    usage: (message) => new UsageError(message),
  });
  if (enrollment === 'refused') return EXIT_FAILURE;
  const enrolled = enrollment?.identity;

  const intermediary = (values.intermediary as string | undefined) ?? config.intermediary ?? enrolled?.intermediary;
  if (!intermediary) throw new UsageError('--intermediary is required (e.g. --intermediary tls://127.0.0.1:8443, or a name like proxy.example.net to discover)');
  checkIntermediary(intermediary, values.intermediary !== undefined ? '--intermediary' : fromConfig('intermediary'));
  const doh = (values.doh as string | undefined) ?? config.doh;
  const ptth = (values.ptth as string | undefined) ?? config.ptth;
  if (ptth !== undefined && ptth !== 'upgrade' && ptth !== 'connect') throw new UsageError(`--ptth must be upgrade or connect, got ${ptth}`);
  const alpn = (values.alpn as string | undefined) ?? config.alpn;
  if (alpn !== undefined && !isReversedH2Alpn(alpn)) throw new UsageError(`--alpn must be ${REVERSED_H2_ALPNS.join(' or ')}, got ${alpn}`);
  if (doh !== undefined && !/^https?:\/\/[^/]/i.test(doh)) throw new UsageError(`--doh must be the URL of a DNS-over-HTTPS resolver, like ${DEFAULT_DOH_URL}; got ${doh}`);

  // --upstream/--handler on the command line replace the config file's ingress rules.
  const flagServes = values.upstream !== undefined || values.handler !== undefined;
  const ingress = flagServes ? undefined : config.ingress;
  let origins: string[];
  if (values.origin !== undefined) origins = checkOrigins(values.origin as string[]);
  else if (config.origins !== undefined) origins = config.origins;
  else if (enrolled !== undefined) origins = enrolled.origins;
  else if (ingress !== undefined) {
    origins = ingressOrigins(ingress);
    if (origins.length === 0) throw new UsageError(`--origin is required: the ingress rules of ${values.config as string} name no hostname to derive origins from`);
  } else origins = checkOrigins(undefined);

  if (values.upstream === undefined && values.handler === undefined && ingress === undefined) {
    throw new UsageError('--upstream URL or --handler MODULE is required (or ingress rules in --config): what should answer the requests?');
  }
  if (values.upstream !== undefined && values.handler !== undefined) throw new UsageError('--upstream and --handler exclude each other; pass one');
  if (values.upstream !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(values.upstream as string);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:' && url.protocol !== 'h2c:')) throw new UsageError(`--upstream must be an http://, https:// or h2c:// URL, got ${values.upstream}`);
  }
  const certPath = (values.cert as string | undefined) ?? config.cert;
  const keyPath = (values.key as string | undefined) ?? config.key;
  const caPath = (values.ca as string | undefined) ?? config.ca;
  const certFlag = values.cert !== undefined ? '--cert' : enrollment ? enrollment.certPath : fromConfig('cert');
  const keyFlag = values.key !== undefined ? '--key' : fromConfig('key');
  const caFlag = values.ca !== undefined ? '--ca' : fromConfig('ca');
  if (!certPath && !enrolled) throw new UsageError('--cert is required: the certificate chain (PEM) covering the origins');
  if (!keyPath && !enrolled) throw new UsageError('--key is required: the private key (PEM) of --cert');
  let connections = config.connections ?? DEFAULT_CONNECTIONS;
  if (values.connections !== undefined) {
    connections = Number(values.connections);
    if (!Number.isInteger(connections) || connections < 1 || connections > MAX_CONNECTIONS) {
      throw new UsageError(`--connections must be a whole number from 1 to ${MAX_CONNECTIONS}, got ${values.connections}`);
    }
  }
  let drainTimeoutMs = config.drainTimeoutSeconds !== undefined ? config.drainTimeoutSeconds * 1000 : DEFAULT_DRAIN_TIMEOUT_MS;
  if (values['drain-timeout'] !== undefined) drainTimeoutMs = durationFlag('--drain-timeout', values['drain-timeout'] as string);
  // An enrolled agent replaces its connections well within a certificate's life, so that renewed certificates are the ones in use.
  let maxConnectionAgeMs = config.maxConnectionAgeSeconds !== undefined ? config.maxConnectionAgeSeconds * 1000 : enrollment?.maxConnectionAgeMs;
  if (values['max-connection-age'] !== undefined) {
    maxConnectionAgeMs = durationFlag('--max-connection-age', values['max-connection-age'] as string);
    if (maxConnectionAgeMs <= 0) throw new UsageError(`--max-connection-age must be more than 0, got ${values['max-connection-age']}`);
  }
  const metricsAt = (values.metrics as string | undefined) ?? config.metrics;
  let metricsAddress: { host: string; port: number } | undefined;
  if (metricsAt !== undefined) {
    try {
      metricsAddress = parseListenAddress(metricsAt);
    } catch (error) {
      throw new UsageError(`--metrics: ${(error as Error).message}`);
    }
  }
  const logFormat = ((values.log as string | undefined) ?? config.log ?? 'text') as string;
  if (logFormat !== 'text' && logFormat !== 'json') throw new UsageError(`--log must be text or json, got ${logFormat}`);
  const cert = enrolled ? enrolled.cert : readPem(certFlag, certPath!);
  const key = enrolled ? enrolled.key : readPem(keyFlag, keyPath!);
  const ca = caPath !== undefined ? readPem(caFlag, caPath) : enrolled?.ca;

  let handler;
  if (values.handler !== undefined) {
    try {
      handler = await loadHandlerModule(values.handler as string, process.cwd());
    } catch (error) {
      throw new UsageError(`--handler: ${(error as Error).message}`);
    }
  }

  const out = printer(logFormat);
  let agent: Agent;
  let agentOptions: ConstructorParameters<typeof Agent>[0];
  try {
    agent = new Agent((agentOptions = {
      intermediary,
      doh,
      origins,
      upstream: values.upstream as string | undefined,
      handler,
      ingress: ingress !== undefined ? new IngressRouter(ingress) : undefined,
      cert,
      key,
      ca,
      connections,
      servername: (values.servername as string | undefined) ?? config.servername ?? enrolled?.servername,
      ...(ptth !== undefined ? { ptth } : {}),
      ...(alpn !== undefined ? { alpn } : {}),
      maxConnectionAgeMs,
      viaDiscovery: values['via-discovery'] === true,
      countBodyBytes: metricsAddress !== undefined,
      log: out.event,
    }));
  } catch (error) {
    // Name the flags and files, not the option fields.
    if (error instanceof TlsMaterialError) throw new UsageError(error.describe({ cert: `${certFlag} ${certPath}`, key: `${keyFlag} ${keyPath}`, ca: `${caFlag} ${caPath}` }));
    throw new UsageError((error as Error).message);
  }

  // Fail before dialing: the intermediary would refuse an expired certificate or an origin it does not cover.
  await checkOwnCertificate(cert, origins, `${certFlag} ${certPath}`);

  let metrics: MetricsServer | undefined;
  if (metricsAddress) {
    try {
      metrics = await serveMetrics(agent, metricsAddress.host, metricsAddress.port);
    } catch (error) {
      throw new UsageError(`--metrics ${metricsAt}: cannot listen: ${(error as Error).message}`);
    }
    out.line('info', 'metrics-listening', `Prometheus metrics at ${metrics.url}`, { url: metrics.url });
  }

  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        out.line('warn', 'exit-now', `second ${signal}: exiting without waiting for in-flight requests`, { signal });
        process.exit(EXIT_FAILURE);
      }
      agent.stop({ graceful: true, timeoutMs: drainTimeoutMs }).then(
        async () => {
          await metrics?.close();
          resolve(0);
        },
        (error) => {
          out.line('error', 'stop-failed', `stopping failed: ${(error as Error).message}`, { reason: (error as Error).message });
          resolve(EXIT_FAILURE);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    agent.start();
    // Renewal hands the new certificate to the agent: connections dialed from then on present it.
    if (enrollment) new RenewalSchedule(enrollment, (next) => Object.assign(agentOptions, { cert: next.cert, key: next.key }), out.line).start();
  });
}

async function runDiscover(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    { args: argv, allowPositionals: true, options: { doh: { type: 'string' }, help: { type: 'boolean', short: 'h' } } },
    'rhttp-agent discover --help',
  );
  if (values.help) {
    process.stdout.write(DISCOVER_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('discover needs one NAME, like: rhttp-agent discover proxy.example.net');
  const name = positionals[0];
  try {
    parseBareIntermediary(name, 'discover');
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const doh = (values.doh as string | undefined) ?? DEFAULT_DOH_URL;
  try {
    // The carriers this runtime dials, in its order (QUIC first on Deno with --unstable-net).
    const found = await discoverIntermediaryDetails(name, { doh, carriers: dialableCarriers() });
    process.stdout.write(formatDiscovery(name, found, { doh }));
    return 0;
  } catch (error) {
    const what = error instanceof DiscoveryError ? '' : 'the DNS-over-HTTPS lookup failed: ';
    process.stderr.write(`rhttp-agent: discover ${name}: ${what}${(error as Error).message}\n`);
    return EXIT_FAILURE;
  }
}

async function runService(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  const { values } = parseFlags(
    {
      args: rest,
      options: {
        config: { type: 'string' },
        name: { type: 'string' },
        user: { type: 'string' },
        'unit-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    'rhttp-agent service --help',
  );
  if (action === '--help' || action === '-h' || values.help) {
    process.stdout.write(SERVICE_HELP);
    return 0;
  }
  if (action !== 'install' && action !== 'uninstall') throw new UsageError(`service needs install or uninstall, got ${action ?? 'nothing'} (see 'rhttp-agent service --help')`);
  let name: string;
  try {
    name = checkServiceName((values.name as string | undefined) ?? DEFAULT_SERVICE_NAME);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const unitDir = (values['unit-dir'] as string | undefined) ?? DEFAULT_UNIT_DIR;
  if (action === 'uninstall') {
    const removed = uninstallSystemdUnit(unitDir, name);
    if (!removed) {
      process.stderr.write(`rhttp-agent: no unit ${join(unitDir, `${name}.service`)} to remove\n`);
      return EXIT_FAILURE;
    }
    process.stdout.write(`Removed ${removed}.\nNow run:\n  systemctl daemon-reload\n(If the agent was still running, 'systemctl stop ${name}' first; 'systemctl disable --now ${name}' before uninstalling is best.)\n`);
    return 0;
  }
  if (values.config === undefined) throw new UsageError('service install needs --config FILE: the unit runs rhttp-agent --config FILE');
  if (values.user !== undefined && !/^[a-z_][a-z0-9_.-]*\$?$/i.test(values.user as string)) throw new UsageError(`--user must be a user name, got ${values.user}`);
  const configPath = resolve(values.config as string);
  let config: AgentConfig;
  try {
    config = loadAgentConfig(configPath);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`--config ${error.message}`);
    throw error;
  }
  const cli = fileURLToPath(import.meta.url);
  const unit = renderSystemdUnit({
    name,
    execStart: [...runtimeCommand(cli), '--config', configPath],
    user: values.user as string | undefined,
    readOnlyPaths: [configPath, ...[config.cert, config.key, config.ca].filter((p): p is string => p !== undefined)],
    drainTimeoutSeconds: config.drainTimeoutSeconds,
    workingDirectory: dirname(configPath),
  });
  let path: string;
  try {
    path = installSystemdUnit(unitDir, name, unit);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const hint = e.code === 'EACCES' || e.code === 'EPERM' ? ' (permission denied: run it with sudo, or pass --unit-dir)' : '';
    process.stderr.write(`rhttp-agent: cannot write ${join(unitDir, `${name}.service`)}: ${e.message}${hint}\n`);
    return EXIT_FAILURE;
  }
  process.stdout.write(`Wrote ${path}.\nNow run:\n  systemctl daemon-reload && systemctl enable --now ${name}\nThen watch it with:\n  journalctl -u ${name} -f\n`);
  return 0;
}

async function runCerts(argv: string[]): Promise<number> {
  const { values } = parseFlags(
    {
      args: argv,
      options: {
        dir: { type: 'string' },
        origin: { type: 'string', multiple: true },
        'intermediary-name': { type: 'string', multiple: true },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    'rhttp-agent certs --help',
  );
  if (values.help) {
    process.stdout.write(CERTS_HELP);
    return 0;
  }
  if (!values.dir) throw new UsageError('--dir is required: the directory to write the certificates to');
  const origins = checkOrigins(values.origin as string[] | undefined);
  const dir = values.dir as string;
  const names = values['intermediary-name'] as string[] | undefined;
  const files = ['ca.pem', 'ca.key', 'intermediary.pem', 'intermediary.key', 'origin.pem', 'origin.key'];
  const before = new Map(files.map((f) => [f, modifiedAt(join(dir, f))]));
  // Loaded on demand: certificate generation pulls in @peculiar/x509, which running the agent does not need.
  const { writeDevCertificates } = await import('@rhttp/node/certs');
  const paths = await writeDevCertificates(dir, { origins, intermediaryNames: names, force: values.force === true });
  const out: string[] = [];
  for (const f of files) {
    const path = join(dir, f);
    const changed = modifiedAt(path) !== before.get(f) || values.force === true;
    out.push(`  ${changed ? 'wrote' : 'kept '} ${path}`);
  }
  const agentNames = names ?? ['localhost', '127.0.0.1', '::1'];
  process.stdout.write(
    `Development certificates in ${dir} (intermediary: ${agentNames.join(', ')}; origins: ${origins.join(', ')}):\n${out.join('\n')}\n\n` +
      `Keep ${paths.caKey} private: whoever has it can issue certificates your intermediary trusts.\n\n` +
      `Intermediary flags:\n  --cert ${paths.intermediaryCert} --key ${paths.intermediaryKey} --trust ${paths.caCert}\n` +
      `Agent flags:\n  --cert ${paths.originCert} --key ${paths.originKey} --ca ${paths.caCert}\n`,
  );
  return 0;
}

function modifiedAt(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  switch (first) {
    case 'certs':
      return runCerts(rest);
    case 'discover':
      return runDiscover(rest);
    case 'service':
      return runService(rest);
    case 'help': {
      const topics: Record<string, string> = { certs: CERTS_HELP, run: RUN_HELP, discover: DISCOVER_HELP, service: SERVICE_HELP, config: CONFIG_HELP };
      process.stdout.write(topics[rest[0] ?? ''] ?? TOOL_HELP + '\n' + RUN_HELP);
      return 0;
    }
    case undefined:
      process.stderr.write(TOOL_HELP);
      return EXIT_USAGE;
    default:
      if (!first.startsWith('-')) throw new UsageError(`unknown command ${first} (commands: discover, certs, service, help; run 'rhttp-agent --help')`);
      return runAgent(argv);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    if (error instanceof UsageError) {
      process.stderr.write(`rhttp-agent: ${error.message}\n`);
      process.exit(EXIT_USAGE);
    }
    process.stderr.write(`rhttp-agent: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(EXIT_FAILURE);
  },
);
