/**
 * A synthetic KVM host: N fake QEMU processes (test/support/fake-qemu.c) with QEMU-named threads — vCPUs, an
 * iothread, the monitor's iothread, call_rcu, the main loop and a worker pool. It is either *idle*, the common
 * case: the pools are parked (they never run, as an idle QEMU's workers), only the vCPUs, iothreads and rcu thread
 * wake every tick; or *busy*, the worst case for reading only what changed: every thread but the main loop wakes
 * every tick, so every one has run between two scrapes. On request it churns: short-lived `worker` threads start at a steady rate
 * across the VMs and each ends a fixed time later (the fakes' `burst N MS`), as a block thread pool's do.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFakeQemu, type FakeQemu } from '../support/fake-qemu.js';
import { cpuSeconds } from './proc-usage.js';

/** The fakes run as this file name, so the benchmark's exporters select them and nobody else's QEMU. */
export const EXECUTABLE = 'qemu-system-bench';
/** Matches the fakes' comm (cut at 15 characters) and argv[0]. */
export const PROCESS_PATTERN = '^qemu-system-ben(ch)?$';
/** fake-qemu.c's limits: threads per process, vCPUs. */
const MAX_THREADS_PER_VM = 8191;
const MAX_VCPUS = 1024;
/** Threads besides vCPUs and workers: main, rcu, `IO iothread1`, `IO mon_iothread`. */
const FIXED_THREADS = 4;

export interface HostShape {
  vms: number;
  threadsPerVm: number;
  vcpus: number;
  tickMs: number;
}

/** idle: the pools parked, a few threads a VM wake; busy: every thread wakes every tick. */
export type Activity = 'idle' | 'busy';

export interface ChurnOptions {
  /** Threads started per second across the host, each VM in turn. */
  ratePerSecond: number;
  /** How long each of them lives: about rate × lifetime of them are alive at any time, beyond the host's own. */
  lifetimeMs: number;
}

export interface HostChurn {
  /** Threads started so far. */
  readonly started: number;
  /** Stops starting threads (those started end on their own); rejects if a fake failed a burst. */
  stop(): Promise<void>;
}

/** How often the churn starts the threads that are due. */
const CHURN_TICK_MS = 100;

export interface SyntheticHost {
  readonly shape: HostShape;
  /** Domain name → PID, and the threads each fake reports itself. */
  readonly vms: readonly { domain: string; pid: number; threads: number }[];
  readonly threads: number;
  /** A regex source matching every domain name of this host and no other. */
  readonly domainPattern: string;
  /** CPU seconds the fakes themselves have used so far (their load on the host). */
  cpuSeconds(): number;
  /** Starts churning threads until the returned handle is stopped. */
  churn(o: ChurnOptions): HostChurn;
  /** Parks the pools (idle) or wakes them every tick (busy). */
  setActivity(a: Activity): Promise<void>;
  stop(): Promise<void>;
}

/** Fails early, with the reason, when the host cannot hold that many more threads. */
function checkThreadLimits(shape: HostShape): void {
  const { vms, threadsPerVm, vcpus } = shape;
  if (vcpus < 1 || vcpus > MAX_VCPUS) throw new Error(`vcpus must be 1..${String(MAX_VCPUS)}`);
  if (threadsPerVm < vcpus + FIXED_THREADS || threadsPerVm > MAX_THREADS_PER_VM) {
    throw new Error(
      `threads per VM must be ${String(vcpus + FIXED_THREADS)}..${String(MAX_THREADS_PER_VM)} with ${String(vcpus)} vCPUs`,
    );
  }
  const read = (path: string): number => Number(readFileSync(path, 'utf8').trim());
  // /proc/loadavg's 4th field is running/total tasks on the host.
  const tasksNow = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[3]?.split('/')[1]);
  const limit = Math.min(read('/proc/sys/kernel/threads-max'), read('/proc/sys/kernel/pid_max'));
  const wanted = vms * threadsPerVm;
  if (tasksNow + wanted > limit * 0.9) {
    throw new Error(
      `${String(wanted)} threads do not fit: ${String(tasksNow)} tasks exist and the host allows ${String(limit)} ` +
        '(min of /proc/sys/kernel/threads-max and pid_max; raise kernel.pid_max)',
    );
  }
}

/** Starts `ratePerSecond × elapsed` threads in all, each tick those due, one more per VM in turn. */
function startChurn(fakes: readonly FakeQemu[], o: ChurnOptions): HostChurn {
  const t0 = performance.now();
  const stopping = new AbortController();
  let started = 0;
  let next = 0;
  let failure: Error | undefined;
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      const due = Math.floor(((performance.now() - t0) / 1000) * o.ratePerSecond) - started;
      if (due > 0) {
        const perVm = new Map<FakeQemu, number>();
        for (let i = 0; i < due; i++) {
          const f = fakes[next++ % fakes.length]!;
          perVm.set(f, (perVm.get(f) ?? 0) + 1);
        }
        // Each answers once its threads run.
        await Promise.all([...perVm].map(([f, n]) => f.send(`burst ${String(n)} ${String(o.lifetimeMs)}`)));
        started += due;
      }
      await sleep(CHURN_TICK_MS);
    }
  })().catch((err: unknown) => {
    failure = err as Error;
    stopping.abort();
  });
  return {
    get started() {
      return started;
    },
    async stop() {
      stopping.abort();
      await loop;
      if (failure) throw failure;
    },
  };
}

/** Starts the host's fakes, `activity` from the start. */
export async function startSyntheticHost(shape: HostShape, tag: string, activity: Activity): Promise<SyntheticHost> {
  checkThreadLimits(shape);
  const fakes: FakeQemu[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(fakes.map((f) => f.stop()));
  };
  const width = String(shape.vms - 1).length;
  try {
    // A few at a time: each creates its threads at once.
    for (let i = 0; i < shape.vms; i += 8) {
      const batch = Array.from({ length: Math.min(8, shape.vms - i) }, (_, j) =>
        startFakeQemu({
          name: `${tag}-${String(i + j).padStart(width, '0')}`,
          vcpus: shape.vcpus,
          workers: shape.threadsPerVm - shape.vcpus - FIXED_THREADS,
          tickMs: shape.tickMs,
          parked: activity === 'idle',
          executable: EXECUTABLE,
        }),
      );
      const started = await Promise.allSettled(batch);
      for (const r of started) if (r.status === 'fulfilled') fakes.push(r.value);
      const failed = started.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
    const vms = await Promise.all(
      fakes.map(async (f) => ({ domain: f.name, pid: f.pid, threads: (await f.threads()).length })),
    );
    const threads = vms.reduce((sum, vm) => sum + vm.threads, 0);
    if (threads !== shape.vms * shape.threadsPerVm)
      throw new Error(`the fakes run ${String(threads)} threads, not ${String(shape.vms * shape.threadsPerVm)}`);
    return {
      shape,
      vms,
      threads,
      domainPattern: `${tag}-[0-9]+`,
      cpuSeconds: () => vms.reduce((sum, vm) => sum + cpuSeconds(vm.pid), 0),
      churn: (o) => startChurn(fakes, o),
      async setActivity(a) {
        const want = `ok park ${a === 'idle' ? '1' : '0'}`;
        for (const answer of await Promise.all(fakes.map((f) => f.send(want.slice(3)))))
          if (answer !== want) throw new Error(`a fake answered ${JSON.stringify(answer)} to ${want.slice(3)}`);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
