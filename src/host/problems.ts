import type { Logger } from 'pino';
import { FsError } from './host-fs.js';

/** Where a problem came from: one value of `qemu_exporter_errors_total{source}` and `qemu_exporter_source_success{source}`. */
export const SOURCES = ['procfs', 'process_io', 'cgroup', 'libvirt', 'sysfs', 'disk_resolve'] as const;
export type Source = (typeof SOURCES)[number];

/**
 * Counts problems per (source, reason) and logs each distinct one once: a permission problem or a
 * malformed file would otherwise log on every scrape, every second.
 */
export class Problems {
  private readonly counts = new Map<string, { source: Source; reason: string; n: number }>();
  private readonly logged = new Set<string>();
  /** Sources with a problem since the last `takeFailed()`. */
  private failed = new Set<Source>();

  constructor(private readonly log: Logger) {}

  report(source: Source, reason: string, key: string, message: string): void {
    const id = `${source}\0${reason}`;
    const c = this.counts.get(id);
    if (c) c.n++;
    else this.counts.set(id, { source, reason, n: 1 });
    this.failed.add(source);
    const logKey = `${source}\0${key}`;
    if (!this.logged.has(logKey)) {
      this.logged.add(logKey);
      this.log.warn({ source, reason }, message);
    }
  }

  /**
   * A failed read of a file: a task or process that ended meanwhile (`gone`) is normal and reports nothing;
   * anything else counts with the read's kind (`denied`, `io`) or `parse`. Returns whether it was reported.
   */
  readFailed(source: Source, key: string, what: string, err: unknown): boolean {
    if (err instanceof FsError && err.kind === 'gone') return false;
    this.report(source, err instanceof FsError ? err.kind : 'parse', key, `${what}: ${(err as Error).message}`);
    return true;
  }

  totals(): Iterable<{ source: Source; reason: string; n: number }> {
    return this.counts.values();
  }

  /** Sources that failed since the previous call (one scrape's worth). */
  takeFailed(): Set<Source> {
    const f = this.failed;
    this.failed = new Set();
    return f;
  }
}
