/**
 * A real cause for vcpu_starved and cpu_contention: the lab's guest runs fio while all of QEMU's threads (its
 * vCPU, iothread and main loop) are pinned onto one host CPU with a busy loop pinned beside them. explain, asked
 * through the real command line, must call the vCPU starved (and says whether it also found the iothread and main
 * loop contended: how long they wait depends on how often they wake, and on the kernel's scheduler). About 40 s.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRawImage } from '../support/real-qemu.js';
import { bootGuest, Cleanup, evidence, explainCli, log, onlyFinding, startExporter, waitForFinding } from './causes.js';
import { crowdedCpu, pinAllThreads, startCpuHog } from './cpu-hog.js';
import { LAB_CACHE } from './guest-image.js';

/** How far back explain looks: only the contended part of the run (boot and the wait for `go` are older). */
const WINDOW_S = 15;

test(
  'QEMU pinned onto a CPU that a busy loop holds: explain says the vCPU is starved',
  { timeout: 6 * 60_000 },
  async (t) => {
    const cleanup = new Cleanup();
    t.after(() => cleanup.run());
    const t0 = Date.now();
    const disk = `${LAB_CACHE}/cause-cpu.raw`;
    await createRawImage(disk, 64);
    const cli = await startExporter(cleanup, `${String(WINDOW_S)}s`);
    const guest = await bootGuest(cleanup, { name: 'lab-cpu', disk, aio: 'native', runtimeS: 300, iodepth: 8 });

    const cpu = await crowdedCpu();
    await pinAllThreads(guest.vm.pid, cpu);
    const hog = await startCpuHog(cpu);
    cleanup.defer('stop the CPU hog', () => hog.stop());
    log(`lab-cpu: QEMU ${String(guest.vm.pid)} and a busy loop (${String(hog.pid)}) pinned onto CPU ${String(cpu)}`);
    await guest.go();
    const contendedAt = Date.now();

    // Wait until the whole window is contended, then for the finding (a loaded machine only adds to the wait).
    await new Promise((r) => setTimeout(r, (WINDOW_S + 3) * 1000));
    await waitForFinding(cli, guest, (f) => f.id === 'vcpu_starved', 60_000, 'explain to call the vCPU starved');
    const e = await explainCli(cli, guest.domain);
    log(
      `lab-cpu: explained ${((Date.now() - contendedAt) / 1000).toFixed(0)} s into the contention, ${((Date.now() - t0) / 1000).toFixed(0)} s after the test started`,
    );

    const starved = onlyFinding(e, 'vcpu_starved');
    assert.equal(starved.severity, 'warning');
    assert.match(
      starved.summary,
      /^vCPU 0 waited on the host's run queue [\d.]+% of the time: the guest is starved of host CPU/,
    );
    // Sharing one CPU with a loop that never sleeps, the vCPU waits about half the time; 25 % leaves room for noise.
    const share = evidence(starved, 'vCPU 0: run-queue wait, share of wall time');
    assert.ok(
      share >= 25,
      `vCPU 0 waited only ${String(share)}% of the time on a CPU shared with a busy loop:\n${e.text}`,
    );
    assert.match(e.text, /WARNING \[vcpu_starved\] vCPU 0 waited on the host's run queue/);
    // The iothread and the main loop share that CPU too; whether they wait ≥ 10 % depends on how often they wake.
    const contention = e.vm.findings.find((f) => f.id === 'cpu_contention');
    log(`lab-cpu: cpu_contention ${contention ? `for the ${contention.subject}` : 'not reported'}`);
  },
);
