/**
 * A host block device that can be made to stop answering: a loop device whose backing file lives on a FUSE
 * filesystem (bindfs over a directory of this repository's cache). Stopping bindfs (SIGSTOP) leaves every read
 * the page cache cannot answer waiting for it, so the loop device keeps its requests in flight and completes
 * none: storage that is stuck, not slow. The loop device reads its file through the page cache (no
 * --direct-io), so reads reach FUSE; QEMU opens the loop device with cache=none, so the guest's reads reach it.
 * Needs root (losetup, mount).
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRawImage } from '../support/real-qemu.js';
import { requireTool, run } from '../support/require-tool.js';

export interface FuseLoopDisk {
  /** The loop device to give QEMU, e.g. `/dev/loop3`. */
  readonly path: string;
  /** The bindfs process. */
  readonly pid: number;
  /** SIGSTOP bindfs, and wait until it is stopped: from here on, reads that miss the page cache wait. */
  freeze(): Promise<void>;
  /** SIGCONT bindfs: the waiting reads are answered. */
  thaw(): void;
  /** SIGKILL bindfs: the kernel aborts the FUSE connection and fails every waiting read (the last resort). */
  abort(): void;
  /** Thaws, detaches the loop device, unmounts (lazily if busy), and waits for bindfs to exit. */
  remove(): Promise<void>;
}

/** Mount point → filesystem type, from /proc/self/mountinfo (reading it never touches a FUSE filesystem). */
async function mounts(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const line of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
    const [left, right] = line.split(' - ');
    const point = left?.split(' ')[4];
    const type = right?.split(' ')[0];
    if (point !== undefined && type !== undefined)
      out.set(
        point.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))),
        type,
      );
  }
  return out;
}

/** Loop devices whose backing file is `file`, from sysfs (losetup --associated would stat the file, and hang on a frozen FUSE). */
async function loopsOf(file: string): Promise<string[]> {
  const out = await run('losetup', ['--list', '--noheadings', '--raw', '--output', 'NAME,BACK-FILE']);
  return out
    .split('\n')
    .map((l) => l.split(' '))
    .filter(([, back]) => back === file || back?.startsWith(`${file} `))
    .map(([name]) => name!);
}

async function unmount(point: string): Promise<void> {
  if (!(await mounts()).has(point)) return;
  await run('umount', [point]).catch(() => run('umount', ['--lazy', point]));
}

/** A directory behind a FUSE filesystem that can be made to stop answering. */
export interface FuseDir {
  /** Where it is mounted (`dir`/mnt), showing `dir`/back. */
  readonly mnt: string;
  readonly back: string;
  /** The bindfs process. */
  readonly pid: number;
  freeze(): Promise<void>;
  thaw(): void;
  abort(): void;
  /** Thaws, unmounts (lazily if busy), and waits for bindfs to exit; `before` runs first (thawed, still mounted). */
  remove(before?: () => Promise<void>): Promise<void>;
}

/** bindfs of `dir`/back on `dir`/mnt. Needs root (mount). */
export async function fuseDir(dir: string): Promise<FuseDir> {
  const back = `${dir}/back`;
  const mnt = `${dir}/mnt`;
  const bindfs = requireTool('bindfs');
  // What a run that was killed left: its mount (its bindfs died with it: --pdeathsig).
  await unmount(mnt);
  await mkdir(back, { recursive: true });
  await mkdir(mnt, { recursive: true });
  const child = spawn(requireTool('setpriv'), ['--pdeathsig', 'KILL', '--', bindfs, '-f', back, mnt], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const exited = new Promise<void>((resolve) => {
    child
      .on('exit', () => {
        resolve();
      })
      .on('error', (err) => {
        stderr += err.message;
        resolve();
      });
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  const remove = async (before?: () => Promise<void>) => {
    if (alive()) child.kill('SIGCONT');
    await before?.();
    await unmount(mnt);
    // Unmounted, bindfs exits by itself; a stopped or stuck one is killed.
    await Promise.race([exited, sleep(10_000, undefined, { ref: false })]);
    if (alive()) child.kill('SIGKILL');
    await exited;
  };
  try {
    for (let waited = 0; (await mounts()).get(mnt)?.startsWith('fuse') !== true; waited += 50) {
      if (!alive() || waited > 10_000)
        throw new Error(`bindfs did not mount ${mnt}${stderr ? `: ${stderr.trim()}` : ''}`);
      await sleep(50);
    }
  } catch (err) {
    await remove().catch(() => undefined);
    throw err;
  }
  return {
    mnt,
    back,
    pid: child.pid!,
    async freeze() {
      child.kill('SIGSTOP');
      for (let waited = 0; ; waited += 20) {
        const stat = await readFile(`/proc/${String(child.pid)}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('T')) return;
        if (waited > 5000) throw new Error(`bindfs (${String(child.pid)}) did not stop`);
        await sleep(20);
      }
    },
    thaw() {
      if (alive()) child.kill('SIGCONT');
    },
    abort() {
      if (alive()) child.kill('SIGKILL');
    },
    remove,
  };
}

/** `dir`/back/disk.raw (`sizeMiB` MiB, allocated), bindfs-mounted on `dir`/mnt, behind a new loop device. */
export async function fuseLoopDisk(dir: string, sizeMiB: number): Promise<FuseLoopDisk> {
  const file = `${dir}/mnt/disk.raw`;
  // What a run that was killed left: its loop device.
  for (const stale of await loopsOf(file)) await run('losetup', ['--detach', stale]);
  const fuse = await fuseDir(dir);
  let loop: string | undefined;
  const remove = () =>
    fuse.remove(async () => {
      if (loop !== undefined) await run('losetup', ['--detach', loop]);
      loop = undefined;
    });
  try {
    await createRawImage(`${fuse.back}/disk.raw`, sizeMiB);
    loop = (await run('losetup', ['--find', '--show', '--direct-io=off', file])).trim();
  } catch (err) {
    await remove().catch(() => undefined);
    throw err;
  }
  return {
    path: loop,
    pid: fuse.pid,
    freeze: () => fuse.freeze(),
    thaw: () => {
      fuse.thaw();
    },
    abort: () => {
      fuse.abort();
    },
    remove,
  };
}
