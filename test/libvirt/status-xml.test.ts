import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseLibvirtStatus } from '../../src/host/libvirt/status-xml.js';
import { ParseError } from '../../src/host/parse-error.js';
import type { DiskSpec } from '../../src/host/qemu/disk-spec.js';

const SAMPLES = fileURLToPath(new URL('../fixtures/samples', import.meta.url));
const STATUS = readFileSync(`${SAMPLES}/libvirt-9.0-kvm/run-libvirt-qemu-labvm.status.xml`, 'utf8');
const STATUS_IOTHREADIDS = readFileSync(
  `${SAMPLES}/libvirt-9.0-kvm/run-libvirt-qemu-labvm.status.with-iothreadids.xml`,
  'utf8',
);
const DUMPXML_VM1 = readFileSync(`${SAMPLES}/report-vm1/domain-vm1.xml`, 'utf8');

const LABVM_SDC: DiskSpec = {
  name: 'sdc',
  bus: 'scsi',
  deviceType: 'disk',
  source: '/var/lib/libvirt/images/labvm-sdc.raw',
  cache: 'none',
  io: 'threads',
  iothread: 'iothread1',
};

/** A minimal bare domain around the given devices and extra elements. */
function domain(body: string, devices = ''): string {
  return `<domain type='kvm'><name>d</name><uuid>u</uuid>${body}<devices>${devices}</devices></domain>`;
}

function rejects(xml: string, message: RegExp): void {
  assert.throws(
    () => parseLibvirtStatus(xml),
    (err: unknown) => err instanceof ParseError && message.test(err.message),
  );
}

describe('parseLibvirtStatus on real files', () => {
  test('reads a libvirt 9 status file', () => {
    assert.deepEqual(parseLibvirtStatus(STATUS), {
      name: 'labvm',
      uuid: '5a1b0e7e-1ab0-4a11-b0c5-000000000001',
      pid: 18551,
      vcpuTids: new Map([
        [18558, 0],
        [18559, 1],
      ]),
      iothreads: [{ id: 'iothread1' }],
      disks: [LABVM_SDC],
      kubevirt: false,
    });
  });

  test('reads a status file with <iothreadids>', () => {
    assert.deepEqual(parseLibvirtStatus(STATUS_IOTHREADIDS), {
      name: 'labvm',
      uuid: '5a1b0e7e-1ab0-4a11-b0c5-000000000001',
      pid: 18865,
      vcpuTids: new Map([
        [18872, 0],
        [18873, 1],
      ]),
      iothreads: [{ id: 'iothread1' }],
      disks: [LABVM_SDC],
      kubevirt: false,
    });
  });

  test('reads a bare <domain> (virsh dumpxml) with a passthrough LUN', () => {
    const d = parseLibvirtStatus(DUMPXML_VM1);
    assert.ok(!('pid' in d));
    assert.equal(d.name, 'vm1');
    assert.equal(d.uuid, 'e7b9aea0-564d-424b-bc87-9bb5375657f7');
    assert.equal(d.vcpuTids.size, 0);
    assert.deepEqual(d.iothreads, [{ id: 'iothread1' }]);
    assert.ok(!('mainLoopPoolMax' in d));
    assert.deepEqual(d.disks, [
      {
        name: 'vda',
        bus: 'virtio',
        deviceType: 'disk',
        source: '/var/lib/libvirt/images/vm1.qcow2',
        cache: 'default',
        io: 'default',
        iothread: '',
      },
      {
        name: 'hda',
        bus: 'ide',
        deviceType: 'cdrom',
        source: '/var/lib/libvirt/images/config-vm1.iso',
        cache: 'default',
        io: 'default',
        iothread: '',
      },
      {
        name: 'sdc',
        bus: 'scsi',
        deviceType: 'lun',
        source: '/dev/disk/by-id/wwn-0x60a010a0a976d6001962194c40c86ee6',
        cache: 'none',
        io: 'native',
        iothread: 'iothread1',
      },
    ]);
  });
});

describe('parseLibvirtStatus refuses what is not a complete domain', () => {
  test('refuses a file cut anywhere before its end (a half-written status file)', () => {
    for (const xml of [STATUS, DUMPXML_VM1]) {
      const end = xml.lastIndexOf('>');
      const offsets = [0, 1, 5, 100, 250, end - 1];
      for (let i = 0; i < end; i += 11) offsets.push(i);
      for (let i = end - 40; i < end; i++) offsets.push(i);
      for (const offset of offsets) {
        assert.throws(() => parseLibvirtStatus(xml.slice(0, offset)), ParseError, `cut at ${offset}`);
      }
    }
  });

  test('refuses another root, several roots, or no XML at all', () => {
    rejects('<network><name>default</name><uuid>u</uuid></network>', /root element <network>/);
    rejects('<domain><name>a</name><uuid>u</uuid></domain><domain><name>b</name><uuid>u</uuid></domain>', /root/);
    rejects('<domain><name>a</name><uuid>u</uuid></domain><network/>', /single root/);
    rejects('', /malformed/);
    rejects('not xml at all', /malformed/);
    rejects('{"name":"vm"}', /malformed/);
  });

  test('refuses a domain without name or uuid, and a domstatus without domain', () => {
    rejects('<domain><uuid>u</uuid></domain>', /without <name>/);
    rejects('<domain><name>vm</name><uuid/></domain>', /vm without <uuid>/);
    rejects("<domstatus pid='1'><vcpus/></domstatus>", /without <domain>/);
  });

  test('refuses numbers that are not numbers', () => {
    rejects("<domstatus pid='abc'><domain><name>a</name><uuid>u</uuid></domain></domstatus>", /pid.*"abc"/);
    rejects(domain('<iothreads>x</iothreads>'), /<iothreads> is not a number/);
    rejects(domain('<iothreads>100000000</iothreads>'), /not plausible/);
    rejects(domain('<iothreadids><iothread/></iothreadids>'), /without id/);
  });

  test('refuses a disk without a target', () => {
    rejects(domain('', "<disk type='file' device='disk'><source file='/a'/></disk>"), /without <target dev>/);
  });

  test('refuses DOCTYPE and entity declarations quickly (billion laughs)', () => {
    const lol = ['<!DOCTYPE lolz [', '<!ENTITY lol "lol">'];
    for (let i = 1; i <= 9; i++) lol.push(`<!ENTITY lol${i} "${`&lol${i === 1 ? '' : i - 1};`.repeat(10)}">`);
    const bomb = `<?xml version="1.0"?>\n${lol.join('\n')}\n]>\n${domain('<description>&lol9;</description>')}`;
    const started = performance.now();
    rejects(bomb, /DOCTYPE/);
    assert.ok(performance.now() - started < 100);
    rejects(`<!DOCTYPE domain SYSTEM "file:///etc/passwd">${domain('')}`, /DOCTYPE/);
  });
});

describe('parseLibvirtStatus details', () => {
  test('accepts double quotes, a declaration and comments', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<!-- generated -->\n<domstatus state="running" pid="42">
      <vcpus><vcpu id="0" pid="43"/><vcpu id="1" pid="44"/></vcpus>
      <domain type="kvm"><name>dq</name><uuid>11111111-2222-3333-4444-555555555555</uuid>
        <devices><disk type="block" device="disk"><driver name="qemu" type="raw" cache="directsync" io="io_uring"/>
          <source dev="/dev/vg/lv"/><target dev="vdb" bus="virtio"/></disk></devices></domain></domstatus>`;
    assert.deepEqual(parseLibvirtStatus(xml), {
      name: 'dq',
      uuid: '11111111-2222-3333-4444-555555555555',
      pid: 42,
      vcpuTids: new Map([
        [43, 0],
        [44, 1],
      ]),
      iothreads: [],
      disks: [
        {
          name: 'vdb',
          bus: 'virtio',
          deviceType: 'disk',
          source: '/dev/vg/lv',
          cache: 'directsync',
          io: 'io_uring',
          iothread: '',
        },
      ],
      kubevirt: false,
    });
  });

  test('reads thread_pool_max of iothreads and of the default iothread', () => {
    const d = parseLibvirtStatus(
      domain(`<iothreads>4</iothreads>
      <iothreadids><iothread id='3' thread_pool_min='2' thread_pool_max='16'/><iothread id='1'/></iothreadids>
      <defaultiothread thread_pool_min='0' thread_pool_max='8'/>`),
    );
    // ids 1 and 3 are given; libvirt numbers the other two with the lowest free ids
    assert.deepEqual(d.iothreads, [
      { id: 'iothread1' },
      { id: 'iothread2' },
      { id: 'iothread3', poolMax: 16 },
      { id: 'iothread4' },
    ]);
    assert.equal(d.mainLoopPoolMax, 8);
  });

  test('skips a vCPU without a thread', () => {
    const d = parseLibvirtStatus(
      "<domstatus pid='7'><vcpus><vcpu id='0' pid='8'/><vcpu id='1'/><vcpu id='2' pid='0'/></vcpus>" +
        '<domain><name>a</name><uuid>u</uuid></domain></domstatus>',
    );
    assert.deepEqual(d.vcpuTids, new Map([[8, 0]]));
  });

  test('finds the iothread of a disk: its own, else its SCSI controller', () => {
    const d = parseLibvirtStatus(
      domain(
        '<iothreads>2</iothreads>',
        `
      <disk type='file' device='disk'><driver name='qemu' iothread='2'/><source file='/a'/><target dev='vda' bus='virtio'/></disk>
      <disk type='file' device='disk'><source file='/b'/><target dev='sda' bus='scsi'/><address type='drive' controller='1' unit='0'/></disk>
      <disk type='file' device='disk'><source file='/c'/><target dev='sdb' bus='scsi'/></disk>
      <disk type='file' device='disk'><source file='/d'/><target dev='sdc' bus='scsi'/><address type='drive' controller='2'/></disk>
      <disk type='file' device='disk'><source file='/e'/><target dev='vdb' bus='virtio'/></disk>
      <controller type='scsi' index='0' model='virtio-scsi'><driver iothread='2'/></controller>
      <controller type='scsi' index='1' model='virtio-scsi'><driver queues='4' iothread='1'/></controller>
      <controller type='scsi' index='2' model='lsilogic'/>
      <controller type='usb' index='0'><driver iothread='9'/></controller>`,
      ),
    );
    assert.deepEqual(
      d.disks.map((x) => [x.name, x.iothread]),
      [
        ['vda', 'iothread2'],
        ['sda', 'iothread1'],
        ['sdb', 'iothread2'],
        ['sdc', ''],
        ['vdb', ''],
      ],
    );
  });

  test('gives network and empty disks no source, and decodes entities', () => {
    const d = parseLibvirtStatus(`<domain><name>a&amp;b</name><uuid>u</uuid><devices>
      <disk type='network' device='disk'><source protocol='rbd' name='pool/img'><host name='mon1'/></source><target dev='vdc' bus='virtio'/></disk>
      <disk type='file' device='cdrom'><target dev='sdd' bus='sata'/></disk>
      <disk type='volume' device='disk'><source pool='p' volume='v'/><target dev='vde' bus='virtio'/></disk>
      <disk type='file'><source file='/img/it&apos;s &lt;odd&gt; &#38; &#x41;.raw'/><target dev='fda' bus='fdc'/></disk>
    </devices></domain>`);
    assert.equal(d.name, 'a&b');
    assert.deepEqual(
      d.disks.map((x) => [x.name, x.bus, x.deviceType, x.source]),
      [
        ['vdc', 'virtio', 'disk', ''],
        ['sdd', 'sata', 'cdrom', ''],
        ['vde', 'virtio', 'disk', ''],
        ['fda', 'fdc', 'disk', "/img/it's <odd> & A.raw"],
      ],
    );
  });

  test('reads a domain without devices', () => {
    const d = parseLibvirtStatus('<domain><name>bare</name><uuid>u</uuid></domain>');
    assert.deepEqual(d, { name: 'bare', uuid: 'u', vcpuTids: new Map(), iothreads: [], disks: [], kubevirt: false });
  });
});

describe('parseLibvirtStatus: what the layer above libvirt wrote into <metadata>', () => {
  const withMetadata = (metadata: string) =>
    parseLibvirtStatus(`<domstatus state='running' pid='42'><domain type='kvm'>
    <name>instance-0000002a</name><uuid>u</uuid>${metadata}</domain></domstatus>`);

  test("Nova's instance: display name, project and flavor (nova/virt/libvirt/config.py, as Nova 32 writes it)", () => {
    const xml = readFileSync(new URL('../fixtures/samples/platforms/nova-metadata.xml', import.meta.url), 'utf8');
    assert.deepEqual(withMetadata(xml).nova, { name: 'web01', project: 'webteam', flavor: 'm1.small' });
  });

  test('the namespace is matched by its declaration, not by the prefix', () => {
    const d =
      withMetadata(`<metadata><os:instance xmlns:os="http://openstack.org/xmlns/libvirt/nova/1.1"><os:name>db</os:name>
      <os:flavor name="m1.large"/><os:owner><os:project uuid="p">ops</os:project></os:owner></os:instance></metadata>`);
    assert.deepEqual(d.nova, { name: 'db', project: 'ops', flavor: 'm1.large' });
    assert.equal(
      withMetadata(
        `<metadata><nova:instance xmlns:nova="http://example.com/not-nova"><nova:name>x</nova:name></nova:instance></metadata>`,
      ).nova,
      undefined,
    );
  });

  test("KubeVirt's element marks a VMI (its uid has been empty since KubeVirt 0.59)", () => {
    assert.equal(
      withMetadata(`<metadata><kubevirt xmlns="http://kubevirt.io"><uid></uid></kubevirt></metadata>`).kubevirt,
      true,
    );
    assert.equal(withMetadata('').kubevirt, false);
  });
});
