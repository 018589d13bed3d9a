/** Scrapes the exporter on a short interval and keeps the lab domain's worker and disk series over time. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cli } from '../support/cli.js';
import { samples } from '../support/exporter.js';

export interface Sample {
  /** ms since the sampler started. */
  t: number;
  /** The fio iodepth running when the scrape returned (from the console markers), undefined between phases. */
  iodepth: number | undefined;
  /** qemu_threads{role="worker"}: workers alive at the scrape. */
  workers: number;
  /** qemu_threads_peak{role="worker"}: the most the census saw over its peak window. */
  peak: number;
  /** qemu_disk_io_now summed over the domain's disks: requests in flight on the host device. */
  inFlight: number;
  /** qemu_thread_pool_max_threads (the largest pool's): the ceiling the workers can reach. */
  poolMax: number;
  /** Reads and the seconds they took, cumulative: as QEMU accounted them (the guest's view), and the host device's. */
  guest: { reads: number; seconds: number } | undefined;
  host: { reads: number; seconds: number } | undefined;
  /** qemu_disk_guest_read_latency_seconds_count, when QEMU's histogram is set. */
  histogramCount: number | undefined;
  /** qemu_threads_in_syscall of the workers at the observer's last look: all of them, and those in a read. */
  workersSeen: number;
  workersReading: number;
}

export interface Sampler {
  readonly samples: Sample[];
  readonly t0: number;
  /** Scrapes that failed, and the last failure. */
  readonly failures: { count: number; last: string };
  stop(): Promise<void>;
}

/** The values of every series of `name` whose labels include all of `labels`. */
function pick(series: Map<string, number>, name: string, labels: Record<string, string>): number[] {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return [...series]
    .filter(([key]) => key.startsWith(`${name}{`) && wanted.every((l) => key.includes(l)))
    .map(([, v]) => v);
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** A domain's reads and read time, summed over its disks; undefined when the exporter has neither. */
function counters(series: Map<string, number>, reads: string, seconds: string, domain: string): Sample['guest'] {
  const r = pick(series, reads, { domain });
  return r.length === 0 ? undefined : { reads: sum(r), seconds: sum(pick(series, seconds, { domain })) };
}

export function startSampler(
  cli: Cli,
  domain: string,
  intervalMs: number,
  iodepthNow: () => number | undefined,
): Sampler {
  const t0 = Date.now();
  const out: Sample[] = [];
  const failures = { count: 0, last: '' };
  const stopping = new AbortController();
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      const due = Date.now() + intervalMs;
      const text = await cli.scrape().catch((err: unknown) => {
        failures.count++;
        failures.last = String(err);
        return '';
      });
      const series = samples(text);
      const [workers] = pick(series, 'qemu_threads', { domain, role: 'worker' });
      if (workers !== undefined) {
        out.push({
          t: Date.now() - t0,
          iodepth: iodepthNow(),
          workers,
          peak: pick(series, 'qemu_threads_peak', { domain, role: 'worker' })[0] ?? workers,
          inFlight: sum(pick(series, 'qemu_disk_io_now', { domain })),
          poolMax: Math.max(0, ...pick(series, 'qemu_thread_pool_max_threads', { domain })),
          guest: counters(
            series,
            'qemu_disk_guest_reads_completed_total',
            'qemu_disk_guest_read_time_seconds_total',
            domain,
          ),
          host: counters(series, 'qemu_disk_reads_completed_total', 'qemu_disk_read_time_seconds_total', domain),
          histogramCount: pick(series, 'qemu_disk_guest_read_latency_seconds_count', { domain })[0],
          workersSeen: sum(pick(series, 'qemu_threads_in_syscall', { domain, role: 'worker' })),
          workersReading: sum(pick(series, 'qemu_threads_in_syscall', { domain, role: 'worker', syscall: 'read' })),
        });
      }
      await sleep(Math.max(0, due - Date.now()));
    }
  })();
  return {
    samples: out,
    t0,
    failures,
    async stop() {
      stopping.abort();
      await loop;
    },
  };
}
