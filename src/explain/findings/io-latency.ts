/** io_latency: where a disk's request time goes — the host device, or QEMU (its pool, its threads) before it. */
import type { Evidence, Finding } from './finding.js';
import { fmt, pct } from './format.js';
import type { DiskLatency, Span } from './points.js';

/** From here QEMU's part of the guest's latency is a warning (and only when it is also this many ms). */
const QEMU_SHARE_WARN = 0.5;
const QEMU_MS_WARN = 5;

/** QEMU's part of a disk's request time: what the guest saw less what the host device took. */
export const qemuMs = (l: DiskLatency): number | undefined =>
  l.hostMs === undefined ? undefined : Math.max(0, l.guestMs - l.hostMs);

/** The sentence that says where the time went, e.g. "guest 2.30 ms per request, host device sdc 2.10 ms: QEMU adds 0.20 ms (9%)". */
export function latencySentence(l: DiskLatency): string {
  const q = qemuMs(l);
  if (q === undefined)
    return `the guest's requests on disk ${l.disk} took ${fmt(l.guestMs)} ms each (no host device statistics to compare with)`;
  return `the guest's requests on disk ${l.disk} took ${fmt(l.guestMs)} ms each, the host device ${l.dev} ${fmt(l.hostMs!)} ms: QEMU adds ${fmt(q)} ms (${fmt(pct(q / l.guestMs))}%)`;
}

/** True when QEMU's own part is a large share of what the guest waits. */
export const qemuHurts = (l: DiskLatency): boolean => {
  const q = qemuMs(l);
  return q !== undefined && q >= QEMU_MS_WARN && q / l.guestMs >= QEMU_SHARE_WARN;
};

export function ioLatency(span: Span, poolAtMax: (disk: string) => string | undefined): Finding[] {
  return span.latencies.map((l): Finding => {
    const evidence: Evidence[] = [
      { what: `requests per second on disk ${l.disk}`, value: l.iops, unit: '/s' },
      { what: "time per request, as the guest saw it (QEMU's accounting)", value: l.guestMs, unit: 'ms' },
    ];
    const q = qemuMs(l);
    if (q !== undefined) {
      evidence.push(
        { what: `time per request on host device ${l.dev}`, value: l.hostMs!, unit: 'ms' },
        { what: "QEMU's part", value: q, unit: 'ms' },
      );
    }
    const pool = poolAtMax(l.disk);
    const hurts = qemuHurts(l);
    const why = !hurts
      ? " The time is the storage's, not QEMU's: its threads and their context switches cost the guest little."
      : pool
        ? ` ${pool} is at its maximum: requests wait inside QEMU for a free worker.`
        : " QEMU's own time is a large part of the guest's latency (its iothread or main loop, or the block thread pool).";
    return {
      id: 'io_latency',
      severity: hurts ? 'warning' : 'info',
      subject: `disk ${l.disk}`,
      summary: `${latencySentence(l).replace(/^t/, 'T')}.${why}`,
      evidence,
      advice:
        hurts && pool
          ? "Raise thread_pool_max, or use io='native'/io_uring where the disk allows it (see worker_pool)."
          : '',
    };
  });
}
