// A CPU profile of a running Deno process, over the inspector protocol: Deno has no `--cpu-prof`,
// so start it with `--inspect=127.0.0.1:PORT` and run this while the load runs. The .cpuprofile it
// writes is what test/bench/profile-top.mjs summarises (the h3-reverse figures in docs/benchmarks.md).
//
//   node test/bench/deno-cpu-profile.mjs PORT OUT.cpuprofile [SECONDS=4]
import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';

const [port, out, seconds = '4'] = process.argv.slice(2);
if (!port || !out) {
  console.error('usage: deno-cpu-profile.mjs INSPECTOR_PORT OUT.cpuprofile [SECONDS]');
  process.exit(2);
}
/** Sampling interval (µs): V8's default is 1000; finer for runs of a few seconds. */
const SAMPLING_INTERVAL_US = 500;

const [target] = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
let lastId = 0;
const pending = new Map();
ws.on('message', (data) => {
  const message = JSON.parse(String(data));
  pending.get(message.id)?.(message);
  pending.delete(message.id);
});
const call = (method, params = {}) =>
  new Promise((resolve) => {
    const id = ++lastId;
    pending.set(id, resolve);
    ws.send(JSON.stringify({ id, method, params }));
  });
await call('Profiler.enable');
await call('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US });
await call('Profiler.start');
await new Promise((resolve) => setTimeout(resolve, Number(seconds) * 1000));
const { result } = await call('Profiler.stop');
writeFileSync(out, JSON.stringify(result.profile));
ws.close();
console.log(`wrote ${out}`);
