import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLibvirtCgroup } from '../../src/host/procfs/cgroup.js';

// `cat /proc/self/cgroup` on this machine (hybrid: v1 controllers plus an empty 0:: line): no libvirt.
const SELF_HYBRID = `9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/f5693bd34f80251ac21828acf5d4849b
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
`;

// The same hierarchy layout for vCPU thread 18558 of the libvirt 9.0 sample (no systemd, cgroup v1): libvirt puts
// vcpuN/iothreadN/emulator groups under cpu, cpuacct and cpuset only, the VM group under the other controllers.
// Paths from test/fixtures/samples/libvirt-9.0-kvm/cgroup-thread-roles.txt.
const V1_LIBVIRT = (leaf: string) => `9:name=systemd:/
8:pids:/
7:blkio:/machine/qemu-1-labvm.libvirt-qemu
6:freezer:/machine/qemu-1-labvm.libvirt-qemu
5:devices:/machine/qemu-1-labvm.libvirt-qemu
4:memory:/machine/qemu-1-labvm.libvirt-qemu
3:cpuset:/machine/qemu-1-labvm.libvirt-qemu/${leaf}
2:cpuacct:/machine/qemu-1-labvm.libvirt-qemu/${leaf}
1:cpu:/machine/qemu-1-labvm.libvirt-qemu/${leaf}
0::/
`;

const SCOPE = '/machine.slice/machine-qemu\\x2d1\\x2dlabvm.scope';

describe('parseLibvirtCgroup', () => {
  test('returns undefined outside libvirt (real hybrid file, pure v2 root, empty file)', () => {
    assert.equal(parseLibvirtCgroup(SELF_HYBRID), undefined);
    assert.equal(parseLibvirtCgroup('0::/\n'), undefined);
    assert.equal(parseLibvirtCgroup('0::/system.slice/sshd.service\n'), undefined);
    assert.equal(parseLibvirtCgroup(''), undefined);
  });

  test('reads the v1 layout of the libvirt 9.0 sample (vcpu0, vcpu1, iothread1, emulator)', () => {
    for (const leaf of ['vcpu0', 'vcpu1', 'iothread1', 'emulator']) {
      assert.equal(parseLibvirtCgroup(V1_LIBVIRT(leaf)), leaf);
    }
  });

  test('reads a v1 file with co-mounted cpu,cpuacct', () => {
    assert.equal(parseLibvirtCgroup('4:cpu,cpuacct:/machine/qemu-1-labvm.libvirt-qemu/vcpu0\n'), 'vcpu0');
    assert.equal(parseLibvirtCgroup('11:cpuset:/machine/qemu-12-db.libvirt-qemu/iothread12\n'), 'iothread12');
  });

  test('reads the v2 systemd layout with the nested libvirt group (\\x2d escapes)', () => {
    assert.equal(parseLibvirtCgroup(`0::${SCOPE}/libvirt/vcpu0\n`), 'vcpu0');
    assert.equal(parseLibvirtCgroup(`0::${SCOPE}/libvirt/iothread1\n`), 'iothread1');
    assert.equal(parseLibvirtCgroup(`0::${SCOPE}/libvirt/emulator\n`), 'emulator');
  });

  test('reads the older systemd layout (leaf directly in the scope) and the non-systemd v2 layout', () => {
    assert.equal(parseLibvirtCgroup(`0::${SCOPE}/vcpu1\n`), 'vcpu1');
    assert.equal(parseLibvirtCgroup('0::/machine/qemu-1-labvm.libvirt-qemu/emulator\n'), 'emulator');
    assert.equal(parseLibvirtCgroup(`3:cpu,cpuacct:${SCOPE}/libvirt/vcpu2\n`), 'vcpu2');
    assert.equal(parseLibvirtCgroup('0::/machine/tenant-a/qemu-3-web.libvirt-qemu/vcpu0\n'), 'vcpu0');
  });

  test('prefers the 0:: line, then a cpu/cpuacct/cpuset line, then any line', () => {
    const hybrid = `4:memory:/machine/qemu-1-labvm.libvirt-qemu/emulator\n1:cpu:/machine/qemu-1-labvm.libvirt-qemu/vcpu0\n`;
    assert.equal(parseLibvirtCgroup(`${hybrid}0::${SCOPE}/libvirt/vcpu1\n`), 'vcpu1');
    assert.equal(parseLibvirtCgroup(`${hybrid}0::${SCOPE}\n`), 'vcpu0'); // 0:: yields no leaf
    assert.equal(parseLibvirtCgroup(hybrid), 'vcpu0');
    assert.equal(
      parseLibvirtCgroup('4:memory:/machine/qemu-1-labvm.libvirt-qemu/emulator\n1:cpu:/\n0::/\n'),
      'emulator',
    );
  });

  test('rejects paths that are not a libvirt QEMU thread group', () => {
    for (const text of [
      `0::${SCOPE}\n`, // the VM scope itself
      `0::${SCOPE}/libvirt\n`, // the nested group itself
      '0::/machine/qemu-1-labvm.libvirt-qemu\n',
      '0::/system.slice/libvirt/vcpu0\n', // "libvirt" parent, no machine-qemu
      '0::/machine.slice/machine-lxc\\x2d1\\x2dct.scope/libvirt/vcpu0\n', // LXC, not QEMU
      '0::/machine.slice/machine-qemu\\x2d1\\x2dlabvm.scope/other/vcpu0\n',
      '1:cpu:/qemu-1-labvm.libvirt-qemu.d/vcpu0\n',
      `0::${SCOPE}/libvirt/vcpu\n`, // no index
      `0::${SCOPE}/libvirt/vcpux\n`,
      `0::${SCOPE}/libvirt/iothread\n`,
      `0::${SCOPE}/libvirt/emulator2\n`,
      `0::${SCOPE}/libvirt/vcpu0 (deleted)\n`, // a removed v2 cgroup
      `0::${SCOPE}/libvirt/vcpu0/sub\n`,
      '0::vcpu0\n',
      '0::/vcpu0\n',
    ]) {
      assert.equal(parseLibvirtCgroup(text), undefined, text);
    }
  });

  test('skips garbage lines instead of throwing', () => {
    assert.equal(parseLibvirtCgroup('garbage\n:\n::\n\n'), undefined);
    assert.equal(parseLibvirtCgroup(`garbage\n0::${SCOPE}/libvirt/vcpu3\n`), 'vcpu3');
  });

  test('ignores a last line without its newline: it may have been cut (vcpu12 → vcpu1)', () => {
    assert.equal(parseLibvirtCgroup(`0::${SCOPE}/libvirt/vcpu1`), undefined);
  });
});
