import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Census } from './model/census.js';
import type { Config, ExplainConfig } from './cli/flags.js';
import { History } from './explain/history.js';
import { explainReport, type ExplainReport } from './explain/report.js';
import { FsRoots, type Roots } from './host/host-fs.js';
import { Inventory } from './model/inventory.js';
import { PodStatusFiles } from './host/libvirt/pod-status.js';
import { LibvirtStatusDir } from './host/libvirt/status-dir.js';
import { Metrics, type BuildInfo } from './exposition/exposition.js';
import { Problems } from './host/problems.js';
import { buildServer } from './web/server.js';
import { singleFlight } from './util/single-flight.js';
import { SnapshotReader, type Snapshot } from './model/snapshot-reader.js';
import type { WebConfig } from './web/web-config.js';

export interface ExporterOptions {
  roots: Roots;
  processPattern: RegExp;
  censusIntervalMs: number;
  peakWindowMs: number;
  telemetryPath: string;
  scrapeTimeoutMs: number;
  maxRequests: number;
  explain: ExplainConfig;
  webConfigFile: string | undefined;
  /** Loaded by the caller: a bad file must stop startup before anything listens. */
  webConfig: WebConfig;
  build: BuildInfo;
  log: Logger;
}

/** The options the command line gives. */
export function exporterOptions(cfg: Config, rest: Pick<ExporterOptions, 'webConfig' | 'build' | 'log'>): ExporterOptions {
  return {
    roots: { procfs: cfg.procfs, sysfs: cfg.sysfs, rootfs: cfg.rootfs, libvirtStatusDir: cfg.libvirtStatusDir },
    processPattern: cfg.processPattern,
    censusIntervalMs: cfg.censusIntervalMs,
    peakWindowMs: cfg.peakWindowMs,
    telemetryPath: cfg.telemetryPath,
    scrapeTimeoutMs: cfg.scrapeTimeoutMs,
    maxRequests: cfg.maxRequests,
    explain: cfg.explain,
    webConfigFile: cfg.webConfigFile,
    ...rest,
  };
}

/** The whole exporter, wired: sources → inventory and census → snapshot → metrics → HTTP. */
export class Exporter {
  readonly app: FastifyInstance;
  readonly inventory: Inventory;
  private readonly census: Census;
  private readonly libvirt: LibvirtStatusDir;
  private readonly history: History;
  private sampler: NodeJS.Timeout | undefined;
  private ready = false;
  /**
   * One read of every VM; concurrent callers (scrapes, the explain sampler) share it. Every snapshot goes into
   * the explain history, so with Prometheus scraping the history costs no reads of its own.
   */
  readonly take: (deadline: number) => Promise<{ snap: Snapshot; seconds: number }>;

  constructor(private readonly o: ExporterOptions) {
    const fs = new FsRoots(o.roots);
    const problems = new Problems(o.log);
    this.libvirt = new LibvirtStatusDir(fs, problems);
    this.inventory = new Inventory(fs, o.processPattern, this.libvirt, problems, new PodStatusFiles(fs, problems));
    this.census = new Census(fs, this.inventory, problems, o.peakWindowMs);
    const reader = new SnapshotReader(fs, this.inventory, problems, o.peakWindowMs, () => this.libvirt.healthy());
    this.history = new History(o.explain.windowMs, o.explain.intervalMs);
    this.take = singleFlight(async (deadline: number) => {
      const t0 = process.hrtime.bigint();
      const snap = await reader.read(Date.now(), deadline);
      this.history.record(snap);
      return { snap, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
    });
    this.app = buildServer({
      telemetryPath: o.telemetryPath,
      version: o.build.version,
      take: this.take,
      explain: (domain) => this.explain(domain),
      refreshSeconds: Math.max(5, o.explain.intervalMs / 1000),
      metrics: new Metrics(o.build, problems),
      log: o.log,
      ready: () => this.ready,
      scrapeTimeoutMs: o.scrapeTimeoutMs,
      maxRequests: o.maxRequests,
      webConfigFile: o.webConfigFile,
      webConfig: o.webConfig,
    });
  }

  /** Reads libvirt's status files, builds the first inventory and starts the census; /-/ready turns true after. */
  async start(): Promise<void> {
    await this.libvirt.start();
    this.census.tick();
    this.census.start(this.o.censusIntervalMs);
    await this.inventory.settled();
    this.ready = true;
    // The history's own reads: one now, so the landing page has something to show, then only when no scrape
    // brought a snapshot for a whole interval.
    const sample = () => { void this.take(Date.now() + this.o.scrapeTimeoutMs).catch((err: unknown) => { this.o.log.error({ err: (err as Error).message }, 'explain sample failed'); }); };
    sample();
    this.sampler = setInterval(() => { if (Date.now() - this.history.lastAt >= this.o.explain.intervalMs * 0.9) sample(); }, this.o.explain.intervalMs);
  }

  /** Findings for every VM (or one domain) from the recent history. */
  explain(domain?: string): ExplainReport {
    return explainReport(this.history, this.o.explain.thresholds, Date.now(), domain);
  }

  async stop(): Promise<void> {
    clearInterval(this.sampler);
    this.census.stop();
    await Promise.allSettled([this.libvirt.stop(), this.app.close()]);
  }
}
