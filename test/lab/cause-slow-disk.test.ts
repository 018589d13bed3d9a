/**
 * A real cause for disk_sleep's warning (slow host storage): the lab's guest runs fio at iodepth 32 on a loop
 * device whose backing disk allows QEMU's block-I/O cgroup 10 read IOPS (slow-disk.ts), so every request
 * waits seconds on the host. With aio=threads each one holds a pool worker in pread, in disk sleep (D).
 * explain, asked through the real command line, must name the loop device and its latency. Needs root.
 * About 45 s.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { test } from 'node:test';
import { createRawImage } from '../support/real-qemu.js';
import {
  bootGuest,
  Cleanup,
  evidence,
  explainCli,
  log,
  onlyFinding,
  startExporter,
  until,
  waitForFinding,
} from './causes.js';
import { LAB_CACHE } from './guest-image.js';
import { slowDisk } from './slow-disk.js';

const READ_IOPS = 10;
const IODEPTH = 32;
/** Requests queue behind each other: each one takes IODEPTH / READ_IOPS seconds, 3.2 s (the guest's SCSI timeout is 30 s). */
const EXPECTED_MS = (IODEPTH / READ_IOPS) * 1000;
/** How far back explain looks: only the slow part of the run. */
const WINDOW_S = 20;
/** Its own cgroup, not the lab's (slow-disk.ts reuses a name left by a killed run). */
const CGROUP = 'qemu-thread-exporter-lab-slow';

test(
  'a host disk throttled to 10 read IOPS under iodepth 32: explain calls its loop device slow, seconds per request',
  { timeout: 6 * 60_000 },
  async (t) => {
    assert.equal(process.getuid?.(), 0, 'this test needs root: a loop device and a block-I/O cgroup');
    const cleanup = new Cleanup();
    t.after(() => cleanup.run());
    const t0 = Date.now();
    const image = `${LAB_CACHE}/cause-slow.raw`;
    await createRawImage(image, 256);
    const slow = await slowDisk(CGROUP, image, READ_IOPS);
    cleanup.defer(`detach ${slow.path}, remove the cgroup`, () => slow.remove());
    const dev = basename(slow.path);
    const cli = await startExporter(cleanup, `${String(WINDOW_S)}s`);
    const guest = await bootGuest(cleanup, {
      name: 'lab-slow',
      disk: slow.path,
      aio: 'threads',
      runtimeS: 300,
      iodepth: IODEPTH,
    });

    // Throttled from here on (boot and the guest's partition scan ran at full speed).
    await slow.add(guest.vm.pid);
    await guest.go();
    const slowAt = Date.now();
    // The guest's requests pile up on the host: wait until nearly all are in flight on the loop device.
    await until(
      async () => {
        guest.alive();
        const inflight = (await readFile(`/sys/block/${dev}/inflight`, 'utf8')).trim().split(/\s+/).map(Number);
        return (inflight[0] ?? 0) >= IODEPTH / 2 ? true : undefined;
      },
      60_000,
      `${String(IODEPTH / 2)} reads in flight on ${dev}`,
    );
    await new Promise((r) => setTimeout(r, (WINDOW_S + 2) * 1000));
    await waitForFinding(
      cli,
      guest,
      (f) => f.id === 'disk_sleep' && f.severity === 'warning',
      60_000,
      'explain to call the storage slow',
    );
    const e = await explainCli(cli, guest.domain);
    log(
      `lab-slow: explained ${((Date.now() - slowAt) / 1000).toFixed(0)} s into the slow phase, ${((Date.now() - t0) / 1000).toFixed(0)} s after the test started`,
    );

    const sleep = onlyFinding(e, 'disk_sleep');
    assert.equal(sleep.severity, 'warning');
    assert.match(
      sleep.summary,
      new RegExp(
        `waiting for slow host storage: host device ${dev} \\(disk disk0\\) takes [\\d,.]+ ms per request on average`,
      ),
    );
    assert.match(sleep.summary, /\(worker threads\)/);
    // Seen, not only inferred: the workers wait in reads on the throttled loop device.
    assert.match(
      sleep.summary,
      new RegExp(`Seen in their system calls: worker threads, \\d+ in a read on /dev/${dev} \\(disk disk0\\)`),
    );
    const latency = evidence(sleep, `average request latency on ${dev}`);
    // Seconds, as the throttle makes it: not the 20 ms threshold scraped past.
    assert.ok(
      latency >= EXPECTED_MS / 2 && latency <= EXPECTED_MS * 3,
      `latency on ${dev} ${String(latency)} ms, want about ${String(EXPECTED_MS)} ms:\n${e.text}`,
    );
    assert.ok(evidence(sleep, 'samples with threads in disk sleep') >= 80, e.text);
    assert.match(
      e.text,
      new RegExp(`WARNING \\[disk_sleep\\] .*waiting for slow host storage: host device ${dev}`, 's'),
    );
    assert.ok(!e.vm.findings.some((f) => f.severity === 'critical'), `slow is not stuck:\n${e.text}`);
  },
);
