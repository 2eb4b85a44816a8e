#!/usr/bin/env node
/**
 * `rhttp-agent`: the command line of the origin agent. Runs unchanged on Node (`npx rhttp-agent`),
 * Bun (`bunx rhttp-agent`) and Deno (`deno run -A npm:rhttp-agent`): only `node:` modules that
 * all three provide. Exit codes: 0 done, 1 failed while running, 2 bad command line.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseOrigin } from '@rhttp/core';
import { Agent, DEFAULT_CONNECTIONS, DEFAULT_DRAIN_TIMEOUT_MS, MAX_CONNECTIONS, parseIntermediary } from './agent.js';
import { describeAgentEvent, type AgentEvent } from './agent-events.js';
import { loadHandlerModule } from './handler-module.js';

/** Exit status for a bad command line (as in BSD sysexits' tradition of 2 for usage errors). */
const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

const TOOL_HELP = `rhttp-agent — serve an origin through a Reverse HTTP intermediary (draft-bt-httpbis-reverse-http-01)

The agent dials out to the intermediary over TLS 1.3 (ALPN h2-reverse), announces the origins it
serves, and answers the requests the intermediary sends back — from a local app (--upstream) or an
in-process fetch handler (--handler).

Usage:
  rhttp-agent --intermediary tls://HOST:PORT --origin URL [--origin URL ...]
              (--upstream URL | --handler MODULE) --cert FILE --key FILE [options]
  rhttp-agent certs --dir DIR --origin URL [--origin URL ...] [--intermediary-name NAME ...] [--force]
  rhttp-agent help [certs]

Run 'rhttp-agent --help' for the agent's flags and 'rhttp-agent certs --help' for certificates.
`;

const RUN_HELP = `Usage: rhttp-agent --intermediary tls://HOST:PORT --origin URL [--origin URL ...]
                   (--upstream URL | --handler MODULE) --cert FILE --key FILE [options]

Serve one or more origins through an intermediary.

Required:
  --intermediary tls://HOST:PORT  the intermediary's agent port; or ws://HOST:PORT / wss://HOST for
                                  an rhttp edge (WebSocket carrier; bare names with SVCB discovery
                                  are not supported yet)
  --origin URL                    an origin to serve, e.g. https://app.example.com; repeat for more;
                                  wildcards like https://*.app.example.com are allowed
  --upstream URL                  forward requests to this local HTTP/1.1 app, e.g. http://127.0.0.1:3000
  --handler MODULE                or answer them in-process: a module whose default export has
                                  fetch(request) (a Hono app works as is) or is a function
  --cert FILE                     our certificate chain (PEM, leaf first); it must cover every --origin
  --key FILE                      its private key (PEM)

Options:
  --ca FILE                       CA certificate(s) to verify the intermediary with (default: the system's)
  --servername NAME               the name to expect in the intermediary's certificate (default: its host)
  --connections N                 connections to hold for failover (default ${DEFAULT_CONNECTIONS}, at most ${MAX_CONNECTIONS})
  --drain-timeout SECONDS         on SIGTERM/SIGINT, how long to let in-flight requests finish (default ${DEFAULT_DRAIN_TIMEOUT_MS / 1000})
  --max-connection-age SECONDS    replace each connection after about this long (default: never)
  --log text|json                 event lines on stderr as sentences (default) or JSON
  -h, --help                      show this help
  -v, --version                   print the version

The agent reconnects on its own (exponential backoff with jitter). On SIGTERM or SIGINT it sends
GOAWAY, lets in-flight requests finish and exits 0; a second signal exits at once.

Example:
  rhttp-agent --intermediary tls://127.0.0.1:8443 --origin https://app.example.com \\
              --upstream http://127.0.0.1:3000 --cert .rhttp/origin.pem --key .rhttp/origin.key --ca .rhttp/ca.pem

Other commands:
  rhttp-agent certs ...           make a development CA and certificates (see 'rhttp-agent certs --help')
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

/** parseArgs' errors, reworded. */
function parseFlags<T extends Parameters<typeof parseArgs>[0]>(config: T, helpHint: string) {
  try {
    return parseArgs({ ...config, strict: true });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const flag = /'(-[^' ]+)/.exec(e.message)?.[1];
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown flag ${flag ?? ''} (${helpHint})`);
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(`${flag ?? 'a flag'} needs a value`);
    if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new UsageError(`unexpected argument ${/'([^']*)'/.exec(e.message)?.[1] ?? ''} (${helpHint})`);
    throw new UsageError(e.message);
  }
}

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

function printer(format: 'text' | 'json'): (event: AgentEvent) => void {
  if (format === 'json') return (event) => process.stderr.write(JSON.stringify({ time: new Date().toISOString(), ...event }) + '\n');
  return (event) => process.stderr.write(`rhttp-agent: ${describeAgentEvent(event)}\n`);
}

async function runAgent(argv: string[]): Promise<number> {
  const { values } = parseFlags(
    {
      args: argv,
      options: {
        intermediary: { type: 'string' },
        origin: { type: 'string', multiple: true },
        upstream: { type: 'string' },
        handler: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        ca: { type: 'string' },
        servername: { type: 'string' },
        connections: { type: 'string' },
        'drain-timeout': { type: 'string' },
        'max-connection-age': { type: 'string' },
        log: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    },
    "see 'rhttp-agent --help'",
  );
  if (values.help) {
    process.stdout.write(RUN_HELP);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`rhttp-agent ${version()}\n`);
    return 0;
  }
  if (!values.intermediary) throw new UsageError('--intermediary is required (e.g. --intermediary tls://127.0.0.1:8443)');
  try {
    parseIntermediary(values.intermediary as string);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const origins = checkOrigins(values.origin as string[] | undefined);
  if (values.upstream === undefined && values.handler === undefined) throw new UsageError('--upstream URL or --handler MODULE is required: what should answer the requests?');
  if (values.upstream !== undefined && values.handler !== undefined) throw new UsageError('--upstream and --handler exclude each other; pass one');
  if (values.upstream !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(values.upstream as string);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new UsageError(`--upstream must be an http:// or https:// URL, got ${values.upstream}`);
  }
  if (!values.cert) throw new UsageError('--cert is required: the certificate chain (PEM) covering the origins');
  if (!values.key) throw new UsageError('--key is required: the private key (PEM) of --cert');
  let connections = DEFAULT_CONNECTIONS;
  if (values.connections !== undefined) {
    connections = Number(values.connections);
    if (!Number.isInteger(connections) || connections < 1 || connections > MAX_CONNECTIONS) {
      throw new UsageError(`--connections must be a whole number from 1 to ${MAX_CONNECTIONS}, got ${values.connections}`);
    }
  }
  let drainTimeoutMs = DEFAULT_DRAIN_TIMEOUT_MS;
  if (values['drain-timeout'] !== undefined) {
    const seconds = Number(values['drain-timeout']);
    if (!Number.isFinite(seconds) || seconds < 0) throw new UsageError(`--drain-timeout must be a number of seconds, got ${values['drain-timeout']}`);
    drainTimeoutMs = seconds * 1000;
  }
  let maxConnectionAgeMs: number | undefined;
  if (values['max-connection-age'] !== undefined) {
    const seconds = Number(values['max-connection-age']);
    if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`--max-connection-age must be a positive number of seconds, got ${values['max-connection-age']}`);
    maxConnectionAgeMs = seconds * 1000;
  }
  const logFormat = (values.log ?? 'text') as string;
  if (logFormat !== 'text' && logFormat !== 'json') throw new UsageError(`--log must be text or json, got ${logFormat}`);
  const cert = readPem('--cert', values.cert as string);
  const key = readPem('--key', values.key as string);
  const ca = values.ca !== undefined ? readPem('--ca', values.ca as string) : undefined;

  let handler;
  if (values.handler !== undefined) {
    try {
      handler = await loadHandlerModule(values.handler as string, process.cwd());
    } catch (error) {
      throw new UsageError(`--handler: ${(error as Error).message}`);
    }
  }

  const log = printer(logFormat);
  let agent: Agent;
  try {
    agent = new Agent({
      intermediary: values.intermediary as string,
      origins,
      upstream: values.upstream as string | undefined,
      handler,
      cert,
      key,
      ca,
      connections,
      servername: values.servername as string | undefined,
      maxConnectionAgeMs,
      log,
    });
  } catch (error) {
    // Name the flags, not the option fields.
    const message = (error as Error).message.replace('(key)', `(--key ${values.key})`).replace('(cert)', `(--cert ${values.cert})`).replace('(ca)', `(--ca ${values.ca})`);
    throw new UsageError(message);
  }

  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        process.stderr.write(`rhttp-agent: second ${signal}: exiting without waiting for in-flight requests\n`);
        process.exit(EXIT_FAILURE);
      }
      agent.stop({ graceful: true, timeoutMs: drainTimeoutMs }).then(
        () => resolve(0),
        (error) => {
          process.stderr.write(`rhttp-agent: stopping failed: ${(error as Error).message}\n`);
          resolve(EXIT_FAILURE);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    agent.start();
  });
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
    "see 'rhttp-agent certs --help'",
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
  const { writeDevCertificates } = await import('./certs.js');
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
      throw new UsageError('discover (SVCB lookup) is not supported yet');
    case 'help':
      process.stdout.write(rest[0] === 'certs' ? CERTS_HELP : rest[0] === 'run' ? RUN_HELP : TOOL_HELP + '\n' + RUN_HELP);
      return 0;
    case undefined:
      process.stderr.write(TOOL_HELP);
      return EXIT_USAGE;
    default:
      if (!first.startsWith('-')) throw new UsageError(`unknown command ${first} (commands: certs, help; run 'rhttp-agent --help')`);
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
