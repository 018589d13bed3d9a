/**
 * /proc/…/syscall, parsed and named: the three line shapes of fs/proc/base.c (proc_pid_syscall), the numbers of
 * both architectures' tables, and the observer on a fixture host: each worker under its system call and disk, a
 * thread that ended between the listing and the read left out, garbage counted and logged.
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { parseSyscall } from '../../src/host/procfs/syscall.js';
import { syscallKind } from '../../src/host/procfs/syscall-kinds.js';
import { ParseError } from '../../src/host/parse-error.js';
import { copyOfHost1, startExporter, value } from '../support/exporter.js';

/** `NR ARG0…ARG5 SP PC`, as the kernel prints a thread blocked in a system call. */
const call = (nr: number, ...args: number[]) =>
  `${String(nr)} ${[...args, 0, 0, 0, 0, 0, 0]
    .slice(0, 6)
    .map((a) => `0x${a.toString(16)}`)
    .join(' ')} 0x7ffd6b1c2e58 0x7f3a8c91d2ad\n`;

describe('parseSyscall and syscallKind', () => {
  test('a thread on a CPU, one blocked outside a system call, and one in a call', () => {
    assert.deepEqual(parseSyscall('running\n'), { kind: 'running' });
    assert.deepEqual(parseSyscall('-1 0x7ffd6b1c2e58 0x7f3a8c91d2ad\n'), { kind: 'none' });
    const c = parseSyscall(call(16, 30, 0x2285, 0x7ffd6b1c2f00));
    assert.deepEqual(c, { kind: 'call', nr: 16, args: [30n, 0x2285n, 0x7ffd6b1c2f00n, 0n, 0n, 0n] });
    assert.deepEqual(syscallKind(c, 'x64'), { kind: 'ioctl_sg_io', fd: 30 });
  });

  test('x86-64 and arm64 number the same calls differently; an unknown number or architecture is other', () => {
    const cases: [NodeJS.Architecture, number, string][] = [
      ['x64', 17, 'read'], // pread64
      ['x64', 295, 'read'], // preadv
      ['x64', 18, 'write'], // pwrite64
      ['x64', 75, 'flush'], // fdatasync
      ['x64', 202, 'futex'],
      ['x64', 271, 'poll'], // ppoll
      ['arm64', 67, 'read'], // pread64
      ['arm64', 69, 'read'], // preadv
      ['arm64', 68, 'write'], // pwrite64
      ['arm64', 83, 'flush'], // fdatasync
      ['arm64', 98, 'futex'],
      ['arm64', 73, 'poll'], // ppoll
      ['x64', 231, 'other'], // exit_group
      ['arm64', 17, 'other'], // getcwd, which is pread64 on x86-64
      ['riscv64', 63, 'other'],
    ];
    for (const [arch, nr, kind] of cases)
      assert.equal(syscallKind(parseSyscall(call(nr, 9)), arch).kind, kind, `${arch} ${String(nr)}`);
    // An ioctl that is not SG_IO (a vCPU's KVM_RUN, 0xae80) is other, still on its descriptor.
    assert.deepEqual(syscallKind(parseSyscall(call(16, 12, 0xae80)), 'x64'), { kind: 'other', fd: 12 });
    assert.deepEqual(syscallKind(parseSyscall(call(29, 12, 0x2285)), 'arm64'), { kind: 'ioctl_sg_io', fd: 12 });
  });

  test('garbage is a ParseError, never a guess', () => {
    for (const bad of ['', 'garbage\n', '16 0x1e\n', '16 0xzz 0 0 0 0 0 0 0\n', 'running now\n', '-1 0x1\n'])
      assert.throws(() => parseSyscall(bad), ParseError, JSON.stringify(bad));
  });
});

describe('the observer on a fixture host', () => {
  let copy: ReturnType<typeof copyOfHost1>;
  beforeEach(() => {
    copy = copyOfHost1();
  });
  afterEach(() => {
    copy.remove();
  });

  test("vm1's six workers: two in SG_IO on its LUN, one reading its qcow2, one idle; one ended, one garbage", async () => {
    const host = copy.dir;
    const task = (tid: number) => join(host, 'proc/4242/task', String(tid), 'syscall');
    mkdirSync(join(host, 'proc/4242/fd'));
    // The LUN's source is /dev/disk/by-id/wwn-…, which resolves to sdc: QEMU has it open as /dev/sdc.
    symlinkSync('/dev/sdc', join(host, 'proc/4242/fd/30'));
    symlinkSync('/var/lib/libvirt/images/vm1.qcow2', join(host, 'proc/4242/fd/31'));
    writeFileSync(task(4242), call(271, 0x5581, 3)); // the main loop in ppoll
    writeFileSync(task(5000), call(16, 30, 0x2285));
    writeFileSync(task(5001), call(16, 30, 0x2285));
    writeFileSync(task(5002), call(17, 31, 0x7f00, 0x10000));
    writeFileSync(task(5003), call(202, 0x5581, 0x80));
    // 5004 has no syscall file: it ended after the listing.
    writeFileSync(task(5005), 'garbage\n');
    const live = await startExporter(copy.roots, ['--explain.pool-busy=4', '--explain.interval=100ms']);
    try {
      const text = await live.scrape();
      const seen = (syscall: string, disk: string) =>
        value(text, 'qemu_threads_in_syscall', { domain: 'vm1', role: 'worker', syscall, disk });
      assert.equal(seen('ioctl_sg_io', 'scsi0-0-0-0'), 2);
      assert.equal(seen('read', 'virtio-disk0'), 1);
      assert.equal(seen('futex', ''), 1);
      assert.equal(value(text, 'qemu_threads_in_syscall', { domain: 'vm1', role: 'main' }), undefined);
      assert.equal(value(text, 'qemu_exporter_errors_total', { source: 'syscall', reason: 'parse' }), 1);
      assert.equal(value(text, 'qemu_exporter_source_success', { source: 'syscall' }), 1);
      // labvm has two workers, under --explain.pool-busy: not looked at, no series.
      assert.equal(value(text, 'qemu_threads_in_syscall', { domain: 'labvm' }), undefined);
    } finally {
      await live.stop();
    }
  });
});
