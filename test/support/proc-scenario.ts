/**
 * A host in a temporary directory — /proc, /sys, a root filesystem and libvirt's status directory — that a test
 * rewrites between snapshots (counters advance, threads come and go, states change), and the exporter's real
 * read pipeline over it, with explain's history, on a simulated clock: every read takes the `now` the test gives.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { parseConfig } from '../../src/cli/flags.js';
import { DEFAULT_THRESHOLDS, type Thresholds } from '../../src/explain/findings/thresholds.js';
import { History } from '../../src/explain/history.js';
import { explainReport, type ExplainReport, type VmReport } from '../../src/explain/report.js';
import type { Roots } from '../../src/host/host-fs.js';
import type { Problems } from '../../src/host/problems.js';
import type { Inventory } from '../../src/model/inventory.js';
import { ReadPipeline } from '../../src/model/pipeline.js';
import type { Snapshot } from '../../src/model/snapshot.js';
import { cgroupText, schedstatLine, statLine, statusText, type TaskCounters } from './proc-files.js';
import { writeStatusFile } from './status-files.js';

export interface ScenarioThread extends TaskCounters {
  tid: number;
  /** libvirt's cgroup leaf (`emulator`, `vcpu0`, `iothread1`), for a VM with `cgroupBase`. */
  cgroup?: string;
}

export interface ScenarioVm {
  pid: number;
  /** The process's comm (`qemu-kvm`, `qemu-system-x86`). */
  comm: string;
  argv: readonly string[];
  /** The main thread (tid = pid) first. */
  threads: ScenarioThread[];
  /** libvirt's machine group, e.g. `/machine/qemu-29-vm1.libvirt-qemu`; threads elsewhere are in /user.slice. */
  cgroupBase?: string;
}

/** The counters of /sys/class/block/DEV/stat that the findings read. */
export interface BlockCounters {
  reads: number;
  readTimeMs: number;
  writes: number;
  writeTimeMs: number;
  /** A gauge: requests in flight now. */
  inFlight: number;
  ioTimeMs: number;
}

export const idleDisk = (): BlockCounters => ({
  reads: 0,
  readTimeMs: 0,
  writes: 0,
  writeTimeMs: 0,
  inFlight: 0,
  ioTimeMs: 0,
});

/** Per second: what a thread does while the clock runs (see `advance`). */
export interface Rates {
  utime?: number;
  stime?: number;
  vol?: number;
  invol?: number;
  /** Run-queue wait, ms per second of wall time (100: waits a tenth of the time). */
  waitMs?: number;
}

/** Moves a thread's counters on by `seconds` at `rates`, and sets its state if given. */
export function advance(t: ScenarioThread, seconds: number, rates: Rates, state?: string): void {
  t.utime += Math.round((rates.utime ?? 0) * seconds);
  t.stime += Math.round((rates.stime ?? 0) * seconds);
  t.vol += Math.round((rates.vol ?? 0) * seconds);
  t.invol += Math.round((rates.invol ?? 0) * seconds);
  t.waitNs += Math.round((rates.waitMs ?? 0) * seconds * 1e6);
  if (state !== undefined) t.state = state;
}

/** Moves a block device's counters on by `seconds`: `iops` requests completed at `latencyMs` each, `util` (0–1) busy. */
export function advanceDisk(
  d: BlockCounters,
  seconds: number,
  o: { iops: number; latencyMs: number; util: number; inFlight: number; writeShare?: number },
): void {
  const ios = Math.round(o.iops * seconds);
  const writes = Math.round(ios * (o.writeShare ?? 0));
  d.reads += ios - writes;
  d.writes += writes;
  d.readTimeMs += Math.round((ios - writes) * o.latencyMs);
  d.writeTimeMs += Math.round(writes * o.latencyMs);
  d.ioTimeMs += Math.round(seconds * 1000 * o.util);
  d.inFlight = o.inFlight;
}

/** Wraps a live `<domain>` document (virsh dumpxml) into a status file of a running domain, as libvirt writes it. */
export function domstatus(domainXml: string, pid: number, vcpuTids: readonly number[]): string {
  const domain = domainXml.replace(/^<\?xml[^>]*>\s*/, '').trim();
  if (!domain.startsWith('<domain')) throw new Error('not a <domain> document');
  const vcpus = vcpuTids.map((tid, id) => `    <vcpu id='${String(id)}' pid='${String(tid)}'/>`).join('\n');
  return `<domstatus state='running' reason='booted' pid='${String(pid)}'>\n  <vcpus>\n${vcpus}\n  </vcpus>\n${domain}\n</domstatus>\n`;
}

/** A fake host's file tree. */
export class ProcScenario {
  readonly roots: Roots;
  private readonly written = new Map<number, Set<number>>();

  private constructor(readonly dir: string) {
    this.roots = {
      procfs: join(dir, 'proc'),
      sysfs: join(dir, 'sys'),
      rootfs: join(dir, 'rootfs'),
      libvirtStatusDir: join(dir, 'run/libvirt/qemu'),
    };
    const { procfs, sysfs, rootfs, libvirtStatusDir } = this.roots;
    for (const d of [procfs, sysfs, rootfs, libvirtStatusDir]) mkdirSync(d, { recursive: true });
    // Not QEMU: init, and a kernel thread (empty cmdline), as on any host.
    this.put('proc/1/comm', 'systemd\n');
    this.put('proc/1/cmdline', '/sbin/init\0');
    this.put('proc/2/comm', 'kthreadd\n');
    this.put('proc/2/cmdline', '');
  }

  static create(): ProcScenario {
    return new ProcScenario(mkdtempSync(join(tmpdir(), 'qte-scenario-')));
  }

  put(path: string, text: string): void {
    const full = join(this.dir, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, text);
  }

  /** Writes (or rewrites) a VM's process: comm, cmdline, stat, io and every thread's files; threads no longer listed vanish. */
  writeVm(vm: ScenarioVm): void {
    const { pid, threads } = vm;
    const main = threads.find((t) => t.tid === pid);
    if (!main) throw new Error(`VM ${String(pid)}: no main thread`);
    const n = threads.length;
    this.put(`proc/${pid}/comm`, `${vm.comm}\n`);
    this.put(`proc/${pid}/cmdline`, `${vm.argv.join('\0')}\0`);
    const utime = threads.reduce((s, t) => s + t.utime, 0);
    const stime = threads.reduce((s, t) => s + t.stime, 0);
    this.put(
      `proc/${pid}/stat`,
      statLine(pid, { comm: vm.comm, state: main.state, utime, stime, start: main.start }, n, 10240),
    );
    this.put(
      `proc/${pid}/io`,
      'rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\nread_bytes: 4096\nwrite_bytes: 0\ncancelled_write_bytes: 0\n',
    );
    const now = new Set(threads.map((t) => t.tid));
    for (const tid of this.written.get(pid) ?? [])
      if (!now.has(tid))
        rmSync(join(this.roots.procfs, String(pid), 'task', String(tid)), { recursive: true, force: true });
    this.written.set(pid, now);
    for (const t of threads) {
      const dir = `proc/${pid}/task/${t.tid}`;
      this.put(`${dir}/stat`, statLine(t.tid, t, n, 10240));
      this.put(`${dir}/status`, statusText(pid, t.tid, t, t.tid === pid ? 40960 : undefined, n));
      this.put(`${dir}/schedstat`, schedstatLine(t));
      this.put(
        `${dir}/cgroup`,
        cgroupText(
          vm.cgroupBase !== undefined && t.cgroup !== undefined ? `${vm.cgroupBase}/${t.cgroup}` : '/user.slice',
        ),
      );
    }
  }

  /** The process ends. */
  removeVm(pid: number): void {
    rmSync(join(this.roots.procfs, String(pid)), { recursive: true, force: true });
    this.written.delete(pid);
  }

  /** /sys/class/block/DEV/stat: the 17 fields of a 5.5+ kernel. */
  writeBlockStat(dev: string, c: BlockCounters): void {
    const f = [
      c.reads,
      0,
      c.reads * 8,
      c.readTimeMs,
      c.writes,
      0,
      c.writes * 8,
      c.writeTimeMs,
      c.inFlight,
      c.ioTimeMs,
      c.readTimeMs + c.writeTimeMs,
      0,
      0,
      0,
      0,
      0,
      0,
    ];
    this.put(`sys/class/block/${dev}/stat`, `${f.map((v) => String(v).padStart(8)).join(' ')}\n`);
  }

  /** A host device node /dev/DEV (a plain file: the fixture has no device nodes) and a link to it, e.g. /dev/disk/by-id/wwn-…. */
  linkDisk(linkPath: string, dev: string): void {
    this.put(`rootfs/dev/${dev}`, '');
    const full = join(this.roots.rootfs, linkPath);
    mkdirSync(dirname(full), { recursive: true });
    symlinkSync(`/dev/${dev}`, full);
  }

  /** libvirt's `/run/libvirt/qemu/NAME.xml`, written the way libvirt does (a new file renamed over the old). */
  writeStatusFile(name: string, xml: string): void {
    writeStatusFile(this.roots.libvirtStatusDir, `${name}.xml`, xml);
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface PipelineOptions {
  /** The simulated time of the startup census (ms since the epoch). */
  t0: number;
  /** Defaults: the CLI's (5m window, 15s interval, 30s peak window, the qemu process pattern). */
  windowMs?: number;
  intervalMs?: number;
  peakWindowMs?: number;
}

export interface Pipeline {
  readonly history: History;
  readonly inventory: Inventory;
  readonly problems: Problems;
  /** One scrape's read at `now`, recorded into the history. */
  read(now: number): Promise<Snapshot>;
  /** explainReport over the history, with DEFAULT_THRESHOLDS unless told. */
  report(now: number, domain?: string, thresholds?: Thresholds): ExplainReport;
  /** The report of one domain (throws if it is not there). */
  vm(now: number, domain: string, thresholds?: Thresholds): VmReport;
  stop(): Promise<void>;
}

/**
 * The exporter's read pipeline, without HTTP or timers: libvirt's status files are read, a first sync lists the
 * threads and disk sources are resolved (as Exporter.start), then each `read(now)` is one scrape, recorded into the
 * history as the explainer does.
 */
export async function startPipeline(roots: Roots, o: PipelineOptions): Promise<Pipeline> {
  const cfg = parseConfig([], 'test');
  const pipeline = new ReadPipeline({
    roots,
    processPattern: cfg.processPattern,
    peakWindowMs: o.peakWindowMs ?? cfg.peakWindowMs,
    log: pino({ level: 'silent' }),
  });
  const history = new History(o.windowMs ?? cfg.explain.windowMs, o.intervalMs ?? cfg.explain.intervalMs);
  pipeline.onSnapshot((snap) => {
    history.record(snap);
  });
  try {
    await pipeline.open(o.t0);
  } catch (err) {
    await pipeline.stop();
    throw err;
  }
  const report = (now: number, domain?: string, thresholds: Thresholds = DEFAULT_THRESHOLDS) =>
    explainReport(history, thresholds, now, domain);
  return {
    history,
    inventory: pipeline.inventory,
    problems: pipeline.problems,
    async read(now) {
      const { snapshot } = await pipeline.snapshot(Infinity, now);
      // A disk source seen for the first time resolves off the read path: settle it for the next read.
      await pipeline.inventory.settled();
      return snapshot;
    },
    report,
    vm(now, domain, thresholds) {
      const r = report(now, domain, thresholds).vms[0];
      if (!r)
        throw new Error(
          `no VM named ${domain} in the history (have: ${history
            .vms()
            .map((p) => p.at(-1)!.vm.identity.domain)
            .join(', ')})`,
        );
      return r;
    },
    stop: () => pipeline.stop(),
  };
}
