import type { Role } from '../host/qemu/thread-roles.js';
import type { Snapshot, VmSnapshot } from '../model/snapshot.js';
import { pack, unpack, type Packed } from './packed.js';

/** One VM as one snapshot saw it, plus the highest values of the snapshots it stands for (see History.record). */
export interface Point {
  /** ms since the epoch. */
  t: number;
  vm: VmSnapshot;
  /** Highest census peak per role over the snapshots merged into this point. */
  peak: Partial<Record<Role, number>>;
  /** Most threads in disk sleep at once, per role, over those snapshots. */
  diskSleep: Partial<Record<Role, number>>;
}

function pointOf(vm: VmSnapshot, t: number): Point {
  const peak: Point['peak'] = {};
  const diskSleep: Point['diskSleep'] = {};
  for (const r of vm.roles) {
    peak[r.role] = r.peak;
    diskSleep[r.role] = r.states.disk_sleep;
  }
  return { t, vm, peak, diskSleep };
}

/** A VM's points: the newest as it is (the next snapshot may replace it), the older ones packed. */
interface VmPoints {
  older: { t: number; packed: Packed }[];
  newest: Point;
}

function merge(into: Point['peak'], from: Point['peak']): void {
  for (const [role, n] of Object.entries(from) as [Role, number][]) into[role] = Math.max(into[role] ?? 0, n);
}

/**
 * The exporter's short memory of its own snapshots, per VM process, for `explain`: at most one point per
 * `intervalMs` over `windowMs`, so memory stays bounded (window / interval + 2 points per VM) however often
 * Prometheus scrapes. The newest point always holds the newest snapshot; the snapshots it replaced leave their
 * peaks and disk-sleep counts in it, so a short burst between two kept points is not lost. Points older than the
 * newest are kept packed (packed.ts): a tenth of the memory, unpacked only when asked for.
 */
export class History {
  private readonly byVm = new Map<string, VmPoints>();
  /** When the last snapshot was recorded (ms since the epoch; 0: never). */
  lastAt = 0;

  constructor(
    readonly windowMs: number,
    readonly intervalMs: number,
  ) {}

  record(snap: Snapshot): void {
    const t = snap.at;
    this.lastAt = t;
    const seen = new Set<string>();
    for (const vm of snap.vms) {
      const key = `${String(vm.pid)}:${String(vm.starttime)}`;
      seen.add(key);
      const next = pointOf(vm, t);
      const points = this.byVm.get(key);
      if (!points) {
        this.byVm.set(key, { older: [], newest: next });
        continue;
      }
      // The newest point stands in for every snapshot until it is an interval past the one before it.
      const { older, newest } = points;
      const before = older.at(-1);
      if (before !== undefined && newest.t - before.t < this.intervalMs) {
        merge(next.peak, newest.peak);
        merge(next.diskSleep, newest.diskSleep);
      } else {
        older.push({ t: newest.t, packed: pack(newest, before?.packed.shape) });
      }
      points.newest = next;
      // Keep one point at or before the window's start: rates then span the whole window (the newest is never past it).
      let drop = 0;
      while (drop + 1 < older.length && older[drop + 1]!.t <= t - this.windowMs) drop++;
      if (drop > 0) older.splice(0, drop);
    }
    // A VM missing from a complete snapshot has ended; a partial one (deadline reached) proves nothing.
    if (!snap.partial) for (const key of this.byVm.keys()) if (!seen.has(key)) this.byVm.delete(key);
  }

  /** Every VM's points, oldest first; a VM's newest point carries its current identity. */
  vms(): Point[][] {
    return [...this.byVm.values()]
      .sort((a, b) => {
        const x = a.newest.vm.identity.domain;
        const y = b.newest.vm.identity.domain;
        return x < y ? -1 : x > y ? 1 : 0;
      })
      .map((p) => [...p.older.map((o) => unpack(o.packed) as Point), p.newest]);
  }

  /** Points held in all (for the memory bound). */
  size(): number {
    let n = 0;
    for (const p of this.byVm.values()) n += p.older.length + 1;
    return n;
  }
}
