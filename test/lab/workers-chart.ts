/**
 * An SVG chart of the lab, one panel per aio mode on the same time axis: the block pool's worker threads and
 * the disk's in-flight requests as the exporter reported them, the pool's maximum as a dashed line, and
 * each fio phase as a shaded band labelled with its iodepth.
 */
import type { ModeRun } from './lab.js';

const WIDTH = 960;
const PANEL = 250;
const MARGIN = { left: 50, right: 20, top: 100, bottom: 40, title: 22 };
const COLORS = {
  workers: '#1f77b4',
  peak: '#9ecae1',
  inFlight: '#ff7f0e',
  max: '#555',
  band: '#f0f0f0',
  axis: '#333',
  grid: '#ddd',
};

function esc(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

function polyline(points: [number, number][], color: string, width: number, dash = ''): string {
  const d = points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  return `<polyline fill="none" stroke="${color}" stroke-width="${String(width)}"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${d}"/>`;
}

/** `subtitle` says how the data was made (workload, limits). */
export function workersChart(runs: ModeRun[], subtitle: string): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = PANEL - MARGIN.bottom - MARGIN.title;
  const height = MARGIN.top + runs.length * PANEL + 10;
  const spanMs = Math.max(1000, ...runs.flatMap((r) => [r.samples.at(-1)?.t ?? 0, r.phases.at(-1)?.end ?? 0]));
  const all = runs.flatMap((r) => r.samples);
  const yMax =
    Math.ceil((Math.max(16, ...all.map((s) => Math.max(s.workers, s.peak, s.inFlight, s.poolMax))) + 1) / 16) * 16;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${String(WIDTH)}" height="${String(height)}" viewBox="0 0 ${String(WIDTH)} ${String(height)}" font-family="DejaVu Sans, Verdana, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${String(MARGIN.left)}" y="22" font-size="16" font-weight="bold">QEMU block pool workers and in-flight requests per guest iodepth, as the exporter saw them</text>`,
    `<text x="${String(MARGIN.left)}" y="42" fill="#444">${esc(subtitle)}</text>`,
  ];
  const legend: [string, string, string][] = [
    ['workers: qemu_threads{role="worker"}', COLORS.workers, ''],
    ['their peak: qemu_threads_peak', COLORS.peak, ''],
    ['in flight: qemu_disk_io_now', COLORS.inFlight, ''],
    ['pool ceiling: qemu_thread_pool_max_threads', COLORS.max, '5,4'],
  ];
  legend.forEach(([label, color, dash], i) => {
    const lx = MARGIN.left + (i % 2) * 430;
    const ly = 64 + Math.floor(i / 2) * 18;
    out.push(
      polyline(
        [
          [lx, ly - 4],
          [lx + 22, ly - 4],
        ],
        color,
        2.5,
        dash,
      ),
      `<text x="${String(lx + 28)}" y="${String(ly)}">${esc(label)}</text>`,
    );
  });

  runs.forEach((run, i) => {
    const top = MARGIN.top + i * PANEL + MARGIN.title;
    out.push(
      `<text x="${String(MARGIN.left)}" y="${String(top - 8)}" font-size="14" font-weight="bold">aio=${run.aio}</text>`,
    );
    const x = (t: number) => MARGIN.left + (t / spanMs) * plotW;
    const y = (v: number) => top + plotH - (v / yMax) * plotH;
    for (const p of run.phases) {
      out.push(
        `<rect x="${x(p.start).toFixed(1)}" y="${String(top)}" width="${(x(p.end) - x(p.start)).toFixed(1)}" height="${String(plotH)}" fill="${COLORS.band}"/>`,
        `<text x="${((x(p.start) + x(p.end)) / 2).toFixed(1)}" y="${String(top + 14)}" text-anchor="middle" fill="#444">iodepth=${String(p.iodepth)}</text>`,
      );
    }
    for (let v = 0; v <= yMax; v += 16) {
      out.push(
        `<line x1="${String(MARGIN.left)}" x2="${String(MARGIN.left + plotW)}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="${COLORS.grid}"/>`,
        `<text x="${String(MARGIN.left - 6)}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${String(v)}</text>`,
      );
    }
    const tickS = spanMs > 60_000 ? 10 : 5;
    for (let s = 0; s * 1000 <= spanMs; s += tickS) {
      out.push(
        `<text x="${x(s * 1000).toFixed(1)}" y="${String(top + plotH + 15)}" text-anchor="middle">${String(s)} s</text>`,
      );
    }
    out.push(
      `<line x1="${String(MARGIN.left)}" x2="${String(MARGIN.left + plotW)}" y1="${String(top + plotH)}" y2="${String(top + plotH)}" stroke="${COLORS.axis}"/>`,
      `<line x1="${String(MARGIN.left)}" x2="${String(MARGIN.left)}" y1="${String(top)}" y2="${String(top + plotH)}" stroke="${COLORS.axis}"/>`,
    );
    // Steps, not slopes: a scraped value holds until the next scrape.
    const pts = (pick: (s: ModeRun['samples'][number]) => number): [number, number][] =>
      run.samples.flatMap((s, j) => {
        const prev = run.samples[j - 1];
        return prev
          ? [
              [x(s.t), y(pick(prev))],
              [x(s.t), y(pick(s))],
            ]
          : [[x(s.t), y(pick(s))]];
      });
    out.push(
      polyline(
        pts((s) => s.poolMax),
        COLORS.max,
        1.5,
        '5,4',
      ),
      polyline(
        pts((s) => s.peak),
        COLORS.peak,
        2,
      ),
      polyline(
        pts((s) => s.inFlight),
        COLORS.inFlight,
        1.5,
      ),
      polyline(
        pts((s) => s.workers),
        COLORS.workers,
        2.5,
      ),
    );
  });
  out.push(
    `<text x="${String(WIDTH - MARGIN.right)}" y="${String(height - 4)}" text-anchor="end" fill="#666">seconds since QEMU started</text>`,
    '</svg>',
  );
  return out.join('\n') + '\n';
}
