/** "QEMU / VM detail": one VM — its block thread pool against its disks' in-flight requests, scheduling, disks, I/O. */
import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  HOST_OVERVIEW_UID,
  type ClassicDashboard,
  VM_DETAIL_UID,
  dashboard,
  dashboardLink,
  finish,
  labelVariable,
  timeseries,
  vmVariable,
} from './common.js';

/** The one VM the variables select. */
const HOST = 'job="$job", instance="$instance"';
const VM = `${HOST}, domain="$domain"`;
/** Its disks: several, or All. */
const DISKS = `${VM}, disk=~"$disk"`;

const dashed = { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } };

export function vmDetail(): ClassicDashboard {
  return finish(
    dashboard(
      VM_DETAIL_UID,
      'QEMU / VM detail',
      'One QEMU/KVM VM, from qemu-thread-exporter: its block thread pool next to its disks, context switches, CPU waits, thread states, CPU, disks and process I/O. Needs the recording rules of deploy/prometheus/rules.yml.',
    )
      .withVariable(labelVariable('job', 'Job', 'qemu_exporter_build_info', 'job', false))
      .withVariable(labelVariable('instance', 'Host', 'qemu_exporter_build_info{job="$job"}', 'instance', false))
      .withVariable(vmVariable(HOST, false))
      .withVariable(labelVariable('disk', 'Disk', `qemu_disk_info{${VM}}`, 'disk', true))
      .link(dashboardLink('Host overview', HOST_OVERVIEW_UID, 'Every VM on the selected host'))

      .withRow(new RowBuilder('Block thread pool'))
      .withPanel(
        timeseries({
          title: 'Worker threads vs in-flight requests',
          description:
            "The block thread pool on the same time axis as the disks: worker threads (per pool for libvirt VMs, otherwise all pools together), their highest count over the last 30 s, each pool's maximum (thread-pool-max, dashed red), and each disk's requests in flight on its host device. Requests QEMU cannot submit asynchronously (io=threads, and every SG_IO ioctl of a passthrough LUN whatever io= says) each hold one worker, so the workers follow the guest's queue depth up to the maximum; beyond it requests wait in QEMU. Idle workers exit after ~10 s.",
          unit: 'short',
          thresholds: ['green'],
          queries: [
            {
              expr: `qemu_thread_pool_threads{${VM}}\nor on (job, instance, domain)\nlabel_replace(qemu_threads{${VM}, role="worker"}, "pool", "all pools", "", "")`,
              legend: 'workers ({{pool}})',
            },
            { expr: `qemu_threads_peak{${VM}, role="worker"}`, legend: 'workers, 30 s peak' },
            { expr: `qemu_thread_pool_max_threads{${VM}}`, legend: 'pool maximum ({{pool}})' },
            { expr: `qemu_disk_io_now{${DISKS}}`, legend: 'in flight: {{disk}}' },
          ],
          width: 24,
          height: 10,
          min: 0,
        })
          .overrideByQuery('B', [
            { id: 'custom.lineStyle', value: { fill: 'dot', dash: [2, 4] } },
            { id: 'custom.fillOpacity', value: 0 },
          ])
          .overrideByQuery('C', [
            dashed,
            { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } },
            { id: 'custom.fillOpacity', value: 0 },
            { id: 'custom.lineWidth', value: 2 },
          ]),
      )
      .withPanel(
        timeseries({
          title: 'What the workers are doing',
          description:
            "The busy threads by the system call they were seen in and the disk it was on (read from /proc every --explain.interval while the pool has --explain.pool-busy workers, or an iothread or vCPU is in disk sleep): ioctl_sg_io (a passthrough LUN's SG_IO), read, write, flush, futex (a worker waiting for work: spare capacity, not a backlog), poll, running. Workers piling up in reads on one disk are requests the storage holds; workers in futex are a pool that grew and now waits. Empty when nothing is busy, or without CAP_SYS_PTRACE.",
          unit: 'short',
          thresholds: ['green'],
          queries: [
            {
              expr: `sum by (role, syscall, disk) (qemu_threads_in_syscall{${VM}})`,
              legend: '{{role}}: {{syscall}} {{disk}}',
            },
          ],
          width: 24,
          height: 8,
          min: 0,
          stack: true,
        }),
      )
      .withPanel(
        timeseries({
          title: 'Where the time goes: guest, host device, QEMU',
          description:
            "Per disk, the time a read or write takes as the guest saw it (QEMU's own accounting, from libvirt's API or QMP with --collector.qmp), as its host block device took it, and the difference: QEMU's part (the block thread pool's queue, its workers' wake-ups, the iothread). A small QEMU part means the threads and their context switches cost the guest little; a large one with the pool at its maximum means requests wait inside QEMU for a free worker (alert QemuAddsLatencyAtPoolMax). Empty without QEMU's view of the disks.",
          unit: 's',
          thresholds: ['green'],
          queries: [
            { expr: `domain_disk:qemu_disk_guest_latency_seconds:mean2m{${DISKS}}`, legend: 'guest: {{disk}}' },
            { expr: `domain_disk:qemu_disk_host_latency_seconds:mean2m{${DISKS}}`, legend: 'host device: {{disk}}' },
            { expr: `domain_disk:qemu_disk_added_latency_seconds:mean2m{${DISKS}}`, legend: 'QEMU adds: {{disk}}' },
          ],
          width: 24,
          height: 8,
          min: 0,
        }).overrideByQuery('C', [{ id: 'custom.fillOpacity', value: 30 }]),
      )

      .withRow(new RowBuilder('Scheduling and CPU'))
      .withPanel(
        timeseries({
          title: 'Context switches by role',
          description:
            "Context switches per second of the VM's threads by role, over 2 minutes. Voluntary (solid): a thread blocked, e.g. waiting for I/O or an event. Involuntary (dashed): the scheduler preempted a thread that still wanted to run; a sudden rise fires QemuInvoluntaryContextSwitchStorm.",
          unit: 'cps',
          thresholds: ['green'],
          queries: [
            {
              expr: `sum by (role, kind) (domain_role:qemu_thread_context_switches:rate2m{${VM}})`,
              legend: '{{role}} {{kind}}',
            },
          ],
          width: 12,
          height: 8,
          min: 0,
        }).overrideByRegexp('.*involuntary', [dashed]),
      )
      .withPanel(
        timeseries({
          title: 'Run-queue wait per role',
          description:
            "Time the VM's threads spent runnable but waiting for a host CPU, by role, over 2 minutes (schedstat): 100% is one thread's worth of waiting.",
          unit: 'percentunit',
          thresholds: ['green', [0.1, 'orange']],
          queries: [
            { expr: `sum by (role) (domain_role:qemu_thread_runqueue_wait_seconds:rate2m{${VM}})`, legend: '{{role}}' },
          ],
          width: 12,
          height: 8,
          min: 0,
          thresholdLines: true,
        }),
      )
      .withPanel(
        timeseries({
          title: 'Run-queue wait per vCPU',
          description:
            'Fraction of the time each vCPU thread was runnable but waiting for a host CPU, over 2 minutes; the guest sees it as steal time. Above 10% (dashed) for 5 minutes fires QemuVcpuStarved.',
          unit: 'percentunit',
          thresholds: ['green', [0.1, 'red']],
          queries: [{ expr: `domain_vcpu:qemu_vcpu_runqueue_wait_seconds:rate2m{${VM}}`, legend: 'vCPU {{vcpu}}' }],
          width: 8,
          height: 8,
          min: 0,
          thresholdLines: true,
        }),
      )
      .withPanel(
        timeseries({
          title: 'Thread states',
          description:
            "The VM's threads by role and scheduler state (running, sleeping, disk_sleep = D, stopped, zombie, idle), stacked. Threads that stay in disk_sleep while their role makes no progress fire QemuThreadsStuckInDiskSleep.",
          unit: 'short',
          thresholds: ['green'],
          queries: [{ expr: `sum by (role, state) (qemu_thread_states{${VM}}) > 0`, legend: '{{role}} {{state}}' }],
          width: 8,
          height: 8,
          min: 0,
          stack: true,
        }),
      )
      .withPanel(
        timeseries({
          title: 'CPU by role',
          description:
            "CPU used by the VM's threads by role (user + system), stacked, over 2 minutes: 100% is one host CPU.",
          unit: 'percentunit',
          thresholds: ['green'],
          queries: [{ expr: `sum by (role) (domain_role:qemu_thread_cpu_seconds:rate2m{${VM}})`, legend: '{{role}}' }],
          width: 8,
          height: 8,
          min: 0,
          stack: true,
        }),
      )

      .withRow(new RowBuilder('Disks (host block device statistics)'))
      .withPanel(
        timeseries({
          title: 'Disk IOPS',
          description:
            'Reads and writes completed per second by the host block device behind each disk, over 2 minutes. Disks on the same host device (two image files on one filesystem) show the same numbers.',
          unit: 'iops',
          thresholds: ['green'],
          queries: [
            { expr: `domain_disk:qemu_disk_reads_completed:rate2m{${DISKS}}`, legend: '{{disk}} read' },
            { expr: `domain_disk:qemu_disk_writes_completed:rate2m{${DISKS}}`, legend: '{{disk}} write' },
          ],
          width: 8,
          height: 8,
          min: 0,
        }),
      )
      .withPanel(
        timeseries({
          title: 'Disk throughput',
          description: 'Bytes read and written per second by the host block device behind each disk, over 2 minutes.',
          unit: 'Bps',
          thresholds: ['green'],
          queries: [
            { expr: `domain_disk:qemu_disk_read_bytes:rate2m{${DISKS}}`, legend: '{{disk}} read' },
            { expr: `domain_disk:qemu_disk_written_bytes:rate2m{${DISKS}}`, legend: '{{disk}} write' },
          ],
          width: 8,
          height: 8,
          min: 0,
        }),
      )
      .withPanel(
        timeseries({
          title: 'Disk average latency',
          description:
            'Mean time per completed read and write on the host block device behind each disk, over 2 minutes (time spent / requests completed); a gap when it completed none.',
          unit: 's',
          thresholds: ['green', [0.02, 'orange'], [0.1, 'red']],
          queries: [
            { expr: `domain_disk:qemu_disk_read_latency_seconds:mean2m{${DISKS}}`, legend: '{{disk}} read' },
            { expr: `domain_disk:qemu_disk_write_latency_seconds:mean2m{${DISKS}}`, legend: '{{disk}} write' },
          ],
          width: 8,
          height: 8,
          min: 0,
        }),
      )
      .withPanel(
        timeseries({
          title: 'Disk utilisation',
          description:
            'Fraction of the time the host block device behind each disk had requests in flight, over 2 minutes (iostat %util). Near 100% a single-queue device is saturated; devices serving requests in parallel (SSDs, arrays) may still have headroom.',
          unit: 'percentunit',
          thresholds: ['green', [0.8, 'orange'], [0.95, 'red']],
          queries: [{ expr: `domain_disk:qemu_disk_utilisation:rate2m{${DISKS}}`, legend: '{{disk}}' }],
          width: 12,
          height: 8,
          min: 0,
          max: 1,
          thresholdLines: true,
        }),
      )
      .withPanel(
        timeseries({
          title: 'Disk requests in flight',
          description:
            'Requests in flight on the host block device behind each disk (qemu_disk_io_now), sampled at each scrape.',
          unit: 'short',
          thresholds: ['green', [32, 'orange'], [64, 'red']],
          queries: [{ expr: `qemu_disk_io_now{${DISKS}}`, legend: '{{disk}}' }],
          width: 12,
          height: 8,
          min: 0,
        }),
      )

      .withRow(new RowBuilder('Process'))
      .withPanel(
        timeseries({
          title: 'Process I/O',
          description:
            'Bytes per second the QEMU process caused to be read from and written to storage, page-cache hits excluded (/proc/PID/io read_bytes, write_bytes; the exporter needs root, or CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH, to read them).',
          unit: 'Bps',
          thresholds: ['green'],
          queries: [
            { expr: `rate(qemu_process_read_bytes_total{${VM}}[$__rate_interval])`, legend: 'read' },
            { expr: `rate(qemu_process_written_bytes_total{${VM}}[$__rate_interval])`, legend: 'written' },
          ],
          width: 24,
          height: 8,
          min: 0,
        }),
      ),
  );
}
