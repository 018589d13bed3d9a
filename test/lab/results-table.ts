/** The lab's result as a Markdown table: per iodepth, per aio mode, the exporter's worker peak and in-flight requests. */
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
