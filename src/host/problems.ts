import type { Logger } from 'pino';
import { FsError } from './host-fs.js';

/** Where a problem came from: one value of `qemu_exporter_errors_total{source}` and `qemu_exporter_source_success{source}`. */
export const SOURCE_NAMES = [
  'procfs',
  'process_io',
  'cgroup',
  'libvirt',
  'sysfs',
  'disk_resolve',
  'libvirt_api',
  'qmp',
  'syscall',
] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

/**
 * Why: one value of `qemu_exporter_errors_total{reason}` (README, Metrics). `denied`: a permission; `parse`: a text
 * not in its format; `io`: any other failed read (a directory that cannot be listed, a file refused for its size or
 * kind, a watch that failed); `missing`: something configured that is not there (a disk's source); `timeout`: the
 * scrape's deadline came first; `duplicate_domain`: two processes claim one domain name.
 */
export const REASONS = ['denied', 'parse', 'io', 'missing', 'timeout', 'duplicate_domain'] as const;
export type Reason = (typeof REASONS)[number];

/** The reason a read failed: the file system's kind of error, or `parse` for anything a parser threw. */
export function reasonOf(err: unknown): Reason {
  if (!(err instanceof FsError)) return 'parse';
  return err.kind === 'gone' ? 'missing' : err.kind;
}

/**
 * Counts problems per (source, reason) and logs each distinct one once: a permission problem or a
 * malformed file would otherwise log on every scrape, every second.
 */
export class Problems {
  private readonly counts = new Map<string, { source: SourceName; reason: Reason; n: number }>();
  private readonly logged = new Set<string>();
  /** Sources with a problem since the last `takeFailed()`. */
  private failed = new Set<SourceName>();

  constructor(private readonly log: Logger) {}

  report(source: SourceName, reason: Reason, key: string, message: string): void {
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
   * anything else counts with its reason (reasonOf). Returns whether it was reported.
   */
  readFailed(source: SourceName, key: string, what: string, err: unknown): boolean {
    if (err instanceof FsError && err.kind === 'gone') return false;
    this.report(source, reasonOf(err), key, `${what}: ${(err as Error).message}`);
    return true;
  }

  totals(): Iterable<{ source: SourceName; reason: Reason; n: number }> {
    return this.counts.values();
  }

  /** Sources that failed since the previous call (one scrape's worth). */
  takeFailed(): Set<SourceName> {
    const f = this.failed;
    this.failed = new Set();
    return f;
  }
}
