/**
 * CPU contention made real: a process's threads pinned onto one host CPU (taskset), and a busy loop pinned
 * beside them that never sleeps, so every thread there waits on the run queue for its turn.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { run, requireTool } from '../support/require-tool.js';

/** CPUs in a list like `0-3,8,10-11` (Cpus_allowed_list). */
export function cpuList(list: string): number[] {
  return list
    .trim()
    .split(',')
    .filter(Boolean)
    .flatMap((part) => {
      const [lo, hi = lo] = part.split('-').map(Number);
      return Array.from({ length: hi! - lo! + 1 }, (_, i) => lo! + i);
    });
}

/** The CPU the lab crowds: the last this process may use (the test runner and the exporter keep the others). */
export async function crowdedCpu(): Promise<number> {
  const allowed = /^Cpus_allowed_list:\s*(\S+)/m.exec(await readFile('/proc/self/status', 'utf8'))?.[1];
  const cpu = cpuList(allowed ?? '').at(-1);
  if (cpu === undefined || !Number.isInteger(cpu))
    throw new Error(`no CPU in this process's Cpus_allowed_list (${String(allowed)})`);
  return cpu;
}

/** Pins every thread of `pid` onto `cpu` (threads started later inherit it from the thread that starts them). */
export async function pinAllThreads(pid: number, cpu: number): Promise<void> {
  await run('taskset', ['--all-tasks', '--cpu-list', '--pid', String(cpu), String(pid)]);
  for (const tid of await readdir(`/proc/${String(pid)}/task`)) {
    const status = await readFile(`/proc/${String(pid)}/task/${tid}/status`, 'utf8').catch(() => ''); // '' : exited meanwhile
    const allowed = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];
    if (allowed !== undefined && allowed !== String(cpu))
      throw new Error(`thread ${tid} of ${String(pid)} may still run on CPUs ${allowed}, not only ${String(cpu)}`);
  }
}

export interface CpuHog {
  readonly pid: number;
  /** SIGKILL, and wait for the exit. */
  stop(): Promise<void>;
}

/** A busy loop (node -e 'for(;;);') pinned onto `cpu`; it dies with the test process (setpriv --pdeathsig). */
export async function startCpuHog(cpu: number): Promise<CpuHog> {
  const child = spawn(
    requireTool('setpriv'),
    [
      '--pdeathsig',
      'KILL',
      '--',
      requireTool('taskset'),
      '--cpu-list',
      String(cpu),
      process.execPath,
      '-e',
      'for (;;);',
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => {
    child
      .on('exit', () => {
        resolve();
      })
      .on('error', () => {
        resolve();
      });
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  // Running, and spinning where it was put: field 39 of /proc/PID/stat is the CPU it last ran on.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const stat = await readFile(`/proc/${String(child.pid)}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const comm = await readFile(`/proc/${String(child.pid)}/comm`, 'utf8').catch(() => '');
    if (comm.trim() === 'node' && fields[0] === 'R' && fields[36] === String(cpu)) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(
        `the CPU hog did not start spinning on CPU ${String(cpu)} (state ${fields[0] ?? '?'}, CPU ${fields[36] ?? '?'}, ${comm.trim() || 'gone'})`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { pid: child.pid!, stop };
}
