#!/usr/bin/env node
/**
 * `npm run dev:edge -- [--port 8787] [--ip 127.0.0.1]`: the edge in local workerd, offline.
 * Bindings come from .dev.vars at the repo root (TRUST_ANCHORS, see .dev.vars.example).
 * (`npx wrangler dev` also works and reloads on change, but tries to reach Cloudflare first.)
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildEdge, readDevVars, repoRoot, startEdge } from './local-edge.mjs';

const { values } = parseArgs({ options: { port: { type: 'string', default: '8787' }, ip: { type: 'string', default: '127.0.0.1' } } });
const bindings = readDevVars(join(repoRoot, '.dev.vars'));
if (!bindings.TRUST_ANCHORS) {
  console.warn('warning: no TRUST_ANCHORS in .dev.vars (copy .dev.vars.example); every agent will be refused');
}
console.log('bundling the Worker (wrangler deploy --dry-run)…');
const scriptPath = await buildEdge(join(repoRoot, 'apps/edge/dist/bundle'));
const edge = await startEdge({ scriptPath, host: values.ip, port: Number(values.port), bindings, log: true });
const wsUrl = edge.url.replace(/^http/, 'ws');
console.log(`rhttp edge listening on ${edge.url}`);
console.log(`  agents:   rhttp-agent --intermediary ${wsUrl} --origin https://app.example.com --upstream http://127.0.0.1:3000 --cert origin.pem --key origin.key`);
console.log(`  browsers: curl -H 'Host: app.example.com' ${edge.url}/`);
console.log(`  status:   curl -H 'Host: app.example.com' ${edge.url}/.rhttp/status`);
const stop = async () => {
  await edge.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
