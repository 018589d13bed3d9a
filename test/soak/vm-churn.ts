/**
 * The soak's host: fake QEMUs that start and die, grow, shrink and burst their worker pools, half of them
 * "managed by libvirt" (a status file whose pid and vCPU thread ids are the fake's own, rewritten now and then,
 * sometimes half-written first). It tells the checker when each VM became visible and when it died.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFakeQemu, type FakeQemu } from '../support/fake-qemu.js';
import { statusXml, writeStatusFile } from '../support/status-files.js';

export interface ChurnEvents {
  /** The VM's process and threads exist from `at` on. */
  started(name: string, pid: number, at: number): void;
  /** SIGKILL is about to be sent. */
  killing(name: string, at: number): void;
  /** The process is gone (reaped) since `at`. */
  died(name: string, pid: number, at: number): void;
}

export interface ChurnCounts {
  vmsStarted: number;
  vmsKilled: number;
  libvirtNamed: number;
  threadsSpawned: number;
  statusWrites: number;
  bursts: number;
}

interface Vm {
  name: string;
  fake: FakeQemu;
  workers: number;
  libvirt: boolean;
  vcpuTids: number[];
}

const VCPUS = 2;

/**
 * The soak's fakes run under their own name, and the exporter under test watches only them
 * (SOAK_PROCESS_PATTERN): QEMUs of other tests or benchmarks on the host are not part of the soak's checks.
 */
const SOAK_EXECUTABLE = 'qemu-system-soak';
/** Matches the comm (`qemu-system-soa`, cut at 15 characters) and argv[0]'s basename. */
export const SOAK_PROCESS_PATTERN = '^qemu-system-soak?$';

export class VmChurn {
  readonly counts: ChurnCounts = {
    vmsStarted: 0,
    vmsKilled: 0,
    libvirtNamed: 0,
    threadsSpawned: 0,
    statusWrites: 0,
    bursts: 0,
  };
  private readonly vms: Vm[] = [];
  private serial = 0;
  private stopping = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly statusDir: string,
    private readonly events: ChurnEvents,
    private readonly opts: { population: number; stepMs: number; clock: () => number },
  ) {}

  /** Starts the population, then churns until stop(). */
  run(): Promise<void> {
    this.running = (async () => {
      for (let i = 0; i < this.opts.population && !this.stopping; i++) await this.spawn();
      while (!this.stopping) {
        await this.step();
        await sleep(this.opts.stepMs * (0.5 + Math.random()));
      }
    })();
    return this.running;
  }

  /** Ends the churn (after the step under way) and kills every VM. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running?.catch(() => undefined);
    await Promise.all(this.vms.splice(0).map((vm) => vm.fake.stop()));
  }

  private pick(): Vm | undefined {
    return this.vms[Math.floor(Math.random() * this.vms.length)];
  }

  private async step(): Promise<void> {
    const vm = this.pick();
    if (!vm) return;
    const roll = Math.random();
    try {
      if (roll < 0.12) {
        await this.kill(vm);
        await this.spawn();
      } else if (roll < 0.55) {
        // Short-lived workers, many dying between two scrapes (and between a listing and a read).
        const n = 5 + Math.floor(Math.random() * 36);
        await vm.fake.send(`burst ${String(n)} ${String(20 + Math.floor(Math.random() * 400))}`);
        this.counts.threadsSpawned += n;
        this.counts.bursts++;
      } else if (roll < 0.8) {
        const n = Math.floor(Math.random() * 17);
        await vm.fake.send(`workers ${String(n)}`);
        this.counts.threadsSpawned += Math.max(0, n - vm.workers);
        vm.workers = n;
      } else if (vm.libvirt) {
        await this.rewriteStatus(vm, Math.random() < 0.3);
      }
    } catch (err) {
      if (!this.stopping) throw err;
    }
  }

  private async spawn(): Promise<void> {
    const name = `soak-${String(process.pid)}-${String(++this.serial)}`;
    const fake = await startFakeQemu({ name, vcpus: VCPUS, workers: 2, tickMs: 100, executable: SOAK_EXECUTABLE });
    const threads = await fake.threads();
    const vcpuTids = threads
      .filter((t) => t.name.startsWith('CPU '))
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((t) => t.tid);
    const vm: Vm = { name, fake, workers: 2, libvirt: this.serial % 2 === 0, vcpuTids };
    this.vms.push(vm);
    this.counts.vmsStarted++;
    this.counts.threadsSpawned += threads.length;
    if (vm.libvirt) {
      this.counts.libvirtNamed++;
      await this.rewriteStatus(vm, false);
    }
    this.events.started(name, fake.pid, this.opts.clock());
  }

  /** libvirt's way (a new file renamed in), or first a half-written file in place, completed a moment later. */
  private async rewriteStatus(vm: Vm, halfFirst: boolean): Promise<void> {
    const file = `${vm.name}.xml`;
    const xml = statusXml(vm.name, vm.fake.pid, vm.vcpuTids);
    if (halfFirst) {
      await writeFile(join(this.statusDir, file), xml.slice(0, xml.length >> 1));
      await sleep(Math.random() * 50);
    }
    writeStatusFile(this.statusDir, file, xml);
    this.counts.statusWrites++;
  }

  private async kill(vm: Vm): Promise<void> {
    this.vms.splice(this.vms.indexOf(vm), 1);
    this.events.killing(vm.name, this.opts.clock());
    await vm.fake.stop();
    this.events.died(vm.name, vm.fake.pid, this.opts.clock());
    this.counts.vmsKilled++;
    // libvirt removes the file when QEMU ends; now and then it is left behind (a crashed libvirtd) for a while.
    if (vm.libvirt) {
      const stale = Math.random() < 0.3;
      const remove = () => rm(join(this.statusDir, `${vm.name}.xml`), { force: true });
      if (stale)
        setTimeout(() => {
          void remove();
        }, 3000).unref();
      else await remove();
    }
  }
}
