/**
 * /proc/PID/task/TID/syscall: the system call a blocked thread is in, and its arguments (fs/proc/base.c,
 * proc_pid_syscall): `running` when it is on a CPU; `NR SP PC` when it is blocked outside a system call (NR -1);
 * `NR ARG0 … ARG5 SP PC` otherwise, the arguments in hex. Reading it needs ptrace access (CAP_SYS_PTRACE for
 * another user's process).
 */
import { ParseError } from '../parse-error.js';

export type TaskSyscall =
  | { kind: 'running' }
  /** Blocked, not in a system call (a page fault, a stop). */
  | { kind: 'none' }
  | { kind: 'call'; nr: number; args: bigint[] };

export function parseSyscall(text: string): TaskSyscall {
  const line = text.trimEnd();
  if (line === 'running') return { kind: 'running' };
  const f = line.split(' ');
  const nr = Number(f[0]);
  if (!/^-?\d+$/.test(f[0] ?? '') || !f.slice(1).every((x) => /^0x[0-9a-f]{1,16}$/.test(x)))
    throw new ParseError(`syscall: not a system call line: ${JSON.stringify(line.slice(0, 80))}`);
  if (nr < 0 && f.length === 3) return { kind: 'none' };
  if (nr < 0 || f.length !== 9) throw new ParseError(`syscall: ${String(f.length)} fields for call ${f[0]!}`);
  return { kind: 'call', nr, args: f.slice(1, 7).map((x) => BigInt(x)) };
}
