import type { State } from '../host/procfs/task-state.js';
import { ROLES, type Role, type ThreadRole } from '../host/qemu/thread-roles.js';

const ROLE_INDEX = new Map<Role, number>(ROLES.map((r, i) => [r, i]));

/** Cumulative per-thread counters, in the kernel's units. */
export interface Counters {
  userTicks: number;
  systemTicks: number;
  voluntary: number;
  involuntary: number;
  waitNs: number;
}

export const zeroCounters = (): Counters => ({ userTicks: 0, systemTicks: 0, voluntary: 0, involuntary: 0, waitNs: 0 });

/** A copy as a literal: V8 gives every `{ ...c }` clone a hidden class of its own (measured), and snapshots keep these. */
export const copyCounters = (c: Counters): Counters => ({
  userTicks: c.userTicks,
  systemTicks: c.systemTicks,
  voluntary: c.voluntary,
  involuntary: c.involuntary,
  waitNs: c.waitNs,
});

function addDelta(into: Counters, now: Counters, base: Counters): void {
  into.userTicks += now.userTicks - base.userTicks;
  into.systemTicks += now.systemTicks - base.systemTicks;
  into.voluntary += now.voluntary - base.voluntary;
  into.involuntary += now.involuntary - base.involuntary;
  into.waitNs += now.waitNs - base.waitNs;
}

export interface TrackedThread extends ThreadRole {
  tid: number;
  /** Thread start time (clock ticks after boot): a different value under the same TID is a new thread. */
  starttime: number;
  comm: string;
  kernelThread: boolean;
  /** Its stat, status and schedstat files, built once: a scrape reads them for every thread. */
  files: { stat: string; status: string; schedstat: string };
  /** Number of the last sync whose task listing showed this thread. */
  listedAt: number;
  /** libvirt cgroup leaf, read once when the thread is first seen. */
  cgroupLeaf: string | undefined;
  /** Last counters read by a scrape (zero until the first one: a thread first seen mid-life counts in full). */
  last: Counters;
  /** Counters at the moment this thread took its current role; only what it did since then counts for the role. */
  base: Counters;
  /** The ledger's export count when this thread's spawn was counted (absent: seen at the first listing, no spawn). */
  spawnedAt?: number | undefined;
  /** schedstat's time on a CPU and timeslices when its status was last read (absent: never read). */
  ranAt?: { runNs: number; timeslices: number } | undefined;
  /** Its scheduler state at the last read (the syscall observer looks at iothreads and vCPUs in disk sleep). */
  state?: State | undefined;
}

/**
 * A tracked thread with every field set, always in this order, so all threads share one hidden class: built with
 * `{ ...role, tid, … }` each had its own (with its descriptor and property arrays: ~0.8 KB a thread, measured).
 */
export function trackedThread(
  role: ThreadRole,
  t: Pick<TrackedThread, 'tid' | 'starttime' | 'comm' | 'kernelThread' | 'files' | 'listedAt' | 'cgroupLeaf'>,
): TrackedThread {
  return {
    role: role.role,
    vcpu: role.vcpu,
    iothread: role.iothread,
    pool: role.pool,
    tid: t.tid,
    starttime: t.starttime,
    comm: t.comm,
    kernelThread: t.kernelThread,
    files: t.files,
    listedAt: t.listedAt,
    cgroupLeaf: t.cgroupLeaf,
    last: zeroCounters(),
    base: zeroCounters(),
    spawnedAt: undefined,
    ranAt: undefined,
    state: undefined,
  };
}

/**
 * Per-VM thread table and ledger. Role totals are `retired[role] + Σ(live.last − live.base)`: when a thread exits
 * (or changes role) what it contributed moves into `retired`, so a counter per (VM, role) never goes backwards
 * while the VM lives, however many threads come and go.
 */
export class ThreadLedger {
  readonly threads = new Map<number, TrackedThread>();
  readonly retiredByRole = new Map<Role, Counters>();
  readonly retiredByVcpu = new Map<number, Counters>();
  readonly spawns = new Map<Role, number>();
  readonly exits = new Map<Role, number>();
  /** Every role this VM has had: those series stay (at 0) once seen. */
  readonly rolesSeen = new Set<Role>();
  /** Live threads per role, kept as threads come, go and change role (read every census tick and scrape). */
  private readonly counts = new Map<Role, number>();
  /** Thread counts per role (indexed as ROLES) at each census tick and snapshot over the peak window: plain arrays of
   * small integers, a tenth of a Map's memory, and the window holds ~30 of them a VM. */
  private peaks: { at: number; counts: number[] }[] = [];
  /** Snapshots taken so far: a spawn counted since the last one has not been exported yet. */
  private exports = 0;

  private count(role: Role, delta: number): void {
    this.counts.set(role, (this.counts.get(role) ?? 0) + delta);
  }

  add(t: TrackedThread, countSpawn: boolean): void {
    this.threads.set(t.tid, t);
    this.rolesSeen.add(t.role);
    this.count(t.role, 1);
    if (countSpawn) {
      this.spawns.set(t.role, (this.spawns.get(t.role) ?? 0) + 1);
      t.spawnedAt = this.exports;
    }
  }

  /** A snapshot has read the spawn counts: from now on they only go up. */
  exported(): void {
    this.exports++;
  }

  private retire(t: TrackedThread): void {
    addDelta(getOrZero(this.retiredByRole, t.role), t.last, t.base);
    if (t.vcpu !== undefined) addDelta(getOrZero(this.retiredByVcpu, t.vcpu), t.last, t.base);
  }

  remove(tid: number): void {
    const t = this.threads.get(tid);
    if (!t) return;
    this.retire(t);
    this.threads.delete(tid);
    this.count(t.role, -1);
    this.exits.set(t.role, (this.exits.get(t.role) ?? 0) + 1);
  }

  /** A live thread whose role changed (e.g. it was renamed): freeze its old contribution, count on from here. */
  changeRole(t: TrackedThread, next: ThreadRole): void {
    this.retire(t);
    t.base = copyCounters(t.last);
    this.count(t.role, -1);
    this.count(next.role, 1);
    if (t.spawnedAt === this.exports && next.role !== t.role) {
      // QEMU names a thread just after creating it: a spawn no snapshot has shown yet moves with the thread.
      this.spawns.set(t.role, this.spawns.get(t.role)! - 1);
      this.spawns.set(next.role, (this.spawns.get(next.role) ?? 0) + 1);
    }
    t.role = next.role;
    t.vcpu = next.vcpu;
    t.iothread = next.iothread;
    t.pool = next.pool;
    this.rolesSeen.add(t.role);
  }

  /** A copy of the live thread count per role. */
  countsByRole(): Map<Role, number> {
    return new Map(this.counts);
  }

  /** Remembers the thread counts seen at `now`, for the sliding-window peak. */
  notePeak(now: number, counts: ReadonlyMap<Role, number>, windowMs: number): void {
    const byIndex = ROLES.map(() => 0);
    for (const [role, n] of counts) byIndex[ROLE_INDEX.get(role)!] = n;
    this.peaks.push({ at: now, counts: byIndex });
    let drop = 0;
    while (drop < this.peaks.length && this.peaks[drop]!.at <= now - windowMs) drop++;
    if (drop > 0) this.peaks.splice(0, drop);
  }

  /** notePeak with the live counts. */
  noteCurrentPeak(now: number, windowMs: number): void {
    this.notePeak(now, this.counts, windowMs);
  }

  peak(role: Role): number {
    const i = ROLE_INDEX.get(role)!;
    let max = 0;
    for (const p of this.peaks) max = Math.max(max, p.counts[i]!);
    return max;
  }

  /** Totals per role: retired plus live deltas. */
  totalsByRole(): Map<Role, Counters> {
    const totals = new Map<Role, Counters>();
    for (const [role, c] of this.retiredByRole) totals.set(role, copyCounters(c));
    for (const t of this.threads.values()) addDelta(getOrZero(totals, t.role), t.last, t.base);
    return totals;
  }

  totalsByVcpu(): Map<number, Counters> {
    const totals = new Map<number, Counters>();
    for (const [vcpu, c] of this.retiredByVcpu) totals.set(vcpu, copyCounters(c));
    for (const t of this.threads.values()) {
      if (t.vcpu !== undefined) addDelta(getOrZero(totals, t.vcpu), t.last, t.base);
    }
    return totals;
  }
}

function getOrZero<K>(map: Map<K, Counters>, key: K): Counters {
  let c = map.get(key);
  if (!c) {
    c = zeroCounters();
    map.set(key, c);
  }
  return c;
}
