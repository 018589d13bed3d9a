/**
 * parseBlockstats under fuzzing: random JSON, and a real capture (test/fixtures/samples/qemu-7.2-qmp) with values
 * replaced, members dropped or added, and its text edited. The only failure is a ParseError; what it accepts is
 * well formed (strings, whole non-negative counters, one bin more than ascending boundaries), and a change to a
 * member it does not read changes nothing.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ParseError } from '../../src/host/parse-error.js';
import { parseBlockstats, type BlockStats } from '../../src/host/qemu/blockstats.js';
import { edited, numbersOf, runs } from '../support/fuzz.js';

const TEXT = readFileSync(
  fileURLToPath(new URL('../fixtures/samples/qemu-7.2-qmp/query-blockstats.json', import.meta.url)),
  'utf8',
);
const CAPTURE = JSON.parse(TEXT) as unknown;
const PARSED = parseBlockstats(CAPTURE);

/** The members parseBlockstats reads: a change anywhere else must leave its result as it was. */
const READ = new Set([
  'device',
  'qdev',
  'node-name',
  'stats',
  'rd_operations',
  'wr_operations',
  'flush_operations',
  'rd_bytes',
  'wr_bytes',
  'rd_total_time_ns',
  'wr_total_time_ns',
  'flush_total_time_ns',
  'rd_latency_histogram',
  'wr_latency_histogram',
  'flush_latency_histogram',
  'boundaries',
  'bins',
]);

/** An input (always a JSON value here) for a failure message. */
const show = (v: unknown): string => JSON.stringify(v).slice(0, 2000);

/** The result, or undefined for a ParseError; anything else thrown fails with the input. */
function parseOrRefuse(json: unknown): BlockStats[] | undefined {
  try {
    return parseBlockstats(json);
  } catch (err) {
    if (err instanceof ParseError) return undefined;
    assert.fail(`threw ${String(err)} instead of a ParseError for ${show(json)}`);
  }
}

function assertWellFormed(result: BlockStats[], input: unknown): void {
  const where = show(input);
  for (const s of result) {
    for (const k of ['device', 'qdev', 'nodeName'] as const) assert.equal(typeof s[k], 'string', where);
    for (const h of Object.values(s.histograms)) {
      assert.equal(h.bins.length, h.boundaries.length + 1, where);
      h.boundaries.forEach((b, i) => {
        assert.ok(b > (i === 0 ? 0 : h.boundaries[i - 1]!), where);
      });
    }
  }
  for (const [path, n] of numbersOf(result))
    assert.ok(Number.isInteger(n) && n >= 0 && n <= 2 ** 64, `${path} = ${String(n)} from ${where}`);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined, where);
}

/** Values that a hostile or broken peer might put anywhere. */
const HOSTILE: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(-1, 1.5, 2 ** 53 + 2, 2 ** 64, 2 ** 70, -0, '1', '', null, true, [], {}, [1, 2], { bins: [] }),
  fc.constantFrom(JSON.parse('{"__proto__": {"polluted": 1}}') as unknown, { constructor: { prototype: 1 } }),
  fc.jsonValue({ maxDepth: 2 }),
);

type Path = (string | number)[];

/** Every path to a value in a JSON tree. */
function paths(v: unknown, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}
const ALL_PATHS = paths(CAPTURE).filter((p) => p.length > 0);

type Edit = { kind: 'replace'; value: unknown } | { kind: 'delete' } | { kind: 'add'; key: string; value: unknown };

/** A deep copy of the capture with one edit at `path`. */
function mutate(path: Path, edit: Edit): unknown {
  const copy = structuredClone(CAPTURE) as Record<string | number, unknown>;
  let node = copy;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (edit.kind === 'replace') node[last] = edit.value;
  else if (edit.kind === 'delete') {
    if (Array.isArray(node)) node.splice(last as number, 1);
    else Reflect.deleteProperty(node, last);
  } else {
    const target = node[last];
    if (typeof target === 'object' && target !== null && !Array.isArray(target))
      Object.defineProperty(target, edit.key, { value: edit.value, enumerable: true, writable: true });
  }
  return copy;
}

/** Whether an edit at `path` can reach what the parser reads: every key on the way is one it reads. */
const reachesRead = (path: Path, edit: Edit): boolean =>
  path.every((k) => typeof k === 'number' || READ.has(k)) && !(edit.kind === 'add' && !READ.has(edit.key));

describe('fuzz: parseBlockstats', () => {
  test('random JSON: only ParseError, and well formed when accepted', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.jsonValue(), fc.array(fc.record({ stats: fc.jsonValue() }, { requiredKeys: [] }))),
        (json) => {
          const r = parseOrRefuse(json);
          if (r) assertWellFormed(r, json);
        },
      ),
      runs(2000),
    );
  });

  test('the real capture with one value replaced, deleted or a member added anywhere', () => {
    const edit: fc.Arbitrary<Edit> = fc.oneof(
      fc.record({ kind: fc.constant('replace' as const), value: HOSTILE }),
      fc.record({ kind: fc.constant('delete' as const) }),
      fc.record({
        kind: fc.constant('add' as const),
        key: fc.oneof(fc.constantFrom(...READ, '__proto__', 'constructor', 'zone_append_bytes'), fc.string()),
        value: HOSTILE,
      }),
    );
    fc.assert(
      fc.property(fc.constantFrom(...ALL_PATHS), edit, (path, e) => {
        const json = mutate(path, e);
        const r = parseOrRefuse(json);
        if (r) assertWellFormed(r, json);
        if (!reachesRead(path, e)) assert.deepEqual(r, PARSED, `edit ${JSON.stringify(e)} at ${path.join('.')}`);
      }),
      runs(3000),
    );
  });

  test('every member and element of the capture dropped in turn: refused exactly when the parser needs it', () => {
    for (const path of ALL_PATHS) {
      const r = parseOrRefuse(mutate(path, { kind: 'delete' }));
      const key = path[path.length - 1]!;
      // an entry of the list, its names and its histograms are optional; a bin or a boundary is not
      const optional =
        path.length === 1 ||
        key === 'device' ||
        key === 'qdev' ||
        key === 'node-name' ||
        String(key).endsWith('_histogram');
      if (reachesRead(path, { kind: 'delete' }) && !optional)
        assert.equal(r, undefined, `dropping ${path.join('.')} was accepted`);
      else assert.notEqual(r, undefined, `dropping ${path.join('.')} was refused`);
    }
  });

  test('the capture text edited (inserts, deletes, cuts): only ParseError once it is JSON', () => {
    fc.assert(
      fc.property(edited([TEXT]), (text) => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          return; // the client refuses text that is not JSON before this parser sees it
        }
        const r = parseOrRefuse(json);
        if (r) assertWellFormed(r, json);
      }),
      runs(2000),
    );
  });
});
