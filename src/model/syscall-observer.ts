/**
 * What the threads of a busy VM are doing, seen rather than inferred: at most once per interval, for each VM whose
 * block pool is busy or that has an iothread or vCPU in disk sleep, the system call each such thread is blocked in
 * (/proc/PID/task/TID/syscall) and the disk its file descriptor is open on (/proc/PID/fd/N). A VM with nothing
 * busy is not read at all, and has no qemu_threads_in_syscall series.
 */
import { FsError, type HostFs } from '../host/host-fs.js';
import type { Problems } from '../host/problems.js';
import { parseSyscall } from '../host/procfs/syscall.js';
import { syscallKind } from '../host/procfs/syscall-kinds.js';
import type { DiskSpec } from '../host/qemu/disk-spec.js';
import type { Source } from '../host/source.js';
import type { Inventory } from './inventory.js';
import type { Snapshot, SyscallCount, Syscalls, VmSnapshot } from './snapshot.js';
import type { TrackedThread } from './thread-ledger.js';
import type { Vm } from './vm.js';

export interface SyscallOptions {
  /** How often to look (the explain interval): the findings want it, a scrape does not. */
  everyMs: number;
  /** Worker threads from which a pool is busy (--explain.pool-busy). */
  poolBusy: number;
  /** Whose system call numbers to read (default: this host's). */
  arch?: NodeJS.Architecture;
}

/** A VM's descriptors and what each is open on, kept until the VM's disks change (an fd is read once). */
interface Descriptors {
  disks: readonly DiskSpec[];
  /** fd → its target, '' when it could not be read. */
  targets: Map<number, string>;
}

export class SyscallObserver implements Source {
  readonly name = 'syscall';
  private lastAt = -Infinity;
  /** Per VM process: its last observation, and whether the last read of its threads was refused. */
  private readonly seen = new Map<number, { starttime: number; syscalls: Syscalls | undefined; denied: boolean }>();
  private readonly descriptors = new Map<number, Descriptors>();
  private readonly arch: NodeJS.Architecture;

  constructor(
    private readonly fs: HostFs,
    private readonly problems: Problems,
    private readonly o: SyscallOptions,
  ) {
    this.arch = o.arch ?? process.arch;
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  /** False while a VM's threads cannot be looked at (no CAP_SYS_PTRACE): explain then infers from the configuration. */
  healthy(): boolean {
    for (const s of this.seen.values()) if (s.denied) return false;
    return true;
  }

  /** Looks again if an interval has passed, then gives every VM of the snapshot its last observation. */
  observe(snap: Snapshot, inventory: Inventory): void {
    if (snap.at - this.lastAt >= this.o.everyMs) {
      this.lastAt = snap.at;
      const live = new Set<number>();
      for (const v of snap.vms) {
        const vm = inventory.vms.get(v.pid);
        if (!vm || vm.starttime !== v.starttime) continue;
        live.add(v.pid);
        const entry = { starttime: v.starttime, syscalls: undefined as Syscalls | undefined, denied: false };
        const had = this.seen.get(v.pid);
        this.seen.set(v.pid, entry);
        const threads = this.busyThreads(vm, v);
        // A VM seen for the first time is looked at once, main thread only, so a missing permission shows at once.
        if (threads.length > 0 || had?.starttime !== v.starttime) {
          const main = vm.ledger.threads.get(vm.pid);
          const look = this.look(vm, inventory, threads.length > 0 ? threads : main ? [main] : []);
          entry.denied = look === 'denied';
          if (threads.length > 0 && look !== 'denied') entry.syscalls = { at: snap.at, counts: look };
        }
      }
      if (!snap.partial)
        for (const pid of this.seen.keys())
          if (!live.has(pid)) {
            this.seen.delete(pid);
            this.descriptors.delete(pid);
          }
    }
    for (const v of snap.vms) {
      const s = this.seen.get(v.pid);
      if (s?.syscalls && s.starttime === v.starttime) v.syscalls = s.syscalls;
    }
  }

  /** Every worker of a busy pool, and the iothreads and vCPUs in disk sleep. */
  private busyThreads(vm: Vm, v: VmSnapshot): TrackedThread[] {
    const workers = v.roles.find((r) => r.role === 'worker')?.threads ?? 0;
    const out: TrackedThread[] = [];
    for (const t of vm.ledger.threads.values())
      if (
        (t.role === 'worker' && workers >= this.o.poolBusy) ||
        ((t.role === 'iothread' || t.role === 'vcpu') && t.state === 'disk_sleep')
      )
        out.push(t);
    return out;
  }

  /** The threads by role, system call and disk, or `denied`. */
  private look(vm: Vm, inventory: Inventory, threads: TrackedThread[]): SyscallCount[] | 'denied' {
    const fds = this.descriptorsOf(vm, inventory);
    const counts = new Map<string, SyscallCount>();
    for (const t of threads) {
      let seen;
      try {
        seen = syscallKind(parseSyscall(this.fs.readSmall(this.fs.proc(vm.pid, 'task', t.tid, 'syscall'))), this.arch);
      } catch (err) {
        const denied = err instanceof FsError && err.kind === 'denied';
        const what = `cannot read the system call of thread ${String(t.tid)} of pid ${String(vm.pid)}`;
        const hint = denied ? ' (needs CAP_SYS_PTRACE): explain infers from the configuration instead' : '';
        this.problems.readFailed('syscall', `syscall:${String(vm.pid)}`, `${what}${hint}`, err);
        if (denied) return 'denied';
        continue; // ended meanwhile, or a line not in the format: not counted
      }
      const file = seen.fd === undefined || seen.fd < 0 ? '' : this.target(vm.pid, fds.targets, seen.fd);
      const disk = fds.paths.get(file) ?? '';
      const key = `${t.role}\0${seen.kind}\0${disk}`;
      const c = counts.get(key);
      if (c) c.threads++;
      else counts.set(key, { role: t.role, syscall: seen.kind, disk, file: disk ? file : '', threads: 1 });
    }
    return [...counts.values()];
  }

  private target(pid: number, targets: Map<number, string>, fd: number): string {
    let target = targets.get(fd);
    if (target === undefined) {
      try {
        target = this.fs.readLink(this.fs.proc(pid, 'fd', fd));
      } catch {
        target = ''; // closed meanwhile, or not ours to read: no disk
      }
      targets.set(fd, target);
    }
    return target;
  }

  /**
   * The VM's descriptors, and which disk each path is: a disk's source as configured, and a device source as the
   * device node it resolved to (/dev/disk/by-id/… is open as /dev/sdc). No file system is touched here: a path on
   * storage that hangs must not hang the look.
   */
  private descriptorsOf(vm: Vm, inventory: Inventory): { targets: Map<number, string>; paths: Map<string, string> } {
    const disks = vm.identity.disks;
    let fds = this.descriptors.get(vm.pid);
    if (fds?.disks !== disks) this.descriptors.set(vm.pid, (fds = { disks, targets: new Map() }));
    const paths = new Map<string, string>();
    for (const d of disks) {
      if (d.source === '') continue;
      paths.set(d.source, d.name);
      const dev = d.source.startsWith('/dev/') ? inventory.hostDevice(d.source) : undefined;
      if (dev && !paths.has(`/dev/${dev.name}`)) paths.set(`/dev/${dev.name}`, d.name);
    }
    return { targets: fds.targets, paths };
  }
}
