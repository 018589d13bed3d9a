import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { classifyThread, type ThreadContext, type ThreadFacts } from '../../src/host/qemu/thread-roles.js';

const lone: ThreadContext = { hasIothread: () => false, has: () => false, iothreads: [] };
const base: ThreadFacts = {
  tid: 200,
  pid: 100,
  comm: 'qemu-system-x86',
  processComm: 'qemu-system-x86',
  kernelThread: false,
  libvirtVcpu: undefined,
  cgroupLeaf: undefined,
  namedThreads: true,
  vm: lone,
};
const role = (f: Partial<ThreadFacts>) => classifyThread({ ...base, ...f });

test("QEMU 7.2's thread names (debug-threads=on), from the libvirt sample", () => {
  const tsv = readFileSync(new URL('../fixtures/samples/libvirt-9.0-kvm/qemu-threads.tsv', import.meta.url), 'utf8');
  const got = tsv
    .trim()
    .split('\n')
    .map((l) => {
      const [tid, comm] = l.split('\t') as [string, string];
      return [
        comm,
        classifyThread({ ...base, tid: Number(tid), pid: 18551, comm, kernelThread: comm === 'kvm-nx-lpage-re' }),
      ];
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
  const nd = { namedThreads: false };
  assert.deepEqual(role({ ...nd, libvirtVcpu: 1 }), { role: 'vcpu', vcpu: 1 });
  assert.deepEqual(role({ ...nd, cgroupLeaf: 'vcpu2' }), { role: 'vcpu', vcpu: 2 });
  assert.deepEqual(role({ ...nd, tid: 100, cgroupLeaf: 'emulator' }), { role: 'main' });
  assert.deepEqual(role({ ...nd, cgroupLeaf: 'emulator' }), { role: 'other' });
  // The first thread of an iothread's group is the iothread; later ones are workers of its pool.
  assert.deepEqual(role({ ...nd, cgroupLeaf: 'iothread1' }), { role: 'iothread', iothread: 'iothread1' });
  assert.deepEqual(role({ ...nd, cgroupLeaf: 'iothread1', vm: { ...lone, hasIothread: (id) => id === 'iothread1' } }), {
    role: 'worker',
    pool: 'iothread1',
  });
});

test('a kernel-made thread is never a vCPU, iothread, worker or main loop, whatever its cgroup, TID or name', () => {
  // kvm-nx-lpage-re sits in the cgroup of the vCPU whose KVM_RUN made it (Linux ≥ 6.13).
  assert.deepEqual(role({ comm: 'kvm-nx-lpage-re', kernelThread: true, cgroupLeaf: 'vcpu0' }), { role: 'kernel' });
  assert.deepEqual(role({ comm: 'kvm-nx-lpage-re', kernelThread: true, libvirtVcpu: 0 }), { role: 'kernel' });
  assert.deepEqual(role({ comm: 'vhost-4242', kernelThread: true, cgroupLeaf: 'emulator' }), { role: 'vhost' });
  assert.deepEqual(role({ comm: 'iou-wrk-4250', kernelThread: true, cgroupLeaf: 'iothread1' }), { role: 'io_uring' });
  assert.deepEqual(role({ comm: 'iou-sqp-4242', kernelThread: true }), { role: 'io_uring' });
  assert.deepEqual(role({ comm: 'worker', kernelThread: true }), { role: 'kernel' });
  assert.deepEqual(role({ comm: 'qemu-system-x86', kernelThread: true, tid: 100 }), { role: 'kernel' });
});

test("Proxmox VE's iothreads keep the process's name (`IO iothread-virtio0` is over 15 bytes): after call_rcu, in order", () => {
  const pve = { processComm: 'kvm', comm: 'kvm' };
  const iothreads = ['iothread-virtio0', 'iothread-scsi1'];
  assert.deepEqual(role({ ...pve, vm: { ...lone, iothreads } }), { role: 'rcu' });
  const afterRcu = { ...lone, iothreads, has: (r: string) => r === 'rcu' };
  assert.deepEqual(role({ ...pve, vm: afterRcu }), { role: 'iothread', iothread: 'iothread-virtio0' });
  assert.deepEqual(role({ ...pve, vm: { ...afterRcu, hasIothread: (id) => id === 'iothread-virtio0' } }), {
    role: 'iothread',
    iothread: 'iothread-scsi1',
  });
  assert.deepEqual(role({ ...pve, vm: { ...afterRcu, hasIothread: () => true } }), { role: 'other' });
  // A short id is named (`IO iothread1`): an unnamed thread is not it.
  assert.deepEqual(role({ ...pve, vm: { ...afterRcu, iothreads: ['iothread1'] } }), { role: 'other' });
  // Without names (no debug-threads, QEMU < 11) nothing is guessed from a name that is not there.
  assert.deepEqual(role({ ...pve, namedThreads: false, vm: { ...lone, iothreads } }), { role: 'other' });
});

test('workers are attributed to the pool of the cgroup they inherited', () => {
  assert.deepEqual(role({ comm: 'worker', cgroupLeaf: 'iothread1' }), { role: 'worker', pool: 'iothread1' });
  assert.deepEqual(role({ comm: 'worker', cgroupLeaf: 'emulator' }), { role: 'worker', pool: 'main' });
  assert.deepEqual(role({ comm: 'worker' }), { role: 'worker' });
});

test("libvirt's TIDs win over a misleading name", () => {
  assert.deepEqual(role({ comm: 'worker', libvirtVcpu: 0 }), { role: 'vcpu', vcpu: 0 });
});
