import { FsError, type HostFs } from '../host/host-fs.js';
import { reasonOf, type Problems } from '../host/problems.js';
import { parseLibvirtCgroup } from '../host/procfs/cgroup.js';
import { parseStat, type TaskStat } from '../host/procfs/stat.js';
import { classifyThread, isKernelMade, isQemuName, type ThreadRole } from '../host/qemu/thread-roles.js';
import type { Inventory } from './inventory.js';
import { trackedThread, type TrackedThread } from './thread-ledger.js';
import type { Vm } from './vm.js';

/** A VM whose process is still the one the inventory found, with its process-wide stat as this sync read it. */
export interface LiveVm {
  vm: Vm;
  process: TaskStat;
}

/**
 * Brings every VM's thread table up to date with the host: the inventory is refreshed, each VM's process is checked
 * (still there, not reused, not a zombie), its task directory listed — threads that appeared are read (stat, and
 * libvirt's cgroup) and classified, threads that vanished move into the ledger — and the thread counts noted for the
 * sliding-window peak. The one sync, run by the census every second and by every snapshot.
 */
export class ThreadSync {
  constructor(
    private readonly fs: HostFs,
    private readonly inventory: Inventory,
    private readonly problems: Problems,
    private readonly peakWindowMs: number,
  ) {}

  sync(now: number): LiveVm[] {
    this.inventory.refresh(now);
    const live: LiveVm[] = [];
    for (const vm of this.inventory.vms.values()) {
      const process = this.processOf(vm);
      if (!process || !this.syncThreads(vm)) {
        this.inventory.forget(vm.pid);
        continue;
      }
      vm.ledger.noteCurrentPeak(now, this.peakWindowMs);
      live.push({ vm, process });
    }
    return live;
  }

  /** Re-derives a tracked thread's role (it was renamed, or libvirt's facts arrived); a change goes through the ledger. */
  reassess(vm: Vm, t: TrackedThread): void {
    const next = classify(vm, t.tid, t.comm, t.kernelThread, t.cgroupLeaf, t);
    if (next.role !== t.role || next.vcpu !== t.vcpu || next.iothread !== t.iothread || next.pool !== t.pool)
      vm.ledger.changeRole(t, next);
  }

  /** The process's stat, or undefined when it has ended or its PID now belongs to another process. */
  private processOf(vm: Vm): TaskStat | undefined {
    let stat: TaskStat;
    try {
      stat = parseStat(this.fs.readSmall(this.fs.proc(vm.pid, 'stat')));
    } catch (err) {
      this.problems.readFailed('procfs', 'process-stat', `cannot read stat of pid ${vm.pid}`, err);
      return undefined;
    }
    return stat.starttimeTicks !== vm.starttime || stat.state === 'Z' || stat.state === 'X' ? undefined : stat;
  }

  /** Returns false when the process is gone. */
  private syncThreads(vm: Vm): boolean {
    const { fs, problems } = this;
    let entries: string[];
    try {
      entries = fs.listDir(fs.proc(vm.pid, 'task'));
    } catch (err) {
      if (err instanceof FsError && err.kind === 'gone') return false;
      problems.report(
        'procfs',
        reasonOf(err),
        'task-list',
        `cannot list threads of pid ${vm.pid}: ${(err as Error).message}`,
      );
      return true;
    }
    const { ledger } = vm;
    // Mark what the listing shows with this sync's number, then drop what was not marked: no set per sync.
    const mark = ++vm.syncs;
    const fresh: number[] = [];
    for (const e of entries) {
      const tid = Number(e);
      const t = ledger.threads.get(tid);
      if (t) t.listedAt = mark;
      else fresh.push(tid);
    }
    for (const t of ledger.threads.values()) if (t.listedAt !== mark) ledger.remove(t.tid);
    // Oldest first: an iothread is seen before the workers it spawns, call_rcu before the iothreads (see classifyThread).
    fresh.sort((a, b) => a - b);
    for (const tid of fresh) {
      let stat;
      try {
        stat = parseStat(fs.readSmall(fs.proc(vm.pid, 'task', tid, 'stat'), 'latin1'));
      } catch (err) {
        problems.readFailed('procfs', 'thread-stat', `cannot read thread ${tid} of pid ${vm.pid}`, err);
        continue;
      }
      const kernelThread = isKernelMade(stat.flags);
      if (!kernelThread && isQemuName(stat.comm)) vm.qemuNames = true;
      const cgroupLeaf = this.cgroupLeaf(vm, tid);
      const role = classify(vm, tid, stat.comm, kernelThread, cgroupLeaf);
      const dir = fs.proc(vm.pid, 'task', tid);
      const files = { stat: `${dir}/stat`, status: `${dir}/status`, schedstat: `${dir}/schedstat` };
      ledger.add(
        trackedThread(role, {
          tid,
          starttime: stat.starttimeTicks,
          comm: stat.comm,
          kernelThread,
          files,
          cgroupLeaf,
          listedAt: mark,
        }),
        vm.listed,
      );
    }
    if (vm.rolesStale) {
      vm.rolesStale = false;
      for (const t of ledger.threads.values()) {
        t.cgroupLeaf = this.cgroupLeaf(vm, t.tid);
        this.reassess(vm, t);
      }
    }
    vm.listed = true;
    return true;
  }

  /** libvirt's cgroup leaf of a thread; only libvirt-managed VMs have one worth reading. */
  private cgroupLeaf(vm: Vm, tid: number): string | undefined {
    if (vm.identity.source !== 'libvirt') return undefined;
    try {
      return parseLibvirtCgroup(this.fs.readSmall(this.fs.proc(vm.pid, 'task', tid, 'cgroup')));
    } catch (err) {
      this.problems.readFailed('cgroup', 'thread-cgroup', `cannot read cgroup of thread ${tid}`, err);
      return undefined;
    }
  }
}

/** Classifies a thread of `vm` from what is known of it and of the VM's other threads. */
function classify(
  vm: Vm,
  tid: number,
  comm: string,
  kernelThread: boolean,
  cgroupLeaf: string | undefined,
  self?: TrackedThread,
): ThreadRole {
  const others = (match: (o: TrackedThread) => boolean): boolean => {
    for (const o of vm.ledger.threads.values()) if (o !== self && match(o)) return true;
    return false;
  };
  return classifyThread({
    tid,
    pid: vm.pid,
    comm,
    processComm: vm.processComm,
    kernelThread,
    libvirtVcpu: vm.identity.vcpuTids.get(tid),
    cgroupLeaf,
    namedThreads: vm.namedThreads(),
    vm: {
      hasIothread: (id) => others((o) => o.role === 'iothread' && o.iothread === id),
      has: (role) => others((o) => o.role === role),
      iothreads: vm.identity.pools.filter((p) => p.pool !== 'main').map((p) => p.pool),
    },
  });
}
