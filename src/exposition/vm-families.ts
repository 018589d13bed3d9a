import type { BlockStat } from '../host/sysfs/block-stat.js';
import { VM_LABELS } from '../model/identity.js';
import { STATES } from '../host/procfs/task-state.js';
import type { Snapshot, VmSnapshot } from '../model/snapshot.js';
import type { Counters } from '../model/thread-ledger.js';
import { escapeLabel, num, perDisk, type Emit, type Family } from './family.js';
import { GUEST_FAMILIES } from './guest-families.js';

/** USER_HZ: /proc reports CPU time in these ticks on every Linux architecture we run on (as prometheus/procfs assumes). */
const TICKS_PER_SECOND = 100;
/** Block stat files count 512-byte sectors, whatever the device's sector size. */
const SECTOR_BYTES = 512;

const modes = (t: Counters, l: string, emit: Emit): void => {
  emit(`${l},mode="user"`, t.userTicks / TICKS_PER_SECOND);
  emit(`${l},mode="system"`, t.systemTicks / TICKS_PER_SECOND);
};
const kinds = (t: Counters, l: string, emit: Emit): void => {
  emit(`${l},kind="voluntary"`, t.voluntary);
  emit(`${l},kind="involuntary"`, t.involuntary);
};
/** One family per role: `qemu_x{domain,role}`. */
const perRole = (
  name: string,
  help: string,
  type: Family['type'],
  value: (r: VmSnapshot['roles'][number]) => number,
): Family => ({
  name,
  help,
  type,
  samples: (vm, d, emit) => {
    for (const r of vm.roles) emit(`${d},role="${r.role}"`, value(r));
  },
});
/** One family per disk with host statistics: `qemu_disk_x{domain,disk}`. */
const hostDisk = (name: string, help: string, type: Family['type'], value: (s: BlockStat) => number): Family =>
  perDisk(name, help, type, (disk) => disk.stat, value);

/** The per-VM metric families, in exposition order: the contract dashboards and alerts use (see README). */
const FAMILIES: Family[] = [
  {
    name: 'qemu_vm_info',
    help: 'A QEMU process and the domain it runs; value 1.',
    type: 'gauge',
    samples: (vm, d, emit) => {
      const platform = VM_LABELS.map((l) => `,${l}="${escapeLabel(vm.identity.labels[l])}"`).join('');
      emit(
        `${d},uuid="${escapeLabel(vm.identity.uuid)}",pid="${String(vm.pid)}",source="${vm.identity.source}"${platform}`,
        1,
      );
    },
  },
  perRole(
    'qemu_threads',
    'Threads of the VM by role (0 for a role it has had but has none of now).',
    'gauge',
    (r) => r.threads,
  ),
  perRole(
    'qemu_threads_peak',
    'Highest thread count per role seen by the census over the last --census.peak-window.',
    'gauge',
    (r) => r.peak,
  ),
  {
    name: 'qemu_thread_states',
    help: 'Threads by role and scheduler state.',
    type: 'gauge',
    samples: (vm, d, emit) => {
      for (const r of vm.roles) for (const s of STATES) emit(`${d},role="${r.role}",state="${s}"`, r.states[s]);
    },
  },
  {
    name: 'qemu_threads_in_syscall',
    help: 'Busy threads by the system call they were in and the disk it was on, as last seen (every --explain.interval, while a pool has --explain.pool-busy workers or an iothread or vCPU is in disk sleep); absent otherwise.',
    type: 'gauge',
    samples: (vm, d, emit) => {
      for (const c of vm.syscalls?.counts ?? [])
        emit(`${d},role="${c.role}",syscall="${c.syscall}",disk="${escapeLabel(c.disk)}"`, c.threads);
    },
  },
  {
    name: 'qemu_thread_context_switches_total',
    help: 'Context switches of the VM threads by role, including threads that exited.',
    type: 'counter',
    samples: (vm, d, emit) => {
      for (const r of vm.roles) kinds(r.totals, `${d},role="${r.role}"`, emit);
    },
  },
  {
    name: 'qemu_thread_cpu_seconds_total',
    help: 'CPU time of the VM threads by role, including threads that exited.',
    type: 'counter',
    samples: (vm, d, emit) => {
      for (const r of vm.roles) modes(r.totals, `${d},role="${r.role}"`, emit);
    },
  },
  perRole(
    'qemu_thread_runqueue_wait_seconds_total',
    'Time the VM threads spent runnable but waiting for a CPU (schedstat), by role.',
    'counter',
    (r) => r.totals.waitNs / 1e9,
  ),
  perRole(
    'qemu_thread_spawns_total',
    'Threads that appeared while the exporter watched, by role.',
    'counter',
    (r) => r.spawns,
  ),
  perRole(
    'qemu_thread_exits_total',
    'Threads that exited while the exporter watched, by role.',
    'counter',
    (r) => r.exits,
  ),
  {
    name: 'qemu_thread_pool_max_threads',
    help: 'Maximum size of a block thread pool (thread-pool-max, 64 by default); pool is main or an iothread id.',
    type: 'gauge',
    samples: (vm, d, emit) => {
      for (const p of vm.pools) emit(`${d},pool="${escapeLabel(p.pool)}"`, p.max);
    },
  },
  {
    name: 'qemu_thread_pool_threads',
    help: "Worker threads per block thread pool (libvirt-managed VMs: known from the pool's cgroup).",
    type: 'gauge',
    samples: (vm, d, emit) => {
      for (const p of vm.pools) if (p.threads !== undefined) emit(`${d},pool="${escapeLabel(p.pool)}"`, p.threads);
    },
  },
  {
    name: 'qemu_vcpu_context_switches_total',
    help: 'Context switches of one vCPU thread.',
    type: 'counter',
    samples: (vm, d, emit) => {
      for (const v of vm.vcpus) kinds(v.totals, `${d},vcpu="${String(v.vcpu)}"`, emit);
    },
  },
  {
    name: 'qemu_vcpu_runqueue_wait_seconds_total',
    help: 'Time one vCPU thread spent runnable but waiting for a host CPU.',
    type: 'counter',
    samples: (vm, d, emit) => {
      for (const v of vm.vcpus) emit(`${d},vcpu="${String(v.vcpu)}"`, v.totals.waitNs / 1e9);
    },
  },
  {
    name: 'qemu_vcpu_cpu_seconds_total',
    help: 'CPU time of one vCPU thread.',
    type: 'counter',
    samples: (vm, d, emit) => {
      for (const v of vm.vcpus) modes(v.totals, `${d},vcpu="${String(v.vcpu)}"`, emit);
    },
  },
  {
    name: 'qemu_disk_info',
    help: 'A VM disk, its configuration and the host block device backing it; value 1.',
    type: 'gauge',
    samples: (vm, d, emit) => {
      for (const { spec: s, hostDevice } of vm.disks) {
        const e = escapeLabel;
        emit(
          `${d},disk="${e(s.name)}",bus="${e(s.bus)}",device_type="${e(s.deviceType)}",source="${e(s.source)}",host_device="${e(hostDevice)}",cache="${e(s.cache)}",io="${e(s.io)}",iothread="${e(s.iothread)}"`,
          1,
        );
      }
    },
  },
  hostDisk(
    'qemu_disk_reads_completed_total',
    'Reads completed by the host device backing the disk.',
    'counter',
    (s) => s.readsCompleted,
  ),
  hostDisk(
    'qemu_disk_writes_completed_total',
    'Writes completed by the host device backing the disk.',
    'counter',
    (s) => s.writesCompleted,
  ),
  hostDisk(
    'qemu_disk_read_bytes_total',
    'Bytes read by the host device backing the disk.',
    'counter',
    (s) => s.readSectors * SECTOR_BYTES,
  ),
  hostDisk(
    'qemu_disk_written_bytes_total',
    'Bytes written by the host device backing the disk.',
    'counter',
    (s) => s.writeSectors * SECTOR_BYTES,
  ),
  hostDisk(
    'qemu_disk_read_time_seconds_total',
    'Time spent on reads by the host device backing the disk.',
    'counter',
    (s) => s.readTimeMs / 1000,
  ),
  hostDisk(
    'qemu_disk_write_time_seconds_total',
    'Time spent on writes by the host device backing the disk.',
    'counter',
    (s) => s.writeTimeMs / 1000,
  ),
  hostDisk(
    'qemu_disk_io_time_seconds_total',
    'Time the host device backing the disk was busy.',
    'counter',
    (s) => s.ioTimeMs / 1000,
  ),
  hostDisk(
    'qemu_disk_io_time_weighted_seconds_total',
    'Weighted time spent doing I/O on the host device (in-flight × time).',
    'counter',
    (s) => s.weightedIoTimeMs / 1000,
  ),
  hostDisk('qemu_disk_io_now', 'I/Os in flight on the host device backing the disk.', 'gauge', (s) => s.inFlight),
  ...GUEST_FAMILIES,
  {
    name: 'qemu_process_read_bytes_total',
    help: 'Bytes the QEMU process caused to be read from storage (/proc/PID/io read_bytes).',
    type: 'counter',
    samples: (vm, d, emit) => {
      if (vm.io) emit(d, vm.io.readBytes);
    },
  },
  {
    name: 'qemu_process_written_bytes_total',
    help: 'Bytes the QEMU process caused to be written to storage (/proc/PID/io write_bytes).',
    type: 'counter',
    samples: (vm, d, emit) => {
      if (vm.io) emit(d, vm.io.writeBytes);
    },
  },
  {
    name: 'qemu_process_cpu_seconds_total',
    help: 'CPU time of the QEMU process, all threads, living and exited.',
    type: 'counter',
    samples: (vm, d, emit) => {
      emit(d, vm.cpuTicks / TICKS_PER_SECOND);
    },
  },
  {
    name: 'qemu_process_resident_memory_bytes',
    help: 'Resident memory of the QEMU process.',
    type: 'gauge',
    samples: (vm, d, emit) => {
      if (vm.rssBytes !== undefined) emit(d, vm.rssBytes);
    },
  },
];

/**
 * Renders every VM's series straight from the snapshot in the text format (0.0.4). Written by hand rather than
 * through prom-client because a scrape of thousands of series spent more time in prom-client's per-series label
 * hashing and object churn than in building the text; here each VM's domain label is escaped once.
 */
export function renderVmMetrics(snap: Snapshot): string {
  const out: string[] = [];
  const domains = snap.vms.map((vm) => `domain="${escapeLabel(vm.identity.domain)}"`);
  for (const f of FAMILIES) {
    out.push(`# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`);
    const emit: Emit = (labels, value, suffix = '') => {
      out.push(`${f.name}${suffix}{${labels}} ${num(value)}\n`);
    };
    for (let i = 0; i < snap.vms.length; i++) f.samples(snap.vms[i]!, domains[i]!, emit);
  }
  return out.join('');
}
