/**
 * Where a V8 CPU profile (node --cpu-prof) spent its time: self time by category (our code, each npm package,
 * node internals, GC), by file and by function, and inclusive time by function. Optionally only the samples
 * inside given windows of the monotonic clock (e.g. our scrapes).
 *
 *   node --import tsx test/bench/cpuprofile-summary.ts FILE.cpuprofile [TOP]
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled time that was not idle, in µs. */
  busyUs: number;
  byCategory: Map<string, number>;
  byFile: Map<string, number>;
  selfByFunction: Map<string, number>;
  totalByFunction: Map<string, number>;
}

const IDLE = '(idle)';

/** `prom-client/lib/registry.js`, `node:fs`, `ours: src/snapshot.js`, `(garbage collector)`. */
function fileOf(frame: CallFrame): string {
  const url = frame.url.replace(/^file:\/\//, '');
  if (url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  if (url.startsWith('node:')) return url;
  const src = url.lastIndexOf('/src/');
  return src >= 0 ? `ours: ${url.slice(url.lastIndexOf('/', src - 1) + 1)}` : url;
}

/** Our code, one npm package, node internals, or V8 itself. */
function categoryOf(file: string): string {
  if (file.startsWith('ours: ')) return 'our code';
  if (file.startsWith('node:')) return 'node internals (node:*)';
  if (file.startsWith('(')) return file === '(native)' ? 'native (V8 builtins, bindings)' : `V8 ${file}`;
  const parts = file.split('/');
  return `npm: ${file.startsWith('@') ? `${parts[0] ?? ''}/${parts[1] ?? ''}` : (parts[0] ?? '')}`;
}

const functionOf = (frame: CallFrame): string =>
  `${frame.functionName || '(anonymous)'} ${fileOf(frame)}${frame.url ? `:${String(frame.lineNumber + 1)}` : ''}`;

function add(map: Map<string, number>, key: string, us: number): void {
  map.set(key, (map.get(key) ?? 0) + us);
}

/** Summarizes the samples inside `windowsUs` (sorted [start, end] pairs), or all of them. */
export function summarize(profile: CpuProfile, windowsUs?: readonly (readonly [number, number])[]): ProfileSummary {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const s: ProfileSummary = {
    busyUs: 0,
    byCategory: new Map(),
    byFile: new Map(),
    selfByFunction: new Map(),
    totalByFunction: new Map(),
  };

  let t = profile.startTime;
  let w = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    // A sample stands for the time until the next one.
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (windowsUs) {
      while (w < windowsUs.length && windowsUs[w]![1] < t) w++;
      if (w === windowsUs.length || windowsUs[w]![0] > t) continue;
    }
    const leaf = nodes.get(profile.samples[i]!);
    if (!leaf || leaf.callFrame.functionName === IDLE) continue;
    s.busyUs += us;
    const file = fileOf(leaf.callFrame);
    add(s.byCategory, categoryOf(file), us);
    add(s.byFile, file, us);
    add(s.selfByFunction, functionOf(leaf.callFrame), us);
    const onStack = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const frame = nodes.get(id)!.callFrame;
      if (frame.functionName !== '(root)') onStack.add(functionOf(frame));
    }
    for (const f of onStack) add(s.totalByFunction, f, us);
  }
  return s;
}

function top(map: Map<string, number>, busyUs: number, n: number, head: string): string[] {
  const rows = [...map].sort((a, b) => b[1] - a[1]).slice(0, n);
  return [
    `| ${head} | ms | share |`,
    '|---|---|---|',
    ...rows.map(
      ([k, us]) =>
        `| \`${k.replaceAll('|', '\\|')}\` | ${(us / 1000).toFixed(1)} | ${((us / busyUs) * 100).toFixed(1)} % |`,
    ),
  ];
}

export function formatSummary(s: ProfileSummary, n = 25): string[] {
  return [
    `Busy (not idle) sampled time: ${(s.busyUs / 1000).toFixed(1)} ms`,
    '',
    ...top(s.byCategory, s.busyUs, n, 'self time by category'),
    '',
    ...top(s.byFile, s.busyUs, n, 'self time by file'),
    '',
    ...top(s.selfByFunction, s.busyUs, n, 'self time by function'),
    '',
    ...top(s.totalByFunction, s.busyUs, n, 'inclusive time by function'),
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, n] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: cpuprofile-summary.ts FILE.cpuprofile [TOP]\n');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  process.stdout.write(`${formatSummary(summarize(profile), n ? Number(n) : undefined).join('\n')}\n`);
}
