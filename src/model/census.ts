import type { ThreadSync } from './thread-sync.js';

/**
 * The light sampler: every interval it syncs each VM's thread table, reading only threads it has not seen, so
 * spawns, exits and peaks between two scrapes are counted — a burst of workers that lives and dies between scrapes
 * still shows.
 */
export class Census {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly threads: ThreadSync) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      this.threads.sync(Date.now());
    }, intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
