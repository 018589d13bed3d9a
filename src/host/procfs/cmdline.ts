/**
 * Parses /proc/PID/cmdline: argv, each argument terminated by a NUL.
 * Kernel threads and zombies have an empty cmdline → []. Exactly one trailing NUL is dropped, so empty
 * arguments (`a\0\0b\0` → ['a', '', 'b']) survive; a process that rewrote its argv without NULs yields one string.
 */
export function parseCmdline(raw: string): string[] {
  if (raw === '') return [];
  const args = raw.split('\0');
  if (raw.endsWith('\0')) args.pop();
  return args;
}
