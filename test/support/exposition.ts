/**
 * A strict reader of the Prometheus text exposition format (0.0.4), to check what the exporter writes rather than
 * trust it: the body must be valid UTF-8, every line well formed, label values escaped exactly as the format says
 * (only \\, \" and \n), no series twice, and a family's TYPE before its samples.
 */
import { spawnSync } from 'node:child_process';
import { requireTool } from './require-tool.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
/** Go's ParseFloat, which the format names: decimal, or Inf/Infinity/NaN in any case (prom-client writes `Nan`). */
const FLOAT = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity)|nan)$/i;

class ExpositionError extends Error {
  constructor(lineNo: number, line: string, why: string) {
    super(`line ${String(lineNo)}: ${why}: ${JSON.stringify(line.slice(0, 200))}`);
  }
}

/** The family a sample belongs to (histogram and summary samples carry suffixes). */
function familyOf(name: string, types: Map<string, string>): string {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && (types.get(base) === 'histogram' || types.get(base) === 'summary')) return base;
  }
  return name;
}

/** Reads `{a="x",b="y"}` from position `i` (at the `{`); returns the labels and the position after `}`. */
function readLabels(line: string, i: number, fail: (why: string) => never): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  i++;
  while (line[i] !== '}') {
    const eq = line.indexOf('=', i);
    if (eq < 0) fail('label without "="');
    const name = line.slice(i, eq);
    if (!LABEL_NAME.test(name)) fail(`bad label name ${JSON.stringify(name)}`);
    if (Object.hasOwn(labels, name)) fail(`label ${name} twice`);
    if (line[eq + 1] !== '"') fail('label value not quoted');
    let value = '';
    let j = eq + 2;
    for (;;) {
      const c = line[j];
      if (c === undefined) fail('unterminated label value');
      if (c === '"') break;
      if (c === '\\') {
        const e = line[j + 1];
        if (e === '\\') value += '\\';
        else if (e === '"') value += '"';
        else if (e === 'n') value += '\n';
        else fail(`invalid escape \\${String(e)}`);
        j += 2;
      } else {
        value += c;
        j++;
      }
    }
    labels[name] = value;
    i = j + 1;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') fail('expected "," or "}" after a label');
  }
  return [labels, i + 1];
}

/** Parses a whole exposition strictly; throws an error naming the first bad line. */
export function parseExposition(body: Uint8Array): Sample[] {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new Error('the exposition is not valid UTF-8');
  }
  if (text !== '' && !text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const seenSeries = new Set<string>();
  const sampled = new Set<string>();
  const samples: Sample[] = [];
  const lines = text.split('\n').slice(0, -1);
  lines.forEach((line, n) => {
    const fail = (why: string): never => {
      throw new ExpositionError(n + 1, line, why);
    };
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) fail('bad metric name');
      if (kind === 'HELP') {
        if (helps.has(name)) fail('HELP twice');
        if (!/^(?:[^\\]|\\[\\n])*$/.test(rest)) fail('invalid escape in HELP');
        helps.add(name);
      } else {
        if (types.has(name)) fail('TYPE twice');
        if (sampled.has(name)) fail('TYPE after samples of its family');
        if (!TYPES.has(rest)) fail(`unknown type ${rest}`);
        types.set(name, rest);
      }
      return;
    }
    if (line === '') return; // the format ignores empty lines (prom-client writes one between families)
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) fail('no value');
    const name = line.slice(0, nameEnd);
    if (!METRIC_NAME.test(name)) fail('bad metric name');
    let labels: Record<string, string> = {};
    let i = nameEnd;
    if (line[i] === '{') [labels, i] = readLabels(line, i, fail);
    if (line[i] !== ' ') fail('expected a blank before the value');
    const [value, timestamp, extra] = line.slice(i + 1).split(' ');
    if (value === undefined || !FLOAT.test(value)) fail(`bad value ${String(value)}`);
    if (timestamp !== undefined && !/^-?\d+$/.test(timestamp)) fail('bad timestamp');
    if (extra !== undefined) fail('trailing text');
    const key = `${name}${JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
    if (seenSeries.has(key)) fail('series twice');
    seenSeries.add(key);
    sampled.add(familyOf(name, types));
    samples.push({ name, labels, value: Number(value) });
  });
  return samples;
}

/** `promtool check metrics` on the exposition: its complaint, or an empty string when it has none (exit 0). */
export function promtoolComplaint(body: Uint8Array): string {
  const r = spawnSync(requireTool('promtool'), ['check', 'metrics'], {
    input: body,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return r.status === 0 ? '' : `promtool exit ${String(r.status)}: ${r.stdout}${r.stderr}`.trim();
}
