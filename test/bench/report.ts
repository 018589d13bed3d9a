/** The benchmark's tables, in Markdown. */
import type { Figures, SizeResult } from './run-size.js';

const ms = (s: number): string => (s * 1000).toFixed(1);
const mb = (b: number): string => (b / 1024 / 1024).toFixed(1);
const times = (x: number): string => `${x.toFixed(2)}×`;
const pct = (x: number): string => `${(x * 100).toFixed(2)} %`;
const int = (n: number | undefined): string => (n === undefined ? '—' : n.toLocaleString('en-US'));
const perThreadUs = (f: Figures, r: SizeResult): number => (f.cpuSecondsPerScrape / r.threads) * 1e6;

function table(head: string[], rows: string[][]): string[] {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

/** How many of the host's threads an answer showed: `4,000/4,000`. */
function seen(f: Figures, r: SizeResult): string {
  let total = 0;
  for (const n of f.threadsSeen.values()) total += n;
  return `${int(total)}/${int(r.threads)}`;
}

export function report(results: readonly SizeResult[]): string[] {
  const lines: string[] = [];
  lines.push(
    ...table(
      [
        'threads (VMs × threads)',
        'exporter',
        'CPU / scrape (ms)',
        'CPU / thread (µs)',
        'wall p50 (ms)',
        'wall p99 (ms)',
        'RSS (MB)',
        'peak RSS (MB)',
        'series',
        'bytes',
        'threads seen',
      ],
      results.flatMap((r) =>
        [r.ours, r.processExporter, r.floor].map((f, i) => [
          i === 0 ? `${int(r.threads)} (${String(r.shape.vms)} × ${String(r.shape.threadsPerVm)})` : '',
          f.label,
          ms(f.cpuSecondsPerScrape),
          perThreadUs(f, r).toFixed(1),
          f.wallMs.p50.toFixed(1),
          f.wallMs.p99.toFixed(1),
          mb(f.rssBytes),
          mb(f.peakRssBytes),
          int(f.series),
          int(f.bytes),
          seen(f, r),
        ]),
      ),
    ),
  );
  lines.push('');
  lines.push(
    ...table(
      [
        'threads',
        'CPU: ours / process-exporter',
        'CPU: ours / floor',
        'census idle (of one core)',
        'process-exporter idle',
        'load of the fakes (cores)',
      ],
      results.map((r) => [
        int(r.threads),
        times(r.ours.cpuSecondsPerScrape / r.processExporter.cpuSecondsPerScrape),
        times(r.ours.cpuSecondsPerScrape / r.floor.cpuSecondsPerScrape),
        pct(r.idle.ours),
        pct(r.idle.processExporter),
        r.fakesLoad.toFixed(2),
      ]),
    ),
  );
  const base = results[0];
  if (base && results.length > 1) {
    lines.push('');
    lines.push(
      `CPU per thread: the average (and relative to ${int(base.threads)} threads), and the marginal cost of each thread ` +
        'added since the size above (what is left once the per-scrape and per-VM costs are taken out):',
    );
    lines.push('');
    const cell = (i: number, pick: (x: SizeResult) => Figures): string => {
      const r = results[i]!;
      const avg = perThreadUs(pick(r), r);
      const prev = results[i - 1];
      const marginal = prev
        ? ((pick(r).cpuSecondsPerScrape - pick(prev).cpuSecondsPerScrape) / (r.threads - prev.threads)) * 1e6
        : undefined;
      return `${avg.toFixed(1)} µs (${times(avg / perThreadUs(pick(base), base))})${marginal === undefined ? '' : `, marginal ${marginal.toFixed(1)} µs`}`;
    };
    lines.push(
      ...table(
        ['threads', 'ours', 'process-exporter', 'floor'],
        results.map((r, i) => [
          int(r.threads),
          cell(i, (x) => x.ours),
          cell(i, (x) => x.processExporter),
          cell(i, (x) => x.floor),
        ]),
      ),
    );
  }
  return lines;
}
