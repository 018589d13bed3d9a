/** What the findings read off a VM's points: one role's or disk's values, and a host device's rates between points. */
import type { Role } from '../../host/qemu/thread-roles.js';
import type { DiskSnapshot, VmSnapshot } from '../../model/snapshot.js';
import { zeroCounters, type Counters } from '../../model/thread-ledger.js';
import type { Point } from '../history.js';

export const roleSnapshot = (vm: VmSnapshot, role: Role) => vm.roles.find((r) => r.role === role);
export const totalsOf = (vm: VmSnapshot, role: Role): Counters => roleSnapshot(vm, role)?.totals ?? zeroCounters();
export const diskOf = (vm: VmSnapshot, name: string) => vm.disks.find((d) => d.spec.name === name);
export const poolThreads = (vm: VmSnapshot, pool: string): number =>
  vm.pools.find((q) => q.pool === pool)?.threads ?? 0;
/**
 * Requests completed, time spent on them and busy time of a disk's host device over the points: from the first
 * that has its statistics (a host device is resolved a moment after the VM is found) to the last.
 */
export function diskDelta(
  points: Point[],
  b: DiskSnapshot,
): { latencyMs: number; util: number; iops: number } | undefined {
  let first: Point | undefined;
  let a: DiskSnapshot | undefined;
  for (const p of points) {
    a = diskOf(p.vm, b.spec.name);
    if (a?.stat) {
      first = p;
      break;
    }
  }
  const dt = first ? (points.at(-1)!.t - first.t) / 1000 : 0;
  if (!a?.stat || !b.stat || dt <= 0) return undefined;
  const ios = b.stat.readsCompleted + b.stat.writesCompleted - a.stat.readsCompleted - a.stat.writesCompleted;
  const ms = b.stat.readTimeMs + b.stat.writeTimeMs - a.stat.readTimeMs - a.stat.writeTimeMs;
  return { latencyMs: ios > 0 ? ms / ios : 0, util: (b.stat.ioTimeMs - a.stat.ioTimeMs) / 1000 / dt, iops: ios / dt };
}

/** The VM's disk whose host device answered slowest over the points. */
export function slowestDisk(
  points: Point[],
): { dev: string; disk: string; latencyMs: number; util: number; inFlight: number } | undefined {
  let best: ReturnType<typeof slowestDisk>;
  for (const d of points.at(-1)!.vm.disks) {
    const delta = diskDelta(points, d);
    if (!delta || delta.iops === 0) continue;
    if (!best || delta.latencyMs > best.latencyMs)
      best = {
        dev: d.hostDevice,
        disk: d.spec.name,
        latencyMs: delta.latencyMs,
        util: delta.util,
        inFlight: d.stat?.inFlight ?? 0,
      };
  }
  return best;
}

/** One busy disk's time per request as the guest saw it (QEMU's accounting) and as its host device did. */
export interface DiskLatency {
  disk: string;
  /** Host device ('' when none could be read: then `hostMs` is undefined). */
  dev: string;
  /** Requests per second the guest completed. */
  iops: number;
  guestMs: number;
  hostMs: number | undefined;
}

/** A disk must complete this many requests over the points for its latency to be worth a sentence. */
const MIN_REQUESTS = 20;

/**
 * Per disk with QEMU's accounting over the points (from the first point that has it): the guest's time per read
 * and write against the host device's over the same span. Flushes are left out: a host device sees no flush of
 * its own for most of them.
 */
export function diskLatencies(points: Point[]): DiskLatency[] {
  const out: DiskLatency[] = [];
  const last = points.at(-1)!;
  for (const b of last.vm.disks) {
    if (!b.guest) continue;
    const from = points.find((p) => diskOf(p.vm, b.spec.name)?.guest);
    const a = from && diskOf(from.vm, b.spec.name)!.guest!;
    const dt = from ? (last.t - from.t) / 1000 : 0;
    if (!a || dt <= 0) continue;
    const ops = b.guest.reads + b.guest.writes - a.reads - a.writes;
    if (ops < MIN_REQUESTS) continue;
    const ns = b.guest.readTimeNs + b.guest.writeTimeNs - a.readTimeNs - a.writeTimeNs;
    const host = diskDelta(points.slice(points.indexOf(from)), b);
    out.push({
      disk: b.spec.name,
      dev: b.hostDevice,
      iops: ops / dt,
      guestMs: ns / ops / 1e6,
      hostMs: host && host.iops > 0 ? host.latencyMs : undefined,
    });
  }
  return out;
}

export interface Span {
  first: Point;
  last: Point;
  /** Seconds from the first point to the last. */
  dt: number;
  /** The disk whose host device answered slowest (both the switching and the disk-sleep findings compare with it). */
  slowest: ReturnType<typeof slowestDisk>;
  /** Busy disks' latency, guest against host device: the direct answer to "does it hurt?" (empty without QEMU's view). */
  latencies: DiskLatency[];
  /** libvirt's API or QMP gave QEMU's view of this VM's disks. */
  guestSeen: boolean;
}
