/**
 * The churn soak: the real CLI on this host's /proc, fake QEMUs starting, dying and bursting threads, libvirt-like
 * status files rewritten, and concurrent scrapers polling all along. Every scrape is checked (scrape-checker.ts);
 * the exporter's RSS at the end must be within 10 % of its RSS after warm-up.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startCli } from '../support/cli.js';
import { ScrapeChecker } from './scrape-checker.js';
import { SOAK_PROCESS_PATTERN, VmChurn } from './vm-churn.js';

export interface SoakOptions {
  durationMs: number;
  /** RSS is first measured after this. */
  warmupMs: number;
  scrapers: number;
  /** --scrape.timeout of the exporter; a slower answer is a failure. */
  deadlineMs: number;
  /** Fake QEMUs alive at any time. */
  population: number;
  /** Mean pause between two churn steps (kill/start, burst, pool resize, status rewrite). Default 250 ms. */
  stepMs?: number;
  /** Longest pause of a scraper between two scrapes. Default 200 ms. */
  pauseMs?: number;
  /** Check the RSS growth (needs a run long enough to warm up). Default true. */
  checkRss?: boolean;
  /** Called with a progress line now and then (long runs). */
  progress?: (line: string) => void;
}

export interface SoakSummary {
  durationMs: number;
  scrapers: number;
  scrapes: number;
  failedScrapes: number;
  latencyMs: { p50: number; p99: number; max: number };
  vmsStarted: number;
  vmsKilled: number;
  libvirtNamed: number;
  statusWrites: number;
  threadsSpawned: number;
  bursts: number;
  counterChecks: number;
  vanishChecks: number;
  deadSeriesChecks: number;
  deathsChecked: number;
  presenceChecks: number;
  libvirtSeen: number;
  rssChecked: boolean;
  rssStartBytes: number;
  rssEndBytes: number;
  exporterCpuSeconds: number;
  exporterErrors: string;
  /** From the exporter's own metrics in the last scrape: V8 heap in use, and full collections so far. */
  exporterHeapUsedBytes: number;
  exporterMajorGcs: number;
  failureCount: number;
  failures: string[];
}

/** A growth of RSS beyond this, from after warm-up to the end, is a leak. */
const RSS_TOLERANCE = 0.1;

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
/**
 * The exporter runs with V8's old space capped (its live heap is ~20-30 MiB). Uncapped, V8 lets garbage pile up for
 * minutes before its full collections settle: RSS climbed ~10 % a minute early on with no leak at all (measured;
 * flat from the third minute on). Capped, garbage is collected early, while a leak of live objects still grows
 * RSS — and ends in an out-of-memory exit, which the soak reports.
 */
const HEAP_CAP_MIB = 64;

/** The V8 flags the exporter runs with in production: those of src/main.ts's `#!/usr/bin/env -S node …` line. */
const PRODUCTION_V8_FLAGS = (readFileSync(MAIN, 'utf8').split('\n', 1)[0] ?? '')
  .split(' ')
  .filter((a) => a.startsWith('--'));

function rssOf(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
}

export async function runSoak(o: SoakOptions): Promise<SoakSummary> {
  const origin = performance.now();
  const clock = () => Math.round(performance.now() - origin);
  const statusDir = mkdtempSync(join(tmpdir(), 'qte-soak-status-'));
  const cli = await startCli(
    [
      `--libvirt.status-dir=${statusDir}`,
      `--scrape.timeout=${String(o.deadlineMs)}ms`,
      `--qemu.process-pattern=${SOAK_PROCESS_PATTERN}`,
    ],
    {
      command: [
        process.execPath,
        ...PRODUCTION_V8_FLAGS,
        `--max-old-space-size=${String(HEAP_CAP_MIB)}`,
        '--import',
        'tsx',
        MAIN,
      ],
    },
  );
  const checker = new ScrapeChecker(o.deadlineMs);
  const churn = new VmChurn(statusDir, checker, { population: o.population, stepMs: o.stepMs ?? 250, clock });
  const extraFailures: string[] = [];
  let stop = false;

  const churning = churn.run().catch((err: unknown) => {
    extraFailures.push(`churn failed: ${String(err)}`);
  });

  let lastBody: Uint8Array | undefined;
  const scraper = async (): Promise<void> => {
    while (!stop) {
      const id = checker.sending(clock());
      let status: number | undefined;
      let body: Uint8Array | undefined;
      let error: string | undefined;
      try {
        const res = await fetch(`${cli.url}/metrics`, { signal: AbortSignal.timeout(o.deadlineMs + 5000) });
        status = res.status;
        body = new Uint8Array(await res.arrayBuffer());
      } catch (err) {
        error = (err as Error).message;
      }
      checker.answered(id, { status, body, error, receivedAt: clock() });
      if (body) lastBody = body;
      await sleep(Math.random() * (o.pauseMs ?? 200));
    }
  };
  // Wait for the first VMs, so the scrapers start on a populated host.
  while (churn.counts.vmsStarted < o.population && clock() < o.durationMs) await sleep(50);
  const scraping = Array.from({ length: o.scrapers }, scraper);

  const rss: { at: number; bytes: number }[] = [];
  let nextProgress = 30_000;
  while (clock() < o.durationMs) {
    await sleep(1000);
    try {
      rss.push({ at: clock(), bytes: rssOf(cli.pid) });
    } catch {
      extraFailures.push(`the exporter (pid ${String(cli.pid)}) is gone at +${String(clock())} ms`);
      break;
    }
    checker.forgetOldDeaths(clock() - 60_000);
    if (o.progress && clock() >= nextProgress) {
      nextProgress += 30_000;
      o.progress(
        `+${String(Math.round(clock() / 1000))} s: ${String(checker.counts.scrapes)} scrapes, ${String(churn.counts.vmsStarted)} VMs started, ` +
          `${String(checker.failureCount)} failures, RSS ${(rss.at(-1)!.bytes / 2 ** 20).toFixed(1)} MiB`,
      );
    }
  }
  const durationMs = clock();
  stop = true;
  await Promise.all(scraping);
  await churn.stop();
  await churning;
  const exporterCpuSeconds = cli.cpuSeconds();
  const exit = await cli.terminate();
  rmSync(statusDir, { recursive: true, force: true });
  if (exit.code !== 0) extraFailures.push(`the exporter exited with ${String(exit.code)} on SIGTERM`);

  // RSS: the median over a window right after warm-up, against the median over the same window at the end.
  const window = Math.min(30_000, Math.max(5000, o.durationMs / 10));
  const rssStartBytes = median(rss.filter((s) => s.at >= o.warmupMs && s.at < o.warmupMs + window).map((s) => s.bytes));
  const rssEndBytes = median(rss.filter((s) => s.at >= durationMs - window).map((s) => s.bytes));
  if (o.checkRss !== false && !(rssEndBytes <= rssStartBytes * (1 + RSS_TOLERANCE))) {
    extraFailures.push(
      `RSS grew from ${String(rssStartBytes)} to ${String(rssEndBytes)} bytes (more than ${String(RSS_TOLERANCE * 100)} %)`,
    );
  }
  const unchecked = checker.uncheckedDeaths(durationMs - 5000);
  if (unchecked.length > 0) extraFailures.push(`no scrape was checked against the deaths of ${unchecked.join(', ')}`);

  const lastLines = lastBody ? new TextDecoder().decode(lastBody).split('\n') : [];
  const errors = lastLines.filter((l) => l.startsWith('qemu_exporter_errors_total{'));
  const sampleOf = (series: string) =>
    Number(lastLines.find((l) => l.startsWith(`${series} `))?.slice(series.length + 1));
  const c = checker.counts;
  return {
    durationMs,
    scrapers: o.scrapers,
    scrapes: c.scrapes,
    failedScrapes: c.failedScrapes,
    latencyMs: {
      p50: percentile(c.latenciesMs, 0.5),
      p99: percentile(c.latenciesMs, 0.99),
      max: Math.max(...c.latenciesMs),
    },
    ...churn.counts,
    counterChecks: c.counterChecks,
    vanishChecks: c.vanishChecks,
    deadSeriesChecks: c.deadSeriesChecks,
    deathsChecked: c.deathsChecked,
    presenceChecks: c.presenceChecks,
    libvirtSeen: c.libvirtSeen,
    rssChecked: o.checkRss !== false,
    rssStartBytes,
    rssEndBytes,
    exporterCpuSeconds,
    exporterErrors: errors.map((l) => l.replace('qemu_exporter_errors_total', '')).join(' '),
    exporterHeapUsedBytes: sampleOf('nodejs_heap_size_used_bytes'),
    exporterMajorGcs: sampleOf('nodejs_gc_duration_seconds_count{kind="major"}'),
    failureCount: checker.failureCount + extraFailures.length,
    failures: [...checker.failures, ...extraFailures],
  };
}

export function formatSummary(s: SoakSummary): string {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const change = ((s.rssEndBytes / s.rssStartBytes - 1) * 100).toFixed(1);
  const lines = [
    `soak summary: ${(s.durationMs / 1000).toFixed(0)} s, ${String(s.scrapers)} concurrent scrapers`,
    `  scrapes          ${String(s.scrapes)} (${String(s.failedScrapes)} failed); latency p50 ${String(s.latencyMs.p50)} ms, p99 ${String(s.latencyMs.p99)} ms, max ${String(s.latencyMs.max)} ms`,
    `  VMs churned      ${String(s.vmsStarted)} started, ${String(s.vmsKilled)} killed; ${String(s.libvirtNamed)} with a status file (${String(s.libvirtSeen)} seen as source="libvirt"), ${String(s.statusWrites)} status-file writes`,
    `  threads spawned  ${String(s.threadsSpawned)} (${String(s.bursts)} bursts)`,
    `  counter checks   ${String(s.counterChecks)} never lower, ${String(s.vanishChecks)} still there (a living VM's)`,
    `  series checks    every series's domain has a qemu_vm_info; ${String(s.deadSeriesChecks)} dead-VM checks over ${String(s.deathsChecked)} deaths; ${String(s.presenceChecks)} live-VM checks`,
    `  RSS              ${mib(s.rssStartBytes)} after warm-up → ${mib(s.rssEndBytes)} at the end (${Number(change) >= 0 ? '+' : ''}${change} %${s.rssChecked ? ', limit +10 %' : ', not checked: run too short'})`,
    `  exporter         ${s.exporterCpuSeconds.toFixed(1)} s CPU; V8 heap ${mib(s.exporterHeapUsedBytes)} in use, ${String(s.exporterMajorGcs)} full GCs (old space capped at ${String(HEAP_CAP_MIB)} MiB)`,
    `  exporter errors  ${s.exporterErrors || 'none'}`,
    `  failures         ${String(s.failureCount)}`,
    ...s.failures.map((f) => `    - ${f}`),
  ];
  return lines.join('\n');
}
