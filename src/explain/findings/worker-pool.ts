/** worker_pool: a block thread pool that grew, whose pool it is, and why the configuration makes it grow. */
import type { DiskSpec } from '../../host/qemu/disk-spec.js';
import { DEFAULT_POOL_MAX } from '../../model/identity.js';
import type { Point } from '../history.js';
import type { Evidence, Finding } from './finding.js';
import { list } from './format.js';
import { latencySentence } from './io-latency.js';
import { observedWorkers, poolUse } from './observed.js';
import { diskDelta, diskOf, poolThreads, roleSnapshot, type Span } from './points.js';
import type { Thresholds } from './thresholds.js';

const poolOfDisk = (d: DiskSpec): string => d.iothread || 'main';

/**
 * The pool a disk's pool-bound requests run on, named for a sentence, when it reached its maximum over the points
 * (per pool where libvirt's cgroups tell, else the VM's worker peak against the pool's maximum).
 */
export function poolAtMax(points: Point[], disk: string): string | undefined {
  const vm = points.at(-1)!.vm;
  const spec = diskOf(vm, disk)?.spec;
  if (!spec || poolUse(spec) === undefined) return undefined;
  const pool = poolOfDisk(spec);
  const max = vm.pools.find((q) => q.pool === pool)?.max ?? DEFAULT_POOL_MAX;
  const cgroupKnown = vm.pools.some((p) => p.threads !== undefined);
  const peak = Math.max(...points.map((p) => (cgroupKnown ? poolThreads(p.vm, pool) : (p.peak.worker ?? 0))));
  if (peak < max) return undefined;
  return `${pool === 'main' ? "The main loop's pool" : `Pool ${pool}`} (${String(max)} workers)`;
}

/** Pool size vs its maximum, whose pool it is, and why the configuration makes it grow. */
export function workerPools(points: Point[], span: Span, th: Thresholds): Finding[] {
  const vm = span.last.vm;
  const rolePeak = Math.max(...points.map((p) => p.peak.worker ?? 0));
  if (rolePeak < th.poolBusy) return [];
  let users = vm.disks.filter((d) => d.spec.source !== '' && poolUse(d.spec) !== undefined);
  const out: Finding[] = [];

  // Whose pool: from libvirt's cgroups (workers inherit their event loop's group), else from the disks' iothreads.
  const cgroupKnown = vm.pools.some((p) => p.threads !== undefined);
  let pools: { pool: string | undefined; peak: number; now: number; how: string }[];
  if (cgroupKnown) {
    const busy = vm.pools.filter((p) => points.some((pt) => poolThreads(pt.vm, p.pool) > 0));
    pools = busy
      .map((p) => {
        const sampled = Math.max(...points.map((pt) => poolThreads(pt.vm, p.pool)));
        // The census peak is per role: it is this pool's when no other pool had workers.
        return {
          pool: p.pool,
          peak: busy.length === 1 ? Math.max(sampled, rolePeak) : sampled,
          now: p.threads ?? 0,
          how: "The workers' libvirt cgroup tells whose pool they are in.",
        };
      })
      .filter((p) => p.peak >= th.poolBusy);
  } else {
    // Disks whose host device had requests in flight or completed some explain the workers best.
    const active = users.filter(
      (d) =>
        d.stat &&
        (points.some((pt) => (diskOf(pt.vm, d.spec.name)?.stat?.inFlight ?? 0) > 0) ||
          (diskDelta(points, d)?.iops ?? 0) > 0),
    );
    if (active.length > 0) users = active;
    const candidates = [...new Set(users.map((d) => poolOfDisk(d.spec)))];
    const now = roleSnapshot(vm, 'worker')?.threads ?? 0;
    const which = `${list(users.map((d) => `disk ${d.spec.name}`))}${active.length > 0 ? `, the one${active.length === 1 ? '' : 's'} with requests on the host,` : ''}`;
    pools =
      candidates.length === 1
        ? [
            {
              pool: candidates[0]!,
              peak: rolePeak,
              now,
              how: `Whose pool is inferred: ${which} ${users.length === 1 ? 'runs' : 'run'} in ${candidates[0] === 'main' ? 'the main loop' : candidates[0]!}.`,
            },
          ]
        : [
            {
              pool: undefined,
              peak: rolePeak,
              now,
              how:
                candidates.length === 0
                  ? 'Whose pool is not known: no disk of this VM sends its reads and writes to a pool.'
                  : `Whose pool is not known: ${which} run in ${list(candidates)}, and thread names do not say which pool a worker serves.`,
            },
          ];
  }

  for (const p of pools) {
    const maxes =
      p.pool === undefined
        ? vm.pools.map((q) => q.max)
        : [vm.pools.find((q) => q.pool === p.pool)?.max ?? DEFAULT_POOL_MAX];
    const max = Math.max(...maxes);
    const served = users.filter((d) => p.pool === undefined || poolOfDisk(d.spec) === p.pool);
    const luns = served.filter((d) => poolUse(d.spec) === 'sgio');
    const threaded = served.filter((d) => poolUse(d.spec) === 'threads');
    const atMax = p.peak >= max;
    const samplesAtMax = points.filter(
      (pt) =>
        (p.pool !== undefined && cgroupKnown
          ? poolThreads(pt.vm, p.pool)
          : (roleSnapshot(pt.vm, 'worker')?.threads ?? 0)) >= max,
    ).length;
    const name =
      p.pool === undefined ? 'The block thread pool' : p.pool === 'main' ? "The main loop's pool" : `Pool ${p.pool}`;

    const causes: string[] = [];
    const advice: string[] = [];
    for (const d of luns) {
      causes.push(
        `Disk ${d.spec.name} is a passthrough LUN (device='lun', scsi-block): every read and write is an SG_IO ioctl, and QEMU always runs ioctls on the block thread pool, whatever io= says (io='${d.spec.io}' here). Expected, not a misconfiguration.`,
      );
    }
    for (const d of threaded) {
      causes.push(
        `Disk ${d.spec.name} ${d.spec.io === 'default' ? "sets no io=, which defaults to io='threads'" : "uses io='threads'"}: each request in flight holds a worker thread.`,
      );
      advice.push(
        `For disk ${d.spec.name}, io='native' (with cache='none' or 'directsync') or io='io_uring' submits requests from the ${p.pool === 'main' ? 'main loop' : 'iothread'} itself and needs no pool.`,
      );
    }
    if (causes.length === 0)
      causes.push(
        "No disk it serves sends reads and writes to the pool (io='native' or 'io_uring'): the workers run flushes, discards or ioctls.",
      );
    // QEMU's view of the disks measures what the pool costs the guest; without it, the cost is argued.
    const measured = span.latencies.filter((l) => served.some((d) => d.spec.name === l.disk));
    const cost =
      measured.length > 0
        ? `: measured, ${list(measured.map(latencySentence))}.`
        : `, latency the guest sees and the host device does not${span.guestSeen ? '.' : " (libvirt's API, or QMP with --collector.qmp, would measure it)."}`;
    const growth = atMax
      ? `${name} grew to ${String(p.peak)} worker threads, its maximum (at it in ${String(samplesAtMax)} of ${String(points.length)} samples): any request beyond ${String(max)} in flight waits inside QEMU for a free worker${cost}`
      : `${name} grew to ${String(p.peak)} worker threads (its maximum is ${String(max)})${measured.length > 0 ? `; ${list(measured.map(latencySentence))}` : ''}.`;
    if (atMax) {
      advice.push(
        luns.length > 0
          ? `A passthrough LUN always needs the pool: if the guest needs more than ${String(max)} requests in flight, raise thread_pool_max (libvirt ≥ 8.5: <iothread thread_pool_max=…>; QEMU ≥ 7.1: thread-pool-max); on an older QEMU, lower the guest's queue depth for the LUN (its queue_depth in sysfs, or the application's iodepth).`
          : `${advice.length > 0 ? 'Or raise' : 'Raise'} thread_pool_max (libvirt ≥ 8.5: <iothread thread_pool_max=…>; QEMU ≥ 7.1: thread-pool-max).`,
      );
    }

    const evidence: Evidence[] = [
      { what: 'worker threads now', value: p.now, unit: '' },
      { what: 'worker threads, highest seen', value: p.peak, unit: '' },
      { what: 'pool maximum', value: max, unit: '' },
    ];
    let queued = 0;
    for (const d of served) {
      const inFlight = Math.max(0, ...points.map((pt) => diskOf(pt.vm, d.spec.name)?.stat?.inFlight ?? 0));
      queued = Math.max(queued, inFlight);
      if (d.stat)
        evidence.push({
          what: `requests in flight on ${d.hostDevice} (disk ${d.spec.name}), at most`,
          value: inFlight,
          unit: '',
        });
    }
    // Seen, not inferred: what the workers were doing at the syscall observer's last look (absent without
    // CAP_SYS_PTRACE). One look is one instant: workers waiting then are no spare capacity if the host device held
    // a whole pool's worth of requests over the window.
    const observed = observedWorkers(vm, span.last.t, queued >= max);
    if (observed) evidence.push(...observed.evidence);
    out.push({
      id: 'worker_pool',
      severity: atMax && !observed?.idle ? 'warning' : 'info',
      subject: p.pool === undefined ? 'block thread pool' : `pool ${p.pool}`,
      summary: `${growth} ${causes.join(' ')}${observed ? ` ${observed.summary}` : ''} ${p.how}`,
      evidence,
      advice: advice.join(' '),
    });
  }
  return out;
}
