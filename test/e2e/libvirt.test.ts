/** End to end: a real libvirtd (started by the test) and a defined, started domain, seen by the real command line. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startCli, type Cli } from '../support/cli.js';
import { value } from '../support/exporter.js';
import { defineAndStart, destroy, stopLibvirt, type Domain } from '../support/libvirt.js';
import { assertBetween, statusVcpuTids, taskWaitSeconds } from '../support/proc-read.js';
import { blockDeviceOf } from '../support/real-qemu.js';

let cli: Cli;
let dom: Domain;
const name = `e2e-libvirt-${String(process.pid)}`;

before(async () => {
  // Paused: the vCPU threads exist; with no guest OS a running vCPU would only burn a host CPU here.
  dom = await defineAndStart({ name, paused: true });
  cli = await startCli();
});
after(async () => {
  await cli.terminate();
  await destroy(name);
  await stopLibvirt();
});

test("domain name and uuid come from libvirt's status file, the disk's target and driver settings from its XML", async () => {
  const tids = statusVcpuTids(dom.statusPath);
  const wait0 = [0, 1].map((v) => taskWaitSeconds(dom.pid, tids.get(v)!));
  const text = await cli.scrape();
  const wait1 = [0, 1].map((v) => taskWaitSeconds(dom.pid, tids.get(v)!));
  assert.equal(
    value(text, 'qemu_vm_info', { domain: name, uuid: dom.uuid, pid: String(dom.pid), source: 'libvirt' }),
    1,
  );
  assert.equal(value(text, 'qemu_threads', { domain: name, role: 'vcpu' }), 2);
  assert.equal(value(text, 'qemu_threads', { domain: name, role: 'iothread' }), 1);
  assert.equal(value(text, 'qemu_threads', { domain: name, role: 'main' }), 1);
  const dev = await blockDeviceOf(dom.diskPath);
  assert.ok(dev, 'the test image must live on a block-device-backed filesystem');
  assert.equal(
    value(text, 'qemu_disk_info', {
      domain: name,
      disk: 'sdc',
      bus: 'scsi',
      device_type: 'disk',
      source: dom.diskPath,
      host_device: dev,
      cache: 'none',
      io: 'threads',
      iothread: 'iothread1',
    }),
    1,
  );
  assert.equal(value(text, 'qemu_thread_pool_max_threads', { domain: name, pool: 'iothread1' }), 64);
  assert.equal(value(text, 'qemu_exporter_source_success', { source: 'libvirt' }), 1);
  for (const vcpu of [0, 1])
    assertBetween(
      wait0[vcpu]!,
      value(text, 'qemu_vcpu_runqueue_wait_seconds_total', { domain: name, vcpu: String(vcpu) }),
      wait1[vcpu]!,
      `vCPU ${String(vcpu)} run-queue wait`,
    );
});

test('destroying the domain removes its series by the next scrape', async () => {
  await destroy(name);
  const text = await cli.scrape();
  assert.ok(!text.includes(`domain="${name}"`), 'series of a destroyed domain survived');
});
