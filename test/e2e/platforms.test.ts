/**
 * End to end, real QEMUs started the way other platforms start them (test/support/platform-qemu.ts), seen by the
 * real command line without any flag: Proxmox VE's `kvm` and qemu-server's arguments; a KubeVirt-like pod whose
 * libvirt status file exists only inside the QEMU's own mount namespace.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCli, type Cli } from '../support/cli.js';
import { samples, value } from '../support/exporter.js';
import { startPodLikeQemu, startProxmoxLikeQemu, type PlatformQemu, type PodQemu } from '../support/platform-qemu.js';
import { blockDeviceOf } from '../support/real-qemu.js';
import { kubevirtStatusXml } from '../support/status-files.js';

const none = { vmid: '', nova_name: '', nova_project: '', nova_flavor: '', kubevirt_namespace: '', kubevirt_name: '' };
const threads = (text: string, domain: string, role: string) => value(text, 'qemu_threads', { domain, role });

describe('platforms: real QEMUs', () => {
  let cli: Cli;
  let pve: PlatformQemu;
  let pod: PodQemu;
  const pveName = `pve-${String(process.pid)}`;

  before(async () => {
    pve = await startProxmoxLikeQemu(pveName);
    // Unnamed threads: only the status file's vCPU TIDs, mapped from the pod's PID namespace, can tell vCPUs apart.
    pod = await startPodLikeQemu('prod', `web${String(process.pid)}`, false);
    await pod.writeStatus(
      kubevirtStatusXml(pod.domain, pod.podPid, [pod.podVcpuTids[0]!, pod.podVcpuTids[1]!], pod.diskPath),
    );
    cli = await startCli();
  });
  after(async () => {
    await cli.terminate();
    await pve.stop();
    await pod.stop();
  });

  test("Proxmox VE: /usr/bin/kvm and qemu-server's arguments: found, named by -name, UUID from -smbios, roles from names", async () => {
    const text = await cli.scrape();
    assert.equal(
      value(text, 'qemu_vm_info', {
        domain: pveName,
        uuid: pve.uuid,
        pid: String(pve.pid),
        source: 'cmdline',
        ...none,
      }),
      1,
    );
    assert.equal(threads(text, pveName, 'vcpu'), 2);
    // `IO iothread-virtio0` is too long a thread name: the iothread keeps the name `kvm`, as on Proxmox VE.
    assert.equal(threads(text, pveName, 'iothread'), 1);
    assert.equal(threads(text, pveName, 'rcu'), 1);
    assert.equal(threads(text, pveName, 'main'), 1);
    assert.equal(threads(text, pveName, 'other'), undefined);
    assert.equal(
      value(text, 'qemu_disk_info', {
        domain: pveName,
        disk: 'virtio0',
        bus: 'virtio',
        host_device: (await blockDeviceOf(pve.diskPath))!,
        cache: 'none',
        io: 'io_uring',
        iothread: 'iothread-virtio0',
      }),
      1,
    );
    console.log(
      text
        .split('\n')
        .filter((l) => /^qemu_(threads|vm_info)\{/.test(l) && l.includes(`domain="${pveName}"`))
        .join('\n'),
    );
  });

  test("KubeVirt: the pod's own status file, seen through /proc/PID/root, names the VMI and its vCPUs", async () => {
    let text = '';
    // The exporter looks inside a pod at most every 5 s.
    for (
      let i = 0;
      i < 80 && value(text, 'qemu_vm_info', { pid: String(pod.pid), source: 'libvirt' }) === undefined;
      i++
    ) {
      await sleep(100);
      text = await cli.scrape();
    }
    assert.notEqual(pod.podPid, pod.pid, 'the QEMU runs in a PID namespace of its own');
    assert.equal(
      value(text, 'qemu_vm_info', {
        domain: pod.domain,
        pid: String(pod.pid),
        source: 'libvirt',
        ...none,
        kubevirt_namespace: 'prod',
        kubevirt_name: pod.domain.slice(5),
      }),
      1,
    );
    assert.equal(threads(text, pod.domain, 'vcpu'), 2);
    const vcpus = new Set(
      [...samples(text).keys()]
        .filter((s) => s.startsWith('qemu_vcpu_cpu') && s.includes(`domain="${pod.domain}"`))
        .map((s) => /vcpu="(\d+)"/.exec(s)?.[1]),
    );
    assert.deepEqual([...vcpus].sort(), ['0', '1']);
    console.log(
      text
        .split('\n')
        .filter((l) => /^qemu_(threads|vm_info)\{/.test(l) && l.includes(`domain="${pod.domain}"`))
        .join('\n'),
    );
  });
});
