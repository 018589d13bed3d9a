/**
 * End to end, the report reproduced: a real guest runs fio at iodepth 1, 8, 32, 64 on a virtio-scsi disk,
 * and the real exporter shows QEMU's block thread pool growing with the iodepth under aio=threads and
 * staying empty under aio=native. Builds the guest from Debian's packages on first use (cached in
 * test/.cache/lab); needs root (loop device, block-I/O cgroup). About 2 minutes.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { LAB_CACHE } from './guest-image.js';
import { describeSetup, runLab, type ModeRun } from './lab.js';
import { latencyTable, resultsTable } from './results-table.js';
import { workersChart } from './workers-chart.js';

function statsOf(run: ModeRun | undefined, iodepth: number) {
  const s = run?.stats.find((x) => x.iodepth === iodepth);
  assert.ok(s, `no iodepth=${String(iodepth)} phase in ${run?.domain ?? 'a missing run'}`);
  // The peak comes from scrapes whose whole window lies inside the phase (see phase-stats.ts): they must
  // cover most of it, or a low peak would prove nothing.
  assert.ok(
    s.coverage >= 0.8,
    `${run!.domain} iodepth=${String(iodepth)}: the scrapes cover only ${(s.coverage * 100).toFixed(0)}% of the phase`,
  );
  return s;
}

test(
  "the block pool follows the guest's iodepth with aio=threads and stays empty with aio=native",
  { timeout: 5 * 60_000 },
  async () => {
    const result = await runLab({ runtimeS: 5 });
    const table = `${resultsTable(result.runs)}\n${latencyTable(result.runs)}`;
    console.log(`${describeSetup(result.options)}\n${table}lab took ${(result.totalMs / 1000).toFixed(0)} s`);
    await mkdir(LAB_CACHE, { recursive: true });
    await writeFile(`${LAB_CACHE}/test-results.md`, table);
    await writeFile(`${LAB_CACHE}/test-workers.svg`, workersChart(result.runs, describeSetup(result.options)));

    const threads = result.runs.find((r) => r.aio === 'threads');
    const native = result.runs.find((r) => r.aio === 'native');
    for (const run of result.runs) {
      console.log(
        `explain ${run.domain} at iodepth ${String(run.explained?.iodepth)}:\n${run.explained?.text ?? '(not asked)'}`,
      );
      if (run.explained) await writeFile(`${LAB_CACHE}/test-explain-${run.aio}.txt`, run.explained.text);
    }
    // aio=threads: every outstanding request holds a worker, so the pool grows to the iodepth (64 is its ceiling).
    assert.ok(
      statsOf(threads, 64).workerPeak >= 60,
      `aio=threads, iodepth=64: worker peak ${String(statsOf(threads, 64).workerPeak)} < 60`,
    );
    assert.ok(
      statsOf(threads, 1).workerPeak <= 4,
      `aio=threads, iodepth=1: worker peak ${String(statsOf(threads, 1).workerPeak)} > 4`,
    );
    // aio=native: Linux AIO, no workers at any depth.
    for (const depth of result.options.iodepths) {
      const peak = statsOf(native, depth).workerPeak;
      assert.ok(peak <= 4, `aio=native, iodepth=${String(depth)}: worker peak ${String(peak)} > 4`);
    }
    // explain, asked at iodepth 64: under aio=threads it names the pool at its maximum and io='threads' as the cause.
    const pool = (run: ModeRun | undefined) => {
      assert.ok(run?.explained, `explain was not asked during ${run?.domain ?? 'a missing run'}`);
      assert.equal(run.explained.report.vms.length, 1);
      assert.equal(run.explained.report.vms[0]!.domain, run.domain);
      return run.explained.report.vms[0]!.findings.filter((f) => f.id === 'worker_pool');
    };
    const [full, ...others] = pool(threads);
    assert.ok(
      full && others.length === 0,
      `aio=threads: want one worker_pool finding, got ${String(pool(threads).length)}:\n${threads!.explained!.text}`,
    );
    assert.equal(full.severity, 'warning');
    assert.equal(full.subject, 'pool iothread1');
    assert.match(full.summary, /grew to 64 worker threads, its maximum/);
    assert.match(full.summary, /Disk disk0 uses io='threads'/);
    assert.match(full.advice, /io='native'/);
    assert.match(threads!.explained!.text, /WARNING \[worker_pool\] Pool iothread1 grew to 64 worker threads/);
    // Seen, not only inferred: over the iodepth-64 phase most workers are blocked in a read on the throttled disk
    // (each look is one instant: some catch workers between two requests), and explain names the disk.
    const phase64 = threads!.samples.filter((x) => x.iodepth === 64);
    const reading = phase64.reduce((n, x) => n + x.workersReading, 0);
    const seen = phase64.reduce((n, x) => n + x.workersSeen, 0);
    assert.ok(reading * 2 > seen, `${String(reading)} of ${String(seen)} workers seen in a read over iodepth 64`);
    assert.match(full.summary, /in a read on \/dev\/loop\d+ \(disk disk0\)/);
    // aio=native: no pool problem.
    assert.deepEqual(
      pool(native).filter((f) => f.severity !== 'info'),
      [],
      native!.explained!.text,
    );
    assert.doesNotMatch(native!.explained!.text, /(WARNING|CRITICAL) \[worker_pool\]/);
    // Linux AIO needs no pool: nothing is reported about workers.
    assert.doesNotMatch(native!.explained!.text, /workers (in|waiting)/);

    // QEMU's own accounting, over QMP, against fio's figures in the guest. QEMU counts a read from when its device
    // model takes it to its completion: the guest's own time (its block layer, virtio-scsi, TCG's emulation) comes on
    // top of that in fio's figure and not in QEMU's, so QEMU's time per read is at most fio's and, on this slow disk
    // (milliseconds a read), most of it once requests queue on the host device (from iodepth 32: at 8 the guest's
    // share under TCG grows with the host's load — 0.55× fio's on a host loaded 18×); at iodepth 1 TCG's overhead is
    // the largest share.
    for (const run of [threads, native]) {
      for (const depth of result.options.iodepths.filter((d) => d >= 8)) {
        const s = statsOf(run, depth);
        const where = `${run!.domain} iodepth=${String(depth)}: QEMU ${String(s.qemuIops)} reads/s at ${String(s.qemuLatencyMs)} ms, fio ${String(s.iops)} IOPS at ${String(s.fioLatencyMs)} ms`;
        assert.ok(
          s.qemuIops !== undefined &&
            s.iops !== undefined &&
            s.qemuLatencyMs !== undefined &&
            s.fioLatencyMs !== undefined,
          where,
        );
        assert.ok(Math.abs(s.qemuIops / s.iops - 1) <= 0.15, `reads per second differ by over 15%: ${where}`);
        assert.ok(s.qemuLatencyMs <= s.fioLatencyMs * 1.05, `time per read over 1.05 × fio's: ${where}`);
        if (depth >= 32)
          assert.ok(s.qemuLatencyMs >= s.fioLatencyMs * 0.6, `time per read under 0.6 × fio's: ${where}`);
        // The histogram counts every read QEMU accounts: its count grows exactly as the read counter.
        assert.equal(s.histogramCounted, s.readsCounted, `histogram count vs reads: ${where}`);
      }
    }

    // Either way the requests are in flight on the host device, and qemu_disk_io_now shows them.
    for (const run of [threads, native]) {
      const inFlight = statsOf(run, 64).maxInFlight;
      assert.ok(inFlight >= 32, `${run!.domain}, iodepth=64: at most ${String(inFlight)} requests in flight`);
    }
  },
);
