/** One thing the benchmark scrapes: our exporter, process-exporter, or the floor reader. */
export interface Contender {
  readonly label: string;
  readonly pid: number;
  /** One scrape (the floor: one pass over the files); resolves with what it answered. */
  scrape(): Promise<string>;
  /**
   * Threads of the synthetic host that an answer shows, per domain (the floor: one total under `*`). On a churning
   * host, threads come and go while an answer is read, so what an exporter counted twice need not agree.
   */
  threadsSeen(answer: string, churning: boolean): Map<string, number>;
  /** Threads an answer says were born since the exporter started (ours: `qemu_thread_spawns_total`), if it counts them. */
  spawnsCounted?(answer: string): number;
  /** Thread status files a pass read (the floors), if it tells. */
  statusReads?(answer: string): number;
  /** Whether an answer is an exposition whose series and bytes mean something. */
  readonly exposes: boolean;
  stop(): Promise<void>;
}
