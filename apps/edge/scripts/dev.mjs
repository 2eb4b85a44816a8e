#!/usr/bin/env node
/**
 * `npm run dev:edge -- [--port 8787] [--ip 127.0.0.1] [--vars FILE]`: the edge in local workerd, offline.
 * Bindings come from .dev.vars at the repo root (or --vars FILE), read with wrangler's dotenv
 * (TRUST_ANCHORS, see .dev.vars.example); it exits 2 at once when TRUST_ANCHORS holds no usable certificate.
 * (`npx wrangler dev` also works and reloads on change, but tries to reach Cloudflare first.)
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildEdge, checkTrustAnchors, readDevVars, repoRoot, startEdge } from './local-edge.mjs';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '8787' }, ip: { type: 'string', default: '127.0.0.1' }, vars: { type: 'string', default: join(repoRoot, '.dev.vars') } },
});
if (!existsSync(values.vars)) {
  console.error(`dev:edge: ${values.vars}: no such file (copy .dev.vars.example to .dev.vars and put the agents' CA in TRUST_ANCHORS)`);
  process.exit(2);
}
const bindings = readDevVars(values.vars);
try {
  const count = checkTrustAnchors(bindings.TRUST_ANCHORS);
  console.log(`TRUST_ANCHORS from ${values.vars}: ${count} certificate${count === 1 ? '' : 's'}`);
} catch (error) {
  // Fail before bundling: without a usable trust anchor the edge refuses every agent.
  console.error(`dev:edge: ${values.vars}: ${error.message}`);
  process.exit(2);
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
