/**
 * The lab that reproduces the report: a guest runs fio (libaio, O_DIRECT, 4 KiB random reads) at rising
 * iodepths against a virtio-scsi disk served by an iothread, once with `aio=threads` and once with
 * `aio=native`, while the real exporter runs and is scraped every 250 ms. The disk is a host block device
 * that answers as slowly as a real LUN (slow-disk.ts), so the guest's outstanding requests wait in QEMU.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExplainReport } from '../../src/explain/report.js';
import { runCommand, startCli, type Cli } from '../support/cli.js';
import { createRawImage } from '../support/real-qemu.js';
import { buildGuest, LAB_CACHE, type Guest } from './guest-image.js';
import { startGuestVm, type AioMode } from './guest-vm.js';
import { phaseStats, type Phase, type PhaseStats } from './phase-stats.js';
import { startSampler, type Sample } from './sampler.js';
import { slowDisk, type SlowDisk } from './slow-disk.js';

const CENSUS_INTERVAL = '100ms';
const PEAK_WINDOW_MS = 2000;
const SCRAPE_INTERVAL_MS = 250;
/** Large enough that 4 KiB random reads rarely hit the same block twice; really allocated, so reads reach the disk. */
const DISK_MIB = 256;
/** The block-I/O cgroup QEMU runs in (one name: a run that was killed leaves nothing new behind). */
const CGROUP = 'qemu-thread-exporter-lab';
/** QEMU's read latency histogram's bins (--qmp.latency-histogram). */
const HISTOGRAM = '1ms,2ms,5ms,10ms,20ms,50ms,100ms,200ms,500ms';

export interface LabOptions {
  /** fio's runtime per iodepth, seconds. */
  runtimeS: number;
  iodepths: number[];
  modes: AioMode[];
  /** Read IOPS the host disk allows QEMU (see slow-disk.ts); 0: no limit. */
  readIops: number;
  /** Ask `qemu-thread-exporter explain` about the VM near the end of this iodepth's phase (0: never). */
  explainAt: number;
  log: (msg: string) => void;
}

/** What `qemu-thread-exporter explain DOMAIN --url …` printed, as text and as JSON. */
export interface Explained {
  iodepth: number;
  text: string;
  report: ExplainReport;
}

export interface ModeRun {
  aio: AioMode;
  domain: string;
  samples: Sample[];
  phases: Phase[];
  stats: PhaseStats[];
  explained: Explained | undefined;
}

export interface LabResult {
  options: LabOptions;
  guest: Guest;
  runs: ModeRun[];
  totalMs: number;
}

export const LAB_DEFAULTS: LabOptions = {
  runtimeS: 5,
  iodepths: [1, 8, 32, 64],
  modes: ['threads', 'native'],
  readIops: 500,
  explainAt: 64,
  log: (msg) => {
    console.log(`lab: ${msg}`);
  },
};

export async function runLab(options: Partial<LabOptions> = {}): Promise<LabResult> {
  const opts = { ...LAB_DEFAULTS, ...options };
  if (opts.readIops > 0 && process.getuid?.() !== 0) {
    throw new Error('the lab needs root for its slow disk (a loop device and a block-I/O cgroup): run it with sudo');
  }
  const t0 = Date.now();
  const guest = await buildGuest(opts.log);
  const disk = `${LAB_CACHE}/disk.raw`;
  await createRawImage(disk, DISK_MIB);
  const slow = opts.readIops > 0 ? await slowDisk(CGROUP, disk, opts.readIops) : undefined;
  const cli = await startCli([
    `--census.interval=${CENSUS_INTERVAL}`,
    `--census.peak-window=${String(PEAK_WINDOW_MS)}ms`,
    // Only real QEMUs: on a crowded host (other tests' fake QEMUs) the census would fall behind.
    '--qemu.process-pattern=^qemu-system-x86_64$',
    '--explain.interval=1s',
    // QEMU's own view of the disk, over the VM's QMP socket, with a latency histogram to check it by.
    '--collector.qmp=true',
    `--qmp.latency-histogram=${HISTOGRAM}`,
  ]);
  try {
    const runs: ModeRun[] = [];
    for (const aio of opts.modes) runs.push(await runMode(cli, guest, slow?.path ?? disk, aio, opts, slow));
    return { options: opts, guest, runs, totalMs: Date.now() - t0 };
  } finally {
    await cli.terminate();
    await slow?.remove();
  }
}

/** One line that says how the lab's numbers were made. */
export function describeSetup(opts: LabOptions): string {
  const limit = opts.readIops > 0 ? `host disk limited to ${String(opts.readIops)} read IOPS` : 'host disk unthrottled';
  return `fio randread 4k libaio direct, ${String(opts.runtimeS)} s per iodepth; TCG guest, virtio-scsi on an iothread, cache=none; ${limit}`;
}

/** Resolves when `test` passes (polled every 50 ms); rejects after `ms` with `what` in the message. */
async function until(test: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${String(ms / 1000)} s waiting for ${what}`);
    await sleep(50);
  }
}

async function runMode(
  cli: Cli,
  guest: Guest,
  disk: string,
  aio: AioMode,
  opts: LabOptions,
  slow: SlowDisk | undefined,
): Promise<ModeRun> {
  const domain = `lab-${aio}`;
  const phases: Phase[] = [];
  const consoleTail: string[] = [];
  let current: Phase | undefined;
  const guestSaid = { ready: false, done: false }; // set by onLine (an object: TypeScript would narrow plain lets)
  const now = () => Date.now() - sampler.t0;

  const onLine = (line: string) => {
    consoleTail.push(line);
    if (consoleTail.length > 40) consoleTail.shift();
    let m: RegExpExecArray | null;
    if (line === 'LAB ready') guestSaid.ready = true;
    else if (line === 'LAB done') guestSaid.done = true;
    else if ((m = /^LAB iodepth=(\d+) start$/.exec(line))) {
      current = { iodepth: Number(m[1]), start: now(), end: NaN, iops: undefined, latencyMs: undefined };
      if (current.iodepth === opts.explainAt) explainSoon(current.iodepth);
    } else if (/^LAB iodepth=\d+ end$/.test(line) && current) {
      phases.push({ ...current, end: now() });
      opts.log(
        `${domain}: iodepth=${String(current.iodepth)} ran ${((now() - current.start) / 1000).toFixed(1)} s, ${String(current.iops ?? '?')} IOPS in the guest`,
      );
      current = undefined;
    } else if (line.startsWith('3;fio-') && current) {
      // terse v3: field 8 is read IOPS, field 40 the mean total latency of a read (µs)
      const f = line.split(';');
      current.iops = Number(f[7]);
      current.latencyMs = Number(f[39]) / 1000;
    } else if (line.startsWith('LAB error') || line.startsWith('qemu: ')) opts.log(`${domain}: ${line}`);
  };

  // explain, asked like an operator would while the phase runs (the VM, and its series, end with the guest).
  let explaining: Promise<Explained> | undefined;
  const explainSoon = (iodepth: number) => {
    const ask = async (): Promise<Explained> => {
      await sleep(Math.max(1000, (opts.runtimeS - 1.5) * 1000));
      const args = ['explain', domain, `--url=${cli.url}`];
      const [text, json] = await Promise.all([runCommand(args), runCommand([...args, '--output=json'])]);
      if (text.code !== 0 || json.code !== 0)
        throw new Error(`explain exited ${String(text.code)}/${String(json.code)}: ${text.stderr}${json.stderr}`);
      return { iodepth, text: text.stdout, report: JSON.parse(json.stdout) as ExplainReport };
    };
    explaining = ask();
    explaining.catch(() => undefined); // awaited below; a failure must not be an unhandled rejection meanwhile
  };

  const qmpSocket = `${LAB_CACHE}/${domain}.qmp`;
  const vm = startGuestVm({
    name: domain,
    guest,
    disk,
    aio,
    runtimeS: opts.runtimeS,
    iodepths: opts.iodepths,
    onLine,
    qmpSocket,
  });
  // Started once QEMU is (startGuestVm throws when it is missing): a sampler nobody stops would keep the test alive.
  const sampler = startSampler(cli, domain, SCRAPE_INTERVAL_MS, () => current?.iodepth);
  let exited = false;
  void vm.exited.then(() => {
    exited = true;
  });
  try {
    await slow?.add(vm.pid);
    await until(() => guestSaid.ready || exited, 180_000, 'the guest to boot');
    if (!guestSaid.ready) throw new Error('QEMU exited before the guest was ready');
    opts.log(`${domain}: guest ready ${(now() / 1000).toFixed(1)} s after QEMU started`);

    // QEMU's own start-up and the guest's partition scan leave a few workers; they exit after ~10 s idle.
    const lastWorkers = () => sampler.samples.at(-1)?.workers;
    await until(() => lastWorkers() === 0, 30_000, "QEMU's worker pool to empty").catch((err: unknown) => {
      opts.log(`${domain}: ${(err as Error).message}; starting with ${String(lastWorkers())} workers`);
    });
    // A line sent before the guest reads its console can be lost: say it again until fio starts.
    for (let tries = 0; current === undefined && phases.length === 0 && tries < 12; tries++) {
      vm.send('go');
      await until(() => current !== undefined || exited, 5000, 'the first phase').catch(() => undefined);
    }
    const phaseBudgetMs = opts.iodepths.length * (opts.runtimeS + 30) * 1000;
    await until(() => guestSaid.done || exited, phaseBudgetMs, 'fio to finish');
    if (!guestSaid.done) throw new Error('QEMU exited before fio finished');
    // explain asks about the VM while it lives: on a loaded host its answer can come after fio's last phase.
    await explaining?.catch(() => undefined);
    vm.send('bye');
    await Promise.race([vm.exited, sleep(30_000, undefined, { ref: false })]);
  } catch (err) {
    throw new Error(`${domain}: ${(err as Error).message}\nlast console lines:\n${consoleTail.join('\n')}`, {
      cause: err,
    });
  } finally {
    await vm.kill();
    await sampler.stop();
  }
  if (sampler.failures.count > 0)
    opts.log(`${domain}: ${String(sampler.failures.count)} scrapes failed, the last with ${sampler.failures.last}`);
  const explained = explaining ? await explaining : undefined;
  return {
    aio,
    domain,
    samples: sampler.samples,
    phases,
    stats: phaseStats(sampler.samples, phases, PEAK_WINDOW_MS),
    explained,
  };
}
