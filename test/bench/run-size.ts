/**
 * One host size, measured side by side: our exporter, process-exporter and the floor take turns, scrape by
 * scrape, on the same synthetic host, so all three see the same host state and the same background load.
 */
import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Contender } from './contender.js';
import { seriesCount } from './exposition.js';
import { startFloor } from './floor.js';
import { startOurs } from './ours.js';
import { cpuSeconds, memory } from './proc-usage.js';
import { startProcessExporter } from './process-exporter.js';
import { startSyntheticHost, type HostShape, type SyntheticHost } from './synthetic-host.js';

export interface RunOptions {
  scrapes: number;
  /** Scrapes before measuring: the first builds each exporter's tables. */
  warmup: number;
  /** How long to watch our idle exporter (no scrapes), for the census's cost. */
  idleSeconds: number;
  /** Our CLI's entry point. */
  entry: string;
  /** Scratch directory: process-exporter's config, profiles. */
  workDir: string;
  /** Profile our exporter (node --cpu-prof) into workDir. */
  cpuProf: boolean;
  /** More flags for the node running our exporter. */
  nodeFlags: string[];
  log: (line: string) => void;
}

export interface Figures {
  label: string;
  cpuSecondsPerScrape: number;
  wallMs: { p50: number; p99: number };
  rssBytes: number;
  peakRssBytes: number;
  /** Sample lines and bytes of the last answer (exporters only). */
  series: number | undefined;
  bytes: number | undefined;
  /** Threads of the synthetic host the last answer showed, per domain (the floor: `*`). */
  threadsSeen: Map<string, number>;
}

export interface SizeResult {
  shape: HostShape;
  threads: number;
  /** Threads each fake reports itself, per domain. */
  threadsByDomain: Map<string, number>;
  scrapes: number;
  ours: Figures;
  processExporter: Figures;
  floor: Figures;
  /** CPU seconds per second while nobody scrapes: our census, and process-exporter for comparison. */
  idle: { ours: number; processExporter: number; seconds: number };
  /** The fakes' own CPU load while measured, in CPU seconds per second. */
  fakesLoad: number;
  /** Our scrapes' wall-clock windows, in µs of the monotonic clock (the one V8's profiler stamps samples with). */
  ourWindowsUs: [number, number][];
  /** Where --cpu-prof wrote our profile. */
  profileDir: string | undefined;
}

/** Nearest-rank percentile. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
}

interface Tally {
  contender: Contender;
  cpu: number;
  wallMs: number[];
  last: string;
}

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** One scrape with its cost: CPU from the process's own /proc stat around it, after a short settle for its GC. */
async function measured(t: Tally, windows?: [number, number][]): Promise<void> {
  const cpu0 = cpuSeconds(t.contender.pid);
  const t0 = nowUs();
  t.last = await t.contender.scrape();
  const t1 = nowUs();
  await sleep(50);
  t.cpu += cpuSeconds(t.contender.pid) - cpu0;
  t.wallMs.push((t1 - t0) / 1000);
  windows?.push([t0, t1]);
}

function figures(t: Tally, scrapes: number): Figures {
  const wall = [...t.wallMs].sort((a, b) => a - b);
  return {
    label: t.contender.label,
    cpuSecondsPerScrape: t.cpu / scrapes,
    wallMs: { p50: percentile(wall, 0.5), p99: percentile(wall, 0.99) },
    ...memory(t.contender.pid),
    series: t.contender.exposes ? seriesCount(t.last) : undefined,
    bytes: t.contender.exposes ? Buffer.byteLength(t.last) : undefined,
    threadsSeen: t.contender.threadsSeen(t.last),
  };
}

export async function runSize(shape: HostShape, tag: string, o: RunOptions): Promise<SizeResult> {
  const threads = shape.vms * shape.threadsPerVm;
  o.log(
    `${String(threads)} threads: starting ${String(shape.vms)} fake VMs × ${String(shape.threadsPerVm)} threads (tick ${String(shape.tickMs)} ms)`,
  );
  const host: SyntheticHost = await startSyntheticHost(shape, tag);
  const contenders: Contender[] = [];
  try {
    const profileDir = o.cpuProf ? `${o.workDir}/profile-${String(threads)}` : undefined;
    if (profileDir) await mkdir(profileDir, { recursive: true });
    const ours = await startOurs(host, {
      entry: o.entry,
      nodeFlags: o.nodeFlags,
      ...(profileDir ? { cpuProfDir: profileDir } : {}),
    });
    contenders.push(ours);
    contenders.push(await startProcessExporter(host, o.workDir));
    contenders.push(await startFloor(host));
    const tallies = contenders.map((contender): Tally => ({ contender, cpu: 0, wallMs: [], last: '' }));

    for (let i = 0; i < o.warmup; i++) for (const c of contenders) await c.scrape();
    o.log(`${String(threads)} threads: ${String(o.scrapes)} scrapes each, alternating`);
    const ourWindowsUs: [number, number][] = [];
    const fakes0 = host.cpuSeconds();
    const t0 = Date.now();
    for (let i = 0; i < o.scrapes; i++) {
      for (const t of tallies) await measured(t, t.contender === ours ? ourWindowsUs : undefined);
    }
    const fakesLoad = (host.cpuSeconds() - fakes0) / ((Date.now() - t0) / 1000);
    const [oursF, peF, floorF] = tallies.map((t) => figures(t, o.scrapes)) as [Figures, Figures, Figures];

    o.log(`${String(threads)} threads: ${String(o.idleSeconds)} s idle`);
    const idle0 = contenders.map((c) => cpuSeconds(c.pid));
    await sleep(o.idleSeconds * 1000);
    const idleRate = (i: number): number => (cpuSeconds(contenders[i]!.pid) - idle0[i]!) / o.idleSeconds;

    return {
      shape,
      threads,
      threadsByDomain: new Map(host.vms.map((vm) => [vm.domain, vm.threads])),
      scrapes: o.scrapes,
      ours: oursF,
      processExporter: peF,
      floor: floorF,
      idle: { ours: idleRate(0), processExporter: idleRate(1), seconds: o.idleSeconds },
      fakesLoad,
      ourWindowsUs,
      profileDir,
    };
  } finally {
    for (const c of contenders) await c.stop();
    await host.stop();
  }
}
