/**
 * QEMU's own accounting of each disk (libvirt's API or QMP): what the guest's device saw, next to the host device's
 * statistics of qemu_disk_*. The same `disk` label as qemu_disk_info, so one join compares them.
 */
import type { GuestDiskStats, LatencyHistogram } from '../host/guest-disk-stats.js';
import { escapeLabel, perDisk, type Emit, type Family } from './family.js';

const guest = (name: string, help: string, value: (s: GuestDiskStats) => number): Family =>
  perDisk(name, help, 'counter', (disk) => disk.guest, value);

/** A Prometheus histogram from QEMU's bins (cumulative buckets, `le` in seconds, +Inf last). */
function histogram(name: string, help: string, pick: (s: GuestDiskStats) => LatencyHistogram | undefined): Family {
  return {
    name,
    help,
    type: 'histogram',
    samples: (vm, d, emit: Emit) => {
      for (const disk of vm.disks) {
        const h = disk.guest && pick(disk.guest);
        if (!h) continue;
        const l = `${d},disk="${escapeLabel(disk.spec.name)}"`;
        let count = 0;
        h.bins.forEach((n, i) => {
          count += n;
          const le = i < h.boundariesNs.length ? String(h.boundariesNs[i]! / 1e9) : '+Inf';
          emit(`${l},le="${le}"`, count, '_bucket');
        });
        emit(l, h.sumNs / 1e9, '_sum');
        emit(l, count, '_count');
      }
    },
  };
}

export const GUEST_FAMILIES: Family[] = [
  guest(
    'qemu_disk_guest_reads_completed_total',
    "Reads QEMU completed for the guest's device (its block accounting).",
    (s) => s.reads,
  ),
  guest('qemu_disk_guest_writes_completed_total', "Writes QEMU completed for the guest's device.", (s) => s.writes),
  guest('qemu_disk_guest_flushes_completed_total', "Flushes QEMU completed for the guest's device.", (s) => s.flushes),
  guest('qemu_disk_guest_read_bytes_total', "Bytes QEMU read for the guest's device.", (s) => s.readBytes),
  guest('qemu_disk_guest_written_bytes_total', "Bytes QEMU wrote for the guest's device.", (s) => s.writtenBytes),
  guest(
    'qemu_disk_guest_read_time_seconds_total',
    'Time reads took as the guest saw them: from QEMU receiving each request to its completion.',
    (s) => s.readTimeNs / 1e9,
  ),
  guest(
    'qemu_disk_guest_write_time_seconds_total',
    'Time writes took as the guest saw them.',
    (s) => s.writeTimeNs / 1e9,
  ),
  guest(
    'qemu_disk_guest_flush_time_seconds_total',
    'Time flushes took as the guest saw them.',
    (s) => s.flushTimeNs / 1e9,
  ),
  histogram(
    'qemu_disk_guest_read_latency_seconds',
    "Reads by latency, QEMU's histogram (--qmp.latency-histogram), counted since the exporter set it.",
    (s) => s.readHistogram,
  ),
  histogram('qemu_disk_guest_write_latency_seconds', "Writes by latency, QEMU's histogram.", (s) => s.writeHistogram),
  histogram('qemu_disk_guest_flush_latency_seconds', "Flushes by latency, QEMU's histogram.", (s) => s.flushHistogram),
  {
    name: 'qemu_disk_guest_stats_age_seconds',
    help: "Seconds since libvirt or QMP last answered for the VM's disks: 0 when they answered for this scrape.",
    type: 'gauge',
    samples: (vm, d, emit) => {
      if (vm.guestAgeSeconds !== undefined) emit(d, vm.guestAgeSeconds);
    },
  },
];
