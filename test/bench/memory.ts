/**
 * `npm run bench:memory`: our exporter's memory over a long run. A synthetic host (default 4,000 threads, busy),
 * scraped every --interval-ms for --minutes, the explain report asked once a minute; prints RSS (and V8's heap as
 * the exporter reports it) each minute, then where the resident memory lies (/proc/PID/smaps by mapping) and a
 * heap snapshot's summary (heap-summary.ts). It reports; it never fails on a size.
 *
 *   npm run bench:memory -- --minutes 10 --interval-ms 2000 --size 50x80
 *   npm run bench:memory -- --compare OTHER/dist/src/main.js   (another build beside it, scraped in turn, same host)
 */
import { readdir, readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { sumBy } from './exposition.js';
import { formatHeapSummary, summarizeHeap } from './heap-summary.js';
import { startOurs } from './ours.js';
import { memory } from './proc-usage.js';
import { startSyntheticHost, type Activity } from './synthetic-host.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '50x80' },
    vcpus: { type: 'string', default: '4' },
    minutes: { type: 'string', default: '10' },
    'interval-ms': { type: 'string', default: '2000' },
    activity: { type: 'string', default: 'busy' },
    'exporter-flags': { type: 'string', default: '' },
    'node-flags': { type: 'string', default: '' },
    snapshot: { type: 'boolean', default: true },
    entry: { type: 'string', default: `${ROOT}dist/src/main.js` },
    compare: { type: 'string' },
  },
});
const m = /^(\d+)x(\d+)$/.exec(values.size);
if (!m) throw new Error(`--size: expected VMSxTHREADS, got ${values.size}`);
const shape = { vms: Number(m[1]), threadsPerVm: Number(m[2]), vcpus: Number(values.vcpus), tickMs: 0 };
shape.tickMs = Math.max(100, Math.round((shape.vms * shape.threadsPerVm) / 10));
if (values.activity !== 'idle' && values.activity !== 'busy') throw new Error('--activity: idle or busy');
const activity: Activity = values.activity;
const minutes = Number(values.minutes);
const intervalMs = Number(values['interval-ms']);
const workDir = `${ROOT}test/.cache/bench/memory-${new Date().toISOString().replace(/[:.]/g, '-')}`;
await mkdir(workDir, { recursive: true });
const out: string[] = [];
const say = (line: string): void => {
  out.push(line);
  process.stdout.write(`${line}\n`);
};
const mb = (b: number): string => (b / 1024 / 1024).toFixed(1);

/** Resident memory by mapping: the V8 heap and malloc share anonymous memory; code is the node binary's text. */
async function smapsBreakdown(pid: number): Promise<string[]> {
  const text = await readFile(`/proc/${String(pid)}/smaps`, 'utf8');
  const by = new Map<string, number>();
  let name = '';
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const path = head[1] ?? '';
      name = path === '' ? '(anonymous)' : path.startsWith('/') ? path.slice(path.lastIndexOf('/') + 1) : path;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) by.set(name, (by.get(name) ?? 0) + Number(rss[1]) * 1024);
  }
  return [
    '| mapping | RSS (MB) |',
    '|---|---|',
    ...[...by]
      .sort((a, b) => b[1] - a[1])
      .filter(([, b]) => b >= 256 * 1024)
      .map(([n, b]) => `| ${n} | ${mb(b)} |`),
  ];
}

say(
  `Memory: ${String(shape.vms * shape.threadsPerVm)} threads (${values.size}, ${activity}), a scrape every ${String(intervalMs)} ms ` +
    `for ${String(minutes)} min, the explain report once a minute. Reproduce: \`npm run bench:memory -- ${process.argv.slice(2).join(' ')}\``,
);
const entries = [values.entry, ...(values.compare ? [values.compare] : [])];
const host = await startSyntheticHost(shape, `mem${String(process.pid)}`, activity);
const exporters: { label: string; dir: string; ours: Awaited<ReturnType<typeof startOurs>> }[] = [];
try {
  for (const [i, entry] of entries.entries()) {
    const dir = `${workDir}/exporter-${String(i)}`;
    await mkdir(dir, { recursive: true });
    const ours = await startOurs(host, {
      entry,
      nodeFlags: [
        ...values['node-flags'].split(' ').filter(Boolean),
        '--heapsnapshot-signal=SIGUSR2',
        `--diagnostic-dir=${dir}`,
      ],
      args: values['exporter-flags'].split(' ').filter(Boolean),
    });
    exporters.push({ label: i === 0 ? 'this build' : `compared (${entry})`, dir, ours });
  }
  say('');
  say(
    '| minute | exporter | scrapes | RSS (MB) | peak RSS (MB) | V8 heap used (MB) | V8 heap total (MB) | external (MB) | last scrape (ms) |',
  );
  say('|---|---|---|---|---|---|---|---|---|');
  const t0 = Date.now();
  let scrapes = 0;
  const answers = exporters.map(() => '');
  const lastMs = exporters.map(() => 0);
  for (let minute = 1; minute <= minutes; minute++) {
    while (Date.now() - t0 < minute * 60_000) {
      const s0 = Date.now();
      for (const [i, e] of exporters.entries()) {
        const s1 = Date.now();
        answers[i] = await e.ours.scrape();
        lastMs[i] = Date.now() - s1;
      }
      scrapes++;
      await sleep(Math.max(0, intervalMs - (Date.now() - s0)));
    }
    for (const [i, e] of exporters.entries()) {
      const explain = await fetch(`${e.ours.url}/api/v1/explain`);
      if (!explain.ok) throw new Error(`/api/v1/explain: ${String(explain.status)}`);
      await explain.arrayBuffer();
      const answer = answers[i]!;
      const gauge = (name: string): number =>
        [...sumBy(answer.replaceAll(`${name} `, `${name}{x="x"} `), name, 'x').values()][0] ?? NaN;
      const mem = memory(e.ours.pid);
      say(
        `| ${String(minute)} | ${e.label} | ${String(scrapes)} | ${mb(mem.rssBytes)} | ${mb(mem.peakRssBytes)} | ${mb(gauge('nodejs_heap_size_used_bytes'))} | ` +
          `${mb(gauge('nodejs_heap_size_total_bytes'))} | ${mb(gauge('nodejs_external_memory_bytes'))} | ${String(lastMs[i])} |`,
      );
    }
  }
  for (const e of exporters) {
    say('');
    say(`Resident memory by mapping (/proc/PID/smaps) at the end, ${e.label}:`);
    say('');
    for (const line of await smapsBreakdown(e.ours.pid)) say(line);
    if (!values.snapshot) continue;
    process.kill(e.ours.pid, 'SIGUSR2');
    let file = '';
    for (let size = -1; ;) {
      await sleep(1000);
      file = (await readdir(e.dir)).find((f) => f.endsWith('.heapsnapshot')) ?? '';
      if (!file) continue;
      const now = (await stat(`${e.dir}/${file}`)).size;
      if (now === size && now > 0) break;
      size = now;
    }
    say('');
    say(`Heap snapshot, ${e.label} (${e.dir}/${file}):`);
    say('');
    const summary = summarizeHeap(JSON.parse(await readFile(`${e.dir}/${file}`, 'utf8')) as never, 20);
    for (const line of formatHeapSummary(summary, 20)) say(line);
  }
} finally {
  for (const e of exporters) await e.ours.stop();
  await host.stop();
}
await writeFile(`${workDir}/memory.md`, `${out.join('\n')}\n`);
process.stderr.write(`memory: wrote ${workDir}/memory.md\n`);
