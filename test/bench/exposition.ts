/** Just enough of the Prometheus text format to count what an exporter exposed. */

/** Sample lines (not comments, not blank). */
export function seriesCount(text: string): number {
  let n = 0;
  for (const line of text.split('\n')) if (line !== '' && !line.startsWith('#')) n++;
  return n;
}

/** Sum of `metric`'s samples per value of `label` (samples without that label are skipped). */
export function sumBy(text: string, metric: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  const labelRe = new RegExp(`[{,]${label}="((?:[^"\\\\]|\\\\.)*)"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const key = labelRe.exec(line)?.[1];
    if (key === undefined) continue;
    out.set(key, (out.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}
