/** A 60-second churn soak (see soak.ts): every scrape checked, RSS within 10 % of its post-warm-up value, zero failures. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatSummary, runSoak } from './soak.js';

test('60-second churn soak: no counter of a live VM goes down or vanishes, no series of a dead VM survives, no failed or late scrape, no leak', async () => {
  const s = await runSoak({ durationMs: 60_000, warmupMs: 30_000, scrapers: 4, population: 6, deadlineMs: 10_000 });
  console.log(formatSummary(s));
  assert.deepEqual(s.failures, []);
  // The checks ran: a soak that checked nothing would pass too.
  assert.ok(
    s.scrapes > 100 && s.counterChecks > 0 && s.vanishChecks > 0 && s.presenceChecks > 0,
    'scrapes were checked',
  );
  assert.ok(s.vmsKilled >= 5 && s.deathsChecked >= s.vmsKilled - 2, 'deaths were checked');
  assert.ok(s.threadsSpawned > 1000, 'threads were churned');
  assert.ok(s.libvirtSeen >= s.libvirtNamed / 2, 'status files named their VMs');
});
