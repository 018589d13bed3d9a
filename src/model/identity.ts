/** Who a QEMU process is: its domain, UUID, the names its platform gives it, its vCPU threads, pools and disks. */
import type { LibvirtDomain } from '../host/libvirt/status-xml.js';
import type { IothreadSpec, QemuCmdline } from '../host/qemu/cmdline.js';
import type { DiskSpec } from '../host/qemu/disk-spec.js';

/** QEMU's default block thread pool size (util/thread-pool.c, thread-pool-max). */
export const DEFAULT_POOL_MAX = 64;

/** Labels of qemu_vm_info that name a VM the way its platform's users know it; '' where the platform does not say. */
export const VM_LABELS = [
  'vmid',
  'nova_name',
  'nova_project',
  'nova_flavor',
  'kubevirt_namespace',
  'kubevirt_name',
] as const;
export type VmLabels = Record<(typeof VM_LABELS)[number], string>;

export interface VmIdentity {
  domain: string;
  uuid: string;
  source: 'libvirt' | 'cmdline';
  labels: VmLabels;
  /** TID → vCPU index, from libvirt. */
  vcpuTids: ReadonlyMap<number, number>;
  /** Block thread pools: `main` plus one per iothread, with their maximum size. */
  pools: { pool: string; max: number }[];
  disks: DiskSpec[];
}

/**
 * Proxmox VE's VM id, Nova's instance metadata, KubeVirt's namespace and name: its domains are
 * `NAMESPACE_NAME`, split at the first `_` (a namespace has none), `default` without one (SplitVMINamespaceKey).
 */
function platformLabels(d: LibvirtDomain | undefined, cmdline: QemuCmdline): VmLabels {
  const cut = d?.kubevirt ? d.name.indexOf('_') : undefined;
  const vmi =
    cut === undefined ? ['', ''] : cut < 0 ? ['default', d!.name] : [d!.name.slice(0, cut), d!.name.slice(cut + 1)];
  return {
    vmid: cmdline.vmid ?? '',
    nova_name: d?.nova?.name ?? '',
    nova_project: d?.nova?.project ?? '',
    nova_flavor: d?.nova?.flavor ?? '',
    kubevirt_namespace: vmi[0]!,
    kubevirt_name: vmi[1]!,
  };
}

function pools(iothreads: IothreadSpec[], mainMax: number | undefined): VmIdentity['pools'] {
  return [
    { pool: 'main', max: mainMax ?? DEFAULT_POOL_MAX },
    ...iothreads.map((t) => ({ pool: t.id, max: t.poolMax ?? DEFAULT_POOL_MAX })),
  ];
}

/** A VM named by libvirt's status file (the host's, or its pod's). */
export function libvirtIdentity(d: LibvirtDomain, cmdline: QemuCmdline): VmIdentity {
  return {
    domain: d.name,
    uuid: d.uuid,
    source: 'libvirt',
    labels: platformLabels(d, cmdline),
    vcpuTids: d.vcpuTids,
    pools: pools(d.iothreads, d.mainLoopPoolMax),
    disks: d.disks,
  };
}

/** A VM named by its own command line: `-name guest=…`, else `qemu-PID`. */
export function cmdlineIdentity(pid: number, c: QemuCmdline): VmIdentity {
  return {
    domain: c.name ?? `qemu-${String(pid)}`,
    uuid: c.uuid ?? '',
    source: 'cmdline',
    labels: platformLabels(undefined, c),
    vcpuTids: new Map(),
    pools: pools(c.iothreads, c.mainLoopPoolMax),
    disks: c.disks,
  };
}

/** libvirt's status file usually lands a moment after QEMU's threads exist: its vCPU TIDs and cgroups then decide roles. */
export function rolesMayDiffer(a: VmIdentity, b: VmIdentity): boolean {
  if (a.source !== b.source || a.vcpuTids.size !== b.vcpuTids.size) return true;
  for (const [tid, vcpu] of a.vcpuTids) if (b.vcpuTids.get(tid) !== vcpu) return true;
  return false;
}
