import type { GuestDiskStats } from '../host/guest-disk-stats.js';

const COUNTERS = [
  'reads',
  'writes',
  'flushes',
  'readBytes',
  'writtenBytes',
  'readTimeNs',
  'writeTimeNs',
  'flushTimeNs',
] as const;

/**
 * Keeps a VM's guest disk counters monotonic while the VM lives: a disk unplugged and plugged again starts again
 * from 0 in QEMU, and what it had counted is carried in a base. Histograms pass as QEMU gives them.
 */
export class GuestCounters {
  private readonly byDisk = new Map<string, { base: GuestDiskStats; last: GuestDiskStats }>();

  apply(disk: string, raw: GuestDiskStats): GuestDiskStats {
    let d = this.byDisk.get(disk);
    if (!d) {
      d = { base: zero(), last: raw };
      this.byDisk.set(disk, d);
    }
    const out: GuestDiskStats = { ...raw };
    const restarted = COUNTERS.some((k) => raw[k] < d.last[k]);
    if (restarted) for (const k of COUNTERS) d.base[k] += d.last[k];
    for (const k of COUNTERS) out[k] = d.base[k] + raw[k];
    d.last = raw;
    return out;
  }
}

function zero(): GuestDiskStats {
  return {
    reads: 0,
    writes: 0,
    flushes: 0,
    readBytes: 0,
    writtenBytes: 0,
    readTimeNs: 0,
    writeTimeNs: 0,
    flushTimeNs: 0,
  };
}
