import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { renderVmMetrics } from './vm-families.js';
import type { Problems } from '../host/problems.js';
import { SOURCE_NAMES } from '../host/problems.js';
import type { Snapshot } from '../model/snapshot.js';

export interface BuildInfo {
  version: string;
  revision: string;
}

/**
 * Snapshot → Prometheus text. The per-VM series are rendered straight from the snapshot (src/exposition.ts),
 * so every series of a scrape agrees with the others and a VM that is gone leaves nothing behind; the
 * exporter's own metrics and Node's process metrics come from prom-client.
 */
export class Exposition {
  readonly registry = new Registry();
  readonly contentType = this.registry.contentType;

  private readonly vms = new Gauge({
    name: 'qemu_exporter_vms',
    help: 'QEMU processes found on this host.',
    registers: [this.registry],
  });
  private readonly scrapeDuration = new Gauge({
    name: 'qemu_exporter_scrape_duration_seconds',
    help: 'Time to read the snapshot behind this scrape.',
    registers: [this.registry],
  });
  private readonly sourceSuccess = new Gauge({
    name: 'qemu_exporter_source_success',
    help: 'Whether a source was read without problems during this scrape (see qemu_exporter_errors_total).',
    labelNames: ['source'],
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'qemu_exporter_errors_total',
    help: 'Problems reading a source, by reason; each is logged once.',
    labelNames: ['source', 'reason'],
    registers: [this.registry],
  });

  constructor(
    build: BuildInfo,
    private readonly problems: Problems,
  ) {
    new Gauge({
      name: 'qemu_exporter_build_info',
      help: 'Build of the exporter; value 1.',
      labelNames: ['version', 'revision', 'nodejs'],
      registers: [this.registry],
    }).set({ version: build.version, revision: build.revision, nodejs: process.version }, 1);
    // Event-loop lag sampled every 100 ms, not prom-client's default 10 ms: 100 wake-ups a second would be most of the idle cost.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
    // Gauges named `_total` fail `promtool check metrics`; each is the sum of its per-type sibling (nodejs_active_handles{type}, …).
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
      this.registry.removeSingleMetric(name);
  }

  /** The whole exposition of one scrape. */
  async render(snap: Snapshot, durationSeconds: number): Promise<string> {
    this.vms.set(snap.vms.length);
    this.scrapeDuration.set(durationSeconds);
    this.sourceSuccess.reset();
    for (const source of SOURCE_NAMES) {
      if (!snap.inactive.has(source)) this.sourceSuccess.set({ source }, snap.failed.has(source) ? 0 : 1);
    }
    this.errors.reset();
    for (const e of this.problems.totals()) this.errors.inc({ source: e.source, reason: e.reason }, e.n);
    return renderVmMetrics(snap) + (await this.registry.metrics());
  }
}
