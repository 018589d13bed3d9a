import type { GuestDiskSource, GuestDisksAnswer, GuestDiskStats, LatencyHistogram } from '../guest-disk-stats.js';
import type { HostFs } from '../host-fs.js';
import type { Problems, Reason } from '../problems.js';
import type { Source, SourceVm } from '../source.js';
import { diskNameOf, parseBlockstats, type BlockStats, type HistogramOp } from './blockstats.js';
import { QmpCommandError, QmpError, qmpSession, QmpTimeoutError, type QmpCommand } from './qmp.js';

export interface QmpOptions {
  /** --collector.qmp: off, the source is not in use. */
  enabled: boolean;
  timeoutMs: number;
  /** --qmp.latency-histogram: bin edges (ns) to set once per disk; empty: leave QEMU's histograms alone. */
  boundariesNs: readonly number[];
}

interface Vm {
  answer: GuestDisksAnswer | undefined;
  /** Devices (by qdev) whose histograms this exporter set, with QEMU's total times then (the histograms count from there). */
  histograms: Map<string, Record<HistogramOp, number>>;
}

/** A monitor socket libvirt holds for itself (`…/libvirt/qemu/domain-N-NAME/monitor.sock`): never this exporter's to use. */
const LIBVIRTS = /\/libvirt\//;

/**
 * QEMU's disk statistics over QMP, for VMs without libvirt: at each scrape, per VM, one short session on the first
 * QMP socket its command line names (`query-blockstats`, and once per disk `block-latency-histogram-set` when asked),
 * opened through /proc/PID/root so the path resolves where QEMU sees it (a container, a pod). A socket serves one
 * client at a time: a VM whose socket is busy or slow keeps its last answer, marked stale by its age.
 */
export class QmpBlockstats implements Source, GuestDiskSource {
  readonly name = 'qmp';
  private readonly vms = new Map<number, Vm>();
  private failedLast = false;

  constructor(
    private readonly fs: HostFs,
    private readonly problems: Problems,
    private readonly o: QmpOptions,
  ) {}

  start(): Promise<void> {
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  active(): boolean {
    return this.o.enabled;
  }

  healthy(): boolean {
    return !this.failedLast;
  }

  async collect(deadline: number, vms: readonly SourceVm[]): Promise<void> {
    if (!this.o.enabled) return;
    const asked = vms.filter(
      (v) => v.source === 'cmdline' && v.qmpSockets[0] !== undefined && !LIBVIRTS.test(v.qmpSockets[0]),
    );
    for (const pid of this.vms.keys()) if (!asked.some((v) => v.pid === pid)) this.vms.delete(pid);
    const until = Math.min(deadline, Date.now() + this.o.timeoutMs);
    const results = await Promise.all(asked.map((v) => this.ask(v, until)));
    this.failedLast = results.includes(false);
  }

  guestDisks(vm: SourceVm): GuestDisksAnswer | undefined {
    return vm.source === 'cmdline' ? this.vms.get(vm.pid)?.answer : undefined;
  }

  /** One session with one VM; false when it failed (its last answer stays). */
  private async ask(v: SourceVm, deadline: number): Promise<boolean> {
    let state = this.vms.get(v.pid);
    if (!state) this.vms.set(v.pid, (state = { answer: undefined, histograms: new Map() }));
    const socket = this.fs.proc(v.pid, 'root', v.qmpSockets[0]!);
    try {
      const [ret] = await qmpSession(socket, [{ execute: 'query-blockstats' }], deadline);
      const stats = parseBlockstats(ret);
      if (this.o.boundariesNs.length > 0) await this.setHistograms(v, socket, stats, state, deadline);
      state.answer = { disks: this.disks(stats, state), at: Date.now() };
      return true;
    } catch (err) {
      this.report(v, err);
      return false;
    }
  }

  /**
   * Sets the latency histograms of the devices that have none from this exporter yet, in a session of its own, and
   * notes QEMU's total times at that moment: the histograms count from there. A device QEMU refuses is not asked again.
   */
  private async setHistograms(
    v: SourceVm,
    socket: string,
    stats: BlockStats[],
    state: Vm,
    deadline: number,
  ): Promise<void> {
    // QEMU looks up the device the drive is attached to, by qdev (its id, or a path for an inner one like virtio-blk's).
    const toSet = stats.filter((s) => s.qdev !== '' && !state.histograms.has(s.qdev));
    if (toSet.length === 0) return;
    const commands: QmpCommand[] = toSet.map((s) => ({
      execute: 'block-latency-histogram-set',
      arguments: { id: s.qdev, boundaries: [...this.o.boundariesNs] },
    }));
    for (const s of toSet)
      state.histograms.set(s.qdev, { rd: s.rdTotalTimeNs, wr: s.wrTotalTimeNs, flush: s.flushTotalTimeNs });
    try {
      await qmpSession(socket, commands, deadline);
    } catch (err) {
      if (!(err instanceof QmpCommandError)) throw err;
      this.report(v, err);
    }
  }

  private report(v: SourceVm, err: unknown): void {
    const reason: Reason =
      err instanceof QmpTimeoutError
        ? 'timeout'
        : err instanceof QmpError
          ? err.code === 'EACCES' || err.code === 'EPERM'
            ? 'denied'
            : 'io'
          : 'parse';
    this.problems.report(
      'qmp',
      reason,
      `${reason}:${v.domain}`,
      `QMP of ${v.domain} (pid ${String(v.pid)}): ${(err as Error).message}`,
    );
  }

  private disks(stats: BlockStats[], state: Vm): Map<string, GuestDiskStats> {
    const out = new Map<string, GuestDiskStats>();
    for (const s of stats) {
      const name = diskNameOf(s);
      if (name === undefined) continue;
      const base = state.histograms.get(s.qdev);
      const histogram = (op: HistogramOp, totalNs: number): LatencyHistogram | undefined => {
        const h = s.histograms[op];
        return h && base
          ? { boundariesNs: h.boundaries, bins: h.bins, sumNs: Math.max(0, totalNs - base[op]) }
          : undefined;
      };
      const readHistogram = histogram('rd', s.rdTotalTimeNs);
      const writeHistogram = histogram('wr', s.wrTotalTimeNs);
      const flushHistogram = histogram('flush', s.flushTotalTimeNs);
      out.set(name, {
        reads: s.rdOperations,
        writes: s.wrOperations,
        flushes: s.flushOperations,
        readBytes: s.rdBytes,
        writtenBytes: s.wrBytes,
        readTimeNs: s.rdTotalTimeNs,
        writeTimeNs: s.wrTotalTimeNs,
        flushTimeNs: s.flushTotalTimeNs,
        ...(readHistogram && { readHistogram }),
        ...(writeHistogram && { writeHistogram }),
        ...(flushHistogram && { flushHistogram }),
      });
    }
    return out;
  }
}
