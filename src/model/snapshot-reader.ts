import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { FsError, type HostFs } from '../host/host-fs.js';
import { reasonOf, type Problems } from '../host/problems.js';
import { parseIo, type ProcessIo } from '../host/procfs/io.js';
import { parseSchedstat } from '../host/procfs/schedstat.js';
import { parseStat, type TaskStat } from '../host/procfs/stat.js';
import { parseStatus } from '../host/procfs/status.js';
import type { DiskSpec } from '../host/qemu/disk-spec.js';
import { ROLES, type Role } from '../host/qemu/thread-roles.js';
import { parseBlockStat, type BlockStat } from '../host/sysfs/block-stat.js';
import type { Inventory } from './inventory.js';
import { stateOf, type State } from '../host/procfs/task-state.js';
import type { DiskSnapshot, RoleSnapshot, Snapshot, VmSnapshot } from './snapshot.js';
import { zeroCounters, type TrackedThread } from './thread-ledger.js';
import type { ThreadSync } from './thread-sync.js';
import type { Vm } from './vm.js';

const noStates = (): Record<State, number> => ({
  running: 0,
  sleeping: 0,
  disk_sleep: 0,
  stopped: 0,
  zombie: 0,
  idle: 0,
  other: 0,
});

const STATUS_RSS = '\nVmRSS:';
const STATUS_SWITCHES = '\nvoluntary_ctxt_switches:';

/** Roles every VM reports, even at 0, so a drained pool reads 0 instead of vanishing. */
const ALWAYS: readonly Role[] = ['vcpu', 'iothread', 'worker', 'main'];

/**
 * Reads everything for one scrape from the files: every VM's thread table synced, then each thread's counters and
 * state, its process's I/O and its disks' host devices. The only stateful part is each VM's ledger, which keeps
 * counters monotonic.
 */
export class SnapshotReader {
  constructor(
    private readonly fs: HostFs,
    private readonly inventory: Inventory,
    private readonly threads: ThreadSync,
    private readonly problems: Problems,
    /** Read every thread's status at every snapshot (the property test's reference: what a full read gives). */
    private readonly readEveryStatus = false,
  ) {}

  /** Reads every VM, or as many as fit before `deadline` (ms since the epoch): a partial scrape beats a hung one. */
  async read(now = Date.now(), deadline = Infinity): Promise<Snapshot> {
    const all = this.threads.sync(now);
    const vms: VmSnapshot[] = [];
    const blockStats = new Map<string, BlockStat | undefined>();
    let partial = false;
    for (const live of all) {
      if (Date.now() >= deadline) {
        partial = true;
        this.problems.report(
          'procfs',
          'timeout',
          'deadline',
          `scrape deadline reached after ${String(vms.length)} of ${String(all.length)} VMs: the rest are left out of this scrape`,
        );
        break;
      }
      vms.push(this.readVm(live.vm, live.process, blockStats));
      // Let health checks and other requests in between VMs on a host with thousands of threads.
      await yieldToLoop();
    }
    const failed = this.problems.takeFailed();
    vms.sort((a, b) =>
      a.identity.domain < b.identity.domain ? -1 : a.identity.domain > b.identity.domain ? 1 : a.pid - b.pid,
    );
    this.disambiguate(vms);
    return { at: now, vms, partial, failed, inactive: new Set() };
  }

  /**
   * Two processes claiming one domain name (a stale libvirt file, two bare QEMUs with the same -name) would merge
   * into one series set and add up their counters: every one after the first gets `name@pid` and a counted error.
   */
  private disambiguate(vms: VmSnapshot[]): void {
    const seen = new Set<string>();
    for (const v of vms) {
      const name = v.identity.domain;
      if (seen.has(name)) {
        v.identity = { ...v.identity, domain: `${name}@${String(v.pid)}` };
        this.problems.report(
          'procfs',
          'duplicate_domain',
          `duplicate:${name}`,
          `several QEMU processes are named ${JSON.stringify(name)}: the one with pid ${String(v.pid)} is exported as ${JSON.stringify(v.identity.domain)}`,
        );
      }
      seen.add(name);
    }
  }

  /** One VM whose thread table the sync has just brought up to date. */
  private readVm(vm: Vm, proc: TaskStat, blockStats: Map<string, BlockStat | undefined>): VmSnapshot {
    const { ledger } = vm;
    const states = new Map<Role, Record<State, number>>();
    let rssBytes: number | undefined;
    for (const t of ledger.threads.values()) {
      const state = this.readThread(vm, t);
      if (state === undefined) continue;
      if (t.tid === vm.pid) rssBytes = state.rss;
      let s = states.get(t.role);
      if (!s) {
        s = noStates();
        states.set(t.role, s);
      }
      s[state.state]++;
    }

    const counts = ledger.countsByRole();
    const totals = ledger.totalsByRole();
    const roles: RoleSnapshot[] = [];
    for (const role of ROLES) {
      if (!ALWAYS.includes(role) && !ledger.rolesSeen.has(role)) continue;
      const threads = counts.get(role) ?? 0;
      roles.push({
        role,
        threads,
        peak: Math.max(threads, ledger.peak(role)),
        states: states.get(role) ?? noStates(),
        totals: totals.get(role) ?? zeroCounters(),
        spawns: ledger.spawns.get(role) ?? 0,
        exits: ledger.exits.get(role) ?? 0,
      });
    }
    ledger.exported();
    const vcpus = [...ledger.totalsByVcpu()].map(([vcpu, c]) => ({ vcpu, totals: c })).sort((a, b) => a.vcpu - b.vcpu);

    // Worker pool membership is only known from libvirt's cgroups (workers inherit their event loop's group).
    let byPool: Map<string, number> | undefined;
    if (vm.identity.source === 'libvirt') {
      byPool = new Map();
      for (const t of ledger.threads.values())
        if (t.role === 'worker' && t.pool) byPool.set(t.pool, (byPool.get(t.pool) ?? 0) + 1);
    }
    // A literal, not `{ ...p, threads }`: the history keeps these, and each spread clone has a hidden class of its own.
    const pools = vm.identity.pools.map((p) => ({
      pool: p.pool,
      max: p.max,
      threads: byPool ? (byPool.get(p.pool) ?? 0) : undefined,
    }));

    return {
      identity: vm.identity,
      pid: vm.pid,
      starttime: vm.starttime,
      namedThreads: vm.namedThreads(),
      roles,
      vcpus,
      pools,
      disks: vm.identity.disks.map((spec) => this.readDisk(spec, blockStats)),
      cpuTicks: proc.utimeTicks + proc.stimeTicks,
      rssBytes,
      io: this.readIo(vm.pid),
    };
  }

  /** Updates one thread's counters; returns its state, or undefined if it ended (it moves to the ledger). */
  private readThread(vm: Vm, t: TrackedThread): { state: State; rss: number | undefined } | undefined {
    const { fs, problems } = this;
    try {
      const stat = parseStat(fs.readSmall(t.files.stat, 'latin1'));
      if (stat.starttimeTicks !== t.starttime) {
        // The TID was reused by a new thread: the old one ended; the next listing picks up the new one.
        vm.ledger.remove(t.tid);
        return undefined;
      }
      const sched = parseSchedstat(fs.readSmall(t.files.schedstat, 'latin1'));
      const c = t.last;
      let rss: number | undefined;
      // A thread that has not been on a CPU since its status was read has not switched either: the kernel counts a
      // switch when a thread leaves a CPU (__schedule), and then its time on a CPU (sum_exec_runtime) has grown;
      // a thread that came onto one counts a timeslice (sched_info_arrive). Its status, the costliest of the three
      // files, is then not read again. Without schedstats ("0 0 0") nothing can be told: always read. The main
      // thread's status also gives the process's RSS.
      const idle =
        !this.readEveryStatus &&
        t.ranAt?.runNs === sched.runNs &&
        t.ranAt.timeslices === sched.timeslices &&
        sched.runNs > 0;
      if (!idle || t.tid === vm.pid) {
        // Only the context switch lines (and VmRSS, for the main thread) are wanted out of ~1.4 KB of status.
        const status = parseStatus(
          fs.readSmall(t.files.status, 'latin1', t.tid === vm.pid ? STATUS_RSS : STATUS_SWITCHES),
        );
        c.voluntary = status.voluntaryCtxtSwitches;
        c.involuntary = status.nonvoluntaryCtxtSwitches;
        t.ranAt ??= { runNs: 0, timeslices: 0 };
        t.ranAt.runNs = sched.runNs;
        t.ranAt.timeslices = sched.timeslices;
        rss = status.vmRssBytes;
      }
      if (stat.comm !== t.comm) {
        // QEMU names a thread right after creating it: a thread first seen unnamed gets its real role now.
        t.comm = stat.comm;
        this.threads.reassess(vm, t);
      }
      c.userTicks = stat.utimeTicks;
      c.systemTicks = stat.stimeTicks;
      c.waitNs = sched.waitNs;
      t.state = stateOf(stat.state);
      return { state: t.state, rss };
    } catch (err) {
      if (!problems.readFailed('procfs', 'thread', `cannot read thread ${t.tid} of pid ${vm.pid}`, err)) {
        vm.ledger.remove(t.tid);
        return undefined;
      }
      // Keep its last counters (never a wrong number); its state is unknown this time.
      return { state: 'other', rss: undefined };
    }
  }

  private readIo(pid: number): ProcessIo | undefined {
    try {
      return parseIo(this.fs.readSmall(this.fs.proc(pid, 'io')));
    } catch (err) {
      if (err instanceof FsError && err.kind === 'gone') return undefined;
      const reason = reasonOf(err);
      this.problems.report(
        'process_io',
        reason,
        'io',
        reason === 'denied'
          ? `cannot read ${this.fs.proc(pid, 'io')} (mode 0400, owned by the QEMU user): run as root or grant CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH`
          : `cannot read ${this.fs.proc(pid, 'io')}: ${(err as Error).message}`,
      );
      return undefined;
    }
  }

  private readDisk(spec: DiskSpec, cache: Map<string, BlockStat | undefined>): DiskSnapshot {
    const dev = this.inventory.hostDevice(spec.source);
    if (!dev) return { spec, hostDevice: '', stat: undefined };
    if (!cache.has(dev.sysDir)) {
      let stat: BlockStat | undefined;
      try {
        stat = parseBlockStat(this.fs.readSmall(`${dev.sysDir}/stat`));
      } catch (err) {
        this.problems.report(
          'sysfs',
          reasonOf(err),
          `block:${dev.name}`,
          `cannot read ${dev.sysDir}/stat: ${(err as Error).message}`,
        );
      }
      cache.set(dev.sysDir, stat);
    }
    return { spec, hostDevice: dev.name, stat: cache.get(dev.sysDir) };
  }
}
