import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parseQemuCmdline, type QemuCmdline } from '../../src/host/qemu/cmdline.js';
import { parseKeyval } from '../../src/host/qemu/option-syntax.js';
import type { DiskSpec } from '../../src/host/qemu/disk-spec.js';

const SAMPLES = fileURLToPath(new URL('../fixtures/samples', import.meta.url));

/** The sample command lines are one line with no spaces inside arguments. */
function sampleArgv(dir: string): string[] {
  return readFileSync(`${SAMPLES}/${dir}/qemu-cmdline.txt`, 'utf8').trim().split(/\s+/);
}

function parse(...args: string[]): QemuCmdline {
  return parseQemuCmdline(['qemu-system-x86_64', ...args]);
}

function disk(spec: Partial<DiskSpec> & { name: string }): DiskSpec {
  return { bus: '', deviceType: 'disk', source: '', cache: 'default', io: 'default', iothread: '', ...spec };
}

describe('parseQemuCmdline on real command lines', () => {
  test('reads libvirt 9 JSON -blockdev/-device syntax (labvm)', () => {
    assert.deepEqual(parseQemuCmdline(sampleArgv('libvirt-9.0-kvm')), {
      name: 'labvm',
      uuid: '5a1b0e7e-1ab0-4a11-b0c5-000000000001',
      debugThreads: true,
      qemuOptions: true,
      qmpSockets: [],
      iothreads: [{ id: 'iothread1' }],
      disks: [
        disk({
          name: 'scsi0-0-0-2',
          bus: 'scsi',
          source: '/var/lib/libvirt/images/labvm-sdc.raw',
          cache: 'none',
          io: 'threads',
          iothread: 'iothread1',
        }),
      ],
      warnings: [],
    });
  });

  test('reads legacy -drive/-device k=v syntax with a passthrough LUN (report-vm1)', () => {
    assert.deepEqual(parseQemuCmdline(sampleArgv('report-vm1')), {
      name: 'vm1',
      uuid: 'e7b9aea0-564d-424b-bc87-9bb5375657f7',
      debugThreads: true,
      qemuOptions: true,
      qmpSockets: [],
      iothreads: [{ id: 'iothread1' }],
      disks: [
        disk({ name: 'virtio-disk0', bus: 'virtio', source: '/var/lib/libvirt/images/vm1.qcow2' }),
        disk({ name: 'ide0-0-0', bus: 'ide', deviceType: 'cdrom', source: '/var/lib/libvirt/images/config-vm1.iso' }),
        disk({
          name: 'scsi0-0-0-0',
          bus: 'scsi',
          deviceType: 'lun',
          source: '/dev/disk/by-id/wwn-0x60a010a0a976d6001962194c40c86ee6',
          cache: 'none',
          io: 'native',
          iothread: 'iothread1',
        }),
      ],
      warnings: [],
    });
  });
});

describe('parseQemuCmdline: identity', () => {
  test('reads -name guest=, with ",," as a literal comma', () => {
    const r = parse('-name', 'guest=a,,b,debug-threads=off');
    assert.equal(r.name, 'a,b');
    assert.equal(r.debugThreads, false);
  });

  test('reads the legacy -name NAME form, escapes included', () => {
    assert.equal(parse('-name', 'vm2').name, 'vm2');
    assert.equal(parse('-name', 'a,,b,process=qemu-a').name, 'a,b');
    assert.equal(parse('-name', 'vm2').debugThreads, false);
  });

  test('reads -name guest=x,process=y and a bare debug-threads flag', () => {
    const r = parse('-name', 'guest=x,process=y,debug-threads');
    assert.equal(r.name, 'x');
    assert.equal(r.debugThreads, true);
  });

  test('merges repeated -name options and takes the last -uuid, like QEMU', () => {
    const r = parse('-name', 'guest=a', '-uuid', 'u1', '-name', 'debug-threads=on', '-uuid', 'u2');
    assert.equal(r.name, 'a');
    assert.equal(r.debugThreads, true);
    assert.equal(r.uuid, 'u2');
  });

  test('accepts --opt as well as -opt', () => {
    const r = parse('--name', 'guest=vm3', '--uuid', '00000000-0000-0000-0000-000000000003');
    assert.equal(r.name, 'vm3');
    assert.equal(r.uuid, '00000000-0000-0000-0000-000000000003');
  });

  test('leaves name and uuid unset when absent', () => {
    const r = parse('-m', '256', '-S');
    assert.equal(r.name, undefined);
    assert.equal(r.uuid, undefined);
    assert.ok(!('name' in r) && !('uuid' in r));
    assert.equal(r.debugThreads, false);
  });
});

describe('parseQemuCmdline: option splitting', () => {
  test('does not let flags swallow the next argument', () => {
    const r = parse(
      '-S',
      '-name',
      'vm',
      '-no-user-config',
      '-nodefaults',
      '-no-shutdown',
      '-no-hpet',
      '-enable-kvm',
      '-daemonize',
      '-snapshot',
      '-uuid',
      'u',
      '-no-reboot',
      '-drive',
      'file=/a.img,if=virtio',
    );
    assert.equal(r.name, 'vm');
    assert.equal(r.uuid, 'u');
    assert.deepEqual(
      r.disks.map((d) => d.source),
      ['/a.img'],
    );
  });

  test('reads a bare argument after a flag as a disk image, like QEMU (-hda)', () => {
    const r = parse('-snapshot', '/images/disk.img', '-m', '512');
    assert.deepEqual(r.disks, [disk({ name: 'ide0-hd0', bus: 'ide', source: '/images/disk.img' })]);
  });

  test('lets an unknown option take a value, unless the next argument is an option', () => {
    const r = parse('-some-new-option', 'value', '-some-new-flag', '-name', 'vm', '-foo', 'bar');
    assert.equal(r.name, 'vm');
    assert.deepEqual(r.disks, []);
  });

  test('always gives the options it reads their value, even one starting with "-"', () => {
    assert.equal(parse('-name', '-odd-').name, '-odd-');
    assert.deepEqual(
      parse('-drive', 'file=-foo,if=virtio').disks.map((d) => d.source),
      ['-foo'],
    );
  });

  test('warns about a value missing at the end', () => {
    const r = parse('-name');
    assert.equal(r.name, undefined);
    assert.deepEqual(r.warnings, ['-name: missing value']);
  });

  test('returns an empty model for an empty argv or a bare binary', () => {
    const empty = { debugThreads: false, qemuOptions: false, iothreads: [], disks: [], qmpSockets: [], warnings: [] };
    assert.deepEqual(parseQemuCmdline([]), empty);
    assert.deepEqual(parseQemuCmdline(['qemu-kvm']), empty);
  });
});

describe('parseQemuCmdline: iothreads and pools', () => {
  test('reads iothreads and thread-pool-max in key=value syntax', () => {
    const r = parse(
      '-object',
      'iothread,id=iothread1',
      '-object',
      'iothread,id=iothread2,thread-pool-max=16',
      '-object',
      'main-loop,id=main-loop,thread-pool-max=8',
      '-object',
      'secret,id=s0,data=x',
    );
    assert.deepEqual(r.iothreads, [{ id: 'iothread1' }, { id: 'iothread2', poolMax: 16 }]);
    assert.equal(r.mainLoopPoolMax, 8);
  });

  test('reads iothreads and thread-pool-max in JSON syntax', () => {
    const r = parse(
      '-object',
      '{"qom-type":"iothread","id":"io1","thread-pool-max":32}',
      '-object',
      '{"qom-type":"main-loop","id":"ml","thread-pool-min":0,"thread-pool-max":4}',
    );
    assert.deepEqual(r.iothreads, [{ id: 'io1', poolMax: 32 }]);
    assert.equal(r.mainLoopPoolMax, 4);
  });

  test('ignores an iothread without id and warns about a bad thread-pool-max', () => {
    const r = parse('-object', 'iothread', '-object', 'iothread,id=io1,thread-pool-max=lots');
    assert.deepEqual(r.iothreads, [{ id: 'io1' }]);
    assert.deepEqual(r.warnings, ['-object iothread io1: bad thread-pool-max']);
    assert.ok(!('mainLoopPoolMax' in r));
  });

  test('skips malformed JSON with a warning and keeps the rest', () => {
    const r = parse(
      '-object',
      '{"qom-type":"iothread",',
      '-object',
      '{"qom-type":"iothread","id":"io2"}',
      '-device',
      '{"driver":"virtio-blk-pci","drive":"d0"}}',
      '-name',
      'vm',
    );
    assert.deepEqual(r.iothreads, [{ id: 'io2' }]);
    assert.equal(r.name, 'vm');
    assert.deepEqual(r.disks, []);
    assert.equal(r.warnings.length, 2);
    assert.match(r.warnings[0]!, /^-object: malformed JSON/);
    assert.match(r.warnings[1]!, /^-device: malformed JSON/);
  });
});

describe('parseQemuCmdline: legacy -drive', () => {
  test('reads an -drive if=virtio without -device, naming it as QEMU does', () => {
    const r = parse(
      '-drive',
      'file=/img/a.qcow2,if=virtio,cache=writeback,aio=io_uring',
      '-drive',
      'file=/img/b.raw,if=virtio',
    );
    assert.deepEqual(r.disks, [
      disk({ name: 'virtio0', bus: 'virtio', source: '/img/a.qcow2', cache: 'writeback', io: 'io_uring' }),
      disk({ name: 'virtio1', bus: 'virtio', source: '/img/b.raw' }),
    ]);
  });

  test('uses the drive id when given, and ",," in a file name', () => {
    const r = parse('-drive', 'file=/img/x,,y.raw,if=virtio,id=d0');
    assert.deepEqual(r.disks, [disk({ name: 'd0', bus: 'virtio', source: '/img/x,y.raw' })]);
  });

  test('reads the -hda/-cdrom/-fda shortcuts', () => {
    const r = parse('-hda', '/img/a,b.img', '-cdrom', '/iso/x.iso', '-fda', '/img/floppy.img');
    assert.deepEqual(r.disks, [
      disk({ name: 'ide0-hd0', bus: 'ide', source: '/img/a,b.img' }),
      disk({ name: 'ide1-cd0', bus: 'ide', deviceType: 'cdrom', source: '/iso/x.iso' }),
      disk({ name: 'floppy0', bus: 'fdc', deviceType: 'floppy', source: '/img/floppy.img' }),
    ]);
  });

  test('ignores drives attached to nothing, firmware flash, and non-block devices', () => {
    const r = parse(
      '-drive',
      'file=/img/unused.raw,if=none,id=drive-unused',
      '-drive',
      'if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd',
      '-device',
      'virtio-net-pci,netdev=hostnet0,id=net0',
      '-device',
      'virtio-scsi-pci,id=scsi0,iothread=io1',
    );
    assert.deepEqual(r.disks, []);
  });

  test('reports a network or protocol file as no host path', () => {
    const r = parse(
      '-drive',
      'file=nbd:localhost:10809,if=virtio,id=a',
      '-drive',
      'file=rbd:pool/img,if=virtio,id=b',
      '-drive',
      'file=file:/img/c.raw,if=virtio,id=c',
      '-drive',
      'file=/img/with:colon.raw,if=virtio,id=d',
      '-drive',
      'file=iscsi://host/iqn.x/1,if=virtio,id=e',
      '-drive',
      'if=ide,media=cdrom,id=f',
    );
    assert.deepEqual(
      r.disks.map((d) => [d.name, d.source, d.deviceType]),
      [
        ['a', '', 'disk'],
        ['b', '', 'disk'],
        ['c', '/img/c.raw', 'disk'],
        ['d', '/img/with:colon.raw', 'disk'],
        ['e', '', 'disk'],
        ['f', '', 'cdrom'],
      ],
    );
  });

  test('maps device drivers to bus and device type', () => {
    const r = parse(
      '-drive',
      'file=/dev/sg2,if=none,id=d1',
      '-device',
      'scsi-generic,drive=d1,id=gen',
      '-drive',
      'file=/iso/a.iso,if=none,id=d2,media=cdrom',
      '-device',
      'scsi-cd,drive=d2,id=cd',
      '-drive',
      'file=/img/u.raw,if=none,id=d3',
      '-device',
      'usb-storage,drive=d3,id=usbdisk',
      '-drive',
      'file=/img/i.raw,if=none,id=d4',
      '-device',
      'ide-hd,drive=d4,bus=ide.0,id=hd',
      '-drive',
      'file=/iso/b.iso,if=none,id=d5,media=cdrom',
      '-device',
      'ide-drive,drive=d5,id=olddrive',
      '-drive',
      'file=/img/n.raw,if=none,id=d6',
      '-device',
      'nvme,drive=d6,serial=x',
      '-drive',
      'file=/img/s.raw,if=none,id=d7',
      '-device',
      'scsi-disk,drive=d7,id=sd',
    );
    assert.deepEqual(
      r.disks.map((d) => [d.name, d.bus, d.deviceType]),
      [
        ['gen', 'scsi', 'lun'],
        ['cd', 'scsi', 'cdrom'],
        ['usbdisk', 'usb', 'disk'],
        ['hd', 'ide', 'disk'],
        ['olddrive', 'ide', 'cdrom'],
        ['d6', 'nvme', 'disk'],
        ['sd', 'scsi', 'disk'],
      ],
    );
  });

  test('finds the iothread of a virtio-blk disk and of a SCSI disk through its controller', () => {
    const r = parse(
      '-object',
      'iothread,id=io1',
      '-object',
      'iothread,id=io2',
      '-device',
      'virtio-scsi-pci,id=scsi.ctl,iothread=io2',
      '-device',
      'virtio-scsi-pci,id=scsi1',
      '-drive',
      'file=/img/a,if=none,id=a',
      '-device',
      'virtio-blk-pci,drive=a,id=vda,iothread=io1',
      '-drive',
      'file=/img/b,if=none,id=b',
      '-device',
      'scsi-hd,drive=b,id=sda,bus=scsi.ctl.0',
      '-drive',
      'file=/img/c,if=none,id=c',
      '-device',
      'scsi-hd,drive=c,id=sdb,bus=scsi1.0',
      '-drive',
      'file=/img/d,if=none,id=d',
      '-device',
      'scsi-hd,drive=d,id=sdc',
      '-drive',
      'file=/img/e,if=none,id=e',
      '-device',
      'virtio-blk-pci,drive=e,id=vdb',
    );
    assert.deepEqual(
      r.disks.map((d) => [d.name, d.iothread]),
      [
        ['vda', 'io1'],
        ['sda', 'io2'],
        ['sdb', ''],
        ['sdc', ''],
        ['vdb', ''],
      ],
    );
  });

  test('names a disk after its drive when the device has no id', () => {
    const r = parse('-drive', 'file=/img/a,if=none,id=drive-a', '-device', 'virtio-blk-pci,drive=drive-a');
    assert.equal(r.disks[0]?.name, 'drive-a');
  });

  test('applies cache.direct/no-flush and a device write-cache=off to legacy drives', () => {
    const r = parse(
      '-drive',
      'file=/a,if=none,id=a,cache.direct=on',
      '-device',
      'virtio-blk-pci,drive=a,id=va',
      '-drive',
      'file=/b,if=none,id=b,cache=none',
      '-device',
      'virtio-blk-pci,drive=b,id=vb,write-cache=off',
      '-drive',
      'file=/c,if=none,id=c,cache=unsafe',
      '-device',
      'virtio-blk-pci,drive=c,id=vc,write-cache=off',
    );
    assert.deepEqual(
      r.disks.map((d) => [d.name, d.cache]),
      [
        ['va', 'none'],
        ['vb', 'directsync'],
        ['vc', 'unsafe'],
      ],
    );
  });

  test('keeps a disk whose drive is not defined, with a warning', () => {
    const r = parse('-device', 'virtio-blk-pci,drive=ghost,id=vdz');
    assert.deepEqual(r.disks, [disk({ name: 'vdz', bus: 'virtio' })]);
    assert.deepEqual(r.warnings, ['-device virtio-blk-pci: drive ghost not defined']);
  });
});

describe('parseQemuCmdline: -blockdev', () => {
  const storage = (name: string, extra: object = {}): string =>
    JSON.stringify({ driver: 'file', filename: `/img/${name}`, 'node-name': `${name}-storage`, ...extra });
  const format = (name: string, extra: object = {}): string =>
    JSON.stringify({ driver: 'qcow2', 'node-name': `${name}-format`, file: `${name}-storage`, ...extra });
  const device = (name: string, extra: object = {}): string =>
    JSON.stringify({ driver: 'virtio-blk-pci', drive: `${name}-format`, id: name, ...extra });

  function one(...args: string[]): DiskSpec {
    const r = parse(...args);
    assert.equal(r.disks.length, 1);
    assert.deepEqual(r.warnings, []);
    return r.disks[0]!;
  }

  test('names each cache mode from direct/no-flush and write-cache', () => {
    const cacheOf = (cache: object | undefined, dev: object = {}): string =>
      one(
        '-blockdev',
        storage('a', cache && { cache }),
        '-blockdev',
        format('a', cache && { cache }),
        '-device',
        device('a', dev),
      ).cache;
    assert.equal(cacheOf({ direct: true, 'no-flush': false }), 'none');
    assert.equal(cacheOf({ direct: false, 'no-flush': false }), 'writeback');
    assert.equal(cacheOf({ direct: false, 'no-flush': true }), 'unsafe');
    assert.equal(cacheOf({ direct: true, 'no-flush': false }, { 'write-cache': 'off' }), 'directsync');
    assert.equal(cacheOf({ direct: false, 'no-flush': false }, { 'write-cache': 'off' }), 'writethrough');
    assert.equal(cacheOf({ direct: true, 'no-flush': false }, { 'write-cache': 'on' }), 'none');
    assert.equal(cacheOf(undefined), 'default');
  });

  test('lets children inherit cache settings, and a flush dropped higher up makes the disk unsafe', () => {
    const inherited = one(
      '-blockdev',
      storage('a'),
      '-blockdev',
      format('a', { cache: { direct: true } }),
      '-device',
      device('a'),
    );
    assert.equal(inherited.cache, 'none');
    const topNoFlush = one(
      '-blockdev',
      storage('b', { cache: { direct: true, 'no-flush': false } }),
      '-blockdev',
      format('b', { cache: { 'no-flush': true } }),
      '-device',
      device('b'),
    );
    assert.equal(topNoFlush.cache, 'unsafe');
  });

  test('follows an inline storage node and reads host_device and aio', () => {
    const d = one(
      '-blockdev',
      JSON.stringify({
        driver: 'raw',
        'node-name': 'lun-format',
        file: { driver: 'host_device', filename: '/dev/sdb', aio: 'native', cache: { direct: true } },
      }),
      '-device',
      JSON.stringify({ driver: 'scsi-block', drive: 'lun-format', id: 'lun0' }),
    );
    assert.deepEqual(
      d,
      disk({ name: 'lun0', bus: 'scsi', deviceType: 'lun', source: '/dev/sdb', cache: 'none', io: 'native' }),
    );
  });

  test('accepts a device that names the storage node directly', () => {
    const d = one(
      '-blockdev',
      storage('raw', { aio: 'io_uring' }),
      '-device',
      JSON.stringify({ driver: 'virtio-blk-pci', drive: 'raw-storage' }),
    );
    assert.deepEqual(d, disk({ name: 'raw-storage', bus: 'virtio', source: '/img/raw', io: 'io_uring' }));
  });

  test('reports a network storage node as no host path', () => {
    const d = one(
      '-blockdev',
      JSON.stringify({ driver: 'nbd', 'node-name': 'net-storage', server: { type: 'inet', host: 'h', port: '10809' } }),
      '-blockdev',
      format('net'),
      '-device',
      device('net'),
    );
    assert.equal(d.source, '');
    assert.equal(d.io, 'default');
  });

  test('reads -blockdev in dotted key=value syntax', () => {
    const r = parse(
      '-blockdev',
      'driver=file,node-name=f0,filename=/img/k,,v.raw,cache.direct=on,aio=native',
      '-blockdev',
      'driver=raw,node-name=r0,file=f0',
      '-device',
      'virtio-blk-pci,drive=r0,id=vd0,iothread=io9',
    );
    assert.deepEqual(r.disks, [
      disk({ name: 'vd0', bus: 'virtio', source: '/img/k,v.raw', cache: 'none', io: 'native', iothread: 'io9' }),
    ]);
  });

  test('survives a cyclic or dangling chain with a warning', () => {
    const cyclic = parse(
      '-blockdev',
      '{"driver":"raw","node-name":"a","file":"b"}',
      '-blockdev',
      '{"driver":"raw","node-name":"b","file":"a"}',
      '-device',
      '{"driver":"virtio-blk-pci","drive":"a","id":"vd"}',
    );
    assert.equal(cyclic.disks.length, 1);
    assert.match(cyclic.warnings[0]!, /chain deeper than/);
    const dangling = parse('-blockdev', format('x'), '-device', device('x'));
    assert.deepEqual(dangling.disks, [disk({ name: 'x', bus: 'virtio' })]);
    assert.deepEqual(dangling.warnings, ['-blockdev x-format: node x-storage not defined']);
  });
});

describe('parseQemuCmdline: garbage', () => {
  test('never throws, whatever the argv', () => {
    const token = fc.oneof(
      fc.string(),
      fc.constantFrom(
        '-drive',
        '-device',
        '-blockdev',
        '-object',
        '-name',
        '-uuid',
        '-hda',
        '-S',
        '--',
        '-',
        '{',
        '{}',
        '[]',
        'null',
        ',,',
        ',',
        '=',
        'if=virtio',
        'drive=a',
        'id=a',
        'file=a',
        'iothread,id=x',
        '{"file":{"file":{}}}',
        '{"driver":"scsi-hd","drive":"a","bus":"."}',
        'node-name=a,file=a',
        'thread-pool-max=-1',
      ),
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 30 }), (argv) => {
        const r = parseQemuCmdline(argv);
        assert.ok(Array.isArray(r.disks) && Array.isArray(r.warnings));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseKeyval', () => {
  test('reads key=value pairs with ",," escapes and an implied first key', () => {
    assert.deepEqual(parseKeyval('scsi-block,bus=c.0,drive=d', 'driver'), {
      driver: 'scsi-block',
      bus: 'c.0',
      drive: 'd',
    });
    assert.deepEqual(parseKeyval('a,,b,k=x,,y,,', 'guest'), { guest: 'a,b', k: 'x,y,' });
    assert.deepEqual(parseKeyval('a=1,a=2'), { a: '2' });
    assert.deepEqual(parseKeyval(''), {});
  });

  test('reads bare keys as on, "no" keys as off', () => {
    assert.deepEqual(parseKeyval('socket,id=c,server,nowait', 'backend'), {
      backend: 'socket',
      id: 'c',
      server: 'on',
      wait: 'off',
    });
    assert.deepEqual(parseKeyval('flag'), { flag: 'on' });
  });

  test('keeps "=" inside values', () => {
    assert.deepEqual(parseKeyval('file=/a=b,x=='), { file: '/a=b', x: '=' });
  });
});

describe('parseQemuCmdline: platforms', () => {
  test("Proxmox VE's command line (qemu-server): -id, the name before debug-threads, the UUID from -smbios", () => {
    const argv = readFileSync(`${SAMPLES}/platforms/proxmox-cmdline.txt`, 'utf8').trim().split('\n');
    const r = parseQemuCmdline(argv);
    assert.equal(r.name, 'web01');
    assert.equal(r.vmid, '100');
    assert.equal(r.uuid, '7b10d7af-b932-4c66-b2c3-3996152ec465');
    assert.equal(r.debugThreads, true);
    assert.equal(r.qemuOptions, true);
    // qemu-server's own QMP socket; qmeventd's chardev is a client QEMU connects out of (no server=on).
    assert.deepEqual(r.qmpSockets, ['/var/run/qemu-server/100.qmp']);
    assert.deepEqual(r.iothreads, [{ id: 'iothread-virtio0' }]);
    assert.deepEqual(r.disks, [
      disk({
        name: 'virtio0',
        bus: 'virtio',
        source: '/dev/pve/vm-100-disk-0',
        cache: 'none',
        io: 'io_uring',
        iothread: 'iothread-virtio0',
      }),
    ]);
    assert.deepEqual(r.warnings, []);
  });

  test('-uuid wins over -smbios; a non-numeric -id is refused', () => {
    const r = parse('-uuid', 'a', '-smbios', 'type=1,uuid=b', '-id', 'x');
    assert.equal(r.uuid, 'a');
    assert.equal(r.vmid, undefined);
    assert.equal(r.warnings.length, 1);
    assert.equal(parse('-smbios', 'type=0,uuid=b').uuid, undefined, 'only the system (type 1) table carries the UUID');
  });

  test("tells QEMU's command line from another program's", () => {
    assert.equal(parseQemuCmdline(['kvm', '-machine', 'pc']).qemuOptions, true);
    assert.equal(parseQemuCmdline(['kvm', '--list-guests', '-v']).qemuOptions, false);
    assert.equal(parseQemuCmdline(['kvm']).qemuOptions, false);
  });
});
