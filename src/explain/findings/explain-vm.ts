/**
 * What a VM's recent history means, in words: QEMU's rules that connect a configuration (libvirt XML or command
 * line) to its threads' behaviour, one file per family of findings. Pure: points in, findings out.
 */
import type { Point } from '../history.js';
import { diskSleep } from './disk-sleep.js';
import { SEVERITIES, type Finding } from './finding.js';
import { ioLatency } from './io-latency.js';
import { diskLatencies, slowestDisk, type Span } from './points.js';
import { rolesInferred } from './roles-inferred.js';
import { switching } from './switching.js';
import type { Thresholds } from './thresholds.js';
import { poolAtMax, workerPools } from './worker-pool.js';

export function explainVm(points: Point[], th: Thresholds): Finding[] {
  const last = points.at(-1);
  if (!last) return [];
  const span: Span = {
    first: points[0]!,
    last,
    dt: (last.t - points[0]!.t) / 1000,
    slowest: slowestDisk(points),
    latencies: diskLatencies(points),
    guestSeen: last.vm.guestAgeSeconds !== undefined,
  };
  const out: Finding[] = [
    ...workerPools(points, span, th),
    ...ioLatency(span, (disk) => poolAtMax(points, disk)),
    ...diskSleep(points, span, th),
  ];
  if (span.dt >= 1) out.push(...switching(points, span, th));
  else {
    out.push({
      id: 'short_history',
      severity: 'info',
      subject: 'history',
      summary: `Only ${String(points.length)} sample${points.length === 1 ? '' : 's'} of this VM so far: context-switch rates, run-queue wait and disk latency need two samples at least a second apart.`,
      evidence: [{ what: 'history', value: span.dt, unit: 's' }],
      advice: 'Ask again after the next sample (taken at every scrape, and at least every --explain.interval).',
    });
  }
  if (!last.vm.namedThreads) out.push(rolesInferred(last.vm));
  return out.sort((a, b) => SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity));
}
