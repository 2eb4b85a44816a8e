// What every benchmark script shares: medians, CPU seconds of processes from /proc, a process's
// children, children killed when the script exits, and its section of docs/benchmarks.md. Node
// built-ins only.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The median of a list of numbers (the mean of the middle two for an even count). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Clock ticks per second of /proc/PID/stat's utime and stime (USER_HZ; 100 on Linux). */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** CPU seconds (user + system) used so far by these processes (Linux /proc; 0 where unreadable). */
export function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of [pids].flat()) {
    try {
      // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {}
  }
  return ticks / CLK_TCK;
}

/** The PIDs of a process and its direct children (nginx's master and workers, an intermediary's workers). */
export function withChildren(pid) {
  const pids = [pid];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) pids.push(Number(entry));
    } catch {}
  }
  return pids;
}

/** Child processes killed when this script exits (also on Ctrl-C or SIGTERM). */
const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

/** Registers `child` to be killed when the script exits; returns it. */
export function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** The file every benchmark writes its figures into. */
export const BENCHMARKS_FILE = join(dirname(fileURLToPath(import.meta.url)), '../../docs/benchmarks.md');

/**
 * Writes one benchmark's section of docs/benchmarks.md: `lines` between the markers
 * `<!-- bench:NAME start -->` and `<!-- bench:NAME end -->`, in place of the section's last run;
 * a new section goes right after the section `after` when that is there, else at the end.
 * Returns the file's path.
 */
export function writeBenchSection(name, lines, after) {
  const start = `<!-- bench:${name} start -->`;
  const end = `<!-- bench:${name} end -->`;
  const section = [start, ...lines, end].join('\n');
  let doc = existsSync(BENCHMARKS_FILE) ? readFileSync(BENCHMARKS_FILE, 'utf8') : '# Benchmarks\n\nFigures measured on one machine in one run, with the command that produced them.\n';
  const a = doc.indexOf(start);
  const b = doc.indexOf(end);
  const afterEnd = after === undefined ? '' : `<!-- bench:${after} end -->`;
  const t = after === undefined ? -1 : doc.indexOf(afterEnd);
  if (a >= 0 && b > a) doc = doc.slice(0, a) + section + doc.slice(b + end.length);
  else if (t >= 0) doc = `${doc.slice(0, t + afterEnd.length)}\n\n${section}${doc.slice(t + afterEnd.length)}`;
  else doc = `${doc.trimEnd()}\n\n${section}\n`;
  writeFileSync(BENCHMARKS_FILE, doc);
  return BENCHMARKS_FILE;
}
