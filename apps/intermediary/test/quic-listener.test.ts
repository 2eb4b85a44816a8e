/**
 * `--quic HOST:PORT` on Node: parsed, and refused at startup in one line with the usage exit code
 * (Node has no QUIC). The listener itself runs under Deno in test/e2e/quic.test.ts.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { HELP, parseCliArgs } from '../src/cli-args.js';
import { listenQuic, quicListenerUnavailable } from '../src/quic-listener.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../..', import.meta.url));
const cli = join(root, 'apps/intermediary/dist/cli.js');

const NODE_REFUSAL = "--quic needs Deno's QUIC: deno run -A --unstable-net …/apps/intermediary/dist/cli.js … (Node has no QUIC)";

describe('rhttp-intermediary --quic', () => {
  it('parses HOST:PORT; a UDP port may share its number with the TCP agent listener', () => {
    const config = parseCliArgs(['--agents', '127.0.0.1:8443', '--quic', '127.0.0.1:8443']);
    expect(config).toMatchObject({ agents: { host: '127.0.0.1', port: 8443 }, quic: { host: '127.0.0.1', port: 8443 } });
    expect(parseCliArgs(['--quic', '[::1]:443'])).toMatchObject({ quic: { host: '::1', port: 443 } });
    expect(() => parseCliArgs(['--quic', 'localhost'])).toThrow(/--quic "localhost" is not HOST:PORT/);
  });

  it('cannot run with --workers (one process holds the UDP port; Deno has no cluster workers)', () => {
    expect(() => parseCliArgs(['--quic', '127.0.0.1:8443', '--workers', '2'])).toThrow('--quic runs in one process: it cannot be combined with --workers 2');
  });

  it('--help says what it serves and that it needs Deno', () => {
    expect(HELP).toContain('--quic HOST:PORT');
    expect(HELP).toContain('deno run -A --unstable-net');
  });

  it('the listener says Node has no QUIC, and will not start', () => {
    expect(quicListenerUnavailable()).toBe(NODE_REFUSAL);
    expect(() => listenQuic({ address: { host: '127.0.0.1', port: 0 }, cert: '', key: '', onAgent: () => {}, onBrowser: () => {} })).toThrow(NODE_REFUSAL);
  });

  it('the CLI on Node exits 2 with one line', async () => {
    expect(existsSync(cli), `${cli} is missing: run npx tsc -b`).toBe(true);
    const failure = await run(process.execPath, [cli, '--quic', '127.0.0.1:0', '--agents', '127.0.0.1:0', '--http', '127.0.0.1:0']).then(
      () => undefined,
      (error: { code: number; stderr: string; stdout: string }) => error,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toBe(`rhttp-intermediary: ${NODE_REFUSAL}\n`);
    expect(failure?.stdout).toBe('');
  });
});
