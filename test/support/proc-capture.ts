/**
 * Copies what the exporter reads of one live QEMU process into a fixture tree, as the kernel wrote it: the
 * process's comm, cmdline, stat, status, cgroup and exe link, and every thread's comm, stat, status, schedstat
 * and cgroup. A fixture made this way is a capture, not what the code expects (see test/fixtures/README.md).
 */
import { mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

const PROCESS_FILES = ['comm', 'cmdline', 'stat', 'status', 'cgroup'];
const TASK_FILES = ['comm', 'stat', 'status', 'schedstat', 'cgroup'];

async function copy(from: string, to: string): Promise<boolean> {
  let data: Buffer;
  try {
    data = await readFile(from);
  } catch {
    return false; // a thread that ended meanwhile
  }
  await mkdir(dirname(to), { recursive: true });
  await writeFile(to, data);
  return true;
}

/** Captures /proc/PID into `root`/proc/PID (the process first, then each thread whole or not at all). */
export async function captureProcess(pid: number, root: string): Promise<void> {
  const src = `/proc/${String(pid)}`;
  const dst = join(root, 'proc', String(pid));
  for (const f of PROCESS_FILES) await copy(`${src}/${f}`, `${dst}/${f}`);
  try {
    await symlink(await readlink(`${src}/exe`), `${dst}/exe`);
  } catch {
    /* unreadable: the fixture has no exe, as an exporter without CAP_SYS_PTRACE sees it */
  }
  for (const tid of await readdir(`${src}/task`)) {
    for (const f of TASK_FILES) if (!(await copy(`${src}/task/${tid}/${f}`, `${dst}/task/${tid}/${f}`))) break;
  }
}
