/** "QEMU / Host overview": every VM on the selected hosts — threads, pools, scheduling, disk sleep, exporter health. */
import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  HOST_OVERVIEW_UID,
  type ClassicDashboard,
  VM_DETAIL_UID,
  dashboard,
  dashboardLink,
  finish,
  labelVariable,
  okTimeline,
  timeseries,
  topBars,
  vmDetailDataLink,
  vmVariable,
  withVmName,
} from './common.js';

/** Hosts (and their VMs) the variables select; every variable may hold several values, hence `=~`. */
const HOSTS = 'job=~"$job", instance=~"$instance"';
const VMS = `${HOSTS}, domain=~"$domain"`;
const TOP = 10;

export function hostOverview(): ClassicDashboard {
  return finish(
    dashboard(
      HOST_OVERVIEW_UID,
      'QEMU / Host overview',
      'Every QEMU/KVM VM on the selected hosts, from qemu-thread-exporter: threads by role, block thread pools, CPU waits, disk sleep, and the exporter itself. Needs the recording rules of deploy/prometheus/rules.yml.',
    )
      .withVariable(labelVariable('job', 'Job', 'qemu_exporter_build_info', 'job', true))
      .withVariable(labelVariable('instance', 'Host', 'qemu_exporter_build_info{job=~"$job"}', 'instance', true))
      .withVariable(vmVariable(HOSTS, true))
      .link(
        dashboardLink('VM detail', VM_DETAIL_UID, 'One VM: its worker pool against its disks, scheduling, disks, I/O'),
      )

      .withRow(new RowBuilder('Threads and pools'))
      .withPanel(
        timeseries({
          title: 'VMs per host',
          description: 'QEMU processes the exporter found on each host (qemu_exporter_vms).',
          unit: 'short',
          thresholds: ['green'],
          queries: [{ expr: `sum by (instance) (qemu_exporter_vms{${HOSTS}})`, legend: '{{instance}}' }],
          width: 6,
          height: 8,
          min: 0,
        }),
      )
      .withPanel(
        timeseries({
          title: 'Threads by role',
          description:
            "Threads of the selected VMs by role, stacked: vcpu, iothread, worker (the block thread pool, which grows with the guests' queue depth and drains after ~10 s idle), main, and the rest.",
          unit: 'short',
          thresholds: ['green'],
          queries: [{ expr: `sum by (role) (qemu_threads{${VMS}})`, legend: '{{role}}' }],
          width: 9,
          height: 8,
          min: 0,
          stack: true,
        }),
      )
      .withPanel(
        timeseries({
          title: 'Worker pools: fraction of their maximum',
          description:
            "Block thread pool workers as a fraction of the pool's maximum (thread-pool-max, 64 by default): per pool for libvirt VMs, otherwise the VM's worker peak over 30 s against its largest pool. At 100% the guest keeps more blocking requests in flight than the pool has workers; 5 minutes there fires QemuWorkerPoolAtMax.",
          unit: 'percentunit',
          thresholds: ['green', [0.8, 'orange'], [1, 'red']],
          queries: [
            { expr: `domain_pool:qemu_thread_pool_usage:ratio{${VMS}}`, legend: '{{domain}} {{pool}} ({{instance}})' },
          ],
          width: 9,
          height: 8,
          min: 0,
          max: 1,
          thresholdLines: true,
        }).dataLinks([vmDetailDataLink()]),
      )

      .withRow(new RowBuilder('Top VMs'))
      .withPanel(
        topBars({
          title: 'Top VMs by worker threads',
          description: `The ${String(TOP)} VMs with the most block thread pool workers (highest count over the last 30 s, qemu_threads_peak). A VM at its pool maximum (64 by default) has more requests in flight than workers. Click a bar for the VM's detail.`,
          unit: 'short',
          thresholds: ['green', [32, 'orange'], [64, 'red']],
          queries: [
            {
              expr: withVmName(
                `topk(${String(TOP)}, max by (job, instance, domain) (qemu_threads_peak{${VMS}, role="worker"}))`,
              ),
              legend: '{{vm}} ({{instance}})',
            },
          ],
          width: 8,
          height: 9,
          min: 0,
        }),
      )
      .withPanel(
        topBars({
          title: 'Top VMs by involuntary context switches',
          description: `The ${String(TOP)} VMs whose threads are preempted most often (involuntary context switches per second, all roles, over 2 minutes): they compete for host CPUs. Click a bar for the VM's detail.`,
          unit: 'cps',
          thresholds: ['green', [1000, 'orange'], [10000, 'red']],
          queries: [
            {
              expr: withVmName(
                `topk(${String(TOP)}, sum by (job, instance, domain) (domain_role:qemu_thread_context_switches:rate2m{${VMS}, kind="involuntary"}))`,
              ),
              legend: '{{vm}} ({{instance}})',
            },
          ],
          width: 8,
          height: 9,
          min: 0,
        }),
      )
      .withPanel(
        topBars({
          title: 'Top VMs by run-queue wait',
          description: `The ${String(TOP)} VMs whose threads wait longest for a host CPU while runnable (schedstat), all threads together, over 2 minutes: 100% is one thread's worth of waiting. Click a bar for the VM's detail.`,
          unit: 'percentunit',
          thresholds: ['green', [0.1, 'orange'], [0.5, 'red']],
          queries: [
            {
              expr: withVmName(
                `topk(${String(TOP)}, sum by (job, instance, domain) (domain_role:qemu_thread_runqueue_wait_seconds:rate2m{${VMS}}))`,
              ),
              legend: '{{vm}} ({{instance}})',
            },
          ],
          width: 8,
          height: 9,
          min: 0,
        }),
      )

      .withRow(new RowBuilder('Disk sleep and the exporter'))
      .withPanel(
        timeseries({
          title: 'Threads in disk sleep',
          description:
            'Threads of each VM in uninterruptible sleep (state D), almost always waiting for storage. Brief D states are normal under I/O; threads that stay there without progress fire QemuThreadsStuckInDiskSleep.',
          unit: 'short',
          thresholds: ['green', [1, 'orange']],
          queries: [
            {
              expr: `sum by (instance, domain) (qemu_thread_states{${VMS}, state="disk_sleep"})`,
              legend: '{{domain}} ({{instance}})',
            },
          ],
          width: 12,
          height: 8,
          min: 0,
        }),
      )
      .withPanel(
        okTimeline({
          title: 'Exporter: up and sources',
          description:
            'Whether Prometheus reaches each exporter (up), and whether each of its sources (procfs, process_io, cgroup, libvirt, sysfs, disk_resolve) was read without problems in the scrape (qemu_exporter_source_success). A failing source leaves some metrics missing; see the errors panel and the exporter log.',
          unit: 'short',
          thresholds: ['red', [1, 'green']],
          queries: [
            { expr: `up{${HOSTS}}`, legend: '{{instance}} up' },
            {
              expr: `min by (instance, source) (qemu_exporter_source_success{${HOSTS}})`,
              legend: '{{instance}} {{source}}',
            },
          ],
          width: 12,
          height: 8,
        }),
      )
      .withPanel(
        timeseries({
          title: 'Exporter: scrape duration',
          description:
            'Time the exporter took to read the snapshot behind a scrape (qemu_exporter_scrape_duration_seconds), and the whole scrape as Prometheus measured it (scrape_duration_seconds). Compare with the scrape timeout.',
          unit: 's',
          thresholds: ['green', [1, 'orange'], [5, 'red']],
          queries: [
            { expr: `qemu_exporter_scrape_duration_seconds{${HOSTS}}`, legend: '{{instance}} snapshot' },
            { expr: `scrape_duration_seconds{${HOSTS}}`, legend: '{{instance}} scrape' },
          ],
          width: 12,
          height: 8,
          min: 0,
        }),
      )
      .withPanel(
        timeseries({
          title: 'Exporter: errors',
          description:
            'Problems reading a source, by source and reason (denied, parse, io, …), per interval (qemu_exporter_errors_total); 0 when there were none. The exporter logs each distinct problem once.',
          unit: 'short',
          thresholds: ['green', [1, 'red']],
          queries: [
            {
              expr: `sum by (instance, source, reason) (increase(qemu_exporter_errors_total{${HOSTS}}[$__rate_interval]))\nor on (instance)\nsum by (instance) (0 * qemu_exporter_build_info{${HOSTS}})`,
              legend: '{{instance}} {{source}} {{reason}}',
            },
          ],
          width: 12,
          height: 8,
          min: 0,
        }),
      ),
  );
}
