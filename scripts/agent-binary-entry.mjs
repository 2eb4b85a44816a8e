/**
 * Entry point of the single-file agent executables (scripts/build-binaries.mjs). A bundler that
 * puts every module into one file may evaluate @peculiar/x509 (whose tsyringe needs the Reflect
 * polyfill at load) before reflect-metadata, although the agent's own modules import it first.
 * Evaluating the polyfill here, then the CLI through a dynamic import, fixes that order.
 */
import 'reflect-metadata';

await import('../packages/agent/dist/cli.js');
