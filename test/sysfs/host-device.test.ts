import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FsError, HostFs } from '../../src/host/host-fs.js';
import { majorMinor, resolveHostDevice } from '../../src/host/sysfs/host-device.js';
import { blockDeviceOf } from '../support/real-qemu.js';

let root: string;
let fs: HostFs;

before(() => {
  // A root filesystem as udev lays it out, with plain files standing in for device nodes.
  root = mkdtempSync(join(tmpdir(), 'qte-hostdev-'));
  const put = (p: string, text = '') => {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), text);
  };
  // sysfs has each device (partitions under their disk, as the kernel lays them out; class/block links to all).
  for (const dev of ['sdc', 'sdc1', 'dm-0']) {
    put(`rootfs/dev/${dev}`);
    put(
      `sys/class/block/${dev}/stat`,
      '       0        0        0        0        0        0        0        0        0        0        0\n',
    );
  }
  mkdirSync(join(root, 'rootfs/dev/disk/by-id'), { recursive: true });
  mkdirSync(join(root, 'rootfs/dev/mapper'), { recursive: true });
  symlinkSync('../../sdc', join(root, 'rootfs/dev/disk/by-id/wwn-0x60a010a0a976d6001962194c40c86ee6'));
  symlinkSync('../../sdc1', join(root, 'rootfs/dev/disk/by-id/wwn-0x60a010a0a976d6001962194c40c86ee6-part1'));
  symlinkSync('../dm-0', join(root, 'rootfs/dev/mapper/vg0-vm1'));
  symlinkSync('/dev/mapper/vg0-vm1', join(root, 'rootfs/dev/vg0-vm1-abs')); // absolute: must stay inside the root
  fs = new HostFs({
    procfs: join(root, 'proc'),
    sysfs: join(root, 'sys'),
    rootfs: join(root, 'rootfs'),
    libvirtStatusDir: join(root, 'run'),
  });
});
after(() => {
  rmSync(root, { recursive: true, force: true });
});

test('by-id links, partitions and device-mapper names resolve to the kernel device', async () => {
  assert.equal((await resolveHostDevice(fs, '/dev/disk/by-id/wwn-0x60a010a0a976d6001962194c40c86ee6'))?.name, 'sdc');
  assert.equal(
    (await resolveHostDevice(fs, '/dev/disk/by-id/wwn-0x60a010a0a976d6001962194c40c86ee6-part1'))?.name,
    'sdc1',
  );
  assert.equal((await resolveHostDevice(fs, '/dev/mapper/vg0-vm1'))?.name, 'dm-0');
  assert.equal((await resolveHostDevice(fs, '/dev/vg0-vm1-abs'))?.name, 'dm-0');
  assert.equal((await resolveHostDevice(fs, '/dev/sdc'))?.sysDir, join(root, 'sys/class/block/sdc'));
});

test('a disk image on tmpfs under /dev has no host device (real /dev/shm)', async () => {
  const real = new HostFs({ procfs: '/proc', sysfs: '/sys', rootfs: '/', libvirtStatusDir: '/run/libvirt/qemu' });
  const image = `/dev/shm/qte-hostdev-${String(process.pid)}.img`;
  writeFileSync(image, '');
  try {
    assert.equal(await resolveHostDevice(real, image), undefined);
  } finally {
    rmSync(image, { force: true });
  }
});

test('a missing source is an FsError of kind gone', async () => {
  await assert.rejects(
    resolveHostDevice(fs, '/dev/disk/by-id/nope'),
    (err: unknown) => err instanceof FsError && err.kind === 'gone',
  );
});

test('a file-backed disk maps to the device holding the file (real /sys)', async () => {
  const real = new HostFs({ procfs: '/proc', sysfs: '/sys', rootfs: '/', libvirtStatusDir: '/run/libvirt/qemu' });
  const file = fileURLToPath(import.meta.url);
  const expected = await blockDeviceOf(file);
  assert.ok(expected, 'the repository must be on a block device for this test');
  const dev = await resolveHostDevice(real, file);
  assert.equal(dev?.name, expected);
  // /proc is not on a block device.
  assert.equal(await resolveHostDevice(real, '/proc/self/stat'), undefined);
});

test('dev_t decoding matches glibc for large minors', () => {
  assert.equal(majorMinor(0xfe00), '254:0');
  assert.equal(majorMinor(0x800 | 0x11), '8:17');
  // major 259 (NVMe), minor 300: minor's high bits sit above the major in dev_t
  const dev = (300 & 0xff) | ((259 & 0xfff) << 8) | ((300 & ~0xff) << 12);
  assert.equal(majorMinor(dev), '259:300');
});
