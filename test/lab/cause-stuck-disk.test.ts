/**
 * A real cause for disk_sleep's critical finding (stuck storage): the lab's guest runs fio on a loop device
 * whose backing file is on a FUSE filesystem (fuse-disk.ts), and the FUSE daemon is stopped before fio starts,
 * so the loop device keeps the guest's reads in flight and completes none; with aio=threads each one holds a
 * pool worker in disk sleep (D). explain, asked through the real command line, must name the loop device as
 * stuck. findings.ts calls a device stuck after 60 s without a completion (a constant, no flag), so the test
 * waits that long. Needs root. About 90 s.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { test } from 'node:test';
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
  within,
} from './causes.js';
import { fuseLoopDisk } from './fuse-disk.js';
import { LAB_CACHE } from './guest-image.js';

/** findings.ts's STUCK_AFTER_S. */
const STUCK_AFTER_S = 60;
const IODEPTH = 8;

/** Reads completed and requests in flight on a block device, from /sys/block/DEV/stat. */
async function blockStat(dev: string): Promise<{ completed: number; inFlight: number }> {
  const f = (await readFile(`/sys/block/${dev}/stat`, 'utf8')).trim().split(/\s+/).map(Number);
  return { completed: (f[0] ?? 0) + (f[4] ?? 0), inFlight: f[8] ?? 0 };
}

test(
  'a loop device on a FUSE filesystem that stopped answering: explain calls the device stuck',
  { timeout: 6 * 60_000 },
  async (t) => {
    assert.equal(process.getuid?.(), 0, 'this test needs root: a loop device and a FUSE mount');
    const cleanup = new Cleanup();
    t.after(() => cleanup.run());
    const t0 = Date.now();
    const fuse = await fuseLoopDisk(`${LAB_CACHE}/cause-stuck`, 64);
    cleanup.defer(`detach ${fuse.path}, unmount bindfs`, () => fuse.remove());
    const dev = basename(fuse.path);
    // A window longer than the 60 s the finding needs; boot (no disk sleep) stays a small share of it.
    const cli = await startExporter(cleanup, `${String(STUCK_AFTER_S + 40)}s`);
    const guest = await bootGuest(cleanup, {
      name: 'lab-stuck',
      disk: fuse.path,
      aio: 'threads',
      runtimeS: 600,
      iodepth: IODEPTH,
    });
    // Undone first: the FUSE daemon answers again, so QEMU's workers leave disk sleep and SIGKILL can end QEMU.
    cleanup.defer('resume bindfs, kill QEMU', async () => {
      fuse.thaw();
      await within(guest.vm.kill(), 20_000, 'QEMU after bindfs resumed').catch(async (err: unknown) => {
        log(`lab-stuck: ${(err as Error).message}; killing bindfs, which fails the reads it holds`);
        fuse.abort();
        await guest.vm.kill();
      });
    });

    await fuse.freeze();
    log(`lab-stuck: bindfs (${String(fuse.pid)}) stopped: the file behind ${fuse.path} answers no more reads`);
    await guest.go();
    const goneAt = Date.now();
    // The guest's reads reach the loop device and stay there: requests in flight, the completions frozen for 5 s.
    let mark: { completed: number; at: number } | undefined;
    const held = await until(
      async () => {
        guest.alive();
        const now = await blockStat(dev);
        if (now.inFlight === 0) mark = undefined;
        else if (mark?.completed !== now.completed) mark = { completed: now.completed, at: Date.now() };
        return mark && Date.now() - mark.at >= 5000 ? now : undefined;
      },
      60_000,
      `${dev} to hold requests without completing any`,
    );
    log(`lab-stuck: ${dev} holds ${String(held.inFlight)} requests and has completed none for 5 s`);

    // The finding needs 60 s of history without a completion, each point a second apart.
    await waitForFinding(
      cli,
      guest,
      (f) => f.id === 'disk_sleep' && f.severity === 'critical',
      (STUCK_AFTER_S + 60) * 1000,
      'explain to call the storage stuck',
    );
    const e = await explainCli(cli, guest.domain);
    const after = await blockStat(dev);
    log(
      `lab-stuck: explained ${((Date.now() - goneAt) / 1000).toFixed(0)} s after fio started, ${((Date.now() - t0) / 1000).toFixed(0)} s after the test started; ${dev} completed ${String(after.completed - held.completed)} requests meanwhile`,
    );

    const stuck = onlyFinding(e, 'disk_sleep');
    assert.equal(stuck.severity, 'critical');
    assert.match(
      stuck.summary,
      new RegExp(
        `the storage is stuck: host device ${dev} \\(disk disk0\\) has had \\d+ requests in flight and completed none for [\\d.]+ s`,
      ),
    );
    assert.match(stuck.summary, /\(worker threads\)/);
    assert.ok(evidence(stuck, `seconds since ${dev} completed a request`) >= STUCK_AFTER_S, e.text);
    const inFlight = evidence(stuck, `requests in flight on ${dev}`);
    assert.ok(
      inFlight >= 1 && inFlight <= IODEPTH,
      `${String(inFlight)} requests in flight on ${dev}, want 1 to ${String(IODEPTH)}:\n${e.text}`,
    );
    assert.match(stuck.advice, new RegExp(`Look at host device ${dev} now`));
    assert.match(e.text, new RegExp(`CRITICAL \\[disk_sleep\\] .*the storage is stuck: host device ${dev}`, 's'));
    assert.equal(after.completed, held.completed, `${dev} completed requests while bindfs was stopped`);
  },
);
