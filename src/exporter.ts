import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Explainer, type ExplainConfig } from './explain/explainer.js';
import { Exposition, type BuildInfo } from './exposition/exposition.js';
import type { Roots } from './host/host-fs.js';
import type { Inventory } from './model/inventory.js';
import { ReadPipeline, type SourcesConfig } from './model/pipeline.js';
import { buildServer } from './web/server.js';
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
  sources: SourcesConfig;
  webConfigFile: string | undefined;
  /** Loaded by the caller: a bad file must stop startup before anything listens. */
  webConfig: WebConfig;
  build: BuildInfo;
  log: Logger;
}

/** The exporter daemon: the read pipeline, explain over its snapshots, and the HTTP server that serves both. */
export class Exporter {
  readonly pipeline: ReadPipeline;
  readonly explainer: Explainer;
  readonly app: FastifyInstance;
  private ready = false;

  constructor(private readonly o: ExporterOptions) {
    this.pipeline = new ReadPipeline({
      roots: o.roots,
      processPattern: o.processPattern,
      peakWindowMs: o.peakWindowMs,
      log: o.log,
      sources: o.sources,
      syscalls: { everyMs: o.explain.intervalMs, poolBusy: o.explain.thresholds.poolBusy },
    });
    this.explainer = new Explainer(this.pipeline, o.explain, { scrapeTimeoutMs: o.scrapeTimeoutMs, log: o.log });
    this.app = buildServer({
      telemetryPath: o.telemetryPath,
      version: o.build.version,
      snapshot: this.pipeline.snapshot,
      explain: (domain) => this.explainer.report(domain),
      refreshSeconds: Math.max(5, o.explain.intervalMs / 1000),
      exposition: new Exposition(o.build, this.pipeline.problems),
      log: o.log,
      ready: () => this.ready,
      scrapeTimeoutMs: o.scrapeTimeoutMs,
      maxRequests: o.maxRequests,
      webConfigFile: o.webConfigFile,
      webConfig: o.webConfig,
    });
  }

  get inventory(): Inventory {
    return this.pipeline.inventory;
  }

  /** Opens the pipeline (libvirt's status files read, the first inventory built) and starts the census; /-/ready turns true after. */
  async start(): Promise<void> {
    await this.pipeline.open();
    this.pipeline.startCensus(this.o.censusIntervalMs);
    this.ready = true;
    this.explainer.start();
  }

  async stop(): Promise<void> {
    this.explainer.stop();
    await Promise.allSettled([this.pipeline.stop(), this.app.close()]);
  }
}
