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

/** How many of the host's threads an answer showed: `4,000/4,000` (churning: `4,187/4,000 + churn`). */
function seen(f: Figures, r: SizeResult): string {
  let total = 0;
  for (const n of f.threadsSeen.values()) total += n;
  return `${int(total)}/${int(r.threads)}${r.churn ? ' + churn' : ''}`;
}

/** `4,000 (50 × 80)`, or `4,000 (50 × 80), churning 200/s`. */
function sizeLabel(r: SizeResult, shape: boolean): string {
  return (
    `${int(r.threads)}${shape ? ` (${String(r.shape.vms)} × ${String(r.shape.threadsPerVm)})` : ''}` +
    (r.churn ? `, *churning* ${int(r.churn.ratePerSecond)}/s` : '')
  );
}

const change = (now: number, before: number): string =>
  `${now >= before ? '+' : ''}${((now / before - 1) * 100).toFixed(0)} %`;

/** What the churn did, what our census counted of it, and what it cost each against the same host at rest. */
function churnLines(results: readonly SizeResult[]): string[] {
  const lines: string[] = [];
  for (const r of results) {
    if (!r.churn) continue;
    const c = r.churn;
    const rest = results.find((x) => !x.churn && x.shape === r.shape);
    lines.push(
      `Churning at ${int(r.threads)} threads: ${int(c.started)} worker threads started and ended over ${c.seconds.toFixed(0)} s ` +
        `(${(c.started / c.seconds).toFixed(0)}/s, ${int(c.lifetimeMs)} ms each, about ${int(Math.round((c.ratePerSecond * c.lifetimeMs) / 1000))} alive at a time); ` +
        `our qemu_thread_spawns_total counted ${int(c.spawnsCounted)} of them (${((c.spawnsCounted / c.started) * 100).toFixed(0)} %).` +
        (rest
          ? ` Against the same host at rest: CPU / scrape ours ${change(r.ours.cpuSecondsPerScrape, rest.ours.cpuSecondsPerScrape)}, ` +
            `process-exporter ${change(r.processExporter.cpuSecondsPerScrape, rest.processExporter.cpuSecondsPerScrape)}, ` +
            `floor ${change(r.floor.cpuSecondsPerScrape, rest.floor.cpuSecondsPerScrape)}; census idle ${pct(rest.idle.ours)} → ${pct(r.idle.ours)} of one core.`
          : ''),
    );
  }
  return lines;
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
          i === 0 ? sizeLabel(r, true) : '',
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
        sizeLabel(r, false),
        times(r.ours.cpuSecondsPerScrape / r.processExporter.cpuSecondsPerScrape),
        times(r.ours.cpuSecondsPerScrape / r.floor.cpuSecondsPerScrape),
        pct(r.idle.ours),
        pct(r.idle.processExporter),
        r.fakesLoad.toFixed(2),
      ]),
    ),
  );
  const churn = churnLines(results);
  if (churn.length) lines.push('', ...churn);
  // The marginal cost of a thread: between host sizes at rest only.
  const atRest = results.filter((r) => !r.churn);
  const base = atRest[0];
  if (base && atRest.length > 1) {
    lines.push('');
    lines.push(
      `CPU per thread: the average (and relative to ${int(base.threads)} threads), and the marginal cost of each thread ` +
        'added since the size above (what is left once the per-scrape and per-VM costs are taken out):',
    );
    lines.push('');
    const cell = (i: number, pick: (x: SizeResult) => Figures): string => {
      const r = atRest[i]!;
      const avg = perThreadUs(pick(r), r);
      const prev = atRest[i - 1];
      const marginal = prev
        ? ((pick(r).cpuSecondsPerScrape - pick(prev).cpuSecondsPerScrape) / (r.threads - prev.threads)) * 1e6
        : undefined;
      return `${avg.toFixed(1)} µs (${times(avg / perThreadUs(pick(base), base))})${marginal === undefined ? '' : `, marginal ${marginal.toFixed(1)} µs`}`;
    };
    lines.push(
      ...table(
        ['threads', 'ours', 'process-exporter', 'floor'],
        atRest.map((r, i) => [
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
