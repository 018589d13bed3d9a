/**
 * Processes and threads that die between the exporter's listing and its reads: fake QEMUs bursting short-lived
 * workers and being killed while four scrapers poll without pause. Never a 5xx, never a decreasing counter, never
 * a dead VM in a later scrape (a short, fierce run of the soak's checks; see test/soak/).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatSummary, runSoak } from '../soak/soak.js';

test('threads and VMs dying mid-scrape: no 5xx, no counter down, no dead VM exported', async () => {
  const s = await runSoak({
    durationMs: 12_000,
    warmupMs: 0,
    scrapers: 4,
    population: 3,
    deadlineMs: 10_000,
    stepMs: 40,
    pauseMs: 0,
    checkRss: false,
  });
  console.log(formatSummary(s));
  assert.deepEqual(s.failures, []);
  assert.ok(s.scrapes > 50 && s.counterChecks > 0 && s.vmsKilled > 0 && s.deathsChecked > 0, 'the checks ran');
});
