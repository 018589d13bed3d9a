import type { Logger } from 'pino';
import { HostFs, type Roots } from '../host/host-fs.js';
import { PodStatusFiles } from '../host/libvirt/pod-status.js';
import { LibvirtApi } from '../host/libvirt/api-source.js';
import { LibvirtStatusDir } from '../host/libvirt/status-dir.js';
import { QmpBlockstats } from '../host/qemu/qmp-source.js';
import { Problems } from '../host/problems.js';
import type { GuestDiskSource } from '../host/guest-disk-stats.js';
import type { Source, SourceVm } from '../host/source.js';
import { singleFlight } from '../util/single-flight.js';
import { Census } from './census.js';
import { Inventory } from './inventory.js';
import type { Snapshot } from './snapshot.js';
import { SnapshotReader } from './snapshot-reader.js';
import { SyscallObserver, type SyscallOptions } from './syscall-observer.js';
import { ThreadSync } from './thread-sync.js';
import type { Vm } from './vm.js';

/** A VM as the sources are asked about it: its identity as the inventory has it (before `name@pid`), its QMP sockets. */
function sourceVm(vm: Vm): SourceVm {
  const { domain, uuid, source } = vm.identity;
  return { pid: vm.pid, domain, uuid, source, qmpSockets: vm.cmdline.qmpSockets };
}

/** The sources beside /proc and /sys (flags --libvirt.*, --collector.qmp, --qmp.*). */
export interface SourcesConfig {
  /** libvirt's read-only socket; `auto`: the first that exists; undefined: off. */
  libvirtSocket: string | undefined;
  libvirtTimeoutMs: number;
  qmp: boolean;
  qmpTimeoutMs: number;
  /** Boundaries of QEMU's latency histograms to set (ns); empty: none. */
  latencyHistogramNs: number[];
}

/** Only files: what a fixture tree or a test wants unless it asks for more. */
const NO_SOURCES: SourcesConfig = {
  libvirtSocket: undefined,
  libvirtTimeoutMs: 2000,
  qmp: false,
  qmpTimeoutMs: 1000,
  latencyHistogramNs: [],
};

export interface PipelineOptions {
  roots: Roots;
  processPattern: RegExp;
  /** qemu_threads_peak's sliding window. */
  peakWindowMs: number;
  log: Logger;
  /** See SnapshotReader: the tests' reference of a read of every file. */
  readEveryStatus?: boolean;
  /** libvirt's API and QMP; default: neither. */
  sources?: SourcesConfig;
  /** When and whom the syscall observer looks at; default: the explain defaults (15 s, 8 workers). */
  syscalls?: SyscallOptions;
}

/** A snapshot and the seconds its read took. */
export interface TimedSnapshot {
  snapshot: Snapshot;
  seconds: number;
}

/**
 * The read side, whole: the one host reader, the sources beside it, the inventory of QEMU processes, the thread
 * sync with its census timer, and the snapshot reader. It hands out snapshots; everything downstream (metrics,
 * explain, HTTP) only reads them.
 */
export class ReadPipeline {
  readonly fs: HostFs;
  readonly problems: Problems;
  readonly inventory: Inventory;
  private readonly sources: Source[];
  private readonly guestSources: GuestDiskSource[];
  private readonly threads: ThreadSync;
  private readonly census: Census;
  private readonly reader: SnapshotReader;
  private readonly syscalls: SyscallObserver;
  private readonly listeners: ((snap: Snapshot) => void)[] = [];

  /**
   * One read of every VM by `deadline` (ms since the epoch; `now` is the read's clock); calls made while one is in
   * flight share it. Every snapshot goes to the listeners (the explain history), so they cost no reads of their own.
   */
  readonly snapshot: (deadline: number, now?: number) => Promise<TimedSnapshot>;

  constructor(o: PipelineOptions) {
    this.fs = new HostFs(o.roots);
    this.problems = new Problems(o.log);
    const libvirt = new LibvirtStatusDir(this.fs, this.problems);
    const s = o.sources ?? NO_SOURCES;
    const qmp = new QmpBlockstats(this.fs, this.problems, {
      enabled: s.qmp,
      timeoutMs: s.qmpTimeoutMs,
      boundariesNs: s.latencyHistogramNs,
    });
    const api = new LibvirtApi(this.fs, this.problems, { socket: s.libvirtSocket, timeoutMs: s.libvirtTimeoutMs });
    this.syscalls = new SyscallObserver(this.fs, this.problems, o.syscalls ?? { everyMs: 15_000, poolBusy: 8 });
    this.sources = [libvirt, api, qmp, this.syscalls];
    this.guestSources = [api, qmp];
    this.inventory = new Inventory(
      this.fs,
      o.processPattern,
      libvirt,
      this.problems,
      new PodStatusFiles(this.fs, this.problems),
    );
    this.threads = new ThreadSync(this.fs, this.inventory, this.problems, o.peakWindowMs);
    this.census = new Census(this.threads);
    this.reader = new SnapshotReader(this.fs, this.inventory, this.threads, this.problems, o.readEveryStatus);
    const once = singleFlight(async ({ deadline, now }: { deadline: number; now: number }) => {
      const t0 = process.hrtime.bigint();
      // The sources are asked alongside the /proc read, about the VMs the inventory knows now.
      const vms = [...this.inventory.vms.values()].map(sourceVm);
      const [snapshot] = await Promise.all([
        this.reader.read(now, deadline),
        ...this.sources.map((s) => s.collect?.(deadline, vms)),
      ]);
      // Which threads are busy is known only from this read.
      this.syscalls.observe(snapshot, this.inventory);
      for (const s of this.sources) {
        if (s.active?.() === false) snapshot.inactive.add(s.name);
        else if (!s.healthy()) snapshot.failed.add(s.name);
      }
      this.attachGuestDisks(snapshot);
      for (const listener of this.listeners) listener(snapshot);
      return { snapshot, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
    });
    this.snapshot = (deadline, now = Date.now()) => once({ deadline, now });
  }

  /** Starts the sources and lists every VM's threads once, with their disks resolved: the first snapshot is whole. */
  async open(now = Date.now()): Promise<void> {
    await Promise.all(this.sources.map((s) => s.start()));
    this.threads.sync(now);
    await this.inventory.settled();
  }

  /** Syncs every VM's threads each interval, so spawns, exits and peaks between snapshots are seen. */
  startCensus(intervalMs: number): void {
    this.census.start(intervalMs);
  }

  /** Calls `listener` with every snapshot read. */
  onSnapshot(listener: (snap: Snapshot) => void): void {
    this.listeners.push(listener);
  }

  /** QEMU's own disk counters, from the first source that has the VM, made monotonic by the VM's own ledger. */
  private attachGuestDisks(snapshot: Snapshot): void {
    for (const v of snapshot.vms) {
      const vm = this.inventory.vms.get(v.pid);
      if (!vm) continue;
      let answer;
      for (const s of this.guestSources) if ((answer = s.guestDisks(sourceVm(vm)))) break;
      if (!answer) continue;
      v.guestAgeSeconds = Math.max(0, (snapshot.at - answer.at) / 1000);
      for (const d of v.disks) {
        const stats = answer.disks.get(d.spec.name);
        if (stats) d.guest = vm.guest.apply(d.spec.name, stats);
      }
    }
  }

  async stop(): Promise<void> {
    this.census.stop();
    await Promise.allSettled(this.sources.map((s) => s.stop()));
  }
}
