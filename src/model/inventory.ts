import { basename } from 'node:path';
import { FsError, type FsRoots } from '../host/host-fs.js';
import type { PodStatusFiles } from '../host/libvirt/pod-status.js';
import type { LibvirtStatusDir } from '../host/libvirt/status-dir.js';
import type { LibvirtDomain } from '../host/libvirt/status-xml.js';
import type { Problems } from '../host/problems.js';
import { parseCmdline } from '../host/procfs/cmdline.js';
import { parseStat } from '../host/procfs/stat.js';
import { parseQemuCmdline, type IothreadSpec, type QemuCmdline } from '../host/qemu/cmdline.js';
import type { DiskSpec } from '../host/qemu/disk-spec.js';
import { resolveHostDevice, type HostDevice } from '../host/sysfs/host-device.js';
import { ThreadLedger } from './thread-ledger.js';

/** QEMU's default block thread pool size (util/thread-pool.c, thread-pool-max). */
export const DEFAULT_POOL_MAX = 64;

/** Labels of qemu_vm_info that name a VM the way its platform's users know it; '' where the platform does not say. */
export const VM_LABELS = ['vmid', 'nova_name', 'nova_project', 'nova_flavor', 'kubevirt_namespace', 'kubevirt_name'] as const;
export type VmLabels = Record<(typeof VM_LABELS)[number], string>;

/**
 * Proxmox VE's VM id, Nova's instance metadata, KubeVirt's namespace and name: its domains are
 * `NAMESPACE_NAME`, split at the first `_` (a namespace has none), `default` without one (SplitVMINamespaceKey).
 */
function platformLabels(d: LibvirtDomain | undefined, cmdline: QemuCmdline): VmLabels {
  const cut = d?.kubevirt ? d.name.indexOf('_') : undefined;
  const vmi = cut === undefined ? ['', ''] : cut < 0 ? ['default', d!.name] : [d!.name.slice(0, cut), d!.name.slice(cut + 1)];
  return {
    vmid: cmdline.vmid ?? '',
    nova_name: d?.nova?.name ?? '',
    nova_project: d?.nova?.project ?? '',
    nova_flavor: d?.nova?.flavor ?? '',
    kubevirt_namespace: vmi[0]!,
    kubevirt_name: vmi[1]!,
  };
}

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

export class Vm {
  readonly ledger = new ThreadLedger();
  /** Set once the census or a scrape has listed the threads: later new threads are spawns. */
  listed = false;
  /** Task listings so far (see syncThreads). */
  syncs = 0;
  identity!: VmIdentity;
  /** Set when the identity changed in a way that can change thread roles (libvirt's status file arrived). */
  rolesStale = false;
  /** A thread carries a name QEMU gives (QEMU ≥ 11 names threads without debug-threads=on). */
  qemuNames = false;

  constructor(
    readonly pid: number,
    readonly starttime: number,
    readonly processComm: string,
    readonly cmdline: QemuCmdline,
    /** Runs in a Kubernetes pod (its cgroup says so): its libvirt, if any, is the pod's own (KubeVirt). */
    readonly inPod: boolean,
  ) {}

  /** QEMU names this VM's threads, so a name tells a role. */
  namedThreads(): boolean {
    return this.cmdline.debugThreads || this.qemuNames;
  }
}

/** A PID that is not QEMU is re-checked for this long: libvirt forks, then execs QEMU a moment later. */
const EXEC_GRACE_MS = 10_000;

function pools(iothreads: IothreadSpec[], mainMax: number | undefined): VmIdentity['pools'] {
  return [
    { pool: 'main', max: mainMax ?? DEFAULT_POOL_MAX },
    ...iothreads.map((t) => ({ pool: t.id, max: t.poolMax ?? DEFAULT_POOL_MAX })),
  ];
}

/** libvirt's status file usually lands a moment after QEMU's threads exist: its vCPU TIDs and cgroups then decide roles. */
function rolesMayDiffer(a: VmIdentity, b: VmIdentity): boolean {
  if (a.source !== b.source || a.vcpuTids.size !== b.vcpuTids.size) return true;
  for (const [tid, vcpu] of a.vcpuTids) if (b.vcpuTids.get(tid) !== vcpu) return true;
  return false;
}

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
    private readonly fs: FsRoots,
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
      this.problems.report('procfs', 'read', 'list', `cannot list ${this.fs.proc()}: ${(err as Error).message}`);
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
      const next: VmIdentity = d
        ? { domain: d.name, uuid: d.uuid, source: 'libvirt', labels: platformLabels(d, vm.cmdline), vcpuTids: d.vcpuTids, pools: pools(d.iothreads, d.mainLoopPoolMax), disks: d.disks }
        : this.cmdlineIdentity(vm);
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

  private cmdlineIdentity(vm: Vm): VmIdentity {
    const c = vm.cmdline;
    return {
      domain: c.name ?? `qemu-${vm.pid}`,
      uuid: c.uuid ?? '',
      source: 'cmdline',
      labels: platformLabels(undefined, c),
      vcpuTids: new Map(),
      pools: pools(c.iothreads, c.mainLoopPoolMax),
      disks: c.disks,
    };
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
      for (const w of cmdline.warnings) this.problems.report('procfs', 'parse', `cmdline:${w}`, `QEMU pid ${pid} command line: ${w}`);
      return new Vm(pid, stat.starttimeTicks, comm, cmdline, this.inPod(pid));
    } catch (err) {
      // Kernel threads have an empty cmdline ("gone" here), and processes end while we look: both normal.
      if (err instanceof FsError && err.kind === 'gone') return undefined;
      if (err instanceof FsError) {
        this.problems.report('procfs', err.kind, `probe:${err.code}`, `cannot inspect pid ${pid}: ${err.message}`);
      } else {
        this.problems.report('procfs', 'parse', 'probe', `cannot inspect pid ${pid}: ${(err as Error).message}`);
      }
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
      .then((dev) => { this.hostDevices.set(source, dev); })
      .catch((err: unknown) => {
        this.hostDevices.set(source, undefined);
        const reason = err instanceof FsError ? (err.kind === 'denied' ? 'denied' : 'missing') : 'read';
        this.problems.report('disk_resolve', reason, `resolve:${source}`, `cannot resolve disk source ${source}: ${(err as Error).message}`);
      })
      .finally(() => this.resolving.delete(source));
    this.resolving.set(source, run);
  }
}
