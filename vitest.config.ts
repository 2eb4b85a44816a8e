import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/**
 * One project per workspace (Turborepo runs each as that workspace's `test` task:
 * `vitest run --project NAME`) and `e2e` for the cross-package tests under test/ (the root's
 * `test:e2e`). A plain `vitest run` runs them all.
 */
const projects: Array<[name: string, dir: string]> = [
  ['core', 'packages/core/test'],
  ['broker', 'packages/broker/test'],
  ['node', 'packages/node/test'],
  ['agent', 'packages/agent/test'],
  ['intermediary', 'apps/intermediary/test'],
  ['edge', 'apps/edge/test'],
  ['e2e', 'test'],
];

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources; `npm test` still builds dist/ first for the CLIs.
    alias: {
      '@rhttp/core': here('./packages/core/src/index.ts'),
      '@rhttp/broker': here('./packages/broker/src/index.ts'),
      '@rhttp/node/certs': here('./packages/node/src/certs.ts'),
      '@rhttp/node/socket-streams': here('./packages/node/src/socket-streams.ts'),
    },
  },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    projects: projects.map(([name, dir]) => ({ extends: true, test: { name, include: [`${dir}/**/*.test.ts`] } })),
  },
});
