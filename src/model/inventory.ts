import { basename } from 'node:path';
import { FsError, type HostFs } from '../host/host-fs.js';
import type { PodStatusFiles } from '../host/libvirt/pod-status.js';
import type { LibvirtStatusDir } from '../host/libvirt/status-dir.js';
import { reasonOf, type Problems } from '../host/problems.js';
import { parseCmdline } from '../host/procfs/cmdline.js';
import { parseStat } from '../host/procfs/stat.js';
import { parseQemuCmdline } from '../host/qemu/cmdline.js';
import { resolveHostDevice, type HostDevice } from '../host/sysfs/host-device.js';
import { cmdlineIdentity, libvirtIdentity, rolesMayDiffer } from './identity.js';
import { Vm } from './vm.js';

/** A PID that is not QEMU is re-checked for this long: libvirt forks, then execs QEMU a moment later. */
const EXEC_GRACE_MS = 10_000;

/**
 * The QEMU processes on this host, each named by its libvirt domain (status XML) or its own command line,
 * with its disks resolved to host block devices. Built by the census and refreshed before every scrape.
 */
export class Inventory {
  readonly vms = new Map<number, Vm>();
  private readonly notQemu = new Map<number, number>();
  private readonly hostDevices = new Map<string, HostDevice | undefined>();
  private readonly resolving = new Map<string, Promise<void>>();

  constructor(
    private readonly fs: HostFs,
    private readonly pattern: RegExp,
    private readonly libvirt: LibvirtStatusDir | undefined,
    private readonly problems: Problems,
    private readonly pods?: PodStatusFiles,
  ) {}

  /** Lists /proc: adds new QEMU processes, drops ended ones, refreshes identities. */
  refresh(now: number): void {
    let entries: string[];
    try {
      entries = this.fs.listDir(this.fs.proc());
    } catch (err) {
      this.problems.report('procfs', reasonOf(err), 'list', `cannot list ${this.fs.proc()}: ${(err as Error).message}`);
      return;
    }
    const alive = new Set<number>();
    for (const e of entries) {
      const c = e.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      const pid = Number(e);
      alive.add(pid);
      if (this.vms.has(pid)) continue;
      const since = this.notQemu.get(pid);
      if (since !== undefined && now - since > EXEC_GRACE_MS) continue;
      const vm = this.probe(pid);
      if (vm) {
        this.vms.set(pid, vm);
        this.notQemu.delete(pid);
      } else if (since === undefined) this.notQemu.set(pid, now);
    }
    for (const pid of this.vms.keys()) if (!alive.has(pid)) this.vms.delete(pid);
    for (const pid of this.notQemu.keys()) if (!alive.has(pid)) this.notQemu.delete(pid);
    this.pods?.retain((pid) => this.vms.has(pid));
    const domains = this.libvirt?.domainsByPid();
    const sources = new Set<string>();
    for (const vm of this.vms.values()) {
      // The host's status directory, else a status file inside the QEMU's own container (KubeVirt).
      const d = domains?.get(vm.pid) ?? (vm.inPod ? this.pods?.lookup(vm.pid, vm.cmdline.name ?? '', now) : undefined);
      const next = d ? libvirtIdentity(d, vm.cmdline) : cmdlineIdentity(vm.pid, vm.cmdline);
      if (vm.listed && rolesMayDiffer(vm.identity, next)) vm.rolesStale = true;
      vm.identity = next;
      for (const disk of vm.identity.disks) {
        sources.add(disk.source);
        this.resolveDisk(disk.source);
      }
    }
    for (const source of this.hostDevices.keys()) if (!sources.has(source)) this.hostDevices.delete(source);
  }

  /** Drops a VM whose process was found gone (or replaced) between censuses. */
  forget(pid: number): void {
    this.vms.delete(pid);
  }

  hostDevice(source: string): HostDevice | undefined {
    return this.hostDevices.get(source);
  }

  /** Waits for disk resolutions in flight (startup readiness and tests). */
  async settled(): Promise<void> {
    await this.pods?.settled();
    while (this.resolving.size > 0) await Promise.all(this.resolving.values());
  }

  private probe(pid: number): Vm | undefined {
    try {
      const comm = this.fs.readSmall(this.fs.proc(pid, 'comm')).trimEnd();
      const argv = parseCmdline(this.fs.readSmall(this.fs.proc(pid, 'cmdline')));
      const runs = this.executable(pid);
      const named = this.pattern.test(comm) || this.pattern.test(basename(argv[0] ?? ''));
      if (!(runs !== undefined && this.pattern.test(runs)) && !named) return undefined;
      const cmdline = parseQemuCmdline(argv);
      // By name only (exe unreadable, or a wrapper): the command line must be QEMU's, so that `kvm` is not any program.
      if (!(runs !== undefined && this.pattern.test(runs)) && !cmdline.qemuOptions) return undefined;
      const stat = parseStat(this.fs.readSmall(this.fs.proc(pid, 'stat')));
      if (stat.state === 'Z' || stat.state === 'X') return undefined;
      for (const w of cmdline.warnings)
        this.problems.report('procfs', 'parse', `cmdline:${w}`, `QEMU pid ${pid} command line: ${w}`);
      return new Vm(pid, stat.starttimeTicks, comm, cmdline, this.inPod(pid));
    } catch (err) {
      // Kernel threads have an empty cmdline ("gone" here), and processes end while we look: both normal.
      if (err instanceof FsError && err.kind === 'gone') return undefined;
      this.problems.report(
        'procfs',
        reasonOf(err),
        `probe:${err instanceof FsError ? err.code : 'parse'}`,
        `cannot inspect pid ${pid}: ${(err as Error).message}`,
      );
      return undefined;
    }
  }

  /** Whether a process's cgroup (world-readable) is a Kubernetes pod's. */
  private inPod(pid: number): boolean {
    try {
      return this.fs.readSmall(this.fs.proc(pid, 'cgroup')).includes('/kubepods');
    } catch {
      return false;
    }
  }

  /**
   * The file name of what a process executes (/proc/PID/exe: `qemu-system-x86_64` for Proxmox VE's `/usr/bin/kvm`
   * link), or undefined when it cannot be read: another user's process without CAP_SYS_PTRACE.
   */
  private executable(pid: number): string | undefined {
    try {
      // A binary replaced by an upgrade while it runs reads `… (deleted)`.
      return basename(this.fs.readLink(this.fs.proc(pid, 'exe'))).replace(/ \(deleted\)$/, '');
    } catch {
      return undefined;
    }
  }

  /** Resolves a disk source once, off the scrape path (a stat on a dead NFS mount must not hang a scrape). */
  private resolveDisk(source: string): void {
    if (source === '' || this.hostDevices.has(source) || this.resolving.has(source)) return;
    const run = resolveHostDevice(this.fs, source)
      .then((dev) => {
        this.hostDevices.set(source, dev);
      })
      .catch((err: unknown) => {
        this.hostDevices.set(source, undefined);
        this.problems.report(
          'disk_resolve',
          reasonOf(err),
          `resolve:${source}`,
          `cannot resolve disk source ${source}: ${(err as Error).message}`,
        );
      })
      .finally(() => this.resolving.delete(source));
    this.resolving.set(source, run);
  }
}
