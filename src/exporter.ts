import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Census } from './census.js';
import { FsRoots, type Roots } from './fs-roots.js';
import { Inventory } from './inventory.js';
import { LibvirtStatusDir } from './libvirt/status-dir.js';
import { Metrics, type BuildInfo } from './metrics.js';
import { Problems } from './problems.js';
import { buildServer } from './server.js';
import { SnapshotReader } from './snapshot.js';
import type { WebConfig } from './web-config.js';

export interface ExporterOptions {
  roots: Roots;
  processPattern: RegExp;
  censusIntervalMs: number;
  peakWindowMs: number;
  telemetryPath: string;
  scrapeTimeoutMs: number;
  maxRequests: number;
  webConfigFile: string | undefined;
  /** Loaded by the caller: a bad file must stop startup before anything listens. */
  webConfig: WebConfig;
  build: BuildInfo;
  log: Logger;
}

/** The whole exporter, wired: sources → inventory and census → snapshot → metrics → HTTP. */
export class Exporter {
  readonly app: FastifyInstance;
  readonly inventory: Inventory;
  private readonly census: Census;
  private readonly libvirt: LibvirtStatusDir;
  private ready = false;

  constructor(private readonly o: ExporterOptions) {
    const fs = new FsRoots(o.roots);
    const problems = new Problems(o.log);
    this.libvirt = new LibvirtStatusDir(fs, problems);
    this.inventory = new Inventory(fs, o.processPattern, this.libvirt, problems);
    this.census = new Census(fs, this.inventory, problems, o.peakWindowMs);
    const reader = new SnapshotReader(fs, this.inventory, problems, o.peakWindowMs, () => this.libvirt.healthy());
    this.app = buildServer({
      telemetryPath: o.telemetryPath,
      version: o.build.version,
      reader,
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
  }

  async stop(): Promise<void> {
    this.census.stop();
    await Promise.allSettled([this.libvirt.stop(), this.app.close()]);
  }
}
