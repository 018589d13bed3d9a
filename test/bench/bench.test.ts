/**
 * The benchmark, short (1,000 threads, a few scrapes, idle, busy, then busy and churning), so the harness cannot
 * rot. It prints its table and asserts only correctness: every exporter saw every thread of the synthetic host, the
 * idle host's pools did not run while the busy host's did, and our census saw the churned threads born. Never a time.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runBench } from './run-bench.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = `${ROOT}dist/src/main.js`;

test(
  'bench: our exporter, process-exporter and the floors each see all 1,000 threads of the synthetic host, idle, busy and churning',
  { timeout: 180_000 },
  async (t) => {
    assert.ok(existsSync(ENTRY), `${ENTRY} is missing: the bench measures the built CLI, run npm run build first`);
    const {
      results: [idle, busy, churned],
      lines,
    } = await runBench({
      sizes: [{ vms: 50, threadsPerVm: 20, churn: true }],
      churn: { ratePerSecond: 100, lifetimeMs: 1000 },
      vcpus: 4,
      tickMs: undefined,
      scrapes: 3,
      warmup: 1,
      idleSeconds: 1,
      entry: ENTRY,
      cpuProf: false,
      nodeFlags: [],
      workDir: `${ROOT}test/.cache/bench/ci-${String(process.pid)}`,
      command: 'node --import tsx --test test/bench/bench.test.ts',
      log: (line) => {
        t.diagnostic(line);
      },
    });
    for (const line of lines) t.diagnostic(line);

    for (const r of [idle, busy]) {
      assert.ok(r);
      assert.equal(r.threads, 1000);
      const expected = r.threadsByDomain;
      assert.equal(
        [...expected.values()].reduce((a, b) => a + b, 0),
        1000,
        'the fakes themselves report 1,000 threads',
      );
      assert.deepEqual(
        r.ours.threadsSeen,
        expected,
        `${r.activity}: sum of qemu_threads per domain = threads each fake reports`,
      );
      assert.deepEqual(
        r.processExporter.threadsSeen,
        expected,
        `${r.activity}: process-exporter: thread_count per group = num_threads = threads each fake reports`,
      );
      for (const f of [r.floor, r.floorChanged])
        assert.deepEqual(f.threadsSeen, new Map([['*', 1000]]), `${r.activity}: ${f.label} read every thread`);
      assert.equal(r.floor.statusReads, 1000, `${r.activity}: the all-files floor read every status`);
      for (const f of [r.ours, r.processExporter])
        assert.ok((f.series ?? 0) > 0 && (f.bytes ?? 0) > 0, `${f.label} exposed series`);
    }
    assert.ok(idle && busy);
    // 50 fakes × 20 threads: idle, the 8 threads a VM that are not pool workers may run (main, rcu, 4 vCPUs, 2 IO).
    const idleReads = idle.floorChanged.statusReads ?? NaN;
    assert.ok(idleReads <= 400, `idle: the parked pools did not run (${String(idleReads)} statuses of 1,000 read)`);
    assert.ok(
      (busy.floorChanged.statusReads ?? 0) > idleReads,
      `busy: more threads ran than idle (${String(busy.floorChanged.statusReads)} statuses read)`,
    );
    const expected = busy.threadsByDomain;

    // Churning: the host's own threads and some of the churned ones, and our census counted the churned ones born.
    assert.ok(churned?.churn, 'the size was measured again, churning');
    const c = churned.churn;
    assert.ok(c.started > 100, `the host churned (${String(c.started)} threads started)`);
    // At the edges of the span, threads started just before it may be counted in it (at most a census interval's).
    assert.ok(
      c.spawnsCounted >= c.started / 2 && c.spawnsCounted <= c.started + c.ratePerSecond,
      `qemu_thread_spawns_total grew by ${String(c.spawnsCounted)} while ${String(c.started)} threads were started`,
    );
    for (const f of [churned.ours, churned.processExporter]) {
      for (const [domain, n] of expected)
        assert.ok((f.threadsSeen.get(domain) ?? 0) >= n, `${f.label} saw ${domain}'s own ${String(n)} threads`);
    }
    assert.ok((churned.floor.threadsSeen.get('*') ?? 0) >= 1000, 'the floor read every thread of the host');
  },
);
