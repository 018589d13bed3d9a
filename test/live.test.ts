/**
 * Live tests on this host's real /proc, with fake QEMU processes (test/support/fake-qemu.c) whose threads are
 * named like QEMU's and whose worker pool grows and shrinks on command.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startExporter, samples, value, HOST_ROOTS } from './support/exporter.js';
import { startFakeQemu, type FakeQemu } from './support/fake-qemu.js';
import { assertBetween, blockReadsCompleted } from './support/proc-read.js';
import { blockDeviceOf, createRawImage, IMAGE_DIR } from './support/real-qemu.js';

type Live = Awaited<ReturnType<typeof startExporter>>;

const threads = (text: string, domain: string, role: string): number | undefined =>
  value(text, 'qemu_threads', { domain, role });
const switches = (text: string, domain: string, role: string, kind: string): number =>
  value(text, 'qemu_thread_context_switches_total', { domain, role, kind }) ?? NaN;

/** Every counter series of one domain (name{labels} → value). */
function counters(text: string, domain: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [series, v] of samples(text))
    if (series.includes('_total{') && series.includes(`domain="${domain}"`)) out.set(series, v);
  return out;
}

function assertNoCounterDecreased(before: Map<string, number>, after: Map<string, number>): void {
  for (const [series, v] of before) {
    const now = after.get(series);
    assert.ok(now !== undefined, `${series} vanished`);
    assert.ok(now >= v, `${series} went backwards: ${v} → ${now}`);
  }
}

/** Sum of one status field over the threads of a process whose name is `comm`, read straight from /proc. */
function procSum(pid: number, comm: string, field: string): number {
  let sum = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      if (readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() !== comm) continue;
      const m = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'));
      sum += Number(m?.[1] ?? 0);
    } catch {
      // the thread ended
    }
  }
  return sum;
}

describe('live: a QEMU-like process on the real /proc', () => {
  let live: Live;
  let vm: FakeQemu;
  const domain = `live-a-${String(process.pid)}`;

  before(async () => {
    vm = await startFakeQemu({ name: domain, vcpus: 4, workers: 5 });
    await sleep(300); // let the workers run: their counters are already > 0 when the exporter first sees them
    // No explain sample of its own in between (it takes a snapshot, as a scrape does): the scrapes below are the only ones.
    live = await startExporter(HOST_ROOTS, ['--census.interval=100ms', '--explain.window=2h', '--explain.interval=1h']);
  });
  after(async () => {
    await vm.stop();
    await live.stop();
  });

  test('counts threads per role and names the VM from its command line', async () => {
    const text = await live.scrape();
    assert.equal(value(text, 'qemu_vm_info', { domain, source: 'cmdline', pid: String(vm.pid), uuid: vm.uuid }), 1);
    assert.equal(threads(text, domain, 'vcpu'), 4);
    assert.equal(threads(text, domain, 'iothread'), 1);
    assert.equal(threads(text, domain, 'main'), 1);
    assert.equal(threads(text, domain, 'rcu'), 1);
    assert.equal(threads(text, domain, 'monitor'), 1);
    assert.equal(threads(text, domain, 'worker'), 5);
    assert.equal(value(text, 'qemu_thread_pool_max_threads', { domain, pool: 'main' }), 64);
    assert.equal(value(text, 'qemu_thread_pool_max_threads', { domain, pool: 'iothread1' }), 64);
    for (const vcpu of ['0', '1', '2', '3'])
      assert.ok((value(text, 'qemu_vcpu_context_switches_total', { domain, vcpu, kind: 'voluntary' }) ?? 0) > 0);
  });

  test('a thread first seen mid-life contributes its full count', async () => {
    const direct = procSum(vm.pid, 'worker', 'voluntary_ctxt_switches');
    const text = await live.scrape();
    assert.ok(direct > 0);
    assert.ok(
      switches(text, domain, 'worker', 'voluntary') >= direct,
      `exporter ${switches(text, domain, 'worker', 'voluntary')} < /proc ${direct}`,
    );
  });

  test('the worker pool follows: 60 workers, then all 60 exit at once without lowering any counter', async () => {
    await vm.send('workers 60');
    await sleep(200);
    const grown = await live.scrape();
    assert.equal(threads(grown, domain, 'worker'), 60);
    assert.ok(switches(grown, domain, 'worker', 'voluntary') > 0);

    await vm.send('workers 0');
    const drained = await live.scrape();
    assert.equal(threads(drained, domain, 'worker'), 0, 'a drained pool reads 0, it does not vanish');
    assertNoCounterDecreased(counters(grown, domain), counters(drained, domain));
    // The 5 it started with were there at the first listing (no spawn); 55 more were spawned; all 60 exited.
    assert.equal(value(drained, 'qemu_thread_exits_total', { domain, role: 'worker' }), 60);
    assert.equal(value(drained, 'qemu_thread_spawns_total', { domain, role: 'worker' }), 55);
  });

  test('a burst shorter than the scrape interval shows in spawns and the peak', async () => {
    const beforeBurst = await live.scrape();
    const spawns0 = value(beforeBurst, 'qemu_thread_spawns_total', { domain, role: 'worker' }) ?? 0;
    await vm.send('burst 20 400');
    await sleep(1500); // the burst has started and ended between two scrapes
    const text = await live.scrape();
    assert.equal(threads(text, domain, 'worker'), 0);
    assert.equal((value(text, 'qemu_thread_spawns_total', { domain, role: 'worker' }) ?? 0) - spawns0, 20);
    assert.ok((value(text, 'qemu_threads_peak', { domain, role: 'worker' }) ?? 0) >= 20);
    assertNoCounterDecreased(counters(beforeBurst, domain), counters(text, domain));
  });

  test('a thread the census saw before QEMU named it counts its spawn under its final role', async () => {
    const spawns = (text: string, role: string) => value(text, 'qemu_thread_spawns_total', { domain, role }) ?? 0;
    const exits = (text: string, role: string) => value(text, 'qemu_thread_exits_total', { domain, role }) ?? 0;
    const before = await live.scrape();
    // Unnamed for 600 ms (the census, every 100 ms, sees them with the process's name), then `worker`; gone after 4 s.
    await vm.send('lateburst 3 4000 600');
    await sleep(1500);
    const named = await live.scrape();
    assert.equal(threads(named, domain, 'worker'), 3);
    let gone = named;
    for (let i = 0; i < 100 && threads(gone, domain, 'worker') !== 0; i++) {
      await sleep(100);
      gone = await live.scrape();
    }
    assert.equal(threads(gone, domain, 'worker'), 0);
    assert.equal(spawns(gone, 'worker') - spawns(before, 'worker'), 3);
    assert.equal(exits(gone, 'worker') - exits(before, 'worker'), 3);
    for (const role of ['rcu', 'other']) {
      assert.equal(
        spawns(gone, role) - spawns(before, role),
        0,
        `no spawn left behind under the first-seen role (${role})`,
      );
      assert.equal(exits(gone, role) - exits(before, role), 0);
    }
    assertNoCounterDecreased(counters(before, domain), counters(gone, domain));
  });

  test("a killed VM's series are gone by the next scrape", async () => {
    const other = await startFakeQemu({ name: `${domain}-doomed`, vcpus: 1 });
    const seen = await live.scrape();
    assert.equal(threads(seen, `${domain}-doomed`, 'vcpu'), 1);
    await other.stop();
    const text = await live.scrape();
    assert.ok(!text.includes(`domain="${domain}-doomed"`), 'series of a dead VM survived');
  });
});

describe('live: series budget of a typical VM', () => {
  test('4 vCPUs, 2 disks, ~80 threads cost at most 200 series', async () => {
    await createRawImage(`${IMAGE_DIR}/budget-a.raw`);
    await createRawImage(`${IMAGE_DIR}/budget-b.raw`);
    const domain = `budget-${String(process.pid)}`;
    const disks = ['a', 'b'].flatMap((d) => [
      '-drive',
      `file=${IMAGE_DIR}/budget-${d}.raw,format=raw,if=none,id=drive-${d},cache=none,aio=native`,
      '-device',
      `virtio-blk-pci,drive=drive-${d},id=virtio-disk-${d},iothread=iothread1`,
    ]);
    const vm = await startFakeQemu({ name: domain, vcpus: 4, workers: 72, extraArgs: disks });
    const live = await startExporter(HOST_ROOTS);
    try {
      const dev = await blockDeviceOf(`${IMAGE_DIR}/budget-a.raw`);
      assert.ok(dev, 'the test images must live on a block-device-backed filesystem');
      const reads0 = blockReadsCompleted(dev);
      const text = await live.scrape();
      const reads1 = blockReadsCompleted(dev);
      const total = [...samples(text).keys()].filter((s) => s.includes(`domain="${domain}"`)).length;
      const threadCount = [...samples(text)]
        .filter(([s]) => s.startsWith('qemu_threads{') && s.includes(`domain="${domain}"`))
        .reduce((a, [, v]) => a + v, 0);
      assert.ok(threadCount >= 78, `only ${threadCount} threads`);
      assert.ok(total <= 200, `a typical VM costs ${total} series`);
      // Both disks map to the block device holding their image, and show its statistics.
      assert.equal(
        value(text, 'qemu_disk_info', {
          domain,
          disk: 'virtio-disk-a',
          host_device: dev,
          cache: 'none',
          io: 'native',
          iothread: 'iothread1',
        }),
        1,
      );
      assertBetween(
        reads0,
        value(text, 'qemu_disk_reads_completed_total', { domain, disk: 'virtio-disk-b' }),
        reads1,
        `reads completed by ${dev}`,
      );
      console.log(`typical VM: ${threadCount} threads, ${total} series`);
    } finally {
      await vm.stop();
      await live.stop();
    }
  });
});

test('two QEMUs with the same name are exported apart, never added up', async () => {
  const name = `twin-${String(process.pid)}`;
  const a = await startFakeQemu({ name, vcpus: 1 });
  const b = await startFakeQemu({ name, vcpus: 2 });
  const live = await startExporter(HOST_ROOTS);
  try {
    const text = await live.scrape();
    const [first, second] = [a, b].sort((x, y) => x.pid - y.pid) as [FakeQemu, FakeQemu];
    assert.equal(value(text, 'qemu_vm_info', { domain: name, pid: String(first.pid) }), 1);
    assert.equal(value(text, 'qemu_vm_info', { domain: `${name}@${String(second.pid)}`, pid: String(second.pid) }), 1);
    assert.ok((value(text, 'qemu_exporter_errors_total', { source: 'procfs', reason: 'duplicate_domain' }) ?? 0) >= 1);
  } finally {
    await a.stop();
    await b.stop();
    await live.stop();
  }
});
