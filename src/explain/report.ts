import type { VmLabels } from '../model/identity.js';
import { ROLES, type Role } from '../host/qemu/thread-roles.js';
import { explainVm } from './findings/explain-vm.js';
import type { Finding } from './findings/finding.js';
import type { Thresholds } from './findings/thresholds.js';
import type { History } from './history.js';

export interface VmReport {
  domain: string;
  uuid: string;
  source: 'libvirt' | 'cmdline';
  pid: number;
  /** qemu_vm_info's platform labels that are set (vmid, nova_name, kubevirt_namespace, …). */
  labels: Partial<VmLabels>;
  /** How the platform's users know the VM ('' when nothing but the domain says): `Nova instance web01 (project webteam)`. */
  knownAs: string;
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

/** The VM as its platform's users name it, for a heading next to the domain. */
function knownAs(l: VmLabels): string {
  if (l.nova_name !== '') {
    const more = [l.nova_project && `project ${l.nova_project}`, l.nova_flavor && `flavor ${l.nova_flavor}`]
      .filter(Boolean)
      .join(', ');
    return `Nova instance ${l.nova_name}${more === '' ? '' : ` (${more})`}`;
  }
  if (l.kubevirt_name !== '') return `KubeVirt VMI ${l.kubevirt_namespace}/${l.kubevirt_name}`;
  if (l.vmid !== '') return `Proxmox VE VM ${l.vmid}`;
  return '';
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
      labels: Object.fromEntries(Object.entries(vm.identity.labels).filter(([, v]) => v !== '')),
      knownAs: knownAs(vm.identity.labels),
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
