/** disk_sleep: threads in uninterruptible sleep, and whether the host storage is slow, stuck or out of sight. */
import type { Role } from '../../host/qemu/thread-roles.js';
import type { Point } from '../history.js';
import type { Evidence, Finding } from './finding.js';
import { fmt, list, pct, threadsWord } from './format.js';
import { blockedOnStorage } from './observed.js';
import { diskOf, totalsOf, type Span } from './points.js';
import type { Thresholds } from './thresholds.js';

/** Requests in flight and none completed for this long is stuck, not slow (the alert waits 5 minutes). */
export const STUCK_AFTER_S = 60;

/** A disk whose host device has kept requests in flight and completed none for STUCK_AFTER_S, up to the last point. */
export function stuckDevice(
  points: Point[],
): { dev: string; disk: string; inFlight: number; seconds: number } | undefined {
  const last = points.at(-1)!;
  for (const d of last.vm.disks) {
    if (!d.stat || d.stat.inFlight === 0) continue;
    const done = d.stat.readsCompleted + d.stat.writesCompleted;
    let since = last.t;
    for (let i = points.length - 2; i >= 0; i--) {
      const s = diskOf(points[i]!.vm, d.spec.name)?.stat;
      if (!s || s.inFlight === 0 || s.readsCompleted + s.writesCompleted !== done) break;
      since = points[i]!.t;
    }
    const seconds = (last.t - since) / 1000;
    if (seconds >= STUCK_AFTER_S) return { dev: d.hostDevice, disk: d.spec.name, inFlight: d.stat.inFlight, seconds };
  }
  return undefined;
}

/**
 * Threads in uninterruptible disk sleep in most samples: busy storage is normal (a worker in pread, an SG_IO
 * ioctl), so only a host device slower than the threshold, or one that stopped completing requests, is reported.
 */
export function diskSleep(points: Point[], span: Span, th: Thresholds): Finding[] {
  return sleepFindings(points, span, th).map((f) => {
    const seen = blockedOnStorage(span.last.vm);
    return seen ? { ...f, summary: `${f.summary} ${seen}` } : f;
  });
}

function sleepFindings(points: Point[], span: Span, th: Thresholds): Finding[] {
  if (points.length < 2 || span.dt < 1) return [];
  const sleeping = (p: Point) => Object.values(p.diskSleep).reduce((s, n) => s + n, 0);
  const withD = points.filter((p) => sleeping(p) > 0).length;
  if (withD / points.length < th.diskSleepRatio) return [];
  const roles = [
    ...new Set(
      points.flatMap((p) => (Object.entries(p.diskSleep) as [Role, number][]).filter(([, n]) => n > 0).map(([r]) => r)),
    ),
  ];
  const who = `in ${String(withD)} of ${String(points.length)} samples (${list(roles.map(threadsWord))})`;
  const evidence: Evidence[] = [
    { what: 'threads in disk sleep, at most', value: Math.max(...points.map(sleeping)), unit: '' },
    { what: 'samples with threads in disk sleep', value: pct(withD / points.length), unit: '%' },
  ];
  const base = { id: 'disk_sleep', subject: list(roles.map(threadsWord)) };

  const stuck = stuckDevice(points);
  // Without host statistics: in disk sleep in every sample and not one voluntary switch all along.
  const silent =
    !stuck &&
    withD === points.length &&
    span.dt >= STUCK_AFTER_S &&
    roles.every((r) => totalsOf(span.last.vm, r).voluntary === totalsOf(span.first.vm, r).voluntary);
  if (stuck || silent) {
    if (stuck)
      evidence.push(
        { what: `requests in flight on ${stuck.dev}`, value: stuck.inFlight, unit: '' },
        { what: `seconds since ${stuck.dev} completed a request`, value: stuck.seconds, unit: 's' },
      );
    return [
      {
        ...base,
        severity: 'critical',
        evidence,
        summary: `Threads were in uninterruptible disk sleep (D) ${who} and the storage is stuck: ${
          stuck
            ? `host device ${stuck.dev} (disk ${stuck.disk}) has had ${fmt(stuck.inFlight)} requests in flight and completed none for ${fmt(stuck.seconds)} s`
            : `they made no voluntary context switch for ${fmt(span.dt)} s, so nothing they waited for completed`
        }.`,
        advice: `Look at ${stuck ? `host device ${stuck.dev}` : "this VM's host storage"} now: dmesg for SCSI, multipath or NFS errors, multipath -ll, the array. The guest's requests cannot complete until it answers.`,
      },
    ];
  }
  const { slowest } = span;
  if (!slowest) {
    // Busy or slow cannot be told apart without the host device's statistics.
    if (span.last.vm.disks.some((d) => d.stat)) return [];
    return [
      {
        ...base,
        severity: 'info',
        evidence,
        summary: `Threads were in uninterruptible disk sleep (D) ${who}, waiting for storage the exporter cannot see (no host block device it can read backs this VM's disks: network storage, or a source it could not resolve), so it cannot tell slow storage from busy.`,
        advice:
          "Check the storage's latency where it is visible: the NFS, iSCSI or Ceph client's statistics, or the storage server's.",
      },
    ];
  }
  if (slowest.latencyMs < th.diskLatencyMs) return [];
  evidence.push(
    { what: `average request latency on ${slowest.dev}`, value: slowest.latencyMs, unit: 'ms' },
    { what: `${slowest.dev} busy`, value: pct(slowest.util), unit: '%' },
    { what: `requests in flight on ${slowest.dev} now`, value: slowest.inFlight, unit: '' },
  );
  return [
    {
      ...base,
      severity: 'warning',
      evidence,
      summary: `Threads were in uninterruptible disk sleep (D) ${who}, waiting for slow host storage: host device ${slowest.dev} (disk ${slowest.disk}) takes ${fmt(slowest.latencyMs)} ms per request on average (slow from ${fmt(th.diskLatencyMs)} ms), with ${fmt(slowest.inFlight)} in flight and ${fmt(pct(slowest.util))}% busy.`,
      advice: `Look at the host side: iostat -x ${slowest.dev}, its queue depth, and the storage behind it (multipath, SAN, the array's latency). The guest sees this latency plus QEMU's.`,
    },
  ];
}
