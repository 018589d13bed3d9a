import { FsError, type FsRoots } from '../host/host-fs.js';
import type { Inventory, Vm } from './inventory.js';
import type { Problems } from '../host/problems.js';
import { parseLibvirtCgroup } from '../host/procfs/cgroup.js';
import { parseStat } from '../host/procfs/stat.js';
import { classifyThread, isKernelMade, isQemuName, type ThreadRole } from '../host/qemu/thread-roles.js';
import { zeroCounters, type TrackedThread } from './thread-ledger.js';

/** Classifies a thread of `vm` from what is known of it and of the VM. */
function roleOf(vm: Vm, tid: number, comm: string, kernelThread: boolean, cgroupLeaf: string | undefined, self?: TrackedThread): ThreadRole {
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

/** Re-derives a tracked thread's role (it was renamed, or libvirt's facts arrived); a change goes through the ledger. */
export function reassess(vm: Vm, t: TrackedThread): void {
  const next = roleOf(vm, t.tid, t.comm, t.kernelThread, t.cgroupLeaf, t);
  if (next.role !== t.role || next.vcpu !== t.vcpu || next.iothread !== t.iothread || next.pool !== t.pool) vm.ledger.changeRole(t, next);
}

/** libvirt's cgroup leaf of a thread; only libvirt-managed VMs have one worth reading. */
function readCgroupLeaf(fs: FsRoots, vm: Vm, tid: number, problems: Problems): string | undefined {
  if (vm.identity.source !== 'libvirt') return undefined;
  try {
    return parseLibvirtCgroup(fs.readSmall(fs.proc(vm.pid, 'task', tid, 'cgroup')));
  } catch (err) {
    problems.readFailed('cgroup', 'thread-cgroup', `cannot read cgroup of thread ${tid}`, err);
    return undefined;
  }
}

/**
 * Brings a VM's thread table up to date with its task directory: threads that appeared are read (stat, and
 * libvirt's cgroup) and classified; threads that vanished move into the ledger. Returns false when the
 * process itself is gone. Used by the census between scrapes and by every scrape.
 */
export function syncThreads(fs: FsRoots, vm: Vm, problems: Problems): boolean {
  let entries: string[];
  try {
    entries = fs.listDir(fs.proc(vm.pid, 'task'));
  } catch (err) {
    if (err instanceof FsError && err.kind === 'gone') return false;
    problems.report('procfs', 'read', 'task-list', `cannot list threads of pid ${vm.pid}: ${(err as Error).message}`);
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
  // Oldest first: an iothread is seen before the workers it spawns (see classifyThread).
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
    const cgroupLeaf = readCgroupLeaf(fs, vm, tid, problems);
    const role = roleOf(vm, tid, stat.comm, kernelThread, cgroupLeaf);
    const dir = fs.proc(vm.pid, 'task', tid);
    const files = { stat: `${dir}/stat`, status: `${dir}/status`, schedstat: `${dir}/schedstat` };
    ledger.add({ ...role, tid, starttime: stat.starttimeTicks, comm: stat.comm, kernelThread, files, cgroupLeaf, listedAt: mark, last: zeroCounters(), base: zeroCounters() }, vm.listed);
  }
  if (vm.rolesStale) {
    vm.rolesStale = false;
    for (const t of ledger.threads.values()) {
      t.cgroupLeaf = readCgroupLeaf(fs, vm, t.tid, problems);
      reassess(vm, t);
    }
  }
  vm.listed = true;
  return true;
}

/**
 * The light sampler: every interval it lists each VM's task directory and reads only threads it has not
 * seen, so spawns, exits and peaks between two scrapes are counted — a burst of workers that lives and
 * dies between scrapes still shows.
 */
export class Census {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly fs: FsRoots,
    private readonly inventory: Inventory,
    private readonly problems: Problems,
    private readonly peakWindowMs: number,
  ) {}

  tick(now = Date.now()): void {
    this.inventory.refresh(now);
    for (const vm of this.inventory.vms.values()) {
      if (!syncThreads(this.fs, vm, this.problems)) {
        this.inventory.forget(vm.pid);
        continue;
      }
      vm.ledger.notePeak(now, vm.ledger.countsByRole(), this.peakWindowMs);
    }
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => { this.tick(); }, intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
