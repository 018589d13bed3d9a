/** The monitoring files users load: deploy/prometheus/rules.yml and the generated Grafana dashboards. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const RULES_FILE = fileURLToPath(new URL('../../deploy/prometheus/rules.yml', import.meta.url));
export const RULES_TEST_FILE = fileURLToPath(new URL('../../deploy/prometheus/rules.test.yml', import.meta.url));
export const RUNBOOKS_FILE = fileURLToPath(new URL('../../docs/runbooks.md', import.meta.url));
export const DASHBOARD_FILES = ['host-overview.json', 'vm-detail.json'].map((f) =>
  fileURLToPath(new URL(`../../grafana/dashboards/${f}`, import.meta.url)),
);

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function loadRules(): Rule[] {
  const file = parse(readFileSync(RULES_FILE, 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
  return file.groups.flatMap((g) => g.rules);
}

export interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
  instant?: boolean;
  datasource?: { uid?: string };
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { uid?: string };
  fieldConfig?: { defaults: { unit?: string; thresholds?: { steps: { value: number | null; color: string }[] } } };
  targets?: Target[];
  /** A collapsed row's panels. */
  panels?: Panel[];
}

export interface Variable {
  name: string;
  type: string;
  query?: string;
  /** `/…/`: Grafana keeps what matches, with named groups `value` and `text`. */
  regex?: string;
  multi?: boolean;
  includeAll?: boolean;
}

/** A variable's options as Grafana makes them from `query_result(expr)` lines and the variable's regex. */
export function queryResultOptions(
  v: Variable,
  series: { metric: Record<string, string>; value?: [number, string] }[],
): { value: string; text: string }[] {
  const m = /^\/(.*)\/([a-z]*)$/s.exec(v.regex ?? '');
  if (!m) throw new Error(`${v.name}: regex ${String(v.regex)} is not /…/`);
  const re = new RegExp(m[1]!, m[2]);
  const out: { value: string; text: string }[] = [];
  for (const { metric, value } of series) {
    // Grafana's metricFindQuery: name, then {label="value",…} in the order the API gave them (sorted), value, time in ms.
    const { __name__: name = '', ...labels } = metric;
    const line = `${name}{${Object.entries(labels)
      .map(([k, val]) => `${k}="${val}"`)
      .join(',')}} ${value?.[1] ?? ''} ${String((value?.[0] ?? 0) * 1000)}`;
    const g = re.exec(line)?.groups;
    if (g?.value !== undefined) out.push({ value: g.value, text: g.text ?? g.value });
  }
  return out;
}

export interface DashboardJson {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
  links: { url?: string; includeVars: boolean }[];
}

export function loadDashboard(path: string): DashboardJson {
  return JSON.parse(readFileSync(path, 'utf8')) as DashboardJson;
}

/** Every panel that shows data (rows left out, the panels of collapsed rows included). */
export function dataPanels(d: DashboardJson): Panel[] {
  return d.panels.flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]));
}

/** `label_values(selector, label)` → its parts. */
export function parseLabelValues(query: string): { selector: string; label: string } {
  const m = /^label_values\((.+),\s*(\w+)\)$/s.exec(query);
  if (!m) throw new Error(`not a label_values() query: ${query}`);
  return { selector: m[1]!, label: m[2]! };
}

/** Replaces Grafana's `$name` and `${name}` by `values[name]`; a variable without a value throws. */
export function substitute(text: string, values: Record<string, string>): string {
  return text.replace(/\$(?:\{(\w+)\}|(\w+))/g, (_, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare!;
    const value = values[name];
    if (value === undefined) throw new Error(`no value for $${name} in ${text}`);
    return value;
  });
}
