import type { Logger } from 'pino';
import type { ReadPipeline } from '../model/pipeline.js';
import type { Thresholds } from './findings/thresholds.js';
import { History } from './history.js';
import { explainReport, type ExplainReport } from './report.js';

export interface ExplainConfig {
  /** How far back findings look, and how often the history keeps a sample. */
  readonly windowMs: number;
  readonly intervalMs: number;
  readonly thresholds: Readonly<Thresholds>;
}

/**
 * `explain` for a running pipeline: a history of its snapshots (every snapshot read, kept at most once per
 * interval), the findings over it, and a sampler that reads a snapshot itself when nothing asked for one for a
 * whole interval (and once at start, so there is something to show).
 */
export class Explainer {
  readonly history: History;
  private sampler: NodeJS.Timeout | undefined;

  constructor(
    private readonly pipeline: ReadPipeline,
    private readonly config: ExplainConfig,
    private readonly o: { scrapeTimeoutMs: number; log: Logger },
  ) {
    this.history = new History(config.windowMs, config.intervalMs);
    pipeline.onSnapshot((snap) => {
      this.history.record(snap);
    });
  }

  start(): void {
    const sample = () => {
      void this.pipeline.snapshot(Date.now() + this.o.scrapeTimeoutMs).catch((err: unknown) => {
        this.o.log.error({ err: (err as Error).message }, 'explain sample failed');
      });
    };
    sample();
    this.sampler = setInterval(() => {
      if (Date.now() - this.history.lastAt >= this.config.intervalMs * 0.9) sample();
    }, this.config.intervalMs);
  }

  stop(): void {
    clearInterval(this.sampler);
  }

  /** Findings for every VM (or one domain) from the recent history. */
  report(domain?: string, now = Date.now()): ExplainReport {
    return explainReport(this.history, this.config.thresholds, now, domain);
  }
}
