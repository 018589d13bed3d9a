/**
 * The lab's result as Markdown tables: per iodepth, per aio mode, the exporter's worker peak and in-flight requests;
 * then where a read's time goes: fio's latency in the guest, QEMU's (its own accounting, over QMP) and the host device's.
 */
import type { ModeRun } from './lab.js';

export function resultsTable(runs: ModeRun[]): string {
  const head = ['iodepth', ...runs.flatMap((r) => [`aio=${r.aio}: worker peak`, 'in flight (max)', 'guest IOPS'])];
  const depths = [...new Set(runs.flatMap((r) => r.stats.map((s) => s.iodepth)))];
  const rows = depths.map((depth) => [
    String(depth),
    ...runs.flatMap((r) => {
      const s = r.stats.find((x) => x.iodepth === depth);
      return s
        ? [String(s.workerPeak), String(s.maxInFlight), s.iops === undefined ? '?' : String(Math.round(s.iops))]
        : ['–', '–', '–'];
    }),
  ]);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---:')), ...rows.map(line)].join('\n') + '\n';
}

const ms = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '?' : v.toFixed(v < 10 ? 2 : 1));

export function latencyTable(runs: ModeRun[]): string {
  const head = [
    'iodepth',
    ...runs.flatMap((r) => [`aio=${r.aio}: fio in the guest (ms)`, 'QEMU (ms)', 'host device (ms)', 'QEMU reads/s']),
  ];
  const depths = [...new Set(runs.flatMap((r) => r.stats.map((s) => s.iodepth)))];
  const rows = depths.map((depth) => [
    String(depth),
    ...runs.flatMap((r) => {
      const s = r.stats.find((x) => x.iodepth === depth);
      return s
        ? [
            ms(s.fioLatencyMs),
            ms(s.qemuLatencyMs),
            ms(s.hostLatencyMs),
            s.qemuIops === undefined ? '?' : String(Math.round(s.qemuIops)),
          ]
        : ['–', '–', '–', '–'];
    }),
  ]);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---:')), ...rows.map(line)].join('\n') + '\n';
}
