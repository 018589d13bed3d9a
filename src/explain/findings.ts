/**
 * What a VM's recent history means, in words: QEMU's rules that connect a configuration (libvirt XML or
 * command line) to its threads' behaviour. Pure: points in, findings out.
 */
import { DEFAULT_POOL_MAX } from '../model/inventory.js';
import type { DiskSpec } from '../host/qemu/disk-spec.js';
import type { Role } from '../host/qemu/roles.js';
import type { DiskSnapshot, VmSnapshot } from '../model/snapshot-reader.js';
import { zeroCounters, type Counters } from '../model/thread-ledger.js';
import type { Point } from './history.js';

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

/** Where findings start (README, "Explain"); each is a flag `--explain.<kebab-name>`. */
export interface Thresholds {
  /** Worker threads (peak over the window) from which a pool is explained. */
  poolBusy: number;
  /** Run-queue wait, as a share of wall time per thread, from which threads are short of CPU. */
  waitRatio: number;
  /** Voluntary context switches per second of a role from which its switching is explained. */
  switchRate: number;
  /** Share of samples with threads in disk sleep from which the host storage is looked at. */
  diskSleepRatio: number;
  /** Average request latency of a host device (ms) from which it is called slow. */
  diskLatencyMs: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = { poolBusy: 8, waitRatio: 0.1, switchRate: 100, diskSleepRatio: 0.5, diskLatencyMs: 20 };

/** `1,234`, `12.3`, `0.42`: enough digits to read, no more. */
export function fmt(n: number): string {
  const a = Math.abs(n);
  if (a >= 100 || Number.isInteger(n)) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(a >= 10 ? 1 : a >= 1 ? 2 : a >= 0.01 ? 2 : 3);
}

/** `64`, `12,000/s`, `23.5%`, `2.1 ms`. */
export const evidenceValue = (e: Evidence): string => `${fmt(e.value)}${e.unit === '' ? '' : e.unit === '%' || e.unit === '/s' ? e.unit : ` ${e.unit}`}`;

const list = (xs: string[]): string => (xs.length <= 1 ? (xs[0] ?? '') : `${xs.slice(0, -1).join(', ')} and ${xs.at(-1)!}`);
const roleOf = (vm: VmSnapshot, role: Role) => vm.roles.find((r) => r.role === role);
const totalsOf = (vm: VmSnapshot, role: Role): Counters => roleOf(vm, role)?.totals ?? zeroCounters();
const diskOf = (vm: VmSnapshot, name: string) => vm.disks.find((d) => d.spec.name === name);
const poolThreads = (vm: VmSnapshot, pool: string): number => vm.pools.find((q) => q.pool === pool)?.threads ?? 0;
const pct = (share: number): number => Math.round(share * 1000) / 10;
/** How a sentence names a role's threads. */
const NOUNS: Record<Role, string> = {
  vcpu: 'vCPU threads', iothread: 'iothreads', worker: 'worker threads', main: 'main loop', rcu: 'call_rcu thread',
  monitor: 'monitor iothread', vnc: 'VNC threads', spice: 'SPICE threads', vhost: 'vhost threads', io_uring: 'io_uring workers',
  migration: 'migration threads', kernel: 'kernel threads', other: "threads of role 'other'",
};
const threadsWord = (role: Role): string => NOUNS[role];
const capital = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/** How a disk uses the block thread pool for its reads and writes, if it does. */
function poolUse(d: DiskSpec): 'sgio' | 'threads' | undefined {
  if (d.deviceType === 'lun') return 'sgio';
  return d.io === 'threads' || d.io === 'default' ? 'threads' : undefined;
}
const poolOfDisk = (d: DiskSpec): string => d.iothread || 'main';

/**
 * Requests completed, time spent on them and busy time of a disk's host device over the points: from the first
 * that has its statistics (a host device is resolved a moment after the VM is found) to the last.
 */
function diskDelta(points: Point[], b: DiskSnapshot): { latencyMs: number; util: number; iops: number } | undefined {
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

interface Span {
  first: Point;
  last: Point;
  /** Seconds from the first point to the last. */
  dt: number;
  /** The disk whose host device answered slowest (both the switching and the disk-sleep findings compare with it). */
  slowest: ReturnType<typeof slowestDisk>;
}

export function explainVm(points: Point[], th: Thresholds): Finding[] {
  const last = points.at(-1);
  if (!last) return [];
  const span: Span = { first: points[0]!, last, dt: (last.t - points[0]!.t) / 1000, slowest: slowestDisk(points) };
  const out: Finding[] = [...workerPools(points, span, th), ...diskSleep(points, span, th)];
  if (span.dt >= 1) out.push(...switching(points, span, th));
  else {
    out.push({
      id: 'short_history', severity: 'info', subject: 'history',
      summary: `Only ${String(points.length)} sample${points.length === 1 ? '' : 's'} of this VM so far: context-switch rates, run-queue wait and disk latency need two samples at least a second apart.`,
      evidence: [{ what: 'history', value: span.dt, unit: 's' }], advice: 'Ask again after the next sample (taken at every scrape, and at least every --explain.interval).',
    });
  }
  if (!last.vm.namedThreads) out.push(rolesInferred(last.vm));
  return out.sort((a, b) => SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity));
}

/** Pool size vs its maximum, whose pool it is, and why the configuration makes it grow. */
function workerPools(points: Point[], span: Span, th: Thresholds): Finding[] {
  const vm = span.last.vm;
  const rolePeak = Math.max(...points.map((p) => p.peak.worker ?? 0));
  if (rolePeak < th.poolBusy) return [];
  let users = vm.disks.filter((d) => d.spec.source !== '' && poolUse(d.spec) !== undefined);
  const out: Finding[] = [];

  // Whose pool: from libvirt's cgroups (workers inherit their event loop's group), else from the disks' iothreads.
  const cgroupKnown = vm.pools.some((p) => p.threads !== undefined);
  let pools: { pool: string | undefined; peak: number; now: number; how: string }[];
  if (cgroupKnown) {
    const busy = vm.pools.filter((p) => points.some((pt) => poolThreads(pt.vm, p.pool) > 0));
    pools = busy.map((p) => {
      const sampled = Math.max(...points.map((pt) => poolThreads(pt.vm, p.pool)));
      // The census peak is per role: it is this pool's when no other pool had workers.
      return { pool: p.pool, peak: busy.length === 1 ? Math.max(sampled, rolePeak) : sampled, now: p.threads ?? 0, how: "The workers' libvirt cgroup tells whose pool they are in." };
    }).filter((p) => p.peak >= th.poolBusy);
  } else {
    // Disks whose host device had requests in flight or completed some explain the workers best.
    const active = users.filter((d) => d.stat && (points.some((pt) => (diskOf(pt.vm, d.spec.name)?.stat?.inFlight ?? 0) > 0)
      || (diskDelta(points, d)?.iops ?? 0) > 0));
    if (active.length > 0) users = active;
    const candidates = [...new Set(users.map((d) => poolOfDisk(d.spec)))];
    const now = roleOf(vm, 'worker')?.threads ?? 0;
    const which = `${list(users.map((d) => `disk ${d.spec.name}`))}${active.length > 0 ? `, the one${active.length === 1 ? '' : 's'} with requests on the host,` : ''}`;
    pools = candidates.length === 1
      ? [{ pool: candidates[0]!, peak: rolePeak, now, how: `Whose pool is inferred: ${which} ${users.length === 1 ? 'runs' : 'run'} in ${candidates[0] === 'main' ? 'the main loop' : candidates[0]!}.` }]
      : [{ pool: undefined, peak: rolePeak, now, how: candidates.length === 0 ? 'Whose pool is not known: no disk of this VM sends its reads and writes to a pool.' : `Whose pool is not known: ${which} run in ${list(candidates)}, and thread names do not say which pool a worker serves.` }];
  }

  for (const p of pools) {
    const maxes = p.pool === undefined ? vm.pools.map((q) => q.max) : [vm.pools.find((q) => q.pool === p.pool)?.max ?? DEFAULT_POOL_MAX];
    const max = Math.max(...maxes);
    const served = users.filter((d) => p.pool === undefined || poolOfDisk(d.spec) === p.pool);
    const luns = served.filter((d) => poolUse(d.spec) === 'sgio');
    const threaded = served.filter((d) => poolUse(d.spec) === 'threads');
    const atMax = p.peak >= max;
    const samplesAtMax = points.filter((pt) => (p.pool !== undefined && cgroupKnown ? poolThreads(pt.vm, p.pool) : (roleOf(pt.vm, 'worker')?.threads ?? 0)) >= max).length;
    const name = p.pool === undefined ? 'The block thread pool' : p.pool === 'main' ? "The main loop's pool" : `Pool ${p.pool}`;

    const causes: string[] = [];
    const advice: string[] = [];
    for (const d of luns) {
      causes.push(`Disk ${d.spec.name} is a passthrough LUN (device='lun', scsi-block): every read and write is an SG_IO ioctl, and QEMU always runs ioctls on the block thread pool, whatever io= says (io='${d.spec.io}' here). Expected, not a misconfiguration.`);
    }
    for (const d of threaded) {
      causes.push(`Disk ${d.spec.name} ${d.spec.io === 'default' ? "sets no io=, which defaults to io='threads'" : "uses io='threads'"}: each request in flight holds a worker thread.`);
      advice.push(`For disk ${d.spec.name}, io='native' (with cache='none' or 'directsync') or io='io_uring' submits requests from the ${p.pool === 'main' ? 'main loop' : 'iothread'} itself and needs no pool.`);
    }
    if (causes.length === 0) causes.push("No disk it serves sends reads and writes to the pool (io='native' or 'io_uring'): the workers run flushes, discards or ioctls.");
    const growth = atMax
      ? `${name} grew to ${String(p.peak)} worker threads, its maximum (at it in ${String(samplesAtMax)} of ${String(points.length)} samples): any request beyond ${String(max)} in flight waits inside QEMU for a free worker, latency the guest sees and the host device does not.`
      : `${name} grew to ${String(p.peak)} worker threads (its maximum is ${String(max)}).`;
    if (atMax) {
      advice.push(luns.length > 0
        ? `A passthrough LUN always needs the pool: if the guest needs more than ${String(max)} requests in flight, raise thread_pool_max (libvirt ≥ 8.5: <iothread thread_pool_max=…>; QEMU ≥ 7.1: thread-pool-max); on an older QEMU, lower the guest's queue depth for the LUN (its queue_depth in sysfs, or the application's iodepth).`
        : `${advice.length > 0 ? 'Or raise' : 'Raise'} thread_pool_max (libvirt ≥ 8.5: <iothread thread_pool_max=…>; QEMU ≥ 7.1: thread-pool-max).`);
    }

    const evidence: Evidence[] = [
      { what: 'worker threads now', value: p.now, unit: '' },
      { what: 'worker threads, highest seen', value: p.peak, unit: '' },
      { what: 'pool maximum', value: max, unit: '' },
    ];
    for (const d of served) {
      const inFlight = Math.max(0, ...points.map((pt) => diskOf(pt.vm, d.spec.name)?.stat?.inFlight ?? 0));
      if (d.stat) evidence.push({ what: `requests in flight on ${d.hostDevice} (disk ${d.spec.name}), at most`, value: inFlight, unit: '' });
    }
    out.push({
      id: 'worker_pool',
      severity: atMax ? 'warning' : 'info',
      subject: p.pool === undefined ? 'block thread pool' : `pool ${p.pool}`,
      summary: `${growth} ${causes.join(' ')} ${p.how}`,
      evidence,
      advice: advice.join(' '),
    });
  }
  return out;
}

/** Voluntary vs involuntary switches and run-queue wait: CPU contention, a starved guest, or just blocking I/O. */
function switching(points: Point[], span: Span, th: Thresholds): Finding[] {
  const { first, last, dt, slowest } = span;
  const out: Finding[] = [];
  const contended: { role: Role; share: number; inv: number }[] = [];

  for (const r of last.vm.roles) {
    if (r.role === 'vcpu' || r.role === 'kernel') continue;
    const a = totalsOf(first.vm, r.role);
    const b = r.totals;
    const avg = Math.max(1, points.reduce((s, p) => s + (roleOf(p.vm, r.role)?.threads ?? 0), 0) / points.length);
    const vol = (b.voluntary - a.voluntary) / dt;
    const inv = (b.involuntary - a.involuntary) / dt;
    const waitS = (b.waitNs - a.waitNs) / 1e9;
    const share = waitS / dt / avg;
    const switches = b.voluntary - a.voluntary + b.involuntary - a.involuntary;
    const perWakeUs = switches > 0 ? (waitS * 1e6) / switches : 0;
    if (share >= th.waitRatio) contended.push({ role: r.role, share, inv });
    else if (vol >= th.switchRate) {
      const evidence: Evidence[] = [
        { what: 'voluntary context switches', value: vol, unit: '/s' },
        { what: 'involuntary context switches', value: inv, unit: '/s' },
        { what: 'run-queue wait per switch', value: perWakeUs, unit: 'µs' },
        { what: 'run-queue wait, share of wall time per thread', value: pct(share), unit: '%' },
      ];
      let against = '';
      if (slowest && (r.role === 'worker' || r.role === 'iothread')) {
        evidence.push({ what: `average request latency on ${slowest.dev}`, value: slowest.latencyMs, unit: 'ms' });
        against = ` — small next to the ${fmt(slowest.latencyMs)} ms a request takes on ${slowest.dev}`;
      }
      out.push({
        id: 'blocking_io', severity: 'info', subject: threadsWord(r.role),
        summary: `${capital(threadsWord(r.role))}: ${fmt(vol)} voluntary context switches a second (a thread blocks, then is woken when work arrives) against ${fmt(inv)} involuntary; each switch cost ${fmt(perWakeUs)} µs of run-queue wait${against}. The switching is the normal cost of blocking I/O, not a problem.`,
        evidence, advice: '',
      });
    }
  }
  if (contended.length > 0) {
    const inv = contended.reduce((s, c) => s + c.inv, 0);
    out.push({
      id: 'cpu_contention', severity: 'warning', subject: list(contended.map((c) => threadsWord(c.role))),
      summary: `The ${list(contended.map((c) => threadsWord(c.role)))} waited for a CPU ${list(contended.map((c) => `${fmt(pct(c.share))}%`))} of the time, with ${fmt(inv)} involuntary context switches a second: CPU contention — the VM's threads compete with each other or with other work for too few host CPUs.`,
      evidence: contended.flatMap((c) => [
        { what: `${threadsWord(c.role)}: run-queue wait, share of wall time per thread`, value: pct(c.share), unit: '%' },
        { what: `${threadsWord(c.role)}: involuntary context switches`, value: c.inv, unit: '/s' },
      ]),
      advice: 'Keep the emulator and iothreads off the vCPUs\' host CPUs (libvirt <emulatorpin>, <iothreadpin>, <vcpupin>), give the VM fewer vCPUs, or move other load off these CPUs.',
    });
  }

  const starved = last.vm.vcpus.map((v) => {
    const a = first.vm.vcpus.find((x) => x.vcpu === v.vcpu)?.totals ?? zeroCounters();
    return { vcpu: v.vcpu, share: (v.totals.waitNs - a.waitNs) / 1e9 / dt, inv: (v.totals.involuntary - a.involuntary) / dt };
  }).filter((v) => v.share >= th.waitRatio);
  if (starved.length > 0) {
    out.push({
      id: 'vcpu_starved', severity: 'warning', subject: 'vCPUs',
      summary: `${starved.length === 1 ? 'vCPU' : 'vCPUs'} ${list(starved.map((v) => String(v.vcpu)))} waited on the host's run queue ${list(starved.map((v) => `${fmt(pct(v.share))}%`))} of the time: the guest is starved of host CPU (it sees this as steal time).`,
      evidence: starved.flatMap((v) => [
        { what: `vCPU ${String(v.vcpu)}: run-queue wait, share of wall time`, value: pct(v.share), unit: '%' },
        { what: `vCPU ${String(v.vcpu)}: involuntary context switches`, value: v.inv, unit: '/s' },
      ]),
      advice: 'Give the vCPUs host CPUs of their own (<vcpupin>, a dedicated cpuset), fewer vCPUs, or less CPU overcommit on this host.',
    });
  }
  return out;
}

/** The VM's disk whose host device answered slowest over the points. */
function slowestDisk(points: Point[]): { dev: string; disk: string; latencyMs: number; util: number; inFlight: number } | undefined {
  let best: ReturnType<typeof slowestDisk>;
  for (const d of points.at(-1)!.vm.disks) {
    const delta = diskDelta(points, d);
    if (!delta || delta.iops === 0) continue;
    if (!best || delta.latencyMs > best.latencyMs) best = { dev: d.hostDevice, disk: d.spec.name, latencyMs: delta.latencyMs, util: delta.util, inFlight: d.stat?.inFlight ?? 0 };
  }
  return best;
}

/** Requests in flight and none completed for this long is stuck, not slow (the alert waits 5 minutes). */
const STUCK_AFTER_S = 60;

/** A disk whose host device has kept requests in flight and completed none for STUCK_AFTER_S, up to the last point. */
function stuckDevice(points: Point[]): { dev: string; disk: string; inFlight: number; seconds: number } | undefined {
  const last = points.at(-1)!;
  for (const d of last.vm.disks) {
    if (!d.stat || d.stat.inFlight === 0) continue;
    const done = d.stat.readsCompleted + d.stat.writesCompleted;
    let since = last.t;
    for (let i = points.length - 2; i >= 0; i--) {
      const s = diskOf(points[i]!.vm, d.spec.name)?.stat;
      if (!s || s.inFlight === 0 || s.readsCompleted + s.writesCompleted !== done) break;
      since = points[i]!.t;
    }
    const seconds = (last.t - since) / 1000;
    if (seconds >= STUCK_AFTER_S) return { dev: d.hostDevice, disk: d.spec.name, inFlight: d.stat.inFlight, seconds };
  }
  return undefined;
}

/**
 * Threads in uninterruptible disk sleep in most samples: busy storage is normal (a worker in pread, an SG_IO
 * ioctl), so only a host device slower than the threshold, or one that stopped completing requests, is reported.
 */
function diskSleep(points: Point[], span: Span, th: Thresholds): Finding[] {
  if (points.length < 2 || span.dt < 1) return [];
  const sleeping = (p: Point) => Object.values(p.diskSleep).reduce((s, n) => s + n, 0);
  const withD = points.filter((p) => sleeping(p) > 0).length;
  if (withD / points.length < th.diskSleepRatio) return [];
  const roles = [...new Set(points.flatMap((p) => (Object.entries(p.diskSleep) as [Role, number][]).filter(([, n]) => n > 0).map(([r]) => r)))];
  const who = `in ${String(withD)} of ${String(points.length)} samples (${list(roles.map(threadsWord))})`;
  const evidence: Evidence[] = [
    { what: 'threads in disk sleep, at most', value: Math.max(...points.map(sleeping)), unit: '' },
    { what: 'samples with threads in disk sleep', value: pct(withD / points.length), unit: '%' },
  ];
  const base = { id: 'disk_sleep', subject: list(roles.map(threadsWord)) };

  const stuck = stuckDevice(points);
  // Without host statistics: in disk sleep in every sample and not one voluntary switch all along.
  const silent = !stuck && withD === points.length && span.dt >= STUCK_AFTER_S
    && roles.every((r) => totalsOf(span.last.vm, r).voluntary === totalsOf(span.first.vm, r).voluntary);
  if (stuck || silent) {
    if (stuck) evidence.push({ what: `requests in flight on ${stuck.dev}`, value: stuck.inFlight, unit: '' }, { what: `seconds since ${stuck.dev} completed a request`, value: stuck.seconds, unit: 's' });
    return [{
      ...base, severity: 'critical', evidence,
      summary: `Threads were in uninterruptible disk sleep (D) ${who} and the storage is stuck: ${stuck
        ? `host device ${stuck.dev} (disk ${stuck.disk}) has had ${fmt(stuck.inFlight)} requests in flight and completed none for ${fmt(stuck.seconds)} s`
        : `they made no voluntary context switch for ${fmt(span.dt)} s, so nothing they waited for completed`}.`,
      advice: `Look at ${stuck ? `host device ${stuck.dev}` : "this VM's host storage"} now: dmesg for SCSI, multipath or NFS errors, multipath -ll, the array. The guest's requests cannot complete until it answers.`,
    }];
  }
  const { slowest } = span;
  if (!slowest) {
    // Busy or slow cannot be told apart without the host device's statistics.
    if (span.last.vm.disks.some((d) => d.stat)) return [];
    return [{
      ...base, severity: 'info', evidence,
      summary: `Threads were in uninterruptible disk sleep (D) ${who}, waiting for storage the exporter cannot see (no host block device it can read backs this VM's disks: network storage, or a source it could not resolve), so it cannot tell slow storage from busy.`,
      advice: "Check the storage's latency where it is visible: the NFS, iSCSI or Ceph client's statistics, or the storage server's.",
    }];
  }
  if (slowest.latencyMs < th.diskLatencyMs) return [];
  evidence.push(
    { what: `average request latency on ${slowest.dev}`, value: slowest.latencyMs, unit: 'ms' },
    { what: `${slowest.dev} busy`, value: pct(slowest.util), unit: '%' },
    { what: `requests in flight on ${slowest.dev} now`, value: slowest.inFlight, unit: '' },
  );
  return [{
    ...base, severity: 'warning', evidence,
    summary: `Threads were in uninterruptible disk sleep (D) ${who}, waiting for slow host storage: host device ${slowest.dev} (disk ${slowest.disk}) takes ${fmt(slowest.latencyMs)} ms per request on average (slow from ${fmt(th.diskLatencyMs)} ms), with ${fmt(slowest.inFlight)} in flight and ${fmt(pct(slowest.util))}% busy.`,
    advice: `Look at the host side: iostat -x ${slowest.dev}, its queue depth, and the storage behind it (multipath, SAN, the array's latency). The guest sees this latency plus QEMU's.`,
  }];
}

/** Without debug-threads QEMU's threads all carry the process name: say how roles were told apart. */
function rolesInferred(vm: VmSnapshot): Finding {
  const other = roleOf(vm, 'other')?.threads ?? 0;
  const how = vm.identity.source === 'libvirt'
    ? "vCPUs from libvirt's vCPU thread IDs, iothreads and their workers from libvirt's cgroups (the first thread in an iothread's group is the iothread, later ones its workers), the main loop from its thread ID (the PID)"
    : 'only the main loop (its thread ID is the PID), kernel threads and vhost threads (named by the kernel); no libvirt status file names this VM';
  return {
    id: 'roles_inferred', severity: 'info', subject: 'thread roles',
    summary: `debug-threads is off, so QEMU's threads all carry the process name and roles were inferred: ${how}. ${String(other)} thread${other === 1 ? ' is' : 's are'} 'other'.`,
    evidence: [{ what: "threads of role 'other'", value: other, unit: '' }],
    advice: 'Start QEMU with -name guest=NAME,debug-threads=on (libvirt does so for every QEMU that supports it) to have every thread named by its role.',
  };
}
