/** Where findings start (README, "Explain"); each is a flag `--explain.<kebab-name>`. */
export interface Thresholds {
  /** Worker threads (peak over the window) from which a pool is explained. */
  poolBusy: number;
  /** Run-queue wait, as a share of wall time per thread, from which threads are short of CPU. */
  waitRatio: number;
  /** Voluntary context switches per second of a role from which its switching is explained. */
  switchRate: number;
  /** Share of samples with threads in disk sleep from which the host storage is looked at. */
  diskSleepRatio: number;
  /** Average request latency of a host device (ms) from which it is called slow. */
  diskLatencyMs: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = {
  poolBusy: 8,
  waitRatio: 0.1,
  switchRate: 100,
  diskSleepRatio: 0.5,
  diskLatencyMs: 20,
};
