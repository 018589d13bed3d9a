import type { Role } from './roles.js';

export interface ThreadFacts {
  tid: number;
  pid: number;
  /** Thread name (comm, at most 15 bytes). */
  comm: string;
  /** comm of the process (its main thread's name, e.g. `qemu-system-x86`). */
  processComm: string;
  /** From the stat flags: PF_KTHREAD. */
  kernelThread: boolean;
  /** libvirt's vCPU index for this TID (status XML `<vcpu id pid>`), if any. */
  libvirtVcpu: number | undefined;
  /** libvirt cgroup leaf: `vcpuN`, `iothreadN`, `emulator`. */
  cgroupLeaf: string | undefined;
  /** `-name …,debug-threads=on`: threads carry QEMU's names. */
  debugThreads: boolean;
  /** The VM already has a thread holding this iothread's role (so a generically named thread in its cgroup is a worker). */
  hasIothread: (id: string) => boolean;
}

export interface ThreadRole {
  role: Role;
  /** vCPU index, for role `vcpu`. */
  vcpu?: number;
  /** iothread id (`iothread1`), for role `iothread`. */
  iothread?: string;
  /** Block thread pool a worker belongs to: `main` or an iothread id; known from libvirt's cgroups only. */
  pool?: string;
}

const PF_KTHREAD = 0x00200000;
export const isKernelThread = (statFlags: number): boolean => (statFlags & PF_KTHREAD) !== 0;

const VCPU_NAME = /^CPU (\d+)\/[A-Za-z]+$/;
const CGROUP_VCPU = /^vcpu(\d+)$/;
const CGROUP_IOTHREAD = /^iothread(\d+)$/;

/** Role by QEMU's thread name (set with debug-threads=on; see qemu_thread_create callers in QEMU 7.2). */
function byName(comm: string): ThreadRole | undefined {
  if (comm === 'worker') return { role: 'worker' };
  if (comm === 'call_rcu') return { role: 'rcu' };
  const vcpu = VCPU_NAME.exec(comm);
  if (vcpu) return { role: 'vcpu', vcpu: Number(vcpu[1]) };
  if (comm === 'IO mon_iothread') return { role: 'monitor' };
  if (comm.startsWith('IO ')) return { role: 'iothread', iothread: comm.slice(3) };
  if (comm.startsWith('vnc_')) return { role: 'vnc' };
  if (comm.startsWith('SPICE') || comm.startsWith('spice')) return { role: 'spice' };
  if (comm.startsWith('vhost-')) return { role: 'vhost' };
  if (comm === 'live_migration' || comm.startsWith('multifd') || comm.startsWith('mig/') || comm === 'return path')
    return { role: 'migration' };
  if (comm.startsWith('kvm-')) return { role: 'kernel' };
  return undefined;
}

/**
 * Decides a thread's role. Sources, most trusted first: libvirt's vCPU TIDs; the kernel-thread flag (a KVM
 * kernel thread such as kvm-nx-lpage-re sits in the vcpu0 cgroup); libvirt's cgroup for vCPUs; QEMU's thread
 * name; libvirt's iothread cgroup (which also holds the workers that iothread spawned); main and call_rcu.
 */
export function classifyThread(f: ThreadFacts): ThreadRole {
  if (f.libvirtVcpu !== undefined) return { role: 'vcpu', vcpu: f.libvirtVcpu };
  if (f.kernelThread) return { role: f.comm.startsWith('vhost-') ? 'vhost' : 'kernel' };
  const leaf = f.cgroupLeaf;
  const cgVcpu = leaf === undefined ? null : CGROUP_VCPU.exec(leaf);
  if (cgVcpu) return { role: 'vcpu', vcpu: Number(cgVcpu[1]) };
  const cgIothread = leaf !== undefined && CGROUP_IOTHREAD.test(leaf) ? leaf : undefined;

  const named = byName(f.comm);
  if (named?.role === 'worker') {
    // Workers are spawned by their event loop's thread, so they inherit its cgroup: that tells whose pool it is.
    const pool = cgIothread ?? (leaf === 'emulator' ? 'main' : undefined);
    return pool === undefined ? named : { role: 'worker', pool };
  }
  if (named) return named;

  if (f.tid === f.pid) return { role: 'main' };
  if (cgIothread !== undefined) {
    // Without debug-threads every thread carries the process name; the first thread in an iothread's group is
    // the iothread itself (libvirt moves it there), later ones are workers of its pool.
    return f.hasIothread(cgIothread) ? { role: 'worker', pool: cgIothread } : { role: 'iothread', iothread: cgIothread };
  }
  // QEMU's call_rcu thread may start before debug-threads takes effect and keep the process name (a race).
  if (f.debugThreads && f.comm === f.processComm) return { role: 'rcu' };
  return { role: 'other' };
}
