import { ROLES, type Role } from '../host/qemu/thread-roles.js';
import type { VmReport } from '../explain/report.js';

/** One colour per role, the same on every chart (Tableau 10, then greys). */
export const ROLE_COLORS: Record<Role, string> = {
  vcpu: '#4e79a7',
  iothread: '#f28e2b',
  worker: '#e15759',
  main: '#76b7b2',
  rcu: '#59a14f',
  monitor: '#edc948',
  vnc: '#b07aa1',
  spice: '#ff9da7',
  vhost: '#9c755f',
  io_uring: '#d37295',
  migration: '#bab0ac',
  kernel: '#7f7f7f',
  other: '#c7c7c7',
};

const W = 800;
const LEFT = 34;
const TOP = 8;
const PLOT_H = 110;
/** Legend entries per row, and the first row's baseline below the plot (clear of the time labels). */
const PER_ROW = 8;
const LEGEND_Y = 32;
const PLOT_W = W - LEFT - 8;

/** A round number ≥ n for the y axis: 1, 2, 5 × 10^k. */
function niceMax(n: number): number {
  if (n <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  return [1, 2, 5, 10].map((m) => m * p).find((m) => m >= n)!;
}

const num = (n: number): string => String(Math.round(n * 10) / 10);

/**
 * Threads by role over the history, stacked, as a self-contained SVG (no script, no external style): the
 * landing page's at-a-glance view of a pool that grows with the guest's queue depth.
 */
export function threadsChart(vm: VmReport): string {
  const { t, roles } = vm.threads;
  const present = ROLES.filter((r) => roles[r] !== undefined);
  const n = t.length;
  const t0 = t[0] ?? 0;
  const span = n > 1 ? t[n - 1]! - t0 : 0;
  const x = (i: number): number =>
    LEFT + (span > 0 ? ((t[i]! - t0) / span) * PLOT_W : ((i + 0.5) * PLOT_W) / Math.max(n, 1));
  const totals = t.map((_, i) => present.reduce((s, r) => s + roles[r]![i]!, 0));
  const max = niceMax(Math.max(0, ...totals));
  const y = (v: number): number => TOP + PLOT_H - (v / max) * PLOT_H;

  const areas: string[] = [];
  const below = new Array<number>(n).fill(0);
  for (const role of present) {
    const series = roles[role]!;
    const top = series.map((v, i) => below[i]! + v);
    // A single sample draws as a thin band rather than nothing.
    const xs = n === 1 ? [LEFT, LEFT + PLOT_W] : t.map((_, i) => x(i));
    const up = n === 1 ? [top[0]!, top[0]!] : top;
    const down = n === 1 ? [below[0]!, below[0]!] : [...below];
    const path = [
      ...xs.map((xi, i) => `${i === 0 ? 'M' : 'L'}${num(xi)},${num(y(up[i]!))}`),
      ...xs.map((_, k) => {
        const i = xs.length - 1 - k;
        return `L${num(xs[i]!)},${num(y(down[i]!))}`;
      }),
      'Z',
    ].join('');
    areas.push(
      `<path class="role-${role}" d="${path}" fill="${ROLE_COLORS[role]}" stroke="none"><title>${role}: ${String(series.at(-1) ?? 0)} now, ${String(Math.max(...series))} at most</title></path>`,
    );
    for (let i = 0; i < n; i++) below[i] = top[i]!;
  }

  // Listed from the top of the stack down, as the areas are seen.
  const legend = [...present]
    .reverse()
    .map((role, i) => {
      const lx = LEFT + (i % PER_ROW) * 96;
      const ly = TOP + PLOT_H + LEGEND_Y + Math.floor(i / PER_ROW) * 16;
      return `<rect x="${String(lx)}" y="${String(ly - 9)}" width="10" height="10" fill="${ROLE_COLORS[role]}"/><text x="${String(lx + 14)}" y="${String(ly)}">${role} ${String(roles[role]!.at(-1) ?? 0)}</text>`;
    })
    .join('');
  const seconds = Math.round(span / 1000);
  const label = `Threads by role over the last ${String(seconds)} s: ${present.map((r) => `${r} ${String(roles[r]!.at(-1) ?? 0)}`).join(', ') || 'none'}`;
  const height = TOP + PLOT_H + LEGEND_Y + Math.ceil(Math.max(present.length, 1) / PER_ROW) * 16;
  // Scales to the page's width (the viewBox keeps its proportions); 800 units ≈ the page's column, so text stays ~12px.
  return `<svg class="threads-chart" xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 ${String(W)} ${String(height)}" role="img" aria-label="${label}" font-family="sans-serif" font-size="12">
<title>${label}</title>
<rect x="${String(LEFT)}" y="${String(TOP)}" width="${String(PLOT_W)}" height="${String(PLOT_H)}" fill="#fafafa" stroke="#ddd"/>
${areas.join('\n')}
<text x="${String(LEFT - 4)}" y="${String(TOP + 9)}" text-anchor="end">${String(max)}</text>
<text x="${String(LEFT - 4)}" y="${String(TOP + PLOT_H)}" text-anchor="end">0</text>
<text x="${String(LEFT)}" y="${String(TOP + PLOT_H + 14)}">−${String(seconds)} s</text>
<text x="${String(LEFT + PLOT_W)}" y="${String(TOP + PLOT_H + 14)}" text-anchor="end">now</text>
${legend}
</svg>`;
}
