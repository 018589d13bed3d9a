/**
 * Per fio phase: the most worker threads and in-flight requests the exporter reported.
 *
 * Why not simply the highest qemu_threads_peak seen while a phase runs: QEMU's pool workers exit only after
 * ~10 s idle and the peak metric is a maximum over a sliding window, so both carry one phase into the next.
 * The lab runs the census every 100 ms with a 2 s peak window, scrapes every 250 ms, and takes a phase's peak
 * only from scrapes whose whole window lies inside the phase (start + 2 s ≤ t ≤ end): what the census saw
 * while this iodepth, and only this one, ran. What the pool already held is still there: idle workers left
 * by an earlier phase. The phases therefore go up (1, 8, 32, 64), where the leftovers are fewer than the
 * current depth needs and get reused, and the first one starts from an empty pool (lab.ts waits for it).
 */
import type { Sample } from './sampler.js';

export interface Phase {
  iodepth: number;
  /** ms on the sampler's clock, when the guest printed `LAB iodepth=N start` / `end`. */
  start: number;
  end: number;
  /** fio's read IOPS inside the guest. */
  iops: number | undefined;
  /** fio's mean total latency of a read inside the guest, ms. */
  latencyMs: number | undefined;
}

export interface PhaseStats {
  iodepth: number;
  /** Highest qemu_threads_peak{role="worker"} whose window lies inside the phase. */
  workerPeak: number;
  /** Highest qemu_disk_io_now scraped during the phase. */
  maxInFlight: number;
  iops: number | undefined;
  /** How much of the phase the peak's windows cover, 0…1: less when scrapes came late (a busy host). */
  coverage: number;
  /** fio's mean read latency in the guest, ms. */
  fioLatencyMs: number | undefined;
  /** Over the phase, from the exporter: reads per second QEMU completed, and ms per read as QEMU and the host device saw them. */
  qemuIops: number | undefined;
  qemuLatencyMs: number | undefined;
  hostLatencyMs: number | undefined;
  /** Growth over the phase of QEMU's read counter and of its latency histogram's count (equal when both count every read). */
  readsCounted: number | undefined;
  histogramCounted: number | undefined;
}

const STEADY_AFTER_MS = 1000;
const STEADY_BEFORE_END_MS = 500;

/** Rate and time per event of a cumulative pair between the first and last sample that have it. */
function delta(
  during: Sample[],
  get: (s: Sample) => { reads: number; seconds: number } | undefined,
): { perSecond: number; ms: number; n: number } | undefined {
  const have = during.filter((s) => get(s));
  const a = have[0];
  const b = have.at(-1);
  if (!a || !b || b.t <= a.t) return undefined;
  const n = get(b)!.reads - get(a)!.reads;
  return { perSecond: (n * 1000) / (b.t - a.t), ms: n > 0 ? ((get(b)!.seconds - get(a)!.seconds) * 1000) / n : NaN, n };
}

/** Length of the union of the intervals (each [from, to]). */
function unionLength(intervals: [number, number][]): number {
  let total = 0;
  let reached = -Infinity;
  for (const [from, to] of [...intervals].sort((a, b) => a[0] - b[0])) {
    total += Math.max(0, to - Math.max(from, reached));
    reached = Math.max(reached, to);
  }
  return total;
}

/** QEMU's and the host device's reads over a phase, and the growth of the histogram's count beside QEMU's counter. */
function latencies(
  during: Sample[],
): Pick<PhaseStats, 'qemuIops' | 'qemuLatencyMs' | 'hostLatencyMs' | 'readsCounted' | 'histogramCounted'> {
  const q = delta(during, (s) => s.guest);
  const h = delta(during, (s) => s.host);
  const both = during.filter((s) => s.guest && s.histogramCount !== undefined);
  const first = both[0];
  const last = both.at(-1);
  return {
    qemuIops: q?.perSecond,
    qemuLatencyMs: q?.ms,
    hostLatencyMs: h?.ms,
    readsCounted: first && last ? last.guest!.reads - first.guest!.reads : undefined,
    histogramCounted: first && last ? last.histogramCount! - first.histogramCount! : undefined,
  };
}

export function phaseStats(samples: Sample[], phases: Phase[], peakWindowMs: number): PhaseStats[] {
  return phases.map((p) => {
    const during = samples.filter((s) => s.t >= p.start && s.t <= p.end);
    const whole = during.filter((s) => s.t >= p.start + peakWindowMs);
    return {
      iodepth: p.iodepth,
      workerPeak: Math.max(0, ...whole.map((s) => s.peak)),
      maxInFlight: Math.max(0, ...during.map((s) => s.inFlight)),
      iops: p.iops,
      coverage: unionLength(whole.map((s) => [s.t - peakWindowMs, s.t])) / Math.max(1, p.end - p.start),
      fioLatencyMs: p.latencyMs,
      // fio needs a moment to start and to reap its last requests: rates from the phase's steady middle.
      ...latencies(during.filter((s) => s.t >= p.start + STEADY_AFTER_MS && s.t <= p.end - STEADY_BEFORE_END_MS)),
    };
  });
}
