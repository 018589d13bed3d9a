/**
 * What a blocked thread's system call means for a disk, by the kernel's own numbers: x86-64's from
 * arch/x86/entry/syscalls/syscall_64.tbl, arm64's from include/uapi/asm-generic/unistd.h (the generic table
 * arm64 uses). A number not listed is `other`, never a guess; an architecture not listed knows no numbers.
 */
import type { TaskSyscall } from './syscall.js';

/** Values of qemu_threads_in_syscall{syscall}: a small fixed set, so the series stay bounded. */
export const SYSCALL_KINDS = ['ioctl_sg_io', 'read', 'write', 'flush', 'poll', 'futex', 'other', 'running'] as const;
export type SyscallKind = (typeof SYSCALL_KINDS)[number];

/** `ioctl` is told apart by its request: SG_IO (include/scsi/sg.h) is a passthrough SCSI command. */
type Entry = SyscallKind | 'ioctl';

const TABLES: Partial<Record<NodeJS.Architecture, Record<number, Entry>>> = {
  x64: {
    0: 'read', // read
    17: 'read', // pread64
    19: 'read', // readv
    295: 'read', // preadv
    327: 'read', // preadv2
    1: 'write', // write
    18: 'write', // pwrite64
    20: 'write', // writev
    296: 'write', // pwritev
    328: 'write', // pwritev2
    74: 'flush', // fsync
    75: 'flush', // fdatasync
    16: 'ioctl',
    7: 'poll', // poll
    271: 'poll', // ppoll
    232: 'poll', // epoll_wait
    281: 'poll', // epoll_pwait
    441: 'poll', // epoll_pwait2
    202: 'futex',
    449: 'futex', // futex_waitv
  },
  arm64: {
    63: 'read', // read
    67: 'read', // pread64
    65: 'read', // readv
    69: 'read', // preadv
    286: 'read', // preadv2
    64: 'write', // write
    68: 'write', // pwrite64
    66: 'write', // writev
    70: 'write', // pwritev
    287: 'write', // pwritev2
    82: 'flush', // fsync
    83: 'flush', // fdatasync
    29: 'ioctl',
    73: 'poll', // ppoll (arm64 has no poll or epoll_wait)
    22: 'poll', // epoll_pwait
    441: 'poll', // epoll_pwait2
    98: 'futex',
    449: 'futex', // futex_waitv
  },
};

const SG_IO = 0x2285n;

/** Calls whose first argument is the file descriptor they work on. */
const ON_FD: ReadonlySet<Entry> = new Set(['read', 'write', 'flush', 'ioctl']);

/** A thread's system call as qemu_threads_in_syscall counts it, and the descriptor it works on, if any. */
export function syscallKind(s: TaskSyscall, arch: NodeJS.Architecture): { kind: SyscallKind; fd?: number } {
  if (s.kind === 'running') return { kind: 'running' };
  if (s.kind === 'none') return { kind: 'other' };
  const entry = TABLES[arch]?.[s.nr] ?? 'other';
  const kind = entry === 'ioctl' ? (s.args[1] === SG_IO ? 'ioctl_sg_io' : 'other') : entry;
  const fd = s.args[0];
  // A descriptor is an int: arguments are full registers, so only the low 32 bits carry it.
  return ON_FD.has(entry) && fd !== undefined ? { kind, fd: Number(fd & 0xffffffffn) | 0 } : { kind };
}
