/**
 * What a busy pool's workers were seen doing (the syscall observer), in words, next to what the configuration
 * predicts for each disk: SG_IO ioctls for a passthrough LUN, reads and writes for io='threads', neither for
 * io='native' or 'io_uring' (their flushes still run on the pool).
 */
import type { SyscallKind } from '../../host/procfs/syscall-kinds.js';
import type { DiskSpec } from '../../host/qemu/disk-spec.js';
import type { SyscallCount, VmSnapshot } from '../../model/snapshot.js';
import type { Evidence } from './finding.js';
import { fmt, list, threadsWord } from './format.js';

const WORDS: Record<SyscallKind, string> = {
  ioctl_sg_io: 'ioctl(SG_IO)',
  read: 'a read',
  write: 'a write',
  flush: 'a flush (fsync)',
  poll: 'poll',
  futex: 'futex',
  other: 'another system call',
  running: 'running',
};

/** How a disk uses the block thread pool for its reads and writes, if it does. */
export function poolUse(d: DiskSpec): 'sgio' | 'threads' | undefined {
  if (d.deviceType === 'lun') return 'sgio';
  return d.io === 'threads' || d.io === 'default' ? 'threads' : undefined;
}

const phrase = (c: SyscallCount): string =>
  c.syscall === 'futex'
    ? `${fmt(c.threads)} waiting for work (futex)`
    : c.syscall === 'running'
      ? `${fmt(c.threads)} running`
      : `${fmt(c.threads)} in ${WORDS[c.syscall]}${c.disk ? ` on ${c.file} (disk ${c.disk})` : ''}`;

/** Where what the workers did on a disk is not what its configuration makes them do. */
function disagreement(c: SyscallCount, spec: DiskSpec): string | undefined {
  const use = poolUse(spec);
  const rw = c.syscall === 'read' || c.syscall === 'write';
  const seen = `yet ${fmt(c.threads)} worker${c.threads === 1 ? ' was' : 's were'} seen in ${WORDS[c.syscall]} on it`;
  if (rw && use === undefined)
    return `Disk ${spec.name} is configured io='${spec.io}', which needs no pool, ${seen}: the disk is not what the configuration says, or a format driver (qcow2's metadata, for one) uses the pool.`;
  if (rw && use === 'sgio')
    return `Disk ${spec.name} is a passthrough LUN, whose reads and writes are SG_IO ioctls, ${seen}: it is not opened as scsi-block.`;
  if (c.syscall === 'ioctl_sg_io' && use !== 'sgio')
    return `Disk ${spec.name} is not configured as a passthrough LUN, ${seen}.`;
  return undefined;
}

export interface Observed {
  /** The sentence: what the workers were doing, and where that is not what the configuration predicts. */
  summary: string;
  /** Most workers were waiting for work: the pool is spare capacity, not a backlog. */
  idle: boolean;
  evidence: Evidence[];
}

/**
 * What the VM's workers were seen doing at the observer's last look, or undefined when it did not look. Most of
 * them waiting for work is idle capacity unless `hostHeldPool`: the host device held as many requests as the pool
 * has workers (the look caught them between two requests).
 */
export function observedWorkers(vm: VmSnapshot, at: number, hostHeldPool = false): Observed | undefined {
  const seen = vm.syscalls;
  const counts = seen?.counts.filter((c) => c.role === 'worker').sort((a, b) => b.threads - a.threads) ?? [];
  if (!seen || counts.length === 0) return undefined;
  const total = counts.reduce((n, c) => n + c.threads, 0);
  const waiting = counts.find((c) => c.syscall === 'futex')?.threads ?? 0;
  const idle = waiting * 2 > total && !hostHeldPool;
  const age = Math.max(0, (at - seen.at) / 1000);
  const off = counts.flatMap((c) => {
    const spec = vm.disks.find((d) => d.spec.name === c.disk)?.spec;
    const s = spec && disagreement(c, spec);
    return s ? [s] : [];
  });
  const summary = [
    `Seen in its system calls ${fmt(age)} s before this sample: of ${fmt(total)} workers, ${list(counts.map(phrase))}.`,
    ...(idle
      ? [
          `Most of the pool is idle capacity, not a backlog: ${fmt(waiting)} of ${fmt(total)} workers were waiting for work, and QEMU lets a worker idle for 10 s before it ends.`,
        ]
      : []),
    ...off,
  ].join(' ');
  const evidence = counts.map((c) => ({
    what: `workers ${c.syscall === 'futex' ? 'waiting for work (futex)' : c.syscall === 'running' ? 'running' : `in ${WORDS[c.syscall]}${c.disk ? ` on disk ${c.disk}` : ''}`}`,
    value: c.threads,
    unit: '',
  }));
  return { summary, idle, evidence };
}

/** Calls a thread waits in for storage (not for work, not for events). */
const ON_STORAGE: ReadonlySet<SyscallKind> = new Set(['ioctl_sg_io', 'read', 'write', 'flush']);

/**
 * For disk_sleep: which disk the threads were seen waiting on, per role (iothreads and vCPUs in disk sleep are
 * looked at, as are a busy pool's workers), e.g. "Seen in their system calls: iothreads, 1 in a flush (fsync) on
 * /dev/sdc (disk sdc)."; undefined when nothing was seen waiting on storage.
 */
export function blockedOnStorage(vm: VmSnapshot): string | undefined {
  const counts = vm.syscalls?.counts.filter((c) => ON_STORAGE.has(c.syscall)) ?? [];
  if (counts.length === 0) return undefined;
  const roles = [...new Set(counts.map((c) => c.role))];
  const parts = roles.map(
    (r) =>
      `${threadsWord(r)}, ${list(
        counts
          .filter((c) => c.role === r)
          .sort((a, b) => b.threads - a.threads)
          .map(phrase),
      )}`,
  );
  return `Seen in their system calls: ${parts.join('; ')}.`;
}
