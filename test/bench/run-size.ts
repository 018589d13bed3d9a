/**
 * One host size, measured side by side: our exporter, process-exporter and the two floors take turns, scrape by
 * scrape, on the same synthetic host, so all see the same host state and the same background load. The host is
 * measured idle (its pools parked), then busy (every thread runs between two scrapes); with churn, busy again
 * while the host starts and ends threads.
 */
import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Contender } from './contender.js';
import { seriesCount } from './exposition.js';
import { startFloor } from './floor.js';
import { startOurs } from './ours.js';
import { cpuSeconds, memory } from './proc-usage.js';
import { startProcessExporter } from './process-exporter.js';
import {
  startSyntheticHost,
  type Activity,
  type ChurnOptions,
  type HostShape,
  type SyntheticHost,
} from './synthetic-host.js';

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
  /** Thread status files read per scrape, on average (the floors only). */
  statusReads: number | undefined;
}

/** What the host's churn did while measured, and what our exporter counted of it. */
export interface ChurnFigures extends ChurnOptions {
  /** Threads the host started from just before the warm-up to the end of the idle time, and how long that took. */
  started: number;
  seconds: number;
  /** The growth of our `qemu_thread_spawns_total` over the same time: the threads our census and scrapes saw born. */
  spawnsCounted: number;
}

export interface SizeResult {
  shape: HostShape;
  /** Idle (the pools parked) or busy (every thread runs between scrapes). */
  activity: Activity;
  /** The host's own threads (a churning host has about rate × lifetime more at any time). */
  threads: number;
  /** Set when the host churned threads while measured. */
  churn: ChurnFigures | undefined;
  /** Threads each fake reports itself, per domain. */
  threadsByDomain: Map<string, number>;
  scrapes: number;
  ours: Figures;
  processExporter: Figures;
  /** The floor reading every file of every thread, and the one reading only what changed (as ours does). */
  floor: Figures;
  floorChanged: Figures;
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
  statusReads: number;
}

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** One scrape with its cost: CPU from the process's own /proc stat around it, after a short settle for its GC. */
async function measured(t: Tally, windows?: [number, number][]): Promise<void> {
  const cpu0 = cpuSeconds(t.contender.pid);
  const t0 = nowUs();
  t.last = await t.contender.scrape();
  const t1 = nowUs();
  t.statusReads += t.contender.statusReads?.(t.last) ?? 0;
  await sleep(50);
  t.cpu += cpuSeconds(t.contender.pid) - cpu0;
  t.wallMs.push((t1 - t0) / 1000);
  windows?.push([t0, t1]);
}

function figures(t: Tally, scrapes: number, churning: boolean): Figures {
  const wall = [...t.wallMs].sort((a, b) => a - b);
  return {
    label: t.contender.label,
    cpuSecondsPerScrape: t.cpu / scrapes,
    wallMs: { p50: percentile(wall, 0.5), p99: percentile(wall, 0.99) },
    ...memory(t.contender.pid),
    series: t.contender.exposes ? seriesCount(t.last) : undefined,
    bytes: t.contender.exposes ? Buffer.byteLength(t.last) : undefined,
    threadsSeen: t.contender.threadsSeen(t.last, churning),
    statusReads: t.contender.statusReads ? t.statusReads / scrapes : undefined,
  };
}

type Phase = Omit<SizeResult, 'shape' | 'activity' | 'threads' | 'threadsByDomain' | 'profileDir' | 'churn'>;

/** Warm-up, the measured scrapes taking turns, then the idle time: one table row per contender. */
async function measure(
  contenders: Contender[],
  ours: Contender,
  host: SyntheticHost,
  o: RunOptions,
  activity: Activity,
  churning: boolean,
): Promise<Phase> {
  const what = `${String(host.threads)} threads, ${activity}${churning ? ', churning' : ''}`;
  const tallies = contenders.map((contender): Tally => ({ contender, cpu: 0, wallMs: [], last: '', statusReads: 0 }));
  for (let i = 0; i < o.warmup; i++) for (const c of contenders) await c.scrape();
  o.log(`${what}: ${String(o.scrapes)} scrapes each, alternating`);
  const ourWindowsUs: [number, number][] = [];
  const fakes0 = host.cpuSeconds();
  const t0 = Date.now();
  for (let i = 0; i < o.scrapes; i++) {
    for (const t of tallies) await measured(t, t.contender === ours ? ourWindowsUs : undefined);
  }
  const fakesLoad = (host.cpuSeconds() - fakes0) / ((Date.now() - t0) / 1000);
  const [oursF, peF, floorF, floorChangedF] = tallies.map((t) => figures(t, o.scrapes, churning)) as [
    Figures,
    Figures,
    Figures,
    Figures,
  ];

  o.log(`${what}: ${String(o.idleSeconds)} s idle`);
  const idle0 = contenders.map((c) => cpuSeconds(c.pid));
  await sleep(o.idleSeconds * 1000);
  const idleRate = (i: number): number => (cpuSeconds(contenders[i]!.pid) - idle0[i]!) / o.idleSeconds;
  return {
    scrapes: o.scrapes,
    ours: oursF,
    processExporter: peF,
    floor: floorF,
    floorChanged: floorChangedF,
    idle: { ours: idleRate(0), processExporter: idleRate(1), seconds: o.idleSeconds },
    fakesLoad,
    ourWindowsUs,
  };
}

/**
 * Measures one host size idle, then busy; with `churn`, then busy again on the same host and exporters while it
 * churns (a third result). The churn starts before its warm-up, so the exporters measured have already seen
 * threads end.
 */
export async function runSize(
  shape: HostShape,
  tag: string,
  o: RunOptions,
  churn?: ChurnOptions,
): Promise<SizeResult[]> {
  const threads = shape.vms * shape.threadsPerVm;
  o.log(
    `${String(threads)} threads: starting ${String(shape.vms)} fake VMs × ${String(shape.threadsPerVm)} threads (tick ${String(shape.tickMs)} ms)`,
  );
  const host: SyntheticHost = await startSyntheticHost(shape, tag, 'idle');
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
    contenders.push(await startFloor(host, 'all'));
    contenders.push(await startFloor(host, 'changed'));
    const common = {
      shape,
      threads,
      threadsByDomain: new Map(host.vms.map((vm) => [vm.domain, vm.threads])),
      profileDir,
    };
    const results: SizeResult[] = [];
    for (const activity of ['idle', 'busy'] as const) {
      await host.setActivity(activity);
      const phase = await measure(contenders, ours, host, o, activity, false);
      results.push({ ...common, activity, churn: undefined, ...phase });
    }
    if (churn) {
      o.log(
        `${String(threads)} threads: churning ${String(churn.ratePerSecond)} threads a second, ${String(churn.lifetimeMs)} ms each`,
      );
      const churning = host.churn(churn);
      try {
        await sleep(churn.lifetimeMs); // until threads end as fast as they start
        const spawns = async (): Promise<number> => ours.spawnsCounted?.(await ours.scrape()) ?? NaN;
        const started0 = churning.started;
        const spawns0 = await spawns();
        const t0 = Date.now();
        const phase = await measure(contenders, ours, host, o, 'busy', true);
        const started = churning.started - started0;
        const seconds = (Date.now() - t0) / 1000;
        const spawnsCounted = (await spawns()) - spawns0;
        results.push({ ...common, activity: 'busy', churn: { ...churn, started, seconds, spawnsCounted }, ...phase });
      } finally {
        await churning.stop();
      }
    }
    return results;
  } finally {
    for (const c of contenders) await c.stop();
    await host.stop();
  }
}
