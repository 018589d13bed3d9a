/** The whole benchmark: every host size in turn, then the tables (and, with cpuProf, where our time went). */
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, release } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { summarize, formatSummary, type CpuProfile } from './cpuprofile-summary.js';
import { report } from './report.js';
import { runSize, type RunOptions, type SizeResult } from './run-size.js';
import type { ChurnOptions, HostShape } from './synthetic-host.js';

export interface BenchOptions extends Omit<RunOptions, 'workDir'> {
  /** Host sizes; `churn`: measure it a second time while the host churns threads. */
  sizes: { vms: number; threadsPerVm: number; churn?: boolean }[];
  /** The churn of the sizes that churn. */
  churn: ChurnOptions;
  vcpus: number;
  /** Fixed tick for every size; default: ≥ 100 ms, longer on big hosts (about 10,000 wake-ups a second in all). */
  tickMs: number | undefined;
  /** Scratch directory for this run. */
  workDir: string;
  /** The command that reproduces this run, for the report. */
  command: string;
}

export interface BenchResult {
  results: SizeResult[];
  /** The Markdown report: a header, the tables, and profile summaries if any. */
  lines: string[];
}

const defaultTickMs = (threads: number): number => Math.max(100, Math.round(threads / 10));

function tryRun(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** The revision our CLI was built from (the REVISION file `npm run build` writes next to dist/), and whether src/ differed. */
async function revisionOf(entry: string): Promise<string> {
  const root = fileURLToPath(new URL('../../', pathToFileURL(entry)));
  let revision = 'unknown';
  try {
    revision = (await readFile(`${root}REVISION`, 'utf8')).trim() || revision;
  } catch {
    // not built by npm run build
  }
  const changes = tryRun('git', ['-C', root, 'status', '--porcelain', '--', 'src']);
  return changes !== '' && changes !== 'unknown' ? `${revision} + uncommitted changes in src/` : revision;
}

async function header(o: BenchOptions): Promise<string[]> {
  const pe = /revision: ([^)]+)/.exec(tryRun('prometheus-process-exporter', ['-version']))?.[1] ?? 'unknown';
  const churned = o.sizes.filter((s) => s.churn).map((s) => (s.vms * s.threadsPerVm).toLocaleString('en-US'));
  return [
    `${new Date().toISOString().slice(0, 10)}: ${String(cpus().length)} × ${cpus()[0]?.model ?? 'unknown CPU'}, Linux ${release()}, ` +
      `Node ${process.version}; qemu-thread-exporter ${await revisionOf(o.entry)}, process-exporter ${pe}. Reproduce: \`${o.command}\``,
    '',
    `${String(o.scrapes)} scrapes of each (after ${String(o.warmup)} warm-up), taking turns on the same host; ` +
      `CPU is utime + stime from each process's own /proc/PID/stat around each scrape; responses uncompressed; ` +
      `the census idle cost over ${String(o.idleSeconds)} s without scrapes.${o.cpuProf ? ' **Our exporter ran under --cpu-prof** (its sampling costs CPU too, idle included).' : ''}` +
      (o.nodeFlags.length ? ` Our node ran with ${o.nodeFlags.join(' ')}.` : '') +
      ' process-exporter runs with `-threads=true -gather-smaps=false`, one group per VM: its default `-gather-smaps=true` ' +
      "also reads every process's smaps_rollup, which we do not read, so both do the same work." +
      " Each size is one host measured twice with the same exporters: **idle**, the common case (the fake VMs' worker " +
      'pools parked: only the vCPUs, iothreads and rcu thread, 3 + vCPUs a VM, wake every tick), then **busy**, the worst ' +
      'case for reading only what changed (every thread but the main loop wakes every tick, shorter than the time ' +
      'between two scrapes). *threads that ran*: the share of threads whose status the changed-only floor read per ' +
      'scrape (those whose schedstat moved, and each main thread). Two floors, both C reading the same files with one ' +
      'open/read/close each: *all files* reads every file of every thread (the floor of reading everything), ' +
      '*changed only* reads a status only when schedstat moved, as ours does (the floor of our design).' +
      (churned.length
        ? ` Rows marked *churning* (${churned.join(', ')} threads): the same host, busy, and exporters, measured again while ` +
          `the fakes start ${String(o.churn.ratePerSecond)} worker threads a second across the VMs, each ending ${o.churn.lifetimeMs.toLocaleString('en-US')} ms ` +
          "later (about rate × lifetime alive beyond the host's own): the census's work for new threads is in the figures; " +
          "CPU per thread is per thread of the host's own."
        : ''),
    '',
  ];
}

/** Profile summaries: during our scrapes, and between them (census, timers, garbage collection after a scrape). */
async function profileLines(r: SizeResult): Promise<string[]> {
  if (!r.profileDir) return [];
  const file = (await readdir(r.profileDir)).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return [`No profile was written in ${r.profileDir}.`];
  const profile = JSON.parse(await readFile(`${r.profileDir}/${file}`, 'utf8')) as CpuProfile;
  const between: [number, number][] = [];
  for (let i = 1; i < r.ourWindowsUs.length; i++) between.push([r.ourWindowsUs[i - 1]![1], r.ourWindowsUs[i]![0]]);
  const during = summarize(profile, r.ourWindowsUs);
  return [
    `### Profile of our exporter at ${r.threads.toLocaleString('en-US')} threads, ${r.activity}${r.churn ? ', churning' : ''} (${r.profileDir}/${file})`,
    '',
    `#### During our ${String(r.ourWindowsUs.length)} scrapes (${(during.busyUs / 1000 / r.ourWindowsUs.length).toFixed(1)} ms sampled per scrape)`,
    '',
    ...formatSummary(during),
    '',
    '#### Between our scrapes (census, timers, garbage collection; while the others were scraped)',
    '',
    ...formatSummary(summarize(profile, between), 15),
    '',
  ];
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  await mkdir(o.workDir, { recursive: true });
  const results: SizeResult[] = [];
  const tag = `bench${String(process.pid)}`;
  for (const size of o.sizes) {
    const threads = size.vms * size.threadsPerVm;
    const shape: HostShape = { ...size, vcpus: o.vcpus, tickMs: o.tickMs ?? defaultTickMs(threads) };
    results.push(...(await runSize(shape, `${tag}x${String(threads)}`, o, size.churn ? o.churn : undefined)));
  }
  const lines = [...(await header(o)), ...report(results), ''];
  for (const r of results) lines.push(...(await profileLines(r)));
  await writeFile(`${o.workDir}/results.md`, `${lines.join('\n')}\n`);
  return { results, lines };
}
