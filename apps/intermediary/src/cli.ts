#!/usr/bin/env node
/**
 * `rhttp-intermediary`: runs the Node intermediary from the command line. With no
 * --cert/--key/--trust it makes a development CA and certificates under --state-dir and prints
 * the exact agent command to paste. SIGTERM/SIGINT stop it gracefully; a second signal exits now.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CertificateError, pemToDer } from '@rhttp/core';
import { HELP, UsageError, parseCliArgs, type CliConfig } from './cli-args.js';
import { Intermediary, STATUS_PATH, formatAddress, type IntermediaryAddresses, type ListenAddress } from './intermediary.js';
import { createLogger, type LogFunction } from './log-format.js';
import { METRICS_PATH } from './metrics.js';
import { svcbRecordsFor } from './svcb-record.js';
import { Enrollment } from './enrollment.js';
import { certificateFingerprint, runTokenCommand, writeEnrollmentAdvert } from './token-cli.js';
import { TokenStore } from './token-store.js';
import { quicListenerUnavailable } from './quic-listener.js';
import { tuneForProxying } from '@rhttp/node/v8-tuning';
import { cluster, leaveCluster, onStopRequest, reportFailed, reportListening, runPrimary, workerAddress, workerIndex } from './workers.js';

/** Host of the development origin: browsers resolve *.localhost to loopback (RFC 6761 §6.3), so it works with no DNS setup. */
const DEV_ORIGIN_HOST = 'app.localhost';

/** Where clients on this machine reach a listener: a wildcard bind address is not one you can connect to. */
function reachable(address: ListenAddress): ListenAddress {
  if (address.host === '0.0.0.0') return { host: '127.0.0.1', port: address.port };
  if (address.host === '::') return { host: '::1', port: address.port };
  return address;
}

function authorityFor(host: string, port: number, scheme: 'http' | 'https'): string {
  return port === (scheme === 'http' ? 80 : 443) ? host : `${host}:${port}`;
}

async function readPem(flag: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new UsageError(`${flag} ${path}: cannot read it (${why})`);
  }
}

/**
 * Refuses to start on a PEM file with no usable certificate: with an empty --trust every agent
 * would be refused later, one by one, with nothing said at startup.
 */
function checkHoldsCertificates(flag: string, path: string, pem: string, what: string): void {
  let blocks: Uint8Array[];
  try {
    blocks = pemToDer(pem);
  } catch (error) {
    if (!(error instanceof CertificateError)) throw error;
    throw new UsageError(`${flag} ${path} holds no usable certificate (${error.message}); it must hold ${what} (PEM)`);
  }
  blocks.forEach((der, i) => {
    try {
      new X509Certificate(der);
    } catch (error) {
      throw new UsageError(`${flag} ${path}: certificate ${i + 1} is not valid X.509 (${(error as Error).message}); it must hold ${what} (PEM)`);
    }
  });
}

interface Certificates {
  cert: string;
  key: string;
  trust: string;
  dev?: { dir: string; caCert: string; originCert: string; originKey: string };
  /** The CA that signs enrolled agents' certificates (--ca-cert/--ca-key, or the dev CA). */
  signingCa?: { certPem: string; keyPem: string };
}

/**
 * The CA agents enroll with: --ca-cert/--ca-key, or the development CA. Agents it issued for are
 * admitted, so it joins the trust anchors.
 */
async function loadSigningCa(config: CliConfig, certs: Certificates): Promise<void> {
  if (config.signingCa) {
    const [certPem, keyPem] = await Promise.all([readPem('--ca-cert', config.signingCa.cert), readPem('--ca-key', config.signingCa.key)]);
    checkHoldsCertificates('--ca-cert', config.signingCa.cert, certPem, 'the CA certificate that signs enrolled agents\' certificates');
    certs.signingCa = { certPem, keyPem };
  } else if (certs.dev) {
    const dir = certs.dev.dir;
    certs.signingCa = { certPem: await readFile(join(dir, 'ca.pem'), 'utf8'), keyPem: await readFile(join(dir, 'ca.key'), 'utf8') };
  }
  if (certs.signingCa && !certs.trust.includes(certs.signingCa.certPem.trim())) certs.trust = `${certs.trust.trimEnd()}\n${certs.signingCa.certPem}`;
}

/**
 * What an enrolled agent should verify this intermediary with later: the last certificate of
 * --cert when it is a self-signed root shipped with the chain (the dev setup, a private CA);
 * otherwise nothing, and the agent uses the system's CAs (a public certificate).
 */
function intermediaryRoot(chainPem: string): string | undefined {
  const blocks = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const last = blocks.at(-1);
  if (!last) return undefined;
  const cert = new X509Certificate(last);
  return cert.checkIssued(cert) && cert.verify(cert.publicKey) ? `${last}\n` : undefined;
}

async function loadCertificates(config: CliConfig): Promise<Certificates> {
  if (config.files) {
    const [cert, key, trust] = await Promise.all([readPem('--cert', config.files.cert), readPem('--key', config.files.key), readPem('--trust', config.files.trust)]);
    checkHoldsCertificates('--cert', config.files.cert, cert, 'the intermediary\'s certificate chain, leaf first');
    checkHoldsCertificates('--trust', config.files.trust, trust, 'the CA certificate(s) that issued the agents\' origin certificates');
    return { cert, key, trust };
  }
  const { writeDevCertificates } = await import('@rhttp/node/certs');
  const names = new Set(['localhost', DEV_ORIGIN_HOST, '127.0.0.1', '::1']);
  for (const a of [config.agents, config.https, config.quic]) if (a && a.host !== '0.0.0.0' && a.host !== '::') names.add(a.host);
  const paths = await writeDevCertificates(config.stateDir, { origins: [`https://${DEV_ORIGIN_HOST}`], intermediaryNames: [...names] });
  const [cert, key, trust] = await Promise.all([readFile(paths.intermediaryCert, 'utf8'), readFile(paths.intermediaryKey, 'utf8'), readFile(paths.caCert, 'utf8')]);
  return { cert, key, trust, dev: { dir: config.stateDir, caCert: paths.caCert, originCert: paths.originCert, originKey: paths.originKey } };
}

/** Name shown in the banner's SVCB example: the operator substitutes the name agents are given. */
const SVCB_EXAMPLE_NAME = 'proxy.example.net';

function banner(addresses: IntermediaryAddresses, certs: Certificates, statusToken: boolean, workers: IntermediaryAddresses[] = [addresses]): string {
  const agents = reachable(addresses.agents);
  const lines =
    workers.length === 1
      ? ['rhttp intermediary is running', `  agents connect to  tls://${formatAddress(agents)}  (ALPN h2-reverse or rh2, client certificate required)`]
      : [
          `rhttp intermediary is running as ${workers.length} workers sharing the browser listeners`,
          ...workers.map((w, i) => `  agents connect to  tls://${formatAddress(reachable(w.agents))}  (worker ${i + 1}; ALPN h2-reverse or rh2, client certificate required)`),
          '                     every agent must reach every worker: give agents a name whose SVCB records list all of them',
        ];
  const browserUrls: string[] = [];
  if (addresses.http) {
    const url = `http://${formatAddress(reachable(addresses.http))}`;
    browserUrls.push(url);
    lines.push(`  browsers (http)    ${url}  (HTTP/1.1 and h2c)`);
  }
  if (addresses.https) {
    const url = `https://${formatAddress(reachable(addresses.https))}`;
    browserUrls.push(url);
    lines.push(`  browsers (https)   ${url}  (HTTP/2 and HTTP/1.1)`);
  }
  lines.push(`  status             ${browserUrls[0]}${STATUS_PATH}  (${statusToken ? 'needs Authorization: Bearer <status token>' : 'this machine only; --status-token opens it'})`);
  if (addresses.quic) lines.push(`  agents (QUIC)      quic://${formatAddress(reachable(addresses.quic))}  (ALPN h3-reverse, certificate proven in-band; Deno agents: deno run -A --unstable-net)`);
  for (const w of workers) if (w.metrics) lines.push(`  metrics            http://${formatAddress(reachable(w.metrics))}${METRICS_PATH}  (Prometheus)`);
  // The unprefixed set: one record per worker, plus the QUIC listener's own when it is on another port.
  const svcb = svcbRecordsFor(SVCB_EXAMPLE_NAME, addresses.agents, workers.length, addresses.quic).filter((l) => !l.startsWith(';') && l.startsWith('_http-reverse.'));
  const workersFlag = `${workers.length > 1 ? ` --workers ${workers.length}` : ''}${addresses.quic ? ` --quic ${formatAddress(addresses.quic)}` : ''}`;
  lines.push(
    `  DNS discovery      publish the SVCB record${svcb.length > 1 ? 's' : ''} printed by 'rhttp-intermediary --print-svcb NAME --agents ${formatAddress(addresses.agents)}${workersFlag}', e.g.`,
    ...svcb.map((r) => `                     ${r}`),
  );
  if (certs.signingCa) {
    const dir = certs.dev?.dir;
    lines.push(`  onboarding         rhttp-intermediary token create${dir && dir !== '.rhttp' ? ` --state-dir ${dir}` : ''} --origin https://app.example.com  (the agent then needs only --token)`);
  }
  if (certs.dev) {
    const { dir, caCert, originCert, originKey } = certs.dev;
    const origins: string[] = [];
    if (addresses.http) origins.push(`http://${authorityFor(DEV_ORIGIN_HOST, addresses.http.port, 'http')}`);
    if (addresses.https) origins.push(`https://${authorityFor(DEV_ORIGIN_HOST, addresses.https.port, 'https')}`);
    lines.push(
      '',
      `Development certificates are in ${dir}/ (its CA, ${caCert}, is the only one trusted for agents).`,
      `Serve the dev origin ${origins.join(' and ')} from an app on port 3000:`,
      `  rhttp-agent --intermediary tls://${formatAddress(agents)} ${origins.map((o) => `--origin ${o}`).join(' ')} --upstream http://127.0.0.1:3000 --cert ${originCert} --key ${originKey} --ca ${caCert}`,
      `then open ${origins[0]}/`,
      `Certificate for another origin (same CA): delete ${join(dir, 'origin.pem')} and ${join(dir, 'origin.key')}, then`,
      `  rhttp-agent certs --dir ${dir} --origin https://your-app.example`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  let config: CliConfig | 'help' | 'token';
  try {
    config = parseCliArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`rhttp-intermediary: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (config === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (config === 'token') {
    try {
      return await runTokenCommand(argv.slice(1));
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      process.stderr.write(`rhttp-intermediary: ${error.message}\n`);
      return 2;
    }
  }
  if (config.printSvcb !== undefined) {
    if (config.agents.port === 0) {
      process.stderr.write('rhttp-intermediary: --print-svcb needs the real --agents port, not 0\n');
      return 2;
    }
    process.stdout.write(`${svcbRecordsFor(config.printSvcb, config.agents, config.workers ?? 1, config.quic).join('\n')}\n`);
    return 0;
  }
  // --quic needs Deno's QUIC: refused at startup, in one line, on Node (and on Deno without --unstable-net).
  const noQuic = config.quic ? quicListenerUnavailable() : undefined;
  if (noQuic) {
    process.stderr.write(`rhttp-intermediary: ${noQuic}\n`);
    return 2;
  }
  // A --workers worker: its own agents (and metrics) port, and its number on every log line.
  const worker = workerIndex();
  const baseLog: LogFunction = createLogger(config.log, (line) => process.stderr.write(line));
  const log: LogFunction =
    worker === undefined ? baseLog : config.log === 'json' ? (message, record) => baseLog(message, { level: 'info', event: 'log', ...record, worker: worker + 1 }) : (message, record) => baseLog(`worker ${worker + 1}: ${message}`, record);
  const format = config.log;
  const fail = (message: string, event: string): void => {
    if (format === 'text') process.stderr.write(`rhttp-intermediary: ${message}\n`);
    else log(message, { level: 'error', event });
  };
  const statusToken = config.statusToken ?? (process.env.RHTTP_STATUS_TOKEN || undefined);
  let certs: Certificates;
  try {
    certs = await loadCertificates(config);
    await loadSigningCa(config, certs);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error), 'certificates.failed');
    return error instanceof UsageError ? 2 : 1;
  }
  if ((config.workers ?? 1) > 1 && cluster.isPrimary) {
    // Certificates (dev ones included) exist now, so the workers only read them.
    return runPrimary({
      workers: config.workers!,
      say: (message) => (format === 'json' ? log(message, { level: 'info', event: 'workers' }) : process.stderr.write(`rhttp-intermediary: ${message}\n`)),
      ready: (all) => process.stdout.write(banner(all[0], certs, statusToken !== undefined, all)),
    });
  }
  // This process serves requests from here on (the --workers primary returned above).
  tuneForProxying();
  const intermediary = new Intermediary({
    agents: worker === undefined ? config.agents : workerAddress(config.agents, worker),
    http: config.http,
    https: config.https,
    quic: config.quic,
    cert: certs.cert,
    key: certs.key,
    trust: certs.trust,
    responseTimeoutMs: config.responseTimeoutMs,
    maxExchangesPerClient: config.maxExchangesPerClient,
    metrics: worker === undefined || !config.metrics ? config.metrics : workerAddress(config.metrics, worker),
    statusToken,
    log,
    enrollment: certs.signingCa
      ? new Enrollment({ store: new TokenStore(config.stateDir), ca: certs.signingCa, certificateLifetimeMs: config.certLifetimeMs, intermediaryCa: intermediaryRoot(certs.cert), log })
      : undefined,
  });
  let addresses: IntermediaryAddresses;
  try {
    addresses = await intermediary.start();
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { address?: string; port?: number };
    const where = e.address !== undefined ? ` ${e.address}:${e.port}` : '';
    const why = e.code === 'EADDRINUSE' ? `address${where} is already in use` : e.code === 'EACCES' ? `no permission to listen on${where}` : e.message;
    fail(`cannot listen: ${why}`, 'listener.failed');
    await intermediary.stop();
    if (worker !== undefined) reportFailed(worker, 1);
    return 1;
  }
  const stopped = new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        fail(`${signal} again, exiting now`, 'signal.exit');
        process.exit(130);
      }
      if (format === 'json') log(`${signal}, stopping (send it again to exit at once)`, { level: 'info', event: 'signal.stop', signal });
      else process.stderr.write(`rhttp-intermediary: ${signal}, stopping (send it again to exit at once)\n`);
      void intermediary.stop().then(resolve);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // A worker also stops when the primary asks (it got the signal) or is gone; that is no second signal.
    if (worker !== undefined) onStopRequest(() => void intermediary.stop().then(resolve));
  });
  // The banner goes out only once the signal handlers are in place: whoever reads it (a test, a
  // supervisor) may send SIGTERM at once, and without a handler that kills the process outright.
  // Where `token create` (same --state-dir) points agents: worker 1's port is the --agents port.
  if (worker === undefined || worker === 0) {
    await writeEnrollmentAdvert(config.stateDir, certs.signingCa ? { address: formatAddress(reachable(addresses.agents)), fingerprint: certificateFingerprint(certs.cert) } : undefined);
  }
  if (worker !== undefined) reportListening(worker, addresses);
  else process.stdout.write(banner(addresses, certs, statusToken !== undefined));
  await stopped;
  if (worker !== undefined) leaveCluster();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`rhttp-intermediary: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
