/**
 * A libvirt status directory with 1,000 domains, then a writer that renames new versions in, rewrites files in place
 * (so the watcher reads them half-written), moves and unlinks them while the watcher reads: nothing crashes, and
 * once the writer stops the watcher holds exactly the domains on disk.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { HostFs } from '../../src/host/host-fs.js';
import { LibvirtStatusDir } from '../../src/host/libvirt/status-dir.js';
import { Problems } from '../../src/host/problems.js';
import { statusXml, writeStatusFile } from '../support/status-files.js';

const execFileAsync = promisify(execFile);
const DOMAINS = 1000;
const CHURN_MS = 3000;

/** What the directory holds: file → the pid and name of its current content. */
type Expected = Map<string, { pid: number; name: string }>;
interface WriterResult {
  files: [string, { pid: number; name: string }][];
  ops: number;
  counts: Record<string, number>;
}

/** Domains by pid (name) as they should be read from `expected`. */
const byPid = (expected: Expected) => new Map([...expected.values()].map((d) => [d.pid, d.name]));
const seen = (w: LibvirtStatusDir) => new Map([...w.domainsByPid()].map(([pid, d]) => [pid, d.name]));

test('1,000 domains, then files renamed in, rewritten in place, moved and unlinked while read: the final state is exact', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qte-status-churn-'));
  const problems = new Problems(pino({ level: 'silent' }));
  const watcher = new LibvirtStatusDir(
    new HostFs({ procfs: '/proc', sysfs: '/sys', rootfs: '/', libvirtStatusDir: dir }),
    problems,
    250,
  );
  t.after(async () => {
    await watcher.stop(); // before the directory goes: no watch is left on a deleted directory
    rmSync(dir, { recursive: true, force: true });
  });

  for (let i = 0; i < DOMAINS; i++)
    writeStatusFile(dir, `dom-${String(i)}.xml`, statusXml(`dom-${String(i)}`, 100_000 + 10 * i));

  const t0 = performance.now();
  await watcher.start();
  console.log(`${String(DOMAINS)} status files read at start in ${(performance.now() - t0).toFixed(0)} ms`);
  assert.equal(watcher.domainsByPid().size, DOMAINS);

  // The writer runs in its own process, so its operations really race the watcher's reads.
  const writer = fileURLToPath(new URL('status-dir-writer.ts', import.meta.url));
  const { stdout } = await execFileAsync(process.execPath, [
    '--import',
    'tsx',
    writer,
    dir,
    String(DOMAINS),
    String(CHURN_MS),
    '200000',
  ]);
  const result = JSON.parse(stdout) as WriterResult;
  const expected = new Map(result.files);
  console.log(
    `writer: ${String(result.ops)} operations in ${String(CHURN_MS)} ms (${JSON.stringify(result.counts)}); ${String(expected.size)} files left`,
  );
  assert.ok(result.ops > 1000, 'the writer made enough trouble');

  // Settle: the watcher's events and its rescan (every 250 ms here) must converge on the directory's contents,
  // and stay there (a second of agreement: four rescans).
  const want = byPid(expected);
  const settleFrom = performance.now();
  const deadline = Date.now() + 15_000;
  let agreeingSince: number | undefined;
  while (Date.now() < deadline) {
    if (!(watcher.healthy() && sameMap(seen(watcher), want))) agreeingSince = undefined;
    else if ((agreeingSince ??= Date.now()) <= Date.now() - 1000) break;
    await sleep(50);
  }
  await watcher.settled();
  const halfRead = [...problems.totals()].find((e) => e.reason === 'parse')?.n ?? 0;
  console.log(
    `settled in ${(performance.now() - settleFrom).toFixed(0)} ms; ${String(halfRead)} half-written reads refused on the way`,
  );
  assert.deepEqual(seen(watcher), want, 'the watcher holds exactly the domains on disk');
  assert.equal(watcher.healthy(), true, 'every file on disk is whole again: no source failing');
});

function sameMap<K, V>(a: Map<K, V>, b: Map<K, V>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
