/**
 * The text of the per-task files of /proc as the kernel writes them (stat, status, schedstat, cgroup), for fixture
 * trees: test/fixtures/make-host1.ts and test/support/proc-scenario.ts write through these.
 */

/** PF_RANDOMIZE | PF_FORKNOEXEC: a user thread. */
export const PF_USER = 0x400040;
/** PF_KTHREAD | PF_NOFREEZE | PF_FORKNOEXEC: a kernel thread (kvm-nx-lpage-re before Linux 6.13). */
export const PF_KTHREAD_FLAGS = 0x208040;
/**
 * A vhost_task inside the QEMU process (PF_USER_WORKER | PF_NOFREEZE | …, no PF_KTHREAD): kvm-nx-lpage-re's
 * flags as captured on this machine's Linux 6.18 (`16678 kvm-nx-lpage-re flags=0x84040c0`, ../shared/DESIGN.md §6).
 */
export const PF_VHOST_TASK_FLAGS = 0x84040c0;

/** What the files of one task say about it; counters are cumulative, in the kernel's units. */
export interface TaskCounters {
  comm: string;
  /** One letter: R, S, D, I, … */
  state: string;
  utime: number;
  stime: number;
  /** Voluntary and involuntary context switches. */
  vol: number;
  invol: number;
  /** Run-queue wait (schedstat's second field). */
  waitNs: number;
  /** Start time, clock ticks after boot. */
  start: number;
  /** Made by the kernel: `kthread` (PF_KTHREAD) or `vhost_task` (PF_USER_WORKER, Linux ≥ 6.4 vhost, ≥ 6.13 KVM). */
  kernel?: 'kthread' | 'vhost_task';
}

/** /proc/PID/stat or /proc/PID/task/TID/stat (52 fields). */
export function statLine(
  pid: number,
  t: Pick<TaskCounters, 'comm' | 'state' | 'utime' | 'stime' | 'start' | 'kernel'>,
  threads: number,
  rss: number,
): string {
  const flags = t.kernel === 'kthread' ? PF_KTHREAD_FLAGS : t.kernel === 'vhost_task' ? PF_VHOST_TASK_FLAGS : PF_USER;
  return `${pid} (${t.comm}) ${t.state} 1 ${pid} ${pid} 0 -1 ${flags} 5120 0 12 0 ${t.utime} ${t.stime} 0 0 20 0 ${threads} 0 ${t.start} 1351081984 ${rss} 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 -1 1 0 0 0 0 0 0 0 0 0 0 0 0\n`;
}

/**
 * /proc/PID/task/TID/status; VmRSS and friends only for the main thread (`rssKb`). `ns` gives the process's and the
 * task's ids inside a PID namespace (a pod): the NStgid/NSpid lines then list the host's id and that one.
 */
export function statusText(
  pid: number,
  tid: number,
  t: Pick<TaskCounters, 'comm' | 'state' | 'vol' | 'invol' | 'kernel'>,
  rssKb: number | undefined,
  threads = 9,
  ns?: { pid: number; tid: number },
): string {
  const vm = rssKb === undefined ? '' : `VmPeak:\t 1319416 kB\nVmSize:\t 1319416 kB\nVmRSS:\t  ${rssKb} kB\n`;
  const ids = ns ? `NStgid:\t${pid}\t${ns.pid}\nNSpid:\t${tid}\t${ns.tid}\n` : `NStgid:\t${pid}\nNSpid:\t${tid}\n`;
  return `Name:\t${t.comm}\nUmask:\t0022\nState:\t${t.state} (x)\nTgid:\t${pid}\nNgid:\t0\nPid:\t${tid}\nPPid:\t1\nTracerPid:\t0\nUid:\t64055\t64055\t64055\t64055\nGid:\t64055\t64055\t64055\t64055\n${ids}Kthread:\t${t.kernel === 'kthread' ? 1 : 0}\n${vm}Threads:\t${threads}\nCpus_allowed_list:\t0-1\nvoluntary_ctxt_switches:\t${t.vol}\nnonvoluntary_ctxt_switches:\t${t.invol}\n`;
}

/** /proc/PID/task/TID/schedstat: time on the CPU (from utime), run-queue wait, timeslices. */
export function schedstatLine(t: Pick<TaskCounters, 'utime' | 'waitNs' | 'vol' | 'invol'>): string {
  return `${t.utime * 10_000_000 + 123} ${t.waitNs} ${t.vol + t.invol}\n`;
}

/** /proc/PID/task/TID/cgroup on a cgroup v1 host: libvirt's groups are on the cpu,cpuacct line. */
export function cgroupText(cpuPath: string): string {
  return `12:pids:/user.slice\n4:cpu,cpuacct:${cpuPath}\n1:name=systemd:/user.slice\n0::/user.slice\n`;
}
