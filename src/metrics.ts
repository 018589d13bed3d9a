import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Problems } from './problems.js';
import { SOURCES } from './problems.js';
import { STATES, type Snapshot } from './snapshot.js';
import type { Counters } from './thread-ledger.js';

/** USER_HZ: /proc reports CPU time in these ticks on every Linux architecture we run on (as prometheus/procfs assumes). */
const TICKS_PER_SECOND = 100;
const SECTOR_BYTES = 512;

export interface BuildInfo {
  version: string;
  revision: string;
}

/**
 * Snapshot → Prometheus metrics. Every per-VM metric is cleared and refilled from one snapshot per scrape, so
 * all series agree with each other and a VM that is gone leaves no series behind. Counters are prom-client
 * Counters (TYPE counter) refilled with the snapshot's absolute values.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly perVm: (Counter | Gauge)[] = [];

  private gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    const g = new Gauge({ name, help, labelNames, registers: [this.registry] });
    this.perVm.push(g);
    return g;
  }

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    const c = new Counter({ name, help, labelNames, registers: [this.registry] });
    this.perVm.push(c);
    return c;
  }

  private readonly vmInfo = this.gauge('qemu_vm_info', 'A QEMU process and the domain it runs; value 1.', ['domain', 'uuid', 'pid', 'source']);
  private readonly threads = this.gauge('qemu_threads', 'Threads of the VM by role (0 for a role it has had but has none of now).', ['domain', 'role']);
  private readonly threadsPeak = this.gauge('qemu_threads_peak', 'Highest thread count per role seen by the census over the last --census.peak-window.', ['domain', 'role']);
  private readonly states = this.gauge('qemu_thread_states', 'Threads by role and scheduler state.', ['domain', 'role', 'state']);
  private readonly ctxSwitches = this.counter('qemu_thread_context_switches_total', 'Context switches of the VM threads by role, including threads that exited.', ['domain', 'role', 'kind']);
  private readonly cpu = this.counter('qemu_thread_cpu_seconds_total', 'CPU time of the VM threads by role, including threads that exited.', ['domain', 'role', 'mode']);
  private readonly wait = this.counter('qemu_thread_runqueue_wait_seconds_total', 'Time the VM threads spent runnable but waiting for a CPU (schedstat), by role.', ['domain', 'role']);
  private readonly spawns = this.counter('qemu_thread_spawns_total', 'Threads that appeared while the exporter watched, by role.', ['domain', 'role']);
  private readonly exits = this.counter('qemu_thread_exits_total', 'Threads that exited while the exporter watched, by role.', ['domain', 'role']);
  private readonly poolMax = this.gauge('qemu_thread_pool_max_threads', 'Maximum size of a block thread pool (thread-pool-max, 64 by default); pool is main or an iothread id.', ['domain', 'pool']);
  private readonly poolThreads = this.gauge('qemu_thread_pool_threads', "Worker threads per block thread pool (libvirt-managed VMs: known from the pool's cgroup).", ['domain', 'pool']);
  private readonly vcpuCtx = this.counter('qemu_vcpu_context_switches_total', 'Context switches of one vCPU thread.', ['domain', 'vcpu', 'kind']);
  private readonly vcpuWait = this.counter('qemu_vcpu_runqueue_wait_seconds_total', 'Time one vCPU thread spent runnable but waiting for a host CPU.', ['domain', 'vcpu']);
  private readonly vcpuCpu = this.counter('qemu_vcpu_cpu_seconds_total', 'CPU time of one vCPU thread.', ['domain', 'vcpu', 'mode']);
  private readonly diskInfo = this.gauge('qemu_disk_info', 'A VM disk, its configuration and the host block device backing it; value 1.', ['domain', 'disk', 'bus', 'device_type', 'source', 'host_device', 'cache', 'io', 'iothread']);
  private readonly diskReads = this.counter('qemu_disk_reads_completed_total', 'Reads completed by the host device backing the disk.', ['domain', 'disk']);
  private readonly diskWrites = this.counter('qemu_disk_writes_completed_total', 'Writes completed by the host device backing the disk.', ['domain', 'disk']);
  private readonly diskReadBytes = this.counter('qemu_disk_read_bytes_total', 'Bytes read by the host device backing the disk.', ['domain', 'disk']);
  private readonly diskWrittenBytes = this.counter('qemu_disk_written_bytes_total', 'Bytes written by the host device backing the disk.', ['domain', 'disk']);
  private readonly diskReadTime = this.counter('qemu_disk_read_time_seconds_total', 'Time spent on reads by the host device backing the disk.', ['domain', 'disk']);
  private readonly diskWriteTime = this.counter('qemu_disk_write_time_seconds_total', 'Time spent on writes by the host device backing the disk.', ['domain', 'disk']);
  private readonly diskIoTime = this.counter('qemu_disk_io_time_seconds_total', 'Time the host device backing the disk was busy.', ['domain', 'disk']);
  private readonly diskIoWeighted = this.counter('qemu_disk_io_time_weighted_seconds_total', 'Weighted time spent doing I/O on the host device (in-flight × time).', ['domain', 'disk']);
  private readonly diskIoNow = this.gauge('qemu_disk_io_now', 'I/Os in flight on the host device backing the disk.', ['domain', 'disk']);
  private readonly procRead = this.counter('qemu_process_read_bytes_total', 'Bytes the QEMU process caused to be read from storage (/proc/PID/io read_bytes).', ['domain']);
  private readonly procWritten = this.counter('qemu_process_written_bytes_total', 'Bytes the QEMU process caused to be written to storage (/proc/PID/io write_bytes).', ['domain']);
  private readonly procCpu = this.counter('qemu_process_cpu_seconds_total', 'CPU time of the QEMU process, all threads, living and exited.', ['domain']);
  private readonly procRss = this.gauge('qemu_process_resident_memory_bytes', 'Resident memory of the QEMU process.', ['domain']);

  private readonly vms = new Gauge({ name: 'qemu_exporter_vms', help: 'QEMU processes found on this host.', registers: [this.registry] });
  private readonly scrapeDuration = new Gauge({ name: 'qemu_exporter_scrape_duration_seconds', help: 'Time to read the snapshot behind this scrape.', registers: [this.registry] });
  private readonly sourceSuccess = new Gauge({ name: 'qemu_exporter_source_success', help: 'Whether a source was read without problems during this scrape (see qemu_exporter_errors_total).', labelNames: ['source'], registers: [this.registry] });
  private readonly errors = new Counter({ name: 'qemu_exporter_errors_total', help: 'Problems reading a source, by reason; each is logged once.', labelNames: ['source', 'reason'], registers: [this.registry] });

  constructor(build: BuildInfo, private readonly problems: Problems) {
    new Gauge({ name: 'qemu_exporter_build_info', help: 'Build of the exporter; value 1.', labelNames: ['version', 'revision', 'nodejs'], registers: [this.registry] })
      .set({ version: build.version, revision: build.revision, nodejs: process.version }, 1);
    collectDefaultMetrics({ register: this.registry });
    // Gauges named `_total` fail `promtool check metrics`; each is the sum of its per-type sibling (nodejs_active_handles{type}, …).
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
  }

  update(snap: Snapshot, durationSeconds: number): void {
    for (const m of this.perVm) m.reset();
    for (const vm of snap.vms) {
      const domain = vm.identity.domain;
      this.vmInfo.set({ domain, uuid: vm.identity.uuid, pid: String(vm.pid), source: vm.identity.source }, 1);
      for (const r of vm.roles) {
        const l = { domain, role: r.role };
        this.threads.set(l, r.threads);
        this.threadsPeak.set(l, r.peak);
        for (const state of STATES) this.states.set({ domain, role: r.role, state }, r.states[state]);
        this.switches(this.ctxSwitches, { domain, role: r.role }, r.totals);
        this.cpuModes(this.cpu, { domain, role: r.role }, r.totals);
        this.wait.inc(l, r.totals.waitNs / 1e9);
        this.spawns.inc(l, r.spawns);
        this.exits.inc(l, r.exits);
      }
      for (const p of vm.pools) {
        this.poolMax.set({ domain, pool: p.pool }, p.max);
        if (p.threads !== undefined) this.poolThreads.set({ domain, pool: p.pool }, p.threads);
      }
      for (const v of vm.vcpus) {
        const vcpu = String(v.vcpu);
        this.switches(this.vcpuCtx, { domain, vcpu }, v.totals);
        this.cpuModes(this.vcpuCpu, { domain, vcpu }, v.totals);
        this.vcpuWait.inc({ domain, vcpu }, v.totals.waitNs / 1e9);
      }
      for (const d of vm.disks) {
        const s = d.spec;
        this.diskInfo.set({ domain, disk: s.name, bus: s.bus, device_type: s.deviceType, source: s.source, host_device: d.hostDevice, cache: s.cache, io: s.io, iothread: s.iothread }, 1);
        const st = d.stat;
        if (!st) continue;
        const l = { domain, disk: s.name };
        this.diskReads.inc(l, st.readsCompleted);
        this.diskWrites.inc(l, st.writesCompleted);
        this.diskReadBytes.inc(l, st.readSectors * SECTOR_BYTES);
        this.diskWrittenBytes.inc(l, st.writeSectors * SECTOR_BYTES);
        this.diskReadTime.inc(l, st.readTimeMs / 1000);
        this.diskWriteTime.inc(l, st.writeTimeMs / 1000);
        this.diskIoTime.inc(l, st.ioTimeMs / 1000);
        this.diskIoWeighted.inc(l, st.weightedIoTimeMs / 1000);
        this.diskIoNow.set(l, st.inFlight);
      }
      this.procCpu.inc({ domain }, vm.cpuTicks / TICKS_PER_SECOND);
      if (vm.rssBytes !== undefined) this.procRss.set({ domain }, vm.rssBytes);
      if (vm.io) {
        this.procRead.inc({ domain }, vm.io.readBytes);
        this.procWritten.inc({ domain }, vm.io.writeBytes);
      }
    }
    this.vms.set(snap.vms.length);
    this.scrapeDuration.set(durationSeconds);
    for (const source of SOURCES) this.sourceSuccess.set({ source }, snap.failed.has(source) ? 0 : 1);
    this.errors.reset();
    for (const e of this.problems.totals()) this.errors.inc({ source: e.source, reason: e.reason }, e.n);
  }

  private switches<L extends string>(c: Counter<L | 'kind'>, labels: Record<L, string>, t: Counters): void {
    c.inc({ ...labels, kind: 'voluntary' } as Record<L | 'kind', string>, t.voluntary);
    c.inc({ ...labels, kind: 'involuntary' } as Record<L | 'kind', string>, t.involuntary);
  }

  private cpuModes<L extends string>(c: Counter<L | 'mode'>, labels: Record<L, string>, t: Counters): void {
    c.inc({ ...labels, mode: 'user' } as Record<L | 'mode', string>, t.userTicks / TICKS_PER_SECOND);
    c.inc({ ...labels, mode: 'system' } as Record<L | 'mode', string>, t.systemTicks / TICKS_PER_SECOND);
  }
}
