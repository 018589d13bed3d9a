/**
 * io_latency and the workers' observed system calls, as sentences: the pure rules that turn QEMU's accounting and
 * the syscall observer's counts into what explain says (the pipeline around them is tested in findings.test.ts,
 * live-syscalls.test.ts and the lab).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ioLatency } from '../../src/explain/findings/io-latency.js';
import { blockedOnStorage, observedWorkers } from '../../src/explain/findings/observed.js';
import type { DiskLatency, Span } from '../../src/explain/findings/points.js';
import type { DiskSpec } from '../../src/host/qemu/disk-spec.js';
import type { SyscallCount, VmSnapshot } from '../../src/model/snapshot.js';

const span = (latencies: DiskLatency[]) => ({ latencies }) as unknown as Span;
const noPool = () => undefined;

describe('io_latency', () => {
  test("storage's time: QEMU adds little, info, and says the threads cost the guest little", () => {
    const [f] = ioLatency(span([{ disk: 'sdc', dev: 'sdc', iops: 500, guestMs: 2.3, hostMs: 2.1 }]), noPool);
    assert.equal(f?.severity, 'info');
    assert.match(f.summary, /took 2\.30 ms each, the host device sdc 2\.10 ms: QEMU adds 0\.20 ms \(8\.70%\)/);
    assert.match(f.summary, /The time is the storage's, not QEMU's/);
    assert.equal(f.advice, '');
  });

  test('QEMU adds most of the time with its pool at the maximum: warning, the pool named, advice', () => {
    const [f] = ioLatency(span([{ disk: 'sda', dev: 'loop0', iops: 460, guestMs: 106.5, hostMs: 42.1 }]), (d) =>
      d === 'sda' ? 'Pool iothread1 (64 workers)' : undefined,
    );
    assert.equal(f?.severity, 'warning');
    assert.match(f.summary, /QEMU adds 64\.4 ms \(60\.5%\)\. Pool iothread1 \(64 workers\) is at its maximum/);
    assert.match(f.advice, /thread_pool_max/);
    assert.deepEqual(
      f.evidence.map((e) => [e.what, e.value]),
      [
        ['requests per second on disk sda', 460],
        ["time per request, as the guest saw it (QEMU's accounting)", 106.5],
        ['time per request on host device loop0', 42.1],
        ["QEMU's part", 106.5 - 42.1],
      ],
    );
  });

  test('a large share below 5 ms is not a warning; no host device: the guest time alone', () => {
    const [small, unseen] = ioLatency(
      span([
        { disk: 'vda', dev: 'vda', iops: 9000, guestMs: 0.3, hostMs: 0.05 },
        { disk: 'vdb', dev: '', iops: 100, guestMs: 8, hostMs: undefined },
      ]),
      noPool,
    );
    assert.equal(small?.severity, 'info');
    assert.equal(unseen?.severity, 'info');
    assert.match(unseen.summary, /took 8 ms each \(no host device statistics to compare with\)/);
    assert.equal(unseen.evidence.length, 2);
  });
});

const disk = (name: string, o: Partial<DiskSpec>): VmSnapshot['disks'][number] => ({
  spec: {
    name,
    bus: 'scsi',
    deviceType: 'disk',
    source: `/dev/${name}`,
    cache: 'none',
    io: 'native',
    iothread: '',
    ...o,
  },
  hostDevice: name,
  stat: undefined,
});
const vmWith = (disks: VmSnapshot['disks'], counts: Omit<SyscallCount, 'role'>[]) =>
  ({ disks, syscalls: { at: 1000, counts: counts.map((c) => ({ role: 'worker', ...c })) } }) as unknown as VmSnapshot;

describe('the workers, observed', () => {
  test("the report's LUN: SG_IO as predicted, no disagreement", () => {
    const o = observedWorkers(
      vmWith(
        [disk('sdc', { deviceType: 'lun' })],
        [
          { syscall: 'ioctl_sg_io', disk: 'sdc', file: '/dev/sdc', threads: 62 },
          { syscall: 'futex', disk: '', file: '', threads: 2 },
        ],
      ),
      1500,
    );
    assert.equal(
      o?.summary,
      'Seen in its system calls 0.50 s before this sample: of 64 workers, 62 in ioctl(SG_IO) on /dev/sdc (disk sdc) and 2 waiting for work (futex).',
    );
    assert.equal(o.idle, false);
  });

  test("io='native' configured, workers in reads on it: says the configuration is not what runs", () => {
    const o = observedWorkers(
      vmWith([disk('vda', { io: 'native' })], [{ syscall: 'read', disk: 'vda', file: '/dev/vda', threads: 30 }]),
      1000,
    );
    assert.match(
      o!.summary,
      /Disk vda is configured io='native', which needs no pool, yet 30 workers were seen in a read on it/,
    );
    assert.match(o!.summary, /a format driver \(qcow2's metadata, for one\) uses the pool/);
  });

  test('a LUN whose workers read instead of SG_IO, and SG_IO on a disk that is no LUN', () => {
    const o = observedWorkers(
      vmWith(
        [disk('sdc', { deviceType: 'lun' }), disk('sdd', { io: 'threads' })],
        [
          { syscall: 'read', disk: 'sdc', file: '/dev/sdc', threads: 3 },
          { syscall: 'ioctl_sg_io', disk: 'sdd', file: '/dev/sdd', threads: 1 },
        ],
      ),
      1000,
    );
    assert.match(
      o!.summary,
      /Disk sdc is a passthrough LUN, whose reads and writes are SG_IO ioctls, yet 3 workers were seen in a read/,
    );
    assert.match(
      o!.summary,
      /Disk sdd is not configured as a passthrough LUN, yet 1 worker was seen in ioctl\(SG_IO\) on it/,
    );
  });

  test('most workers waiting for work: idle capacity, not a backlog; nothing looked at: undefined', () => {
    const o = observedWorkers(
      vmWith(
        [disk('sda', { io: 'threads' })],
        [
          { syscall: 'futex', disk: '', file: '', threads: 63 },
          { syscall: 'running', disk: '', file: '', threads: 1 },
        ],
      ),
      1000,
    );
    assert.equal(o?.idle, true);
    assert.match(
      o.summary,
      /63 waiting for work \(futex\) and 1 running\. Most of the pool is idle capacity, not a backlog/,
    );
    assert.equal(observedWorkers({ disks: [] } as unknown as VmSnapshot, 0), undefined);
  });

  test('workers caught waiting while the host device held a whole pool of requests: no spare capacity', () => {
    const vm = vmWith(
      [disk('sda', { io: 'threads' })],
      [
        { syscall: 'futex', disk: '', file: '', threads: 34 },
        { syscall: 'read', disk: 'sda', file: '/dev/sda', threads: 30 },
      ],
    );
    assert.equal(observedWorkers(vm, 1000)?.idle, true);
    const held = observedWorkers(vm, 1000, true);
    assert.equal(held?.idle, false);
    assert.doesNotMatch(held.summary, /idle capacity/);
    assert.match(held.summary, /34 waiting for work \(futex\) and 30 in a read on \/dev\/sda \(disk sda\)/);
  });

  test('for disk sleep: who waits on which disk, per role; waiting for work or events is not storage', () => {
    const vm = {
      disks: [],
      syscalls: {
        at: 0,
        counts: [
          { role: 'iothread', syscall: 'flush', disk: 'sdc', file: '/dev/sdc', threads: 1 },
          { role: 'worker', syscall: 'read', disk: 'sdc', file: '/dev/sdc', threads: 8 },
          { role: 'worker', syscall: 'futex', disk: '', file: '', threads: 3 },
          { role: 'vcpu', syscall: 'other', disk: '', file: '', threads: 1 },
        ],
      },
    } as unknown as VmSnapshot;
    assert.equal(
      blockedOnStorage(vm),
      'Seen in their system calls: iothreads, 1 in a flush (fsync) on /dev/sdc (disk sdc); worker threads, 8 in a read on /dev/sdc (disk sdc).',
    );
    assert.equal(blockedOnStorage({ disks: [] } as unknown as VmSnapshot), undefined);
  });
});
