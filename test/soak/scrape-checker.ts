/**
 * Checks every scrape of the soak against the scrapes before it and against what the churn did:
 * - the answer is 200, strictly well-formed text format, and came within the scrape deadline;
 * - a VM is its `qemu_vm_info` (domain and pid), and every series carrying its `domain` label is its own: no
 *   series carries a domain that no `qemu_vm_info` of the same scrape has (a VM gone, its series lingering);
 * - no counter went down, and no counter series of a VM vanished, between two scrapes while its VM lived (same
 *   domain, same pid in both);
 * - a VM that died is in no scrape taken after its death — no series of any family carries its domain, unless a
 *   new process took the name (a `qemu_vm_info` with that domain and another pid); a VM that lives is in every
 *   scrape taken while it lived.
 *
 * "Taken after" an event: concurrent requests share the scrape in flight, so a request sent just after a death
 * may get a scrape that started before it. A scrape surely started after an event at T when it was sent after T and
 * after every request that was in flight at T had been answered (a shared scrape ends before its answers go out).
 */
import { parseExposition } from '../support/exposition.js';

interface Event {
  at: number;
  /** Requests in flight at `at`; the cutoff is known once all have been answered. */
  waitingFor: Set<number>;
  cutoff: number;
}

/** One process the churn started under a domain name: a restart under the same name is another Vm. */
interface Vm {
  name: string;
  pid: number;
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
  /** Counter series compared with an earlier value (never lower). */
  counterChecks: number;
  /** Counter series of a living VM looked for again in a later scrape (never gone). */
  vanishChecks: number;
  deadSeriesChecks: number;
  deathsChecked: number;
  presenceChecks: number;
  /** VMs seen with `source="libvirt"`: their status file was read and matched. */
  libvirtSeen: number;
  latenciesMs: number[];
}

const MAX_MESSAGES = 50;

/** Answers kept as baselines, and how many of them a scrape is checked against: more than ever overlap. */
const MAX_ANSWERS = 64;
const MAX_OVERLAP = 8;

/** One counter series of a scrape and the VM it belongs to (none for the exporter's own). */
interface Counter {
  value: number;
  domain: string | undefined;
}

/** What a scrape showed, kept as a baseline for the scrapes sent after it was answered. */
interface Answer {
  id: number;
  receivedAt: number;
  counters: Map<string, Counter>;
  /** Domain → pid, from `qemu_vm_info`. */
  pids: Map<string, string>;
}

const key = (name: string, pid: number): string => `${name}\0${String(pid)}`;
const seriesName = (s: { name: string; labels: Record<string, string> }): string =>
  `${s.name}${JSON.stringify(s.labels)}`;

export class ScrapeChecker {
  readonly counts: CheckCounts = {
    scrapes: 0,
    failedScrapes: 0,
    counterChecks: 0,
    vanishChecks: 0,
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
  /** Every process started and not yet forgotten, by name and pid: the living one of a name and its dead predecessors. */
  private readonly vms = new Map<string, Vm>();
  private readonly deathsSeen = new Set<string>();
  private readonly libvirtSeen = new Set<string>();
  /** Recent answers, in the order they arrived: the baselines of later scrapes. */
  private readonly answers: Answer[] = [];
  private nextId = 0;

  constructor(private readonly deadlineMs: number) {}

  private fail(message: string): void {
    this.failureCount++;
    if (this.failures.length < MAX_MESSAGES) this.failures.push(message);
  }

  private event(at: number): Event {
    return { at, waitingFor: new Set(this.inFlight.keys()), cutoff: NaN };
  }

  /** The process of this name that has not died (at most one). */
  private living(name: string): Vm | undefined {
    for (const vm of this.vms.values()) if (vm.name === name && !vm.died) return vm;
    return undefined;
  }

  private known(name: string): boolean {
    for (const vm of this.vms.values()) if (vm.name === name) return true;
    return false;
  }

  started(name: string, pid: number, at: number): void {
    const before = this.living(name);
    if (before) this.vms.delete(key(before.name, before.pid));
    this.vms.set(key(name, pid), { name, pid, started: this.event(at) });
  }

  /** SIGKILL is about to be sent: from now on the VM may be gone from any scrape, or half gone. */
  killing(name: string, at: number): void {
    const vm = this.living(name);
    if (vm) vm.killedAt = at;
  }

  /** The process is gone (reaped): no scrape taken from now on may show it. */
  died(name: string, pid: number, at: number): void {
    const vm = this.vms.get(key(name, pid));
    if (vm) vm.died = this.event(at);
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
    /** Every domain any series carries, with the first such series (for the messages). */
    const domains = new Map<string, string>();
    const counters = new Map<string, Counter>();
    for (const s of samples) {
      const domain = s.labels['domain'];
      if (domain !== undefined && !domains.has(domain)) domains.set(domain, seriesName(s));
      if (s.name === 'qemu_vm_info') {
        pids.set(domain ?? '', s.labels['pid'] ?? '');
        if (s.labels['source'] === 'libvirt' && this.known(domain ?? '')) this.libvirtSeen.add(domain ?? '');
      }
      if (s.name.endsWith('_total')) counters.set(seriesName(s), { value: s.value, domain });
    }
    this.counts.libvirtSeen = this.libvirtSeen.size;
    const answer: Answer = { id, receivedAt: r.receivedAt, counters, pids };
    this.checkCounters(where, sentAt, answer);
    const flagged = this.checkLifetimes(where, sentAt, r.receivedAt, pids, domains);
    this.checkOrphans(where, pids, domains, flagged);
  }

  /** Whether the churn had begun to kill this process before the answer arrived (it may be half gone from it). */
  private dying(domain: string, pid: string | undefined, receivedAt: number): boolean {
    const vm = pid === undefined ? undefined : this.vms.get(key(domain, Number(pid)));
    return vm?.killedAt !== undefined && receivedAt >= vm.killedAt;
  }

  /**
   * Against the scrapes answered before this one was sent — surely read earlier (answers that overlap may arrive
   * in either order on separate connections, so the last few are taken, not just the last): a counter of a VM that
   * lived through them (same pid in both) never goes down, and is still there.
   */
  private checkCounters(where: string, sentAt: number, now: Answer): void {
    const earlier = this.answers.filter((a) => a.receivedAt < sentAt).slice(-MAX_OVERLAP);
    this.answers.push(now);
    if (this.answers.length > MAX_ANSWERS) this.answers.shift();
    const livedThrough = (a: Answer, domain: string | undefined): boolean =>
      domain === undefined || (now.pids.get(domain) !== undefined && now.pids.get(domain) === a.pids.get(domain));
    for (const [series, c] of now.counters) {
      let before: Counter | undefined;
      for (const a of earlier) {
        const b = a.counters.get(series);
        if (b === undefined || !livedThrough(a, c.domain)) continue;
        if (before === undefined || b.value > before.value) before = b;
      }
      if (before === undefined) continue;
      this.counts.counterChecks++;
      if (c.value < before.value)
        this.fail(`${where}: ${series} went down, ${String(before.value)} → ${String(c.value)}`);
    }
    const looked = new Set<string>();
    for (const a of earlier) {
      for (const [series, b] of a.counters) {
        if (b.domain === undefined || looked.has(series) || !livedThrough(a, b.domain)) continue;
        if (this.dying(b.domain, now.pids.get(b.domain), now.receivedAt)) continue;
        looked.add(series);
        this.counts.vanishChecks++;
        if (!now.counters.has(series))
          this.fail(
            `${where}: ${series} vanished while its VM lives (pid ${now.pids.get(b.domain) ?? ''}; it was in scrape #${String(a.id)})`,
          );
      }
    }
  }

  /** The churn's VMs: the dead in no later scrape, the living in every one. Returns the domains it flagged. */
  private checkLifetimes(
    where: string,
    sentAt: number,
    receivedAt: number,
    pids: Map<string, string>,
    domains: Map<string, string>,
  ): Set<string> {
    const flagged = new Set<string>();
    for (const [k, vm] of this.vms) {
      const { name, pid } = vm;
      if (vm.died) {
        const cutoff = this.cutoff(vm.died);
        if (Number.isNaN(cutoff) || sentAt <= cutoff) continue;
        this.counts.deadSeriesChecks++;
        this.deathsSeen.add(k);
        const died = `${name} (pid ${String(pid)}) died at +${String(vm.died.at)} ms`;
        if (pids.get(name) === String(pid)) {
          this.fail(`${where}: ${died} and is still exported`);
          flagged.add(name);
        } else if (domains.has(name) && !pids.has(name)) {
          // No new process took the name: whatever carries it is what the dead one left.
          this.fail(`${where}: ${died} and its series linger without its qemu_vm_info: ${domains.get(name) ?? ''}`);
          flagged.add(name);
        }
        continue;
      }
      const cutoff = this.cutoff(vm.started);
      if (Number.isNaN(cutoff) || sentAt <= cutoff || (vm.killedAt !== undefined && receivedAt >= vm.killedAt))
        continue;
      this.counts.presenceChecks++;
      if (pids.get(name) !== String(pid)) this.fail(`${where}: ${name} (pid ${String(pid)}) lives and is missing`);
    }
    this.counts.deathsChecked = this.deathsSeen.size;
    return flagged;
  }

  /** Any scrape, whatever the churn did: a series carries the domain of a `qemu_vm_info` of the same scrape. */
  private checkOrphans(
    where: string,
    pids: Map<string, string>,
    domains: Map<string, string>,
    flagged: Set<string>,
  ): void {
    for (const [domain, series] of domains) {
      if (pids.has(domain) || flagged.has(domain)) continue;
      let last = '';
      for (const a of this.answers)
        if (a.pids.has(domain)) last = ` (last seen as pid ${a.pids.get(domain) ?? ''} in scrape #${String(a.id)})`;
      this.fail(
        `${where}: ${series} carries domain ${JSON.stringify(domain)}, which no qemu_vm_info has: a VM gone${last}, its series lingering`,
      );
    }
  }

  /** VMs that died before `before` and that no scrape has been checked against (a check that never ran). */
  uncheckedDeaths(before: number): string[] {
    return [...this.vms]
      .filter(([k, vm]) => vm.died && vm.died.at < before && !this.deathsSeen.has(k))
      .map(([, vm]) => `${vm.name} (pid ${String(vm.pid)})`);
  }

  /** VMs dead long enough ago that every later scrape has been checked against them can be dropped (bounded memory). */
  forgetOldDeaths(before: number): void {
    for (const [k, vm] of this.vms) if (vm.died && vm.died.at < before && this.deathsSeen.has(k)) this.vms.delete(k);
    for (const [id, at] of this.answeredAt) if (at < before) this.answeredAt.delete(id);
  }
}
