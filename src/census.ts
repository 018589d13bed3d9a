import { FsError, type FsRoots } from './fs-roots.js';
import type { Inventory, Vm } from './inventory.js';
import type { Problems } from './problems.js';
import { parseLibvirtCgroup } from './procfs/cgroup.js';
import { parseStat } from './procfs/stat.js';
import { classifyThread, isKernelThread } from './qemu/thread-role.js';
import { zeroCounters } from './thread-ledger.js';

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
  const listed = new Set<number>();
  const fresh: number[] = [];
  for (const e of entries) {
    const tid = Number(e);
    listed.add(tid);
    if (!ledger.threads.has(tid)) fresh.push(tid);
  }
  for (const tid of ledger.threads.keys()) if (!listed.has(tid)) ledger.remove(tid);
  // Oldest first: an iothread is seen before the workers it spawns (see classifyThread).
  fresh.sort((a, b) => a - b);
  const libvirt = vm.identity.source === 'libvirt';
  for (const tid of fresh) {
    let stat;
    try {
      stat = parseStat(fs.readSmall(fs.proc(vm.pid, 'task', tid, 'stat')));
    } catch (err) {
      if (!(err instanceof FsError && err.kind === 'gone')) {
        problems.report('procfs', err instanceof FsError ? err.kind : 'parse', 'thread-stat', `cannot read thread ${tid} of pid ${vm.pid}: ${(err as Error).message}`);
      }
      continue;
    }
    let cgroupLeaf: string | undefined;
    if (libvirt) {
      try {
        cgroupLeaf = parseLibvirtCgroup(fs.readSmall(fs.proc(vm.pid, 'task', tid, 'cgroup')));
      } catch (err) {
        if (!(err instanceof FsError && err.kind === 'gone')) {
          problems.report('cgroup', err instanceof FsError ? err.kind : 'parse', 'thread-cgroup', `cannot read cgroup of thread ${tid}: ${(err as Error).message}`);
        }
      }
    }
    const role = classifyThread({
      tid,
      pid: vm.pid,
      comm: stat.comm,
      processComm: vm.processComm,
      kernelThread: isKernelThread(stat.flags),
      libvirtVcpu: vm.identity.vcpuTids.get(tid),
      cgroupLeaf,
      debugThreads: vm.cmdline.debugThreads,
      hasIothread: (id) => [...ledger.threads.values()].some((t) => t.role === 'iothread' && t.iothread === id),
    });
    ledger.add({ ...role, tid, starttime: stat.starttimeTicks, comm: stat.comm, cgroupLeaf, last: zeroCounters(), base: zeroCounters() }, vm.listed);
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
