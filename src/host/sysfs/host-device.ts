import { basename } from 'node:path';
import type { HostFs } from '../host-fs.js';

export interface HostDevice {
  /** Kernel name: `sda`, `sda1`, `dm-0`, `nvme0n1`. */
  name: string;
  /** sysfs directory holding `stat` (whole disks and partitions alike). */
  sysDir: string;
}

/** Linux dev_t → major:minor, as glibc's gnu_dev_major/minor (Node's stat gives dev_t as a number). */
export function majorMinor(dev: number): string {
  const hi = Math.floor(dev / 2 ** 32);
  const lo = dev >>> 0;
  const major = ((lo >>> 8) & 0xfff) | (hi & ~0xfff);
  const minor = (lo & 0xff) | ((lo >>> 12) & ~0xff);
  return `${major}:${minor}`;
}

/**
 * Maps a disk's host source to the block device whose statistics describe it: a device path (following
 * /dev/disk/by-id and /dev/mapper links) to that device; a file to the device holding its filesystem.
 * Returns undefined when no block device backs it (tmpfs, overlay, NFS: an anonymous device, major 0).
 * Throws FsError when the source cannot be looked at.
 */
export async function resolveHostDevice(fs: HostFs, source: string): Promise<HostDevice | undefined> {
  const hostPath = await fs.resolveHostPath(source);
  const st = await fs.statHost(hostPath);
  if (!st.isBlockDevice && hostPath.startsWith('/dev/')) {
    // A device path that is not a device node here (a fixture tree, or /dev copied without nodes): go by name, if
    // sysfs has that block device. Anything else under /dev is a file like any other (/dev/shm is a tmpfs).
    const name = basename(hostPath);
    const sysDir = fs.sys('class/block', name);
    if (await fs.isFile(`${sysDir}/stat`)) return { name, sysDir };
  }
  const mm = majorMinor(st.isBlockDevice ? st.rdev : st.dev);
  if (mm.startsWith('0:')) return undefined;
  const sysDir = fs.sys('dev/block', mm);
  try {
    return { name: basename(await fs.readSysLink(sysDir)), sysDir };
  } catch {
    return undefined;
  }
}
