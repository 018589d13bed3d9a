import { ROLES, type Role } from '../qemu/roles.js';
import { explainVm, type Finding, type Thresholds } from './findings.js';
import type { History } from './history.js';

export interface VmReport {
  domain: string;
  uuid: string;
  source: 'libvirt' | 'cmdline';
  pid: number;
  /** Samples behind the findings, and the seconds they span. */
  samples: number;
  seconds: number;
  findings: Finding[];
  /** Threads by role at each sample (ms since the epoch): the landing page's chart. */
  threads: { t: number[]; roles: Partial<Record<Role, number[]>> };
}

/** The body of /api/v1/explain and of `qemu-thread-exporter explain --output json`. */
export interface ExplainReport {
  generatedAt: string;
  windowSeconds: number;
  intervalSeconds: number;
  thresholds: Thresholds;
  vms: VmReport[];
}

/** Explains every VM in the history, or only `domain`'s. */
export function explainReport(history: History, thresholds: Thresholds, now: number, domain?: string): ExplainReport {
  const vms: VmReport[] = [];
  for (const points of history.vms()) {
    const vm = points.at(-1)!.vm;
    if (domain !== undefined && vm.identity.domain !== domain) continue;
    const roles: VmReport['threads']['roles'] = {};
    for (const role of ROLES) {
      const series = points.map((p) => p.vm.roles.find((r) => r.role === role)?.threads ?? 0);
      if (series.some((n) => n > 0)) roles[role] = series;
    }
    vms.push({
      domain: vm.identity.domain,
      uuid: vm.identity.uuid,
      source: vm.identity.source,
      pid: vm.pid,
      samples: points.length,
      seconds: (points.at(-1)!.t - points[0]!.t) / 1000,
      findings: explainVm(points, thresholds),
      threads: { t: points.map((p) => p.t), roles },
    });
  }
  return {
    generatedAt: new Date(now).toISOString(),
    windowSeconds: history.windowMs / 1000,
    intervalSeconds: history.intervalMs / 1000,
    thresholds,
    vms,
  };
}
