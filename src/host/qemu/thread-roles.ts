/** Thread roles, a bounded set: every (domain, role) series comes from this list. */
export const ROLES = [
  'vcpu',
  'iothread',
  'worker',
  'main',
  'rcu',
  'monitor',
  'vnc',
  'spice',
  'vhost',
  'io_uring',
  'migration',
  'kernel',
  'other',
] as const;
export type Role = (typeof ROLES)[number];

export interface ThreadFacts {
  tid: number;
  pid: number;
  /** Thread name (comm, at most 15 bytes). */
  comm: string;
  /** comm of the process (its main thread's name, e.g. `qemu-system-x86`). */
  processComm: string;
  /** Made by the kernel, not by QEMU (stat flags PF_KTHREAD or PF_USER_WORKER): see isKernelMade. */
  kernelThread: boolean;
  /** libvirt's vCPU index for this TID (status XML `<vcpu id pid>`), if any. */
  libvirtVcpu: number | undefined;
  /** libvirt cgroup leaf: `vcpuN`, `iothreadN`, `emulator`. */
  cgroupLeaf: string | undefined;
  /** QEMU names its threads: `-name …,debug-threads=on`, or QEMU ≥ 11, which always does (see namesThreads). */
  namedThreads: boolean;
  /** What the VM's other threads already are. */
  vm: ThreadContext;
}

/** The VM around a thread being classified (its other threads are classified first, oldest first). */
export interface ThreadContext {
  /** Another thread holds this iothread's role (so a generically named thread in its cgroup is a worker). */
  hasIothread(id: string): boolean;
  /** Another thread holds this role. */
  has(role: Role): boolean;
  /** The VM's iothread ids, in command-line order. */
  iothreads: readonly string[];
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

// include/linux/sched.h. Since Linux 6.4 vhost workers, and since 6.13 KVM's NX huge page recovery thread, are
// vhost_tasks: threads of the QEMU process (CLONE_THREAD) flagged PF_USER_WORKER, not PF_KTHREAD; io_uring's
// io-wq workers (`iou-wrk-TID`) are PF_IO_WORKER | PF_USER_WORKER. They sit in whatever cgroup the thread that
// made them was in (kvm-nx-lpage-re in a vCPU's), so the flags must decide before the cgroup does.
const PF_USER_WORKER = 0x00004000;
const PF_KTHREAD = 0x00200000;
/** A thread the kernel made inside the VM's task list (stat field 9). */
export const isKernelMade = (statFlags: number): boolean => (statFlags & (PF_KTHREAD | PF_USER_WORKER)) !== 0;

const VCPU_NAME = /^CPU (\d+)\/[A-Za-z]+$/;
const CGROUP_VCPU = /^vcpu(\d+)$/;
const CGROUP_IOTHREAD = /^iothread(\d+)$/;

/**
 * The longest thread name Linux keeps is 15 bytes (TASK_COMM_LEN 16), and glibc refuses a longer one rather than
 * cut it: a thread QEMU would name `IO iothread-virtio0` (Proxmox VE's iothread ids) keeps the process's name.
 */
const MAX_COMM = 15;
const unnameable = (id: string): boolean => `IO ${id}`.length > MAX_COMM;

/** Names QEMU gives (qemu_thread_create's callers: QEMU 7.2 to 11): a VM with one of them names its threads. */
export function isQemuName(comm: string): boolean {
  const r = byName(comm)?.role;
  return r === 'vcpu' || r === 'iothread' || r === 'worker' || r === 'rcu' || r === 'monitor';
}

/** Role by QEMU's thread name (set with debug-threads=on, always on QEMU ≥ 11; see qemu_thread_create callers). */
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
  if (comm.startsWith('iou-')) return { role: 'io_uring' };
  return undefined;
}

/** A kernel-made thread: vhost, io_uring or (KVM's, and any other) kernel, whatever its cgroup or TID says. */
function kernelMade(comm: string): ThreadRole {
  if (comm.startsWith('vhost-')) return { role: 'vhost' };
  if (comm.startsWith('iou-')) return { role: 'io_uring' };
  return { role: 'kernel' };
}

/**
 * Decides a thread's role. Sources, most trusted first: the kernel's flags (a kernel-made thread such as
 * kvm-nx-lpage-re sits in a vCPU's cgroup, and is never a vCPU, iothread, worker or main loop); libvirt's vCPU
 * TIDs; libvirt's cgroup for vCPUs; QEMU's thread name; libvirt's iothread cgroup (which also holds the workers
 * that iothread spawned); main and call_rcu.
 */
export function classifyThread(f: ThreadFacts): ThreadRole {
  if (f.kernelThread) return kernelMade(f.comm);
  if (f.libvirtVcpu !== undefined) return { role: 'vcpu', vcpu: f.libvirtVcpu };
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
    return f.vm.hasIothread(cgIothread)
      ? { role: 'worker', pool: cgIothread }
      : { role: 'iothread', iothread: cgIothread };
  }
  if (f.namedThreads && f.comm === f.processComm) {
    // QEMU named every thread it made but these: call_rcu, started before naming is on (QEMU < 11, the oldest
    // thread after main), then the iothreads whose names are too long, in the order they were created.
    if (!f.vm.has('rcu')) return { role: 'rcu' };
    const iothread = f.vm.iothreads.find((id) => unnameable(id) && !f.vm.hasIothread(id));
    if (iothread !== undefined) return { role: 'iothread', iothread };
  }
  return { role: 'other' };
}
