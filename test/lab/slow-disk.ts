/**
 * A host block device as slow for QEMU as the LUN in the report: the lab's image behind a loop device, with
 * the disk under the image limited to a number of read IOPS for QEMU's block-I/O cgroup.
 *
 * Why: the host's disk here answers a 4 KiB read in well under a millisecond while a TCG guest needs far
 * longer to submit one, so requests never pile up in QEMU and its pool stays small whatever the iodepth.
 * With the disk as the bottleneck (as with a real LUN under fio --iodepth=64), every request the guest has
 * outstanding waits on the host: in a pool worker's pread (aio=threads) or in the kernel (aio=native).
 * Why a loop device: the throttle holds requests before they reach the throttled disk's queue, where
 * `inflight` would not count them; the loop device (direct I/O, and charging its I/O to the cgroup of whoever
 * submitted it) counts each one as in flight until the throttled disk answers, so qemu_disk_io_now shows them.
 * Needs root; cgroup v1 (`blkio`) or v2 (`io`).
 */
import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { blockDeviceOf } from '../support/real-qemu.js';
import { run } from '../support/require-tool.js';

const V1 = '/sys/fs/cgroup/blkio';
const V2 = '/sys/fs/cgroup';

export interface SlowDisk {
  /** The loop device to give QEMU, e.g. `/dev/loop3`. */
  readonly path: string;
  /** Moves a process (all its threads, and the threads it starts later) into the throttled cgroup. */
  add(pid: number): Promise<void>;
  /** Detaches the loop device and removes the cgroup (once its processes have exited). */
  remove(): Promise<void>;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** The whole disk's `MAJ:MIN` under `path` (throttling applies to disks, not partitions). */
async function diskOf(path: string): Promise<string> {
  const dev = await blockDeviceOf(path);
  if (!dev) throw new Error(`${path} is not on a block device`);
  const sys = `/sys/class/block/${dev}`;
  return (await readFile((await exists(`${sys}/partition`)) ? `${sys}/../dev` : `${sys}/dev`, 'utf8')).trim();
}

/** A cgroup whose reads from `device` are limited to `readIops`; returns its directory. */
async function throttledCgroup(name: string, device: string, readIops: number): Promise<string> {
  if (await exists(`${V1}/blkio.throttle.read_iops_device`)) {
    await mkdir(`${V1}/${name}`, { recursive: true });
    await writeFile(`${V1}/${name}/blkio.throttle.read_iops_device`, `${device} ${String(readIops)}`);
    return `${V1}/${name}`;
  }
  const controllers = await readFile(`${V2}/cgroup.controllers`, 'utf8').catch(() => '');
  if (!controllers.trim().split(' ').includes('io'))
    throw new Error('no cgroup v1 blkio or v2 io controller to throttle the disk with');
  await writeFile(`${V2}/cgroup.subtree_control`, '+io');
  await mkdir(`${V2}/${name}`, { recursive: true });
  await writeFile(`${V2}/${name}/io.max`, `${device} riops=${String(readIops)}`);
  return `${V2}/${name}`;
}

export async function slowDisk(name: string, image: string, readIops: number): Promise<SlowDisk> {
  // A loop device left by a run that was killed still holds the image: detach it.
  for (const line of (await run('losetup', ['--associated', image])).split('\n')) {
    const stale = /^(\/dev\/loop\d+):/.exec(line)?.[1];
    if (stale) await run('losetup', ['--detach', stale]);
  }
  const cgroup = await throttledCgroup(name, await diskOf(image), readIops);
  const path = (await run('losetup', ['--find', '--show', '--direct-io=on', image])).trim();
  return {
    path,
    add: (pid) => writeFile(`${cgroup}/cgroup.procs`, String(pid)),
    async remove() {
      await run('losetup', ['--detach', path]);
      await rmdir(cgroup).catch(() => undefined); // still busy or gone: harmless, the next run reuses the name
    },
  };
}
