/**
 * Transitional (issue 12): the development certificates live in `@rhttp/node/certs`. cli.ts still
 * loads them from here, and the intermediary's cli.ts through this package's `./certs` export;
 * once both import `@rhttp/node/certs`, this file and that export go.
 */
export * from '@rhttp/node/certs';
