/**
 * The other side of the syscall observer: the lab's guest runs fio at iodepth 64 with aio=threads on a raw file
 * that is not throttled, so the host answers each read at once and the guest (under TCG) is what is slow. The
 * pool has grown, but its workers are seen waiting for work (futex), not in reads: explain must call the pool
 * idle capacity, not a backlog. Needs root only for what the lab needs (none of its throttling). About 60 s.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRawImage } from '../support/real-qemu.js';
import { bootGuest, Cleanup, evidence, explainCli, onlyFinding, startExporter, waitForFinding } from './causes.js';
import { LAB_CACHE } from './guest-image.js';

test(
  'a pool grown on a fast, unthrottled disk: its workers are seen waiting for work, and explain calls it idle capacity',
  { timeout: 6 * 60_000 },
  async (t) => {
    const cleanup = new Cleanup();
    t.after(() => cleanup.run());
    const image = `${LAB_CACHE}/cause-idle.raw`;
    await createRawImage(image, 256);
    const cli = await startExporter(cleanup, '20s');
    const guest = await bootGuest(cleanup, {
      name: 'lab-idle',
      disk: image,
      aio: 'threads',
      runtimeS: 300,
      iodepth: 64,
    });
    await guest.go();
    await waitForFinding(
      cli,
      guest,
      (f) => f.id === 'worker_pool' && /idle capacity, not a backlog/.test(f.summary),
      120_000,
      'explain to see the pool waiting for work',
    );
    const e = await explainCli(cli, guest.domain);
    const pool = onlyFinding(e, 'worker_pool');
    const waiting = evidence(pool, 'workers waiting for work (futex)');
    const seen = pool.evidence.filter((x) => x.what.startsWith('workers ')).reduce((n, x) => n + x.value, 0);
    assert.ok(waiting * 2 > seen, `${String(waiting)} of ${String(seen)} workers waiting:\n${e.text}`);
    assert.equal(pool.severity, 'info', e.text);
    assert.match(pool.summary, /Seen in its system calls/);
  },
);
