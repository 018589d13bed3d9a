/** A finding: what explain says about one thing of one VM, with the numbers behind it and what to change. */
export type Severity = 'critical' | 'warning' | 'info';
export const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info'];

export interface Evidence {
  what: string;
  value: number;
  /** '', '/s', '%', 'ms', 'µs' or 's'. */
  unit: string;
}

export interface Finding {
  /** Stable name of the rule: worker_pool, cpu_contention, vcpu_starved, blocking_io, disk_sleep, roles_inferred, short_history. */
  id: string;
  severity: Severity;
  /** What it is about: `pool iothread1`, `worker threads`, `vCPUs`, … */
  subject: string;
  summary: string;
  evidence: Evidence[];
  /** What to change; '' when nothing should. */
  advice: string;
}
