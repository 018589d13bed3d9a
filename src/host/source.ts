import type { SourceName } from './problems.js';

/**
 * A source that is not a file the snapshot reader reads itself: one watched in the background (libvirt's status
 * directory) or one spoken to (an API). The read pipeline starts and stops it, asks it at every snapshot under the
 * scrape's deadline, alongside the /proc read, and reports its health as qemu_exporter_source_success{source}.
 */
export interface Source {
  readonly name: SourceName;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Brings what it serves up to date for one snapshot by `deadline` (ms since the epoch); what is late waits for the next. */
  collect?(deadline: number): Promise<void>;
  /** Whether what it serves is good: false marks the source failed in the snapshot. */
  healthy(): boolean;
}
