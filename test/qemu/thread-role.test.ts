import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { classifyThread, type ThreadFacts } from '../../src/qemu/thread-role.js';

const base: ThreadFacts = {
  tid: 200, pid: 100, comm: 'qemu-system-x86', processComm: 'qemu-system-x86', kernelThread: false,
  libvirtVcpu: undefined, cgroupLeaf: undefined, debugThreads: true, hasIothread: () => false,
};
const role = (f: Partial<ThreadFacts>) => classifyThread({ ...base, ...f });

test("QEMU 7.2's thread names (debug-threads=on), from the libvirt sample", () => {
  const tsv = readFileSync(new URL('../fixtures/samples/libvirt-9.0-kvm/qemu-threads.tsv', import.meta.url), 'utf8');
  const got = tsv.trim().split('\n').map((l) => {
    const [tid, comm] = l.split('\t') as [string, string];
    return [comm, classifyThread({ ...base, tid: Number(tid), pid: 18551, comm, kernelThread: comm === 'kvm-nx-lpage-re' })];
  });
  assert.deepEqual(got, [
    ['qemu-system-x86', { role: 'main' }],
    ['qemu-system-x86', { role: 'rcu' }],
    ['IO iothread1', { role: 'iothread', iothread: 'iothread1' }],
    ['IO mon_iothread', { role: 'monitor' }],
    ['CPU 0/KVM', { role: 'vcpu', vcpu: 0 }],
    ['CPU 1/KVM', { role: 'vcpu', vcpu: 1 }],
    ['worker', { role: 'worker' }],
    ['kvm-nx-lpage-re', { role: 'kernel' }],
    ['worker', { role: 'worker' }],
  ]);
});

test('other named threads', () => {
  assert.deepEqual(role({ comm: 'CPU 3/TCG' }), { role: 'vcpu', vcpu: 3 });
  assert.equal(role({ comm: 'vnc_worker' }).role, 'vnc');
  assert.equal(role({ comm: 'SPICE Worker' }).role, 'spice');
  assert.equal(role({ comm: 'vhost-4242' }).role, 'vhost');
  assert.equal(role({ comm: 'vhost-4242', kernelThread: true }).role, 'vhost');
  assert.equal(role({ comm: 'live_migration' }).role, 'migration');
  assert.equal(role({ comm: 'multifdsend_3' }).role, 'migration');
  assert.equal(role({ comm: 'call_rcu' }).role, 'rcu');
  assert.equal(role({ comm: 'something-else' }).role, 'other');
});

test("libvirt's vCPU TIDs and cgroups name threads without debug-threads", () => {
  const nd = { debugThreads: false };
  assert.deepEqual(role({ ...nd, libvirtVcpu: 1 }), { role: 'vcpu', vcpu: 1 });
  assert.deepEqual(role({ ...nd, cgroupLeaf: 'vcpu2' }), { role: 'vcpu', vcpu: 2 });
  assert.deepEqual(role({ ...nd, tid: 100, cgroupLeaf: 'emulator' }), { role: 'main' });
  assert.deepEqual(role({ ...nd, cgroupLeaf: 'emulator' }), { role: 'other' });
  // The first thread of an iothread's group is the iothread; later ones are workers of its pool.
  assert.deepEqual(role({ ...nd, cgroupLeaf: 'iothread1' }), { role: 'iothread', iothread: 'iothread1' });
  assert.deepEqual(role({ ...nd, cgroupLeaf: 'iothread1', hasIothread: (id) => id === 'iothread1' }), { role: 'worker', pool: 'iothread1' });
});

test('the kernel-thread flag beats the vcpu0 cgroup that holds kvm-nx-lpage-re', () => {
  assert.deepEqual(role({ comm: 'kvm-nx-lpage-re', kernelThread: true, cgroupLeaf: 'vcpu0' }), { role: 'kernel' });
});

test('workers are attributed to the pool of the cgroup they inherited', () => {
  assert.deepEqual(role({ comm: 'worker', cgroupLeaf: 'iothread1' }), { role: 'worker', pool: 'iothread1' });
  assert.deepEqual(role({ comm: 'worker', cgroupLeaf: 'emulator' }), { role: 'worker', pool: 'main' });
  assert.deepEqual(role({ comm: 'worker' }), { role: 'worker' });
});

test("libvirt's TIDs win over a misleading name", () => {
  assert.deepEqual(role({ comm: 'worker', libvirtVcpu: 0 }), { role: 'vcpu', vcpu: 0 });
});
