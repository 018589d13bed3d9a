/** The test-support helpers work on their own: fake QEMU, real QEMU, libvirt. */
import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { startFakeQemu } from './fake-qemu.js';
import { defineAndStart, destroy, ensureLibvirt, stopLibvirt } from './libvirt.js';
import { blockDeviceOf, startRealQemu, threadNames, waitForThreads } from './real-qemu.js';
import { requireTool } from './require-tool.js';

const count = (names: Map<number, string>, name: string) => [...names.values()].filter((n) => n === name).length;
const sorted = (names: Map<number, string>) => [...names.values()].sort();

async function voluntarySwitches(pid: number, tid: number): Promise<number> {
  const status = await readFile(`/proc/${String(pid)}/task/${String(tid)}/status`, 'utf8');
  return Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(status)?.[1]);
}

describe('fake qemu', () => {
  void test('has QEMU thread names, and its pool grows, shrinks and bursts', async (t) => {
    requireTool('gcc');
    const qemu = await startFakeQemu({ name: 'fake1', vcpus: 2, workers: 3 });
    t.after(() => qemu.stop());

    assert.equal((await readFile(`/proc/${String(qemu.pid)}/comm`, 'utf8')).trim(), 'qemu-system-x86');
    assert.deepEqual(sorted(await threadNames(qemu.pid)), [
      'CPU 0/KVM',
      'CPU 1/KVM',
      'IO iothread1',
      'IO mon_iothread',
      'qemu-system-x86',
      'qemu-system-x86',
      'worker',
      'worker',
      'worker',
    ]);
    const own = await qemu.threads();
    assert.deepEqual(new Map(own.map(({ tid, name }) => [tid, name])), await threadNames(qemu.pid));

    const vcpu = own.find((th) => th.name === 'CPU 0/KVM')!;
    const before = await voluntarySwitches(qemu.pid, vcpu.tid);
    await sleep(100);
    assert.ok((await voluntarySwitches(qemu.pid, vcpu.tid)) > before, 'vCPU context switches move');

    assert.equal(await qemu.send('workers 60'), 'ok 60');
    assert.equal(count(await threadNames(qemu.pid), 'worker'), 60);
    assert.equal(await qemu.send('workers 0'), 'ok 0');
    assert.equal(count(await threadNames(qemu.pid), 'worker'), 0);

    assert.equal(await qemu.send('burst 20 200'), 'ok 20');
    assert.equal(count(await threadNames(qemu.pid), 'worker'), 20);
    await sleep(400);
    assert.equal(count(await threadNames(qemu.pid), 'worker'), 0);

    await qemu.send('workers 1');
    assert.equal(await qemu.send('spin 50'), 'ok');
    assert.match(await qemu.send('bogus'), /^error/);
  });

  void test('without debug-threads every thread keeps the process name', async (t) => {
    const qemu = await startFakeQemu({ name: 'fake2', vcpus: 4, workers: 2, debugThreads: false, namedRcu: true });
    t.after(() => qemu.stop());
    const names = await threadNames(qemu.pid);
    assert.equal(names.size, 10);
    assert.equal(count(names, 'qemu-system-x86'), 10);
    assert.equal((await qemu.threads()).filter((th) => th.name.startsWith('CPU ')).length, 4);
  });

  void test('names call_rcu on request', async (t) => {
    const qemu = await startFakeQemu({ name: 'fake3', vcpus: 1, namedRcu: true });
    t.after(() => qemu.stop());
    assert.deepEqual(sorted(await threadNames(qemu.pid)), [
      'CPU 0/KVM',
      'IO iothread1',
      'IO mon_iothread',
      'call_rcu',
      'qemu-system-x86',
    ]);
  });

  void test('dies when stopped', async () => {
    const qemu = await startFakeQemu({ name: 'fake4' });
    await qemu.stop();
    await qemu.stop();
    await assert.rejects(access(`/proc/${String(qemu.pid)}`));
  });
});

describe('real qemu', () => {
  void test('has vCPU and iothread threads and a disk on a host block device', async (t) => {
    const qemu = await startRealQemu({ name: 'smoke-real', uuid: '5a1b0e7e-1ab0-4a11-b0c5-0000000000f1' });
    t.after(() => qemu.stop());
    const names = [...(await threadNames(qemu.pid)).values()];
    for (const name of [`CPU 0/${qemu.accel}`, `CPU 1/${qemu.accel}`, 'IO iothread1', 'IO mon_iothread']) {
      assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    }
    const cmdline = await readFile(`/proc/${String(qemu.pid)}/cmdline`, 'utf8');
    assert.ok(cmdline.includes('guest=smoke-real,debug-threads=on\0-uuid\x005a1b0e7e-1ab0-4a11-b0c5-0000000000f1\0'));
    assert.ok(await blockDeviceOf(qemu.diskPath));
    await qemu.stop();
    await assert.rejects(access(`/proc/${String(qemu.pid)}`));
  });
});

describe('libvirt', () => {
  void test('starts a domain with status XML, vCPU TIDs and per-thread cgroups; destroy ends it', async (t) => {
    const name = 'smoke-lv';
    t.after(async () => {
      await destroy(name);
      await stopLibvirt();
    });
    await ensureLibvirt();
    const dom = await defineAndStart({ name, uuid: '5a1b0e7e-1ab0-4a11-b0c5-0000000000f2' });

    const status = await readFile(dom.statusPath, 'utf8');
    assert.match(status, new RegExp(`<domstatus [^>]*pid='${String(dom.pid)}'`));
    const vcpu0 = Number(/<vcpu id='0' pid='(\d+)'\/>/.exec(status)?.[1]);
    assert.ok(vcpu0 > 0, 'vcpu 0 pid in status XML');
    const names = await waitForThreads(dom.pid, [/^IO iothread1$/]);
    assert.match(names.get(vcpu0) ?? '', /^CPU 0\/(KVM|TCG)$/);
    const cgroup = await readFile(`/proc/${String(dom.pid)}/task/${String(vcpu0)}/cgroup`, 'utf8');
    assert.match(cgroup, /^\d+:(?:[^:]*\bcpu\b[^:]*)?:.*\/vcpu0$/m, cgroup); // v1 cpu controller, or v2

    await destroy(name);
    await assert.rejects(access(`/proc/${String(dom.pid)}`));
    await assert.rejects(access(dom.statusPath));
  });
});
