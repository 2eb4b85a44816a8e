/**
 * `rhttp-intermediary --workers N`: N intermediary processes on one host (node:cluster), so a
 * machine's cores share the browser load. Node 20 has no `reusePort`; the cluster primary instead
 * holds the `--http`/`--https` listening sockets and hands each new browser connection to one
 * worker (round robin). Each worker is a full intermediary with its own agent sessions and
 * brokers, listening for agents on `--agents` port + i (and `--metrics` port + i), so every agent
 * must hold connections to every worker: one SVCB record per worker port, which an agent given the
 * bare name connects to all of (`--print-svcb NAME --workers N` prints them).
 *
 * The primary serves nothing itself. SIGTERM/SIGINT to it asks every worker to stop gracefully
 * (their drain); a second signal kills them. A worker that dies on its own is started again.
 *
 * @example
 * ```sh
 * rhttp-intermediary --workers 2 --agents 0.0.0.0:8443 --https 0.0.0.0:443 --cert … --key … --trust …
 * # agents connect to tls://HOST:8443 (worker 1) and tls://HOST:8444 (worker 2)
 * ```
 */
import cluster, { type Worker } from 'node:cluster';
import type { IntermediaryAddresses, ListenAddress } from './intermediary.js';

/** Most workers: more processes than cores only add context switches (and agent connections). */
export const MAX_WORKERS = 64;
/** Environment variable that tells a forked process which worker it is (0-based). */
const WORKER_INDEX_ENV = 'RHTTP_INTERMEDIARY_WORKER';
/** Wait before starting a worker that died again: a crash loop must not spin the primary. */
const RESTART_DELAY_MS = 1_000;

/** What a worker tells the primary. */
type WorkerMessage = { type: 'listening'; index: number; addresses: IntermediaryAddresses } | { type: 'failed'; index: number; code: number };
/** What the primary tells a worker. */
type PrimaryMessage = { type: 'stop' };

/** This process's worker index (0-based) when it is a `--workers` worker; undefined otherwise. */
export function workerIndex(): number | undefined {
  if (!cluster.isWorker) return undefined;
  const index = Number(process.env[WORKER_INDEX_ENV]);
  return Number.isInteger(index) && index >= 0 ? index : undefined;
}

/** Worker `index`'s own listener: the given port + index (browser listeners are shared, not shifted). */
export function workerAddress(address: ListenAddress, index: number): ListenAddress {
  return { host: address.host, port: address.port + index };
}

/** In a worker: tell the primary where this worker listens (the primary prints the banner). */
export function reportListening(index: number, addresses: IntermediaryAddresses): void {
  process.send?.({ type: 'listening', index, addresses } satisfies WorkerMessage);
}

/** In a worker: tell the primary this worker could not start (exit code follows). */
export function reportFailed(index: number, code: number): void {
  process.send?.({ type: 'failed', index, code } satisfies WorkerMessage);
}

/** In a worker: `stop` runs when the primary asks (its signal) or goes away. */
export function onStopRequest(stop: () => void): void {
  process.on('message', (message: PrimaryMessage) => {
    if (message?.type === 'stop') stop();
  });
  // The primary died: nobody forwards browser connections to us any more.
  process.on('disconnect', stop);
}

/** In a worker that has stopped: close the channel to the primary, which would keep the process alive. */
export function leaveCluster(): void {
  if (process.connected) process.disconnect();
}

export interface PrimaryOptions {
  workers: number;
  /** Plain-words line on stderr (the primary's own log). */
  say: (message: string) => void;
  /** Called once every worker listens, with each worker's addresses in index order. */
  ready: (addresses: IntermediaryAddresses[]) => void;
}

/**
 * In the primary: fork the workers, wait until all listen, then keep them running until a
 * signal. Resolves with the exit code.
 */
export function runPrimary(options: PrimaryOptions): Promise<number> {
  const { workers, say } = options;
  const listening: (IntermediaryAddresses | undefined)[] = Array.from({ length: workers }, () => undefined);
  const byIndex = new Map<number, Worker>();
  let announced = false;
  let stopping = false;
  return new Promise<number>((resolve) => {
    const exitWhenAllGone = (code: number) => {
      if (byIndex.size === 0) resolve(code);
    };
    let exitCode = 0;
    const fork = (index: number) => {
      const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(index) });
      byIndex.set(index, worker);
      worker.on('message', (message: WorkerMessage) => {
        if (message?.type === 'listening') {
          listening[message.index] = message.addresses;
          if (!announced && listening.every((a) => a !== undefined)) {
            announced = true;
            options.ready(listening as IntermediaryAddresses[]);
          }
        } else if (message?.type === 'failed' && !announced) {
          // A worker that cannot listen (port + i in use) makes the whole set useless: stop them all.
          exitCode = message.code;
          stop('a worker could not start');
        }
      });
      worker.once('exit', (code, signal) => {
        byIndex.delete(index);
        if (stopping) {
          exitWhenAllGone(exitCode);
          return;
        }
        say(`worker ${index + 1} (pid ${worker.process.pid}) exited (${signal ?? `code ${code}`}); starting it again in ${RESTART_DELAY_MS / 1000} s`);
        listening[index] = undefined;
        setTimeout(() => {
          if (!stopping) fork(index);
          else exitWhenAllGone(exitCode);
        }, RESTART_DELAY_MS);
      });
    };
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      say(`${why}: asking ${byIndex.size} worker${byIndex.size === 1 ? '' : 's'} to stop (in-flight requests may finish)`);
      for (const worker of byIndex.values()) if (worker.isConnected()) worker.send({ type: 'stop' } satisfies PrimaryMessage);
      exitWhenAllGone(exitCode);
    };
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        say(`${signal} again, killing the workers`);
        for (const worker of byIndex.values()) worker.process.kill('SIGKILL');
        process.exit(130);
      }
      stop(`${signal} (send it again to exit at once)`);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    for (let i = 0; i < workers; i++) fork(i);
  });
}

export { cluster };
