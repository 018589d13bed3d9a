/**
 * Each platform's QEMU, as a host tree the exporter reads without any flag but the roots: the captured KVM domain
 * that Nova defines (test/fixtures/nova-kvm, this machine's Linux 6.18), and the platforms built from their source
 * (test/fixtures/make-platforms.ts: Proxmox VE with QEMU 9.2 and 11, a KubeVirt pod, RHEL 7 with libvirt 4.5).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { VmIdentity } from '../src/model/identity.js';
import { samples, startExporter, value } from './support/exporter.js';

const fixtures = fileURLToPath(new URL('./fixtures', import.meta.url));

/** One scrape of a fixture host (after the status files and pod lookups have been read), and each VM's identity. */
async function scrapeHost(dir: string): Promise<string> {
  return (await readHost(dir)).text;
}

async function readHost(dir: string): Promise<{ text: string; identities: Map<number, VmIdentity> }> {
  const root = join(fixtures, dir);
  const live = await startExporter({
    procfs: join(root, 'proc'),
    sysfs: join(root, 'sys'),
    rootfs: join(root, 'rootfs'),
    libvirtStatusDir: join(root, 'run/libvirt/qemu'),
  });
  try {
    await live.scrape();
    await live.exporter.inventory.settled();
    const text = await live.scrape();
    return { text, identities: new Map([...live.exporter.inventory.vms].map(([pid, vm]) => [pid, vm.identity])) };
  } finally {
    await live.stop();
  }
}

/** `role → threads` of one domain, for the roles it has any of. */
function roles(text: string, domain: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [series, v] of samples(text)) {
    const m = /^qemu_threads\{domain="([^"]*)",role="([^"]*)"\}$/.exec(series);
    if (m?.[1] === domain && v > 0) out[m[2]!] = v;
  }
  return out;
}

const vcpuLabels = (text: string, domain: string): string[] =>
  [
    ...new Set(
      [...samples(text).keys()]
        .filter((s) => s.startsWith('qemu_vcpu_') && s.includes(`domain="${domain}"`))
        .map((s) => /vcpu="(\d+)"/.exec(s)![1]!),
    ),
  ].sort();

const none = { vmid: '', nova_name: '', nova_project: '', nova_flavor: '', kubevirt_namespace: '', kubevirt_name: '' };

describe('platforms, without a flag', () => {
  test('OpenStack Nova on Linux 6.18 (captured): 2 vCPUs, kvm-nx-lpage-re under kernel though it sits in vcpu0, the instance named', async () => {
    const text = await scrapeHost('nova-kvm');
    const pid = readFileSync(join(fixtures, 'nova-kvm/pid'), 'utf8').trim();
    assert.equal(
      value(text, 'qemu_vm_info', {
        domain: 'instance-0000002a',
        pid,
        source: 'libvirt',
        ...none,
        nova_name: 'web01',
        nova_project: 'webteam',
        nova_flavor: 'm1.small',
      }),
      1,
    );
    assert.deepEqual(roles(text, 'instance-0000002a'), {
      vcpu: 2,
      iothread: 1,
      worker: 1,
      main: 1,
      rcu: 1,
      monitor: 1,
      kernel: 1,
    });
    assert.deepEqual(vcpuLabels(text, 'instance-0000002a'), ['0', '1']);
  });

  test('Proxmox VE: `kvm` found by what it runs or, unreadable, by its QEMU options; vmid, name, SMBIOS UUID; roles from names', async () => {
    const text = await scrapeHost('platforms/proxmox');
    // QEMU 9.2, no exe link to read: comm and argv[0] are `kvm`, and the command line is QEMU's.
    assert.equal(
      value(text, 'qemu_vm_info', {
        domain: 'web01',
        uuid: '7b10d7af-b932-4c66-b2c3-3996152ec465',
        pid: '4600',
        source: 'cmdline',
        ...none,
        vmid: '100',
      }),
      1,
    );
    // The iothread is unnamed (`IO iothread-virtio0` is too long for a thread name), after call_rcu.
    assert.deepEqual(roles(text, 'web01'), {
      vcpu: 4,
      iothread: 1,
      worker: 1,
      main: 1,
      rcu: 1,
      io_uring: 1,
      kernel: 1,
    });
    assert.deepEqual(vcpuLabels(text, 'web01'), ['0', '1', '2', '3']);
    // QEMU 11 names threads without debug-threads=on: call_rcu is named, the unnamed thread is the iothread.
    assert.equal(
      value(text, 'qemu_vm_info', {
        domain: 'web02',
        uuid: '0c9e3c55-6f0b-4a7e-9d55-2f8f5b1e0a65',
        pid: '4700',
        ...none,
        vmid: '101',
      }),
      1,
    );
    assert.deepEqual(roles(text, 'web02'), { vcpu: 2, iothread: 1, worker: 1, main: 1, rcu: 1, vhost: 1, kernel: 1 });
    // A program called kvm that is not QEMU.
    assert.equal(value(text, 'qemu_vm_info', { pid: '4800' }), undefined);
    assert.equal(value(text, 'qemu_exporter_vms', {}), 2);
  });

  test("KubeVirt: the pod's status file through /proc/PID/root, its pod pids mapped to the host's, namespace and name", async () => {
    const { text, identities } = await readHost('platforms/kubevirt');
    // The pod's libvirt wrote vCPU TIDs 94 and 95: on the host they are 31007 and 31008.
    assert.deepEqual(
      identities.get(31000)?.vcpuTids,
      new Map([
        [31007, 0],
        [31008, 1],
      ]),
    );
    assert.equal(
      value(text, 'qemu_vm_info', {
        domain: 'prod_web01',
        uuid: '5a1b0e7e-1ab0-4a11-b0c5-000000000001',
        pid: '31000',
        source: 'libvirt',
        ...none,
        kubevirt_namespace: 'prod',
        kubevirt_name: 'web01',
      }),
      1,
    );
    assert.deepEqual(roles(text, 'prod_web01'), {
      vcpu: 2,
      iothread: 1,
      worker: 1,
      main: 1,
      rcu: 1,
      monitor: 1,
      kernel: 1,
    });
    assert.equal(value(text, 'qemu_disk_info', { domain: 'prod_web01', disk: 'sdc', iothread: 'iothread1' }), 1);
  });

  test('RHEL 7: qemu-kvm under libvirt 4.5, cgroup v1 through systemd-machined: the pool known from the cgroup', async () => {
    const text = await scrapeHost('platforms/rhel7');
    assert.equal(
      value(text, 'qemu_vm_info', {
        domain: 'vm1',
        uuid: 'e7b9aea0-564d-424b-bc87-9bb5375657f7',
        pid: '4242',
        source: 'libvirt',
        ...none,
      }),
      1,
    );
    assert.deepEqual(roles(text, 'vm1'), { vcpu: 4, iothread: 1, worker: 2, main: 1, rcu: 1, spice: 1 });
    assert.equal(value(text, 'qemu_thread_pool_threads', { domain: 'vm1', pool: 'iothread1' }), 2);
    assert.equal(
      value(text, 'qemu_disk_info', {
        domain: 'vm1',
        disk: 'sdc',
        device_type: 'lun',
        io: 'native',
        iothread: 'iothread1',
      }),
      1,
    );
  });
});
