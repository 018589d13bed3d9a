/**
 * QEMU's own view of a VM's disks: every request its block layer completed, per disk, with the time each took —
 * the latency the guest's device saw. Read from libvirt's API or QMP (src/host/libvirt/rpc, src/host/qemu/qmp.ts).
 */
import type { SourceVm } from './source.js';

/** One latency histogram of QEMU's (block-latency-histogram-set): `bins` has one entry more than `boundariesNs`. */
export interface LatencyHistogram {
  boundariesNs: number[];
  bins: number[];
  /** Time of the requests the bins count (QEMU's total time since the histogram was set). */
  sumNs: number;
}

/** A disk's cumulative counters, as QEMU keeps them from its start (or from the disk's hot-plug). */
export interface GuestDiskStats {
  reads: number;
  writes: number;
  flushes: number;
  readBytes: number;
  writtenBytes: number;
  readTimeNs: number;
  writeTimeNs: number;
  flushTimeNs: number;
  readHistogram?: LatencyHistogram;
  writeHistogram?: LatencyHistogram;
  flushHistogram?: LatencyHistogram;
}

/** What a source answered for one VM: its disks by the exporter's disk name, and when the answer came. */
export interface GuestDisksAnswer {
  disks: Map<string, GuestDiskStats>;
  /** ms since the epoch; older than the snapshot when the last call failed or the domain was busy (stale). */
  at: number;
}

/** A source of QEMU's disk statistics (a Source: see source.ts for its life cycle). */
export interface GuestDiskSource {
  guestDisks(vm: SourceVm): GuestDisksAnswer | undefined;
}
