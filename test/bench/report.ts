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

/** `idle`, `busy` or `busy, churning 200/s`. */
const hostLabel = (r: SizeResult): string =>
  `${r.activity}${r.churn ? `, *churning* ${int(r.churn.ratePerSecond)}/s` : ''}`;

/** Threads whose status the changed-only floor read per scrape: those that ran since (plus each main thread). */
const ranShare = (r: SizeResult): string =>
  r.floorChanged.statusReads === undefined ? '—' : `${((r.floorChanged.statusReads / r.threads) * 100).toFixed(0)} %`;

const change = (now: number, before: number): string =>
  `${now >= before ? '+' : ''}${((now / before - 1) * 100).toFixed(0)} %`;

/** What the churn did, what our census counted of it, and what it cost each against the same host busy at rest. */
function churnLines(results: readonly SizeResult[]): string[] {
  const lines: string[] = [];
  for (const r of results) {
    if (!r.churn) continue;
    const c = r.churn;
    const rest = results.find((x) => !x.churn && x.shape === r.shape && x.activity === r.activity);
    lines.push(
      `Churning at ${int(r.threads)} threads (busy): ${int(c.started)} worker threads started and ended over ${c.seconds.toFixed(0)} s ` +
        `(${(c.started / c.seconds).toFixed(0)}/s, ${int(c.lifetimeMs)} ms each, about ${int(Math.round((c.ratePerSecond * c.lifetimeMs) / 1000))} alive at a time); ` +
        `our qemu_thread_spawns_total counted ${int(c.spawnsCounted)} of them (${((c.spawnsCounted / c.started) * 100).toFixed(0)} %).` +
        (rest
          ? ` Against the same host busy at rest: CPU / scrape ours ${change(r.ours.cpuSecondsPerScrape, rest.ours.cpuSecondsPerScrape)}, ` +
            `process-exporter ${change(r.processExporter.cpuSecondsPerScrape, rest.processExporter.cpuSecondsPerScrape)}, ` +
            `floor (all files) ${change(r.floor.cpuSecondsPerScrape, rest.floor.cpuSecondsPerScrape)}; census idle ${pct(rest.idle.ours)} → ${pct(r.idle.ours)} of one core.`
          : ''),
    );
  }
  return lines;
}

/** The headline: both hosts side by side, per size. */
function summaryTable(results: readonly SizeResult[]): string[] {
  return table(
    [
      'threads',
      'host',
      'threads that ran',
      'ours CPU / scrape (ms)',
      'process-exporter (ms)',
      'ours / process-exporter',
      'floor, all files (ms)',
      'floor, changed only (ms)',
      'ours / floor changed only',
      'ours wall p50 / p99 (ms)',
      'ours RSS (MB)',
    ],
    results.map((r) => [
      int(r.threads),
      hostLabel(r),
      ranShare(r),
      ms(r.ours.cpuSecondsPerScrape),
      ms(r.processExporter.cpuSecondsPerScrape),
      `**${times(r.ours.cpuSecondsPerScrape / r.processExporter.cpuSecondsPerScrape)}**`,
      ms(r.floor.cpuSecondsPerScrape),
      ms(r.floorChanged.cpuSecondsPerScrape),
      times(r.ours.cpuSecondsPerScrape / r.floorChanged.cpuSecondsPerScrape),
      `${r.ours.wallMs.p50.toFixed(0)} / ${r.ours.wallMs.p99.toFixed(0)}`,
      mb(r.ours.rssBytes),
    ]),
  );
}

function detailTable(results: readonly SizeResult[]): string[] {
  return table(
    [
      'threads (VMs × threads)',
      'host',
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
      [r.ours, r.processExporter, r.floor, r.floorChanged].map((f, i) => [
        i === 0 ? `${int(r.threads)} (${String(r.shape.vms)} × ${String(r.shape.threadsPerVm)})` : '',
        i === 0 ? hostLabel(r) : '',
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
  );
}

/** The marginal cost of a thread, between host sizes of one activity at rest. */
function marginalLines(results: readonly SizeResult[], activity: SizeResult['activity']): string[] {
  const atRest = results.filter((r) => !r.churn && r.activity === activity);
  const base = atRest[0];
  if (!base || atRest.length < 2) return [];
  const cell = (i: number, pick: (x: SizeResult) => Figures): string => {
    const r = atRest[i]!;
    const avg = perThreadUs(pick(r), r);
    const prev = atRest[i - 1];
    const marginal = prev
      ? ((pick(r).cpuSecondsPerScrape - pick(prev).cpuSecondsPerScrape) / (r.threads - prev.threads)) * 1e6
      : undefined;
    return `${avg.toFixed(1)} µs (${times(avg / perThreadUs(pick(base), base))})${marginal === undefined ? '' : `, marginal ${marginal.toFixed(1)} µs`}`;
  };
  return [
    '',
    `CPU per thread, ${activity} host: the average (and relative to ${int(base.threads)} threads), and the marginal cost ` +
      'of each thread added since the size above (what is left once the per-scrape and per-VM costs are taken out):',
    '',
    ...table(
      ['threads', 'ours', 'process-exporter', 'floor, all files', 'floor, changed only'],
      atRest.map((r, i) => [
        int(r.threads),
        cell(i, (x) => x.ours),
        cell(i, (x) => x.processExporter),
        cell(i, (x) => x.floor),
        cell(i, (x) => x.floorChanged),
      ]),
    ),
  ];
}

export function report(results: readonly SizeResult[]): string[] {
  const lines: string[] = [...summaryTable(results), '', ...detailTable(results), ''];
  lines.push(
    ...table(
      [
        'threads',
        'host',
        'CPU: ours / process-exporter',
        'CPU: ours / floor, all files',
        'CPU: ours / floor, changed only',
        'census idle (of one core)',
        'process-exporter idle',
        'load of the fakes (cores)',
      ],
      results.map((r) => [
        int(r.threads),
        hostLabel(r),
        times(r.ours.cpuSecondsPerScrape / r.processExporter.cpuSecondsPerScrape),
        times(r.ours.cpuSecondsPerScrape / r.floor.cpuSecondsPerScrape),
        times(r.ours.cpuSecondsPerScrape / r.floorChanged.cpuSecondsPerScrape),
        pct(r.idle.ours),
        pct(r.idle.processExporter),
        r.fakesLoad.toFixed(2),
      ]),
    ),
  );
  const churn = churnLines(results);
  if (churn.length) lines.push('', ...churn);
  lines.push(...marginalLines(results, 'idle'), ...marginalLines(results, 'busy'));
  return lines;
}
