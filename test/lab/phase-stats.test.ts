/** How the lab attributes the exporter's worker peak to fio phases (no QEMU needed). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { phaseStats, type Phase } from './phase-stats.js';
import type { Sample } from './sampler.js';

const WINDOW = 2000;

/** A scrape every 250 ms over [from, to): `peak(t)` gives the peak metric, workers and in-flight follow it. */
function scrapes(from: number, to: number, peak: (t: number) => number): Sample[] {
  const out: Sample[] = [];
  for (let t = from; t < to; t += 250)
    out.push({
      t,
      iodepth: undefined,
      workers: peak(t),
      peak: peak(t),
      inFlight: peak(t),
      poolMax: 64,
      guest: undefined,
      host: undefined,
      histogramCount: undefined,
      workersSeen: 0,
      workersReading: 0,
    });
  return out;
}

const phases: Phase[] = [
  { iodepth: 64, start: 0, end: 5000, iops: 500, latencyMs: undefined },
  { iodepth: 1, start: 5000, end: 10_000, iops: 500, latencyMs: undefined },
];

test('a peak still inside the window after its phase ended is not credited to the next phase', () => {
  // 64 workers until 5 s; the metric's 2 s window keeps saying 64 until 7 s.
  const [deep, shallow] = phaseStats(
    scrapes(0, 10_000, (t) => (t < WINDOW + 5000 ? 64 : 1)),
    phases,
    WINDOW,
  );
  assert.equal(deep!.workerPeak, 64);
  assert.equal(shallow!.workerPeak, 1);
  assert.ok(shallow!.coverage > 0.9, `coverage ${String(shallow!.coverage)}`);
});

test('scrapes that came late cover less of the phase', () => {
  const sparse = scrapes(0, 10_000, () => 1).filter((s) => s.t < 2000 || s.t > 4500);
  const [first] = phaseStats(sparse, phases, WINDOW);
  assert.ok(first!.coverage < 0.8, `coverage ${String(first!.coverage)}`);
});

test('a phase without a single full window reports 0 workers and 0 coverage', () => {
  const [only] = phaseStats(
    scrapes(0, 1500, () => 9),
    [{ iodepth: 8, start: 0, end: 1500, iops: undefined, latencyMs: undefined }],
    WINDOW,
  );
  assert.equal(only!.workerPeak, 0);
  assert.equal(only!.coverage, 0);
  assert.equal(only!.maxInFlight, 9);
});
