/**
 * The `explain` findings as an operator reads them, from real configurations (test/fixtures/samples: the operator's
 * report-vm1 and a libvirt 9 capture) driven through the exporter's real pipeline over a /proc + /sys tree that
 * changes between snapshots, with a simulated clock (a sample every 15 s, as the explain history keeps them).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Evidence, Finding } from '../../src/explain/findings/finding.js';
import { History } from '../../src/explain/history.js';
import type { ExplainReport } from '../../src/explain/report.js';
import { explainText } from '../../src/explain/text.js';
import type { Role } from '../../src/host/qemu/thread-roles.js';
import type { Snapshot, VmSnapshot } from '../../src/model/snapshot.js';
import {
  advance,
  advanceDisk,
  domstatus,
  idleDisk,
  ProcScenario,
  startPipeline,
  type BlockCounters,
  type Pipeline,
  type Rates,
  type ScenarioThread,
  type ScenarioVm,
} from '../support/proc-scenario.js';

const samples = fileURLToPath(new URL('../fixtures/samples', import.meta.url));
const cache = fileURLToPath(new URL('../.cache', import.meta.url));

/** Prints what `explain` says of a scenario and keeps it in test/.cache (the README quotes it). */
async function keep(name: string, report: ExplainReport): Promise<void> {
  const text = explainText(report);
  console.log(`explain, ${name}:\n${text}`);
  await mkdir(cache, { recursive: true });
  await writeFile(join(cache, `explain-${name}.txt`), text);
}
const sample = (path: string): string => readFileSync(join(samples, path), 'utf8');
const argvOf = (cmdline: string): string[] => cmdline.trim().split(/\s+/);

/** The operator's QEMU command line (report-vm1), as /proc/PID/cmdline shows it: libvirt ran /usr/libexec/qemu-kvm. */
const REPORT_ARGV = ['/usr/libexec/qemu-kvm', ...argvOf(sample('report-vm1/qemu-cmdline.txt')).slice(1)];
/** The passthrough LUN's source in the report (`-drive file=…` and `<source dev=…>`). */
const LUN = '/dev/disk/by-id/wwn-0x60a010a0a976d6001962194c40c86ee6';
/** The libvirt 9 capture's command line (JSON -blockdev, a raw file on scsi-hd with aio threads, iothread1). */
const LABVM_ARGV = argvOf(sample('libvirt-9.0-kvm/qemu-cmdline.txt'));

const T0 = Date.parse('2024-03-01T10:00:00Z');
const STEP_S = 15;
const at = (k: number): number => T0 + k * STEP_S * 1000;

const thread = (
  tid: number,
  comm: string,
  start: number,
  cgroup?: string,
  extra: Partial<ScenarioThread> = {},
): ScenarioThread => ({
  tid,
  comm,
  state: 'S',
  utime: 0,
  stime: 0,
  vol: 0,
  invol: 0,
  waitNs: 0,
  start,
  ...(cgroup === undefined ? {} : { cgroup }),
  ...extra,
});

/**
 * report-vm1 at rest: the 11 threads of the report (main, call_rcu, iothread1, the monitor's iothread, 4 vCPUs,
 * SPICE, vhost, KVM's nx-lpage kernel thread), in libvirt's cgroups as libvirt places them. `named`: debug-threads=on.
 */
function reportThreads(named = true): ScenarioThread[] {
  const n = (comm: string) => (named ? comm : 'qemu-kvm');
  return [
    thread(4242, 'qemu-kvm', 500, 'emulator'),
    thread(4243, 'qemu-kvm', 500, 'emulator'),
    thread(4244, n('IO iothread1'), 501, 'iothread1'),
    thread(4245, n('IO mon_iothread'), 501, 'emulator'),
    ...[0, 1, 2, 3].map((i) => thread(4246 + i, n(`CPU ${String(i)}/KVM`), 502, `vcpu${String(i)}`)),
    thread(4250, n('SPICE Worker'), 503, 'emulator'),
    thread(4251, 'vhost-4242', 503, 'emulator'),
    thread(5100, 'kvm-nx-lpage-re', 502, 'vcpu0', { state: 'I', kernel: 'vhost_task' }),
  ];
}

/** `n` block-pool workers, spawned by iothread1 (so in its cgroup). */
const workers = (n: number, firstTid = 6000, cgroup = 'iothread1', comm = 'worker'): ScenarioThread[] =>
  Array.from({ length: n }, (_, i) => thread(firstTid + i, comm, 90_000 + i, cgroup));

/** A VM on a scenario host, its host block devices, and the pipeline reading it. */
interface World {
  host: ProcScenario;
  vm: ScenarioVm;
  disks: Map<string, BlockCounters>;
  p: Pipeline;
}

async function world(
  vm: ScenarioVm,
  o: { links?: Record<string, string>; status?: string; files?: string[] } = {},
): Promise<World> {
  const host = ProcScenario.create();
  const disks = new Map<string, BlockCounters>();
  try {
    for (const [link, dev] of Object.entries(o.links ?? {})) {
      host.linkDisk(link, dev);
      disks.set(dev, idleDisk());
      host.writeBlockStat(dev, idleDisk());
    }
    for (const f of o.files ?? []) host.put(join('rootfs', f), '');
    if (o.status !== undefined) host.writeStatusFile('vm', o.status);
    host.writeVm(vm);
    return { host, vm, disks, p: await startPipeline(host.roots, { t0: T0 }) };
  } catch (err) {
    host.cleanup();
    throw err;
  }
}

/** Runs a scenario and always tears it down. */
async function withWorld(
  vm: ScenarioVm,
  o: Parameters<typeof world>[1],
  body: (w: World) => Promise<void>,
): Promise<void> {
  const w = await world(vm, o);
  try {
    await body(w);
  } finally {
    await w.p.stop();
    w.host.cleanup();
  }
}

/** Sample k: the clock moves 15 s (for k > 0, `change` moves counters on and changes threads), the tree is written, the exporter reads it. */
async function sampleAt(w: World, k: number, change?: (seconds: number) => void): Promise<Snapshot> {
  if (k > 0) change?.(STEP_S);
  w.host.writeVm(w.vm);
  for (const [dev, c] of w.disks) w.host.writeBlockStat(dev, c);
  return w.p.read(at(k));
}

/** Moves every thread on at the rates `rates` gives it (none: it sleeps), and sets its state when `state` says. */
function runThreads(
  vm: ScenarioVm,
  seconds: number,
  rates: (t: ScenarioThread) => Rates | undefined,
  state?: (t: ScenarioThread) => string | undefined,
): void {
  for (const t of vm.threads) {
    const r = rates(t);
    if (r) advance(t, seconds, r);
    const s = state?.(t);
    if (s !== undefined) t.state = s;
  }
}

const isWorker = (t: ScenarioThread): boolean => t.tid >= 6000;
const vcpuIndex = (t: ScenarioThread): number | undefined =>
  t.tid >= 4246 && t.tid <= 4249 ? t.tid - 4246 : undefined;

function only(findings: Finding[], id: string): Finding {
  const hits = findings.filter((f) => f.id === id);
  assert.equal(hits.length, 1, `one ${id} finding expected; got:\n${describe(findings)}`);
  return hits[0]!;
}

function none(findings: Finding[], ...ids: string[]): void {
  const hits = findings.filter((f) => ids.includes(f.id));
  assert.equal(hits.length, 0, `no ${ids.join('/')} finding expected; got:\n${describe(hits)}`);
}

const describe = (fs: Finding[]): string =>
  fs.map((f) => `  ${f.severity} [${f.id}] ${f.subject}: ${f.summary}`).join('\n') || '  (none)';

/** The one evidence line whose `what` matches. */
function evidence(f: Finding, what: RegExp): Evidence {
  const hits = f.evidence.filter((e) => what.test(e.what));
  assert.equal(
    hits.length,
    1,
    `one evidence line ${String(what)} expected in ${f.id}; have: ${f.evidence.map((e) => e.what).join(' | ')}`,
  );
  return hits[0]!;
}

function near(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: ${String(actual)}, expected ${String(expected)} ± ${String(tolerance)}`,
  );
}

/** Each phrase in the text, ignoring case: a phrase may start a sentence or sit inside one. */
function includesAll(text: string, phrases: string[]): void {
  for (const p of phrases)
    assert.ok(text.toLowerCase().includes(p.toLowerCase()), `expected ${JSON.stringify(p)} in:\n${text}`);
}

/** The summary says the pool is known from libvirt's cgroup of the workers, not inferred. */
const WHOSE_POOL_FROM_CGROUP = /workers'.*cgroup|cgroup.*workers/i;

const threadsAt = (r: { threads: { roles: Partial<Record<Role, number[]>> } }, i: number): number =>
  Object.values(r.threads.roles).reduce((s, series) => s + (series.at(i) ?? 0), 0);

/** fio --iodepth=64 on the LUN: 20,000 requests a second at 3.2 ms each, 64 in flight (Little's law). */
const FIO = { iops: 20_000, latencyMs: 3.2, util: 1, inFlight: 64 };

/** The rest of a busy VM: vCPUs run the guest, iothread1 hands requests on, the main loop ticks. */
function busyVm(t: ScenarioThread): Rates | undefined {
  if (vcpuIndex(t) !== undefined) return { vol: 2000, invol: 10, waitMs: 1, utime: 50 };
  if (t.tid === 4244) return { vol: 5000, invol: 5, waitMs: 2, stime: 20 };
  if (t.tid === 4242) return { vol: 200, invol: 1, waitMs: 0.5, utime: 2 };
  return undefined;
}

/** A worker of a busy pool: blocks on every request, hardly ever waits for a CPU. */
const busyWorker: Rates = { vol: 150, invol: 0.2, waitMs: 0.5, stime: 1 };

/** The operator's fio run: 3 samples at rest, then 64 workers appear and stay for 6 samples (2 minutes in all). */
async function operatorsFioRun(w: World, workerState = 'S'): Promise<void> {
  for (let k = 0; k <= 2; k++)
    await sampleAt(w, k, (s) => {
      runThreads(w.vm, s, busyVm);
    });
  const rest = w.p.vm(at(2), 'vm1');
  assert.equal(threadsAt(rest, -1), 11, 'the report: 11 threads at rest');
  none(rest.findings, 'worker_pool');
  w.vm.threads.push(...workers(64));
  for (let k = 3; k <= 8; k++) {
    await sampleAt(w, k, (s) => {
      runThreads(
        w.vm,
        s,
        (t) => (isWorker(t) ? busyWorker : busyVm(t)),
        (t) => (isWorker(t) ? workerState : undefined),
      );
      advanceDisk(w.disks.get('sdc')!, s, FIO);
    });
  }
}

test("the operator's report, bare QEMU: 11 threads at rest, 75 under fio; iothread1's pool at its maximum of 64 is the passthrough LUN's SG_IO, not a misconfiguration", async () => {
  const vm: ScenarioVm = { pid: 4242, comm: 'qemu-kvm', argv: REPORT_ARGV, threads: reportThreads() };
  await withWorld(
    vm,
    { links: { [LUN]: 'sdc' }, files: ['var/lib/libvirt/images/vm1.qcow2', 'var/lib/libvirt/images/config-vm1.iso'] },
    async (w) => {
      await operatorsFioRun(w);
      const r = w.p.vm(at(8), 'vm1');
      await keep('report-vm1-cmdline', w.p.report(at(8), 'vm1'));
      assert.equal(r.source, 'cmdline');
      assert.equal(r.samples, 9);
      assert.equal(r.seconds, 120);
      assert.equal(threadsAt(r, -1), 75, 'the report: 75 threads during fio');
      assert.deepEqual(r.threads.roles.worker, [0, 0, 0, 64, 64, 64, 64, 64, 64]);

      const pool = only(r.findings, 'worker_pool');
      assert.equal(pool.severity, 'warning', 'at its maximum');
      assert.equal(pool.subject, 'pool iothread1');
      includesAll(pool.summary, [
        '64 worker threads',
        'maximum',
        '6 of 9 samples',
        'waits inside QEMU for a free worker',
        // Whose pool: no cgroups here, so from the disk whose host device is busy, and the iothread it runs in.
        'inferred',
        'disk scsi0-0-0-0',
        'runs in iothread1',
        'disk scsi0-0-0-0 is a passthrough LUN',
        'SG_IO',
        "io='native' here",
        'Expected, not a misconfiguration',
      ]);
      assert.doesNotMatch(
        pool.summary,
        /disk (virtio-disk0|ide0-0-0)/i,
        'the idle qcow2 disk and the CD-ROM are not the cause',
      );
      assert.equal(evidence(pool, /^worker threads now$/).value, 64);
      assert.equal(evidence(pool, /^worker threads, highest seen/).value, 64);
      assert.equal(evidence(pool, /^pool maximum$/).value, 64);
      assert.equal(evidence(pool, /^requests in flight on sdc \(disk scsi0-0-0-0\)/).value, 64);
      includesAll(pool.advice, ['thread_pool_max', 'queue depth']);
      assert.doesNotMatch(
        pool.advice,
        /io='native'/,
        'a LUN needs the pool whatever io= says: switching io= is no advice',
      );

      const blocking = r.findings.filter((f) => f.id === 'blocking_io');
      const workersSwitching = blocking.find((f) => f.subject === 'worker threads');
      assert.ok(workersSwitching, `a blocking_io finding on the workers expected; got:\n${describe(r.findings)}`);
      assert.equal(workersSwitching.severity, 'info');
      includesAll(workersSwitching.summary, ['voluntar', 'not a problem', '3.20 ms a request takes on sdc']);
      // 64 workers × 150 switches/s for the 90 s they lived (spawned 15 s before the sample that first saw them, and
      // counted in full), over the 120 s of history.
      near(
        evidence(workersSwitching, /^voluntary context switches$/).value,
        (64 * 150 * 90) / 120,
        1,
        'voluntary switches/s',
      );
      assert.ok(
        evidence(workersSwitching, /^run-queue wait, share/).value < 1,
        'run-queue wait is a tiny share of the time',
      );
      assert.ok(evidence(workersSwitching, /^run-queue wait per switch$/).value < 10, 'microseconds per switch');
      near(evidence(workersSwitching, /^average request latency on sdc$/).value, 3.2, 0.01, 'sdc latency (ms)');
      assert.equal(workersSwitching.advice, '');

      none(r.findings, 'cpu_contention', 'vcpu_starved', 'disk_sleep', 'roles_inferred', 'short_history');
      assert.ok(r.findings.every((f) => f.severity !== 'critical'));
    },
  );
});

test('SG_IO workers sleep in D while the LUN serves them: at 3.2 ms per request that is not "slow storage"', async () => {
  const vm: ScenarioVm = { pid: 4242, comm: 'qemu-kvm', argv: REPORT_ARGV, threads: reportThreads() };
  await withWorld(vm, { links: { [LUN]: 'sdc' } }, async (w) => {
    // blk_execute_rq() waits for an SG_IO request uninterruptibly: a busy passthrough LUN's workers are in D.
    await operatorsFioRun(w, 'D');
    const r = w.p.vm(at(8), 'vm1');
    const sleep = r.findings.filter((f) => f.id === 'disk_sleep');
    assert.deepEqual(
      sleep.filter((f) => f.severity !== 'info' || /slow/.test(f.summary)).map((f) => f.summary),
      [],
      'a LUN answering in 3.2 ms with the 64 requests fio keeps in flight is healthy',
    );
  });
});

test("the same VM managed by libvirt: the pool is known from the workers' cgroup, and the LUN is named by its target dev, sdc", async () => {
  const vm: ScenarioVm = {
    pid: 4242,
    comm: 'qemu-kvm',
    argv: REPORT_ARGV,
    threads: reportThreads(),
    cgroupBase: '/machine/qemu-29-vm1.libvirt-qemu',
  };
  const status = domstatus(sample('report-vm1/domain-vm1.xml'), 4242, [4246, 4247, 4248, 4249]);
  await withWorld(vm, { links: { [LUN]: 'sdc' }, status }, async (w) => {
    await operatorsFioRun(w);
    const snap = w.p.history.vms()[0]!.at(-1)!.vm;
    assert.equal(snap.identity.source, 'libvirt');
    assert.deepEqual(snap.pools, [
      { pool: 'main', max: 64, threads: 0 },
      { pool: 'iothread1', max: 64, threads: 64 },
    ]);
    assert.deepEqual(
      snap.disks.map((d) => [d.spec.name, d.spec.deviceType, d.spec.iothread, d.hostDevice]),
      [
        ['vda', 'disk', '', ''],
        ['hda', 'cdrom', '', ''],
        ['sdc', 'lun', 'iothread1', 'sdc'],
      ],
    );

    const r = w.p.vm(at(8), 'vm1');
    await keep('report-vm1-libvirt', w.p.report(at(8), 'vm1'));
    assert.equal(r.source, 'libvirt');
    assert.equal(r.uuid, 'e7b9aea0-564d-424b-bc87-9bb5375657f7');
    assert.equal(threadsAt(r, -1), 75);
    const pool = only(r.findings, 'worker_pool');
    assert.equal(pool.severity, 'warning');
    assert.equal(pool.subject, 'pool iothread1');
    includesAll(pool.summary, [
      '64 worker threads',
      'disk sdc is a passthrough LUN',
      'SG_IO',
      'Expected, not a misconfiguration',
    ]);
    assert.match(pool.summary, WHOSE_POOL_FROM_CGROUP);
    assert.equal(evidence(pool, /^pool maximum$/).value, 64);
    assert.doesNotMatch(pool.summary, /inferred/);
    assert.equal(evidence(pool, /^requests in flight on sdc \(disk sdc\)/).value, 64);
    assert.equal(evidence(pool, /^worker threads, highest seen/).value, 64);
    none(r.findings, 'roles_inferred', 'cpu_contention', 'vcpu_starved');
  });
});

test('after fio the workers exit: the pool finding stays while the window holds the burst (now 0, at most 64), then goes; a VM that ends leaves the report', async () => {
  const vm: ScenarioVm = {
    pid: 4242,
    comm: 'qemu-kvm',
    argv: REPORT_ARGV,
    threads: reportThreads(),
    cgroupBase: '/machine/qemu-29-vm1.libvirt-qemu',
  };
  const status = domstatus(sample('report-vm1/domain-vm1.xml'), 4242, [4246, 4247, 4248, 4249]);
  await withWorld(vm, { links: { [LUN]: 'sdc' }, status }, async (w) => {
    await operatorsFioRun(w);
    w.vm.threads = w.vm.threads.filter((t) => !isWorker(t));
    const quiet = (s: number) => {
      runThreads(w.vm, s, busyVm);
      advanceDisk(w.disks.get('sdc')!, s, { iops: 0, latencyMs: 0, util: 0, inFlight: 0 });
    };
    await sampleAt(w, 9, quiet);
    const after = w.p.vm(at(9), 'vm1');
    assert.equal(threadsAt(after, -1), 11, 'back to the 11 threads at rest');
    const pool = only(after.findings, 'worker_pool');
    assert.equal(evidence(pool, /^worker threads now$/).value, 0);
    assert.equal(evidence(pool, /^worker threads, highest seen/).value, 64);

    // Five minutes on, the burst has left the window.
    for (let k = 10; k <= 30; k++) await sampleAt(w, k, quiet);
    const later = w.p.vm(at(30), 'vm1');
    assert.ok(later.samples <= 300 / 15 + 2, `${String(later.samples)} samples`);
    none(later.findings, 'worker_pool');

    w.host.removeVm(4242);
    await w.p.read(at(31));
    assert.deepEqual(w.p.report(at(31)).vms, [], 'a VM missing from a complete snapshot has ended');
  });
});

test("io='threads' is the cause (libvirt 9 capture, bare QEMU): each request holds a worker; advice io='native' or io_uring", async () => {
  // The capture's threads (qemu-threads.tsv) plus 18 more workers of iothread1: 20 busy, under the maximum.
  const vm: ScenarioVm = {
    pid: 18551,
    comm: 'qemu-system-x86',
    argv: LABVM_ARGV,
    threads: [
      thread(18551, 'qemu-system-x86', 7000),
      thread(18555, 'qemu-system-x86', 7000),
      thread(18556, 'IO iothread1', 7001),
      thread(18557, 'IO mon_iothread', 7001),
      thread(18558, 'CPU 0/KVM', 7002),
      thread(18559, 'CPU 1/KVM', 7002),
      thread(18562, 'kvm-nx-lpage-re', 7002, undefined, { state: 'I', kernel: 'vhost_task' }),
    ],
  };
  await withWorld(vm, { files: ['var/lib/libvirt/images/labvm-sdc.raw'] }, async (w) => {
    await sampleAt(w, 0);
    w.vm.threads.push(...workers(20, 18600));
    for (let k = 1; k <= 4; k++)
      await sampleAt(w, k, (s) => {
        runThreads(w.vm, s, (t) => (t.comm === 'worker' ? busyWorker : undefined));
      });
    const r = w.p.vm(at(4), 'labvm');
    const pool = only(r.findings, 'worker_pool');
    assert.equal(pool.severity, 'info', '20 of 64: busy, not full');
    assert.equal(pool.subject, 'pool iothread1');
    includesAll(pool.summary, [
      '20 worker threads',
      "disk scsi0-0-0-2 uses io='threads'",
      'each request in flight holds a worker thread',
      'runs in iothread1',
    ]);
    assert.doesNotMatch(pool.summary, /passthrough|SG_IO|waits inside QEMU/);
    assert.equal(evidence(pool, /^pool maximum$/).value, 64);
    includesAll(pool.advice, ['scsi0-0-0-2', "io='native'", "io='io_uring'", 'from the iothread itself']);
    assert.equal(evidence(pool, /^worker threads, highest seen/).value, 20);
  });
});

test("no io= on a plain disk defaults to io='threads' (the report's VM with scsi-hd): the pool full at 64 is the cause, with io='native' as the cure", async () => {
  const argv = REPORT_ARGV.map((a) => a.replace(',aio=native', '').replace(/^scsi-block,/, 'scsi-hd,'));
  assert.notDeepEqual(argv, REPORT_ARGV);
  const vm: ScenarioVm = { pid: 4242, comm: 'qemu-kvm', argv, threads: reportThreads() };
  await withWorld(vm, { links: { [LUN]: 'sdc' } }, async (w) => {
    await operatorsFioRun(w);
    const r = w.p.vm(at(8), 'vm1');
    const pool = only(r.findings, 'worker_pool');
    assert.equal(pool.severity, 'warning');
    assert.equal(pool.subject, 'pool iothread1');
    includesAll(pool.summary, [
      "disk scsi0-0-0-0 sets no io=, which defaults to io='threads'",
      'each request in flight holds a worker thread',
      '64 worker threads',
      'waits inside QEMU for a free worker',
    ]);
    assert.doesNotMatch(pool.summary, /passthrough|SG_IO|Expected, not a misconfiguration/);
    includesAll(pool.advice, ["For disk scsi0-0-0-0, io='native'", "io='io_uring'", 'thread_pool_max']);
    assert.equal(evidence(pool, /^requests in flight on sdc \(disk scsi0-0-0-0\)/).value, 64);
  });
});

test("io='threads' under libvirt (report-vm1's sdc as device='disk' io='threads'): disk sdc is the cause, the pool known from the cgroup", async () => {
  const domain = sample('report-vm1/domain-vm1.xml')
    .replace(
      "<disk type='block' device='lun' sgio='filtered' snapshot='no'>",
      "<disk type='block' device='disk' snapshot='no'>",
    )
    .replace("cache='none' error_policy='stop' io='native'", "cache='none' error_policy='stop' io='threads'");
  const argv = REPORT_ARGV.map((a) => a.replace(',aio=native', ',aio=threads').replace(/^scsi-block,/, 'scsi-hd,'));
  const vm: ScenarioVm = {
    pid: 4242,
    comm: 'qemu-kvm',
    argv,
    threads: reportThreads(),
    cgroupBase: '/machine/qemu-29-vm1.libvirt-qemu',
  };
  await withWorld(
    vm,
    { links: { [LUN]: 'sdc' }, status: domstatus(domain, 4242, [4246, 4247, 4248, 4249]) },
    async (w) => {
      await sampleAt(w, 0);
      w.vm.threads.push(...workers(24));
      for (let k = 1; k <= 4; k++) {
        await sampleAt(w, k, (s) => {
          runThreads(w.vm, s, (t) => (isWorker(t) ? busyWorker : busyVm(t)));
          advanceDisk(w.disks.get('sdc')!, s, { iops: 8000, latencyMs: 3, util: 0.9, inFlight: 24 });
        });
      }
      const pool = only(w.p.vm(at(4), 'vm1').findings, 'worker_pool');
      assert.equal(pool.severity, 'info');
      assert.equal(pool.subject, 'pool iothread1');
      includesAll(pool.summary, ["disk sdc uses io='threads'", '24 worker threads']);
      assert.match(pool.summary, WHOSE_POOL_FROM_CGROUP);
      includesAll(pool.advice, ["For disk sdc, io='native'", "io='io_uring'"]);
      assert.equal(evidence(pool, /^requests in flight on sdc \(disk sdc\)/).value, 24);
    },
  );
});

test("io='native' on a plain disk: no workers, no worker_pool finding (nothing at all to report); workers that do appear are not blamed on io=", async () => {
  const argv = LABVM_ARGV.map((a) => a.replace('"aio":"threads"', '"aio":"native"'));
  assert.notDeepEqual(argv, LABVM_ARGV);
  const vm: ScenarioVm = {
    pid: 18551,
    comm: 'qemu-system-x86',
    argv,
    threads: [
      thread(18551, 'qemu-system-x86', 7000),
      thread(18555, 'qemu-system-x86', 7000),
      thread(18556, 'IO iothread1', 7001),
      thread(18557, 'IO mon_iothread', 7001),
      thread(18558, 'CPU 0/KVM', 7002),
      thread(18559, 'CPU 1/KVM', 7002),
    ],
  };
  await withWorld(vm, {}, async (w) => {
    for (let k = 0; k <= 4; k++)
      await sampleAt(w, k, (s) => {
        runThreads(w.vm, s, (t) => (t.tid === 18556 ? { vol: 50, waitMs: 0.1 } : undefined));
      });
    const quiet = w.p.vm(at(4), 'labvm');
    assert.equal(quiet.samples, 5);
    assert.deepEqual(quiet.findings, [], describe(quiet.findings));

    // A burst of 12 workers anyway (flushes, discards): the finding says no disk sends its reads and writes there.
    w.vm.threads.push(...workers(12, 18600));
    await sampleAt(w, 5, (s) => {
      runThreads(w.vm, s, (t) => (t.comm === 'worker' ? { vol: 20 } : undefined));
    });
    const pool = only(w.p.vm(at(5), 'labvm').findings, 'worker_pool');
    assert.equal(pool.severity, 'info');
    includesAll(pool.summary, ['12 worker threads', 'no disk it serves sends reads and writes to the pool']);
    assert.doesNotMatch(pool.summary, /io='threads'|passthrough/);
    assert.equal(pool.advice, '');
  });
});

test('cpu_contention: the iothread, the workers and the main loop wait for a CPU 12–20% of the time, with many involuntary switches', async () => {
  const vm: ScenarioVm = {
    pid: 4242,
    comm: 'qemu-kvm',
    argv: REPORT_ARGV,
    threads: [...reportThreads(), ...workers(16)],
  };
  await withWorld(vm, { links: { [LUN]: 'sdc' } }, async (w) => {
    for (let k = 0; k <= 4; k++) {
      await sampleAt(w, k, (s) => {
        runThreads(w.vm, s, (t) => {
          if (t.tid === 4244) return { vol: 3000, invol: 500, waitMs: 200, stime: 60 };
          if (t.tid === 4242) return { vol: 300, invol: 100, waitMs: 120, utime: 30 };
          if (isWorker(t)) return { vol: 150, invol: 50, waitMs: 150, stime: 5 };
          if (vcpuIndex(t) !== undefined) return { vol: 1000, invol: 20, waitMs: 20, utime: 80 };
          return undefined;
        });
        advanceDisk(w.disks.get('sdc')!, s, { iops: 2400, latencyMs: 1, util: 0.5, inFlight: 3 });
      });
    }
    const r = w.p.vm(at(4), 'vm1');
    const c = only(r.findings, 'cpu_contention');
    assert.equal(c.severity, 'warning');
    for (const role of [/iothread/, /worker/, /main/]) assert.match(c.subject, role);
    includesAll(c.summary, ['waited for a CPU', '20%', '15%', '12%', 'involuntary context switches', 'CPU contention']);
    near(evidence(c, /^iothread.*run-queue wait, share/).value, 20, 0.1, 'iothread wait %');
    near(evidence(c, /^worker.*run-queue wait, share/).value, 15, 0.1, 'worker wait % (per thread)');
    near(evidence(c, /^main.*run-queue wait, share/).value, 12, 0.1, 'main loop wait %');
    near(evidence(c, /^worker.*involuntary/).value, 16 * 50, 1, 'worker involuntary switches/s');
    near(evidence(c, /^iothread.*involuntary/).value, 500, 1, 'iothread involuntary switches/s');
    includesAll(c.advice, ['<emulatorpin>', '<iothreadpin>']);
    // The contended roles are not also explained away as harmless blocking I/O, and the vCPUs (2%) are fine.
    assert.deepEqual(
      r.findings.filter((f) => f.id === 'blocking_io' && /worker|main|iothread/.test(f.subject)).map((f) => f.subject),
      [],
    );
    none(r.findings, 'vcpu_starved');
  });
});

test('vcpu_starved: one vCPU of four waits on the run queue 25% of the time: that one is named, and only that one', async () => {
  const vm: ScenarioVm = { pid: 4242, comm: 'qemu-kvm', argv: REPORT_ARGV, threads: reportThreads() };
  await withWorld(vm, {}, async (w) => {
    for (let k = 0; k <= 4; k++) {
      await sampleAt(w, k, (s) => {
        runThreads(w.vm, s, (t) => {
          const i = vcpuIndex(t);
          if (i === undefined) return undefined;
          return i === 2
            ? { vol: 800, invol: 400, waitMs: 250, utime: 60 }
            : { vol: 800, invol: 5, waitMs: 10, utime: 60 };
        });
      });
    }
    const r = w.p.vm(at(4), 'vm1');
    const v = only(r.findings, 'vcpu_starved');
    assert.equal(v.severity, 'warning');
    assert.equal(v.subject, 'vCPUs');
    assert.match(v.summary, /^vCPU 2 waited on the host's run queue 25% of the time/);
    includesAll(v.summary, ['starved', 'steal time']);
    assert.doesNotMatch(v.summary, /vCPUs? [013]\b/);
    assert.deepEqual(
      v.evidence.map((e) => e.what),
      ['vCPU 2: run-queue wait, share of wall time', 'vCPU 2: involuntary context switches'],
    );
    near(evidence(v, /run-queue wait/).value, 25, 0.1, 'vCPU 2 wait %');
    near(evidence(v, /involuntary/).value, 400, 1, 'vCPU 2 involuntary switches/s');
    includesAll(v.advice, ['<vcpupin>']);
    none(r.findings, 'cpu_contention');
  });
});

test('disk_sleep: workers in D in 4 of 5 samples while sdc takes 40 ms per request: a warning naming sdc and its latency', async () => {
  const vm: ScenarioVm = {
    pid: 4242,
    comm: 'qemu-kvm',
    argv: REPORT_ARGV,
    threads: [...reportThreads(), ...workers(6)],
  };
  await withWorld(vm, { links: { [LUN]: 'sdc' } }, async (w) => {
    for (let k = 0; k <= 4; k++) {
      await sampleAt(w, k, (s) => {
        // 200 requests a second at 40 ms each: 8 in flight; four workers are waiting in D at every look.
        runThreads(
          w.vm,
          s,
          (t) => (isWorker(t) ? { vol: 33, invol: 0.1, waitMs: 0.1 } : undefined),
          (t) => (isWorker(t) ? (t.tid < 6004 ? 'D' : 'S') : undefined),
        );
        advanceDisk(w.disks.get('sdc')!, s, { iops: 200, latencyMs: 40, util: 0.95, inFlight: 8, writeShare: 0.3 });
      });
    }
    const r = w.p.vm(at(4), 'vm1');
    const d = only(r.findings, 'disk_sleep');
    assert.equal(d.severity, 'warning');
    assert.equal(d.subject, 'worker threads');
    includesAll(d.summary, [
      'uninterruptible disk sleep',
      '4 of 5 samples',
      'worker threads',
      'sdc',
      'scsi0-0-0-0',
      '40 ms per request',
    ]);
    assert.doesNotMatch(d.summary, /stuck/);
    near(evidence(d, /^average request latency on sdc$/).value, 40, 0.01, 'latency (ms)');
    assert.equal(evidence(d, /in flight on sdc/).value, 8);
    near(evidence(d, /^sdc busy$/).value, 95, 0.01, 'sdc busy %');
    assert.equal(evidence(d, /^threads in disk sleep, at most$/).value, 4);
    near(evidence(d, /^samples with threads in disk sleep$/).value, 80, 0.01, '% of samples');
    includesAll(d.advice, ['iostat -x sdc']);
  });
});

test('disk_sleep under its threshold: D in 2 of 5 samples is no finding', async () => {
  const vm: ScenarioVm = {
    pid: 4242,
    comm: 'qemu-kvm',
    argv: REPORT_ARGV,
    threads: [...reportThreads(), ...workers(6)],
  };
  await withWorld(vm, { links: { [LUN]: 'sdc' } }, async (w) => {
    for (let k = 0; k <= 4; k++) {
      await sampleAt(w, k, (s) => {
        runThreads(
          w.vm,
          s,
          (t) => (isWorker(t) ? { vol: 33 } : undefined),
          (t) => (isWorker(t) ? (k >= 3 && t.tid < 6002 ? 'D' : 'S') : undefined),
        );
        advanceDisk(w.disks.get('sdc')!, s, { iops: 200, latencyMs: 40, util: 0.95, inFlight: 8 });
      });
    }
    none(w.p.vm(at(4), 'vm1').findings, 'disk_sleep');
  });
});

/** Four workers in D on a LUN that completes nothing (busy all along, 4 requests in flight): samples `from` to `to`. */
async function stuckLun(w: World, from: number, to: number): Promise<void> {
  const sdc = w.disks.get('sdc')!;
  if (from === 0) {
    for (const t of w.vm.threads) if (isWorker(t)) t.state = 'D';
    Object.assign(sdc, { reads: 1_838_371, readTimeMs: 902_132, inFlight: 4, ioTimeMs: 467_310 });
  }
  for (let k = from; k <= to; k++) {
    await sampleAt(w, k, (s) => {
      runThreads(w.vm, s, (t) => (vcpuIndex(t) !== undefined ? { vol: 100 } : undefined));
      sdc.ioTimeMs += s * 1000;
    });
  }
}

const stuckVm = (): ScenarioVm => ({
  pid: 4242,
  comm: 'qemu-kvm',
  argv: REPORT_ARGV,
  threads: [...reportThreads(), ...workers(4)],
});

test('disk_sleep, stuck: workers in D in every sample for 60 s without one voluntary switch, sdc completing nothing: critical', async () => {
  await withWorld(stuckVm(), { links: { [LUN]: 'sdc' } }, async (w) => {
    await stuckLun(w, 0, 3);
    // After 45 s: sdc completes nothing, so no latency to judge, and it is not yet stuck.
    none(w.p.vm(at(3), 'vm1').findings, 'disk_sleep');

    await stuckLun(w, 4, 4);
    const r = w.p.vm(at(4), 'vm1');
    assert.equal(r.seconds, 60);
    const d = only(r.findings, 'disk_sleep');
    assert.equal(d.severity, 'critical');
    assert.equal(r.findings[0], d, 'critical findings come first');
    assert.equal(d.subject, 'worker threads');
    includesAll(d.summary, [
      '5 of 5 samples',
      'worker threads',
      'stuck',
      'host device sdc',
      '4 requests in flight and completed none for 60 s',
    ]);
    assert.equal(evidence(d, /^threads in disk sleep, at most$/).value, 4);
    assert.equal(evidence(d, /^samples with threads in disk sleep$/).value, 100);
    includesAll(d.advice, ['host device sdc']);
  });
});

test('disk_sleep, stuck: the advice names the device that completes nothing (sdc), and the evidence its requests stuck in flight', async () => {
  await withWorld(stuckVm(), { links: { [LUN]: 'sdc' } }, async (w) => {
    await stuckLun(w, 0, 4);
    const d = only(w.p.vm(at(4), 'vm1').findings, 'disk_sleep');
    assert.equal(d.severity, 'critical');
    includesAll(d.advice, ['sdc']);
    assert.equal(evidence(d, /in flight on sdc/).value, 4);
  });
});

test('disk_sleep, one LUN stuck while the boot disk works: the finding points at the stuck device (sdc), not at the healthy one (sdb)', async () => {
  const BOOT = '/dev/disk/by-id/wwn-0x5000c500a1b2c3d4';
  const argv = REPORT_ARGV.map((a) =>
    a.replace('file=/var/lib/libvirt/images/vm1.qcow2,format=qcow2', `file=${BOOT},format=raw`),
  );
  assert.notDeepEqual(argv, REPORT_ARGV);
  // Four workers hang on the LUN (iothread1's pool); six of the main loop's pool serve the boot disk (no io=: threads).
  const vm: ScenarioVm = {
    pid: 4242,
    comm: 'qemu-kvm',
    argv,
    threads: [...reportThreads(), ...workers(4), ...workers(6, 7000)],
  };
  await withWorld(vm, { links: { [LUN]: 'sdc', [BOOT]: 'sdb' } }, async (w) => {
    for (const t of w.vm.threads) if (t.tid >= 6000 && t.tid < 7000) t.state = 'D';
    Object.assign(w.disks.get('sdc')!, { reads: 1_838_371, readTimeMs: 902_132, inFlight: 4, ioTimeMs: 467_310 });
    for (let k = 0; k <= 4; k++) {
      await sampleAt(w, k, (s) => {
        runThreads(w.vm, s, (t) => (t.tid >= 7000 ? { vol: 100, waitMs: 0.1 } : undefined));
        w.disks.get('sdc')!.ioTimeMs += s * 1000;
        advanceDisk(w.disks.get('sdb')!, s, { iops: 500, latencyMs: 1, util: 0.3, inFlight: 1 });
      });
    }
    const d = only(w.p.vm(at(4), 'vm1').findings, 'disk_sleep');
    includesAll(d.summary, ['sdc']);
    assert.doesNotMatch(d.summary, /sdb/, 'sdb answers in 1 ms: it is not the slow device');
    includesAll(d.advice, ['sdc']);
  });
});

test("roles_inferred: without debug-threads (libvirt 9 capture, as in host1's labvm) the roles are inferred from libvirt; with it, no such finding", async () => {
  const labvm = (named: boolean): ScenarioVm => {
    const n = (comm: string) => (named ? comm : 'qemu-system-x86');
    return {
      pid: 18551,
      comm: 'qemu-system-x86',
      cgroupBase: '/machine/qemu-1-labvm.libvirt-qemu',
      argv: named ? LABVM_ARGV : LABVM_ARGV.map((a) => a.replace('debug-threads=on', 'debug-threads=off')),
      // qemu-threads.tsv and cgroup-thread-roles.txt: who is who, and in which of libvirt's groups.
      threads: [
        thread(18551, 'qemu-system-x86', 7000, 'emulator'),
        thread(18555, 'qemu-system-x86', 7000, 'emulator'),
        thread(18556, n('IO iothread1'), 7001, 'iothread1'),
        thread(18557, n('IO mon_iothread'), 7001, 'emulator'),
        thread(18558, n('CPU 0/KVM'), 7002, 'vcpu0'),
        thread(18559, n('CPU 1/KVM'), 7002, 'vcpu1'),
        thread(18561, n('worker'), 7100, 'emulator'),
        thread(18562, 'kvm-nx-lpage-re', 7002, 'vcpu0', { state: 'I', kernel: 'vhost_task' }),
        thread(18576, n('worker'), 7200, 'iothread1'),
      ],
    };
  };
  const status = sample('libvirt-9.0-kvm/run-libvirt-qemu-labvm.status.xml');
  for (const named of [false, true]) {
    await withWorld(labvm(named), { status }, async (w) => {
      for (let k = 0; k <= 2; k++) await sampleAt(w, k);
      const r = w.p.vm(at(2), 'labvm');
      assert.equal(r.source, 'libvirt');
      if (named) {
        none(r.findings, 'roles_inferred');
        return;
      }
      const f = only(r.findings, 'roles_inferred');
      assert.equal(f.severity, 'info');
      assert.equal(f.subject, 'thread roles');
      includesAll(f.summary, ['debug-threads is off', "vCPUs from libvirt's vCPU thread IDs", "libvirt's cgroups"]);
      // The main loop's worker (in `emulator`), call_rcu and the monitor's iothread cannot be told apart.
      includesAll(f.summary, ["3 threads are 'other'"]);
      assert.equal(evidence(f, /^threads of role 'other'$/).value, 3);
      includesAll(f.advice, ['debug-threads=on']);
      assert.equal(r.threads.roles.vcpu?.at(-1), 2);
      assert.equal(r.threads.roles.iothread?.at(-1), 1);
      assert.equal(r.threads.roles.worker?.at(-1), 1);
    });
  }
});

test('roles_inferred, bare QEMU without debug-threads: only the main loop and kernel threads are known, and no status file names the VM', async () => {
  const argv = REPORT_ARGV.map((a) => a.replace('guest=vm1,debug-threads=on', 'guest=vm1'));
  assert.notDeepEqual(argv, REPORT_ARGV);
  const vm: ScenarioVm = { pid: 4242, comm: 'qemu-kvm', argv, threads: reportThreads(false) };
  await withWorld(vm, {}, async (w) => {
    for (let k = 0; k <= 1; k++) await sampleAt(w, k);
    const f = only(w.p.vm(at(1), 'vm1').findings, 'roles_inferred');
    includesAll(f.summary, [
      'debug-threads is off',
      'only the main loop',
      'no libvirt status file names this VM',
      "8 threads are 'other'",
    ]);
  });
});

/** The report's VM under fio since long before the exporter started: 64 workers in D, counters that would make every rate-based finding fire. */
function busySinceLongAgo(): ScenarioVm {
  const vm: ScenarioVm = {
    pid: 4242,
    comm: 'qemu-kvm',
    argv: REPORT_ARGV,
    threads: [...reportThreads(), ...workers(64)],
  };
  for (const t of vm.threads) {
    advance(t, 3600, { vol: 1000, invol: 500, waitMs: 500, utime: 10 });
    if (isWorker(t)) t.state = 'D';
  }
  return vm;
}
const LUN_MID_FIO: Partial<BlockCounters> = { reads: 1_838_371, readTimeMs: 902_132, inFlight: 64, ioTimeMs: 467_310 };

test('short_history: one snapshot gives short_history and no rate-based finding, however busy the VM', async () => {
  await withWorld(busySinceLongAgo(), { links: { [LUN]: 'sdc' } }, async (w) => {
    Object.assign(w.disks.get('sdc')!, LUN_MID_FIO);
    await sampleAt(w, 0);
    const one = w.p.vm(at(0), 'vm1');
    assert.equal(one.samples, 1);
    const s = only(one.findings, 'short_history');
    assert.equal(s.severity, 'info');
    includesAll(s.summary, ['Only 1 sample of this VM so far', 'at least a second apart']);
    assert.deepEqual(s.evidence, [{ what: 'history', value: 0, unit: 's' }]);
    none(one.findings, 'blocking_io', 'cpu_contention', 'vcpu_starved', 'disk_sleep');
    // The pool's size needs no rate: it is explained already.
    assert.equal(only(one.findings, 'worker_pool').severity, 'warning');
    assert.ok(one.findings.every((f) => f.severity !== 'critical'));
  });
});

test('short_history: two snapshots 400 ms apart (two scrapes at once) give short_history and no disk latency verdict either', async () => {
  await withWorld(busySinceLongAgo(), { links: { [LUN]: 'sdc' } }, async (w) => {
    Object.assign(w.disks.get('sdc')!, LUN_MID_FIO);
    await sampleAt(w, 0);
    await w.p.read(at(0) + 400);
    const two = w.p.vm(at(0) + 400, 'vm1');
    assert.equal(two.samples, 2);
    includesAll(only(two.findings, 'short_history').summary, ['Only 2 samples']);
    none(two.findings, 'blocking_io', 'cpu_contention', 'vcpu_starved', 'disk_sleep');
  });
});

/** Two VMs as one real snapshot saw them, to record over and over at other times. */
async function twoVms(): Promise<VmSnapshot[]> {
  const host = ProcScenario.create();
  try {
    host.writeVm({ pid: 4242, comm: 'qemu-kvm', argv: REPORT_ARGV, threads: reportThreads() });
    host.writeVm({
      pid: 18551,
      comm: 'qemu-system-x86',
      argv: LABVM_ARGV,
      threads: [thread(18551, 'qemu-system-x86', 7000), thread(18556, 'IO iothread1', 7001)],
    });
    const p = await startPipeline(host.roots, { t0: T0 });
    try {
      const snap = await p.read(T0);
      assert.deepEqual(
        snap.vms.map((v) => v.identity.domain),
        ['labvm', 'vm1'],
      );
      return snap.vms;
    } finally {
      await p.stop();
    }
  } finally {
    host.cleanup();
  }
}

const snapshotOf = (at: number, vms: VmSnapshot[], partial = false): Snapshot => ({
  at,
  vms,
  partial,
  failed: new Set(),
  inactive: new Set(),
});

test('History stays bounded: 1,000 snapshots 1 s apart keep at most window/interval + 2 points per VM (5 min window, 15 s interval)', async () => {
  const vms = await twoVms();
  const h = new History(300_000, 15_000);
  for (let i = 0; i < 1000; i++) h.record(snapshotOf(T0 + i * 1000, vms));
  const bound = 300_000 / 15_000 + 2;
  for (const points of h.vms())
    assert.ok(
      points.length <= bound,
      `${points.at(-1)!.vm.identity.domain}: ${String(points.length)} points, bound ${String(bound)}: ${points.map((p) => (p.t - T0) / 1000).join(' ')}`,
    );
  assert.ok(h.size() <= 2 * bound);
});

test("History: the newest point is the newest snapshot, the oldest at or before the window's start, a burst between kept points keeps its peak; a VM missing from a complete snapshot is dropped, kept across a partial one", async () => {
  const vms = await twoVms();
  const h = new History(300_000, 15_000);
  const last = 999;
  for (let i = 0; i <= last; i++) {
    // One snapshot, 1 s long, saw 64 workers in vm1: the point that replaces it must remember them.
    const burst = i === 990;
    h.record(
      snapshotOf(
        T0 + i * 1000,
        burst
          ? vms.map((v) =>
              v.identity.domain !== 'vm1'
                ? v
                : { ...v, roles: v.roles.map((r) => (r.role === 'worker' ? { ...r, threads: 64, peak: 64 } : r)) },
            )
          : vms,
      ),
    );
  }
  // Memory stays bounded whatever the scrape rate (see the test above).
  assert.ok(h.size() <= 2 * ((2 * 300_000) / 15_000 + 2), `${String(h.size())} points`);
  for (const points of h.vms()) {
    assert.equal(points.at(-1)!.t, T0 + last * 1000);
    assert.ok(points[0]!.t <= T0 + last * 1000 - 300_000, 'rates span the whole window');
    assert.ok(points[1]!.t > T0 + last * 1000 - 300_000, 'one point before the window, no more');
    for (let i = 1; i < points.length; i++) assert.ok(points[i]!.t > points[i - 1]!.t);
  }
  const vm1 = h.vms().find((p) => p.at(-1)!.vm.identity.domain === 'vm1')!;
  assert.ok(
    vm1.some((p) => p.peak.worker === 64),
    'the burst of 64 workers survives in a kept point',
  );

  const labvmOnly = vms.filter((v) => v.identity.domain === 'labvm');
  h.record(snapshotOf(T0 + 1_000_000, labvmOnly, true));
  assert.deepEqual(
    h.vms().map((p) => p.at(-1)!.vm.identity.domain),
    ['labvm', 'vm1'],
    'a partial snapshot proves nothing about vm1',
  );
  h.record(snapshotOf(T0 + 1_001_000, labvmOnly));
  assert.deepEqual(
    h.vms().map((p) => p.at(-1)!.vm.identity.domain),
    ['labvm'],
    'vm1 ended',
  );
  assert.equal(h.lastAt, T0 + 1_001_000);
});
