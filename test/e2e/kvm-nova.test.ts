/**
 * End to end on this machine's kernel: a libvirt-managed KVM domain (2 vCPUs, running) defined as OpenStack Nova
 * defines one. Since Linux 6.13 KVM's NX huge page recovery thread (`kvm-nx-lpage-re`) is a vhost_task inside the
 * QEMU process, in the cgroup of the vCPU that made it: it must count as a kernel thread, never as a third vCPU.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { runCommand, startCli, type Cli } from '../support/cli.js';
import { samples, value } from '../support/exporter.js';
import { defineAndStart, destroy, stopLibvirt, type Domain } from '../support/libvirt.js';
import { waitForThreads } from '../support/real-qemu.js';

const name = `instance-${(process.pid & 0xffffff).toString(16).padStart(8, '0')}`;
const metadata = readFileSync(new URL('../fixtures/samples/platforms/nova-metadata.xml', import.meta.url), 'utf8');
let dom: Domain;
let cli: Cli;

before(async () => {
  // Running (a guest without an OS spins in SeaBIOS): KVM makes its recovery thread at a vCPU's first KVM_RUN.
  dom = await defineAndStart({ name, kvmOnly: true, metadata });
  await waitForThreads(dom.pid, [/^kvm-nx-lpage-re$/, /^CPU 1\/KVM$/], 30_000);
  cli = await startCli();
});
after(async () => {
  await cli.terminate();
  await destroy(name);
  await stopLibvirt();
});

test('a real KVM domain: 2 vCPUs, per-vCPU series for 0 and 1 only, the NX recovery thread under kernel', async () => {
  await cli.scrape();
  const text = await cli.scrape();
  assert.equal(value(text, 'qemu_threads', { domain: name, role: 'vcpu' }), 2);
  assert.equal(value(text, 'qemu_threads', { domain: name, role: 'kernel' }), 1);
  assert.equal(value(text, 'qemu_threads', { domain: name, role: 'iothread' }), 1);
  assert.equal(value(text, 'qemu_threads', { domain: name, role: 'main' }), 1);
  const vcpus = new Set(
    [...samples(text).keys()]
      .filter((s) => s.startsWith('qemu_vcpu_') && s.includes(`domain="${name}"`))
      .map((s) => /vcpu="(\d+)"/.exec(s)?.[1]),
  );
  assert.deepEqual([...vcpus].sort(), ['0', '1']);
  console.log(
    text
      .split('\n')
      .filter((l) => /^qemu_(threads|vm_info)\{/.test(l) && l.includes(`domain="${name}"`))
      .join('\n'),
  );
});

test("Nova's metadata names the instance on qemu_vm_info, and only there", async () => {
  const text = await cli.scrape();
  assert.equal(
    value(text, 'qemu_vm_info', {
      domain: name,
      uuid: dom.uuid,
      source: 'libvirt',
      nova_name: 'web01',
      nova_project: 'webteam',
      nova_flavor: 'm1.small',
      vmid: '',
      kubevirt_name: '',
    }),
    1,
  );
  const elsewhere = [...samples(text).keys()].filter(
    (s) => s.includes(`domain="${name}"`) && !s.startsWith('qemu_vm_info{') && s.includes('nova_'),
  );
  assert.deepEqual(elsewhere, []);
});

test("explain names the instance the way Nova's users know it", async () => {
  const r = await runCommand(['explain', name, `--url=${cli.url}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout.split('\n')[0]!,
    new RegExp(
      `^${name} — Nova instance web01 \\(project webteam, flavor m1\\.small\\) \\(pid ${String(dom.pid)}, named by libvirt's status file`,
    ),
  );
  const json = JSON.parse((await runCommand(['explain', name, `--url=${cli.url}`, '--output=json'])).stdout) as {
    vms: { labels: object }[];
  };
  assert.deepEqual(json.vms[0]?.labels, { nova_name: 'web01', nova_project: 'webteam', nova_flavor: 'm1.small' });
});
