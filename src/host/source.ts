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
  /**
   * Brings what it serves up to date for one snapshot of these VMs by `deadline` (ms since the epoch); what is late
   * is served from the last answer, marked stale.
   */
  collect?(deadline: number, vms: readonly SourceVm[]): Promise<void>;
  /** Whether what it serves is good: false marks the source failed in the snapshot. */
  healthy(): boolean;
  /** Whether it is in use at all (an optional source found nothing to speak to): else it has no success series. */
  active?(): boolean;
}

/** A QEMU process as a source is asked about it. */
export interface SourceVm {
  pid: number;
  domain: string;
  uuid: string;
  source: 'libvirt' | 'cmdline';
  /** QMP sockets its command line names (control-mode monitors), in argv order. */
  qmpSockets: readonly string[];
}
