/**
 * Checks every scrape of the soak against the one before it and against what the churn did:
 * - the answer is 200, strictly well-formed text format, and came within the scrape deadline;
 * - no counter went down between two consecutive scrapes while its VM lived (same domain, same pid);
 * - a VM that died is in no scrape taken after its death; a VM that lives is in every scrape taken while it lived.
 *
 * "Taken after" an event: concurrent requests share the scrape in flight, so a request sent just after a death
 * may get a scrape that started before it. A scrape surely started after an event at T when it was sent after T and
 * after every request that was in flight at T had been answered (a shared scrape ends before its answers go out).
 */
import { parseExposition } from '../support/exposition.js';

interface Event {
  name: string;
  pid: number;
  at: number;
  /** Requests in flight at `at`; the cutoff is known once all have been answered. */
  waitingFor: Set<number>;
  cutoff: number;
}

interface Vm {
  started: Event;
  killedAt?: number;
  died?: Event;
}

export interface ScrapeResult {
  status: number | undefined;
  body: Uint8Array | undefined;
  error: string | undefined;
  receivedAt: number;
}

export interface CheckCounts {
  scrapes: number;
  failedScrapes: number;
  counterChecks: number;
  deadSeriesChecks: number;
  deathsChecked: number;
  presenceChecks: number;
  /** VMs seen with `source="libvirt"`: their status file was read and matched. */
  libvirtSeen: number;
  latenciesMs: number[];
}

const MAX_MESSAGES = 50;

/** One counter series of a scrape and the VM it belongs to (none for the exporter's own). */
/** Answers kept as baselines, and how many of them a scrape is checked against: more than ever overlap. */
const MAX_ANSWERS = 64;
const MAX_OVERLAP = 8;

interface Counter {
  value: number;
  domain: string | undefined;
}

export class ScrapeChecker {
  readonly counts: CheckCounts = {
    scrapes: 0,
    failedScrapes: 0,
    counterChecks: 0,
    deadSeriesChecks: 0,
    deathsChecked: 0,
    presenceChecks: 0,
    libvirtSeen: 0,
    latenciesMs: [],
  };
  readonly failures: string[] = [];
  failureCount = 0;
  private readonly inFlight = new Map<number, number>();
  private readonly answeredAt = new Map<number, number>();
  private readonly vms = new Map<string, Vm>();
  private readonly deathsSeen = new Set<string>();
  private readonly libvirtSeen = new Set<string>();
  /** Recent answers, in the order they arrived: the baselines of later scrapes. */
  private readonly answers: { receivedAt: number; counters: Map<string, Counter>; pids: Map<string, string> }[] = [];
  private nextId = 0;

  constructor(private readonly deadlineMs: number) {}

  private fail(message: string): void {
    this.failureCount++;
    if (this.failures.length < MAX_MESSAGES) this.failures.push(message);
  }

  private event(name: string, pid: number, at: number): Event {
    return { name, pid, at, waitingFor: new Set(this.inFlight.keys()), cutoff: NaN };
  }

  started(name: string, pid: number, at: number): void {
    this.vms.set(name, { started: this.event(name, pid, at) });
  }

  /** SIGKILL is about to be sent: from now on the VM may be gone from any scrape. */
  killing(name: string, at: number): void {
    const vm = this.vms.get(name);
    if (vm) vm.killedAt = at;
  }

  /** The process is gone (reaped): no scrape taken from now on may show it. */
  died(name: string, pid: number, at: number): void {
    const vm = this.vms.get(name);
    if (vm) vm.died = this.event(name, pid, at);
  }

  /** A request is about to be sent: its id, to pass to `answered`. */
  sending(now: number): number {
    const id = this.nextId++;
    this.inFlight.set(id, now);
    return id;
  }

  /** The cutoff of an event, once every request in flight at it has been answered (NaN before). */
  private cutoff(e: Event): number {
    if (!Number.isNaN(e.cutoff)) return e.cutoff;
    let cutoff = e.at;
    for (const id of e.waitingFor) {
      const at = this.answeredAt.get(id);
      if (at === undefined) return NaN;
      cutoff = Math.max(cutoff, at);
    }
    e.cutoff = cutoff;
    e.waitingFor.clear();
    return cutoff;
  }

  answered(id: number, r: ScrapeResult): void {
    const sentAt = this.inFlight.get(id)!;
    this.inFlight.delete(id);
    this.answeredAt.set(id, r.receivedAt);
    this.counts.scrapes++;
    const ms = r.receivedAt - sentAt;
    this.counts.latenciesMs.push(ms);
    const where = `scrape #${String(id)} (sent at +${String(sentAt)} ms)`;
    if (r.error !== undefined || r.status !== 200 || !r.body) {
      this.counts.failedScrapes++;
      this.fail(`${where}: ${r.error ?? `HTTP ${String(r.status)}`}`);
      return;
    }
    if (ms > this.deadlineMs)
      this.fail(`${where}: took ${String(ms)} ms, over the ${String(this.deadlineMs)} ms deadline`);

    let samples;
    try {
      samples = parseExposition(r.body);
    } catch (err) {
      this.counts.failedScrapes++;
      this.fail(`${where}: ${(err as Error).message}`);
      return;
    }
    const pids = new Map<string, string>();
    for (const s of samples) {
      if (s.name !== 'qemu_vm_info') continue;
      pids.set(s.labels['domain'] ?? '', s.labels['pid'] ?? '');
      if (s.labels['source'] === 'libvirt' && this.vms.has(s.labels['domain'] ?? ''))
        this.libvirtSeen.add(s.labels['domain'] ?? '');
    }
    this.counts.libvirtSeen = this.libvirtSeen.size;
    const counters = new Map<string, Counter>();
    for (const s of samples) {
      if (s.name.endsWith('_total'))
        counters.set(`${s.name}${JSON.stringify(s.labels)}`, { value: s.value, domain: s.labels['domain'] });
    }
    this.checkCounters(where, sentAt, r.receivedAt, counters, pids);
    this.checkLifetimes(where, sentAt, r.receivedAt, pids);
  }

  /**
   * Against the scrapes answered before this one was sent — surely read earlier (answers that overlap may arrive
   * in either order on separate connections, so the last few are taken, not just the last): a counter of a VM that
   * lived through them (same pid) never goes down.
   */
  private checkCounters(
    where: string,
    sentAt: number,
    receivedAt: number,
    counters: Map<string, Counter>,
    pids: Map<string, string>,
  ): void {
    const earlier = this.answers.filter((a) => a.receivedAt < sentAt).slice(-MAX_OVERLAP);
    this.answers.push({ receivedAt, counters, pids });
    if (this.answers.length > MAX_ANSWERS) this.answers.shift();
    for (const [series, now] of counters) {
      let before: Counter | undefined;
      for (const a of earlier) {
        const c = a.counters.get(series);
        if (
          c === undefined ||
          (now.domain !== undefined &&
            (pids.get(now.domain) === undefined || pids.get(now.domain) !== a.pids.get(now.domain)))
        )
          continue;
        if (before === undefined || c.value > before.value) before = c;
      }
      if (before === undefined) continue;
      this.counts.counterChecks++;
      if (now.value < before.value)
        this.fail(`${where}: ${series} went down, ${String(before.value)} → ${String(now.value)}`);
    }
  }

  private checkLifetimes(where: string, sentAt: number, receivedAt: number, pids: Map<string, string>): void {
    for (const [name, vm] of this.vms) {
      if (vm.died) {
        const cutoff = this.cutoff(vm.died);
        if (Number.isNaN(cutoff) || sentAt <= cutoff) continue;
        this.counts.deadSeriesChecks++;
        this.deathsSeen.add(name);
        if (pids.has(name))
          this.fail(
            `${where}: ${name} (pid ${String(vm.died.pid)}) died at +${String(vm.died.at)} ms and is still exported`,
          );
        continue;
      }
      const cutoff = this.cutoff(vm.started);
      if (Number.isNaN(cutoff) || sentAt <= cutoff || (vm.killedAt !== undefined && receivedAt >= vm.killedAt))
        continue;
      this.counts.presenceChecks++;
      if (pids.get(name) !== String(vm.started.pid))
        this.fail(`${where}: ${name} (pid ${String(vm.started.pid)}) lives and is missing`);
    }
    this.counts.deathsChecked = this.deathsSeen.size;
  }

  /** VMs that died before `before` and that no scrape has been checked against (a check that never ran). */
  uncheckedDeaths(before: number): string[] {
    return [...this.vms]
      .filter(([name, vm]) => vm.died && vm.died.at < before && !this.deathsSeen.has(name))
      .map(([name]) => name);
  }

  /** VMs dead long enough ago that every later scrape has been checked against them can be dropped (bounded memory). */
  forgetOldDeaths(before: number): void {
    for (const [name, vm] of this.vms)
      if (vm.died && vm.died.at < before && this.deathsSeen.has(name)) this.vms.delete(name);
    for (const [id, at] of this.answeredAt) if (at < before) this.answeredAt.delete(id);
  }
}
