/** Shared pieces of the parser fuzz suites (test/hostile/): real samples, mutations, and the checks on results. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ParseError } from '../../src/host/parse-error.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** fast-check options: `n` runs (bounded, for CI), or FUZZ_RUNS for a long hunt (`FUZZ_RUNS=100000 node --import tsx --test …`). */
export function runs(n: number): { numRuns: number } {
  return { numRuns: Number(process.env.FUZZ_RUNS ?? n) };
}

/** Every fixture file (under test/fixtures/) whose path matches `re`, as text; sorted, so runs are reproducible. */
export function fixtureTexts(re: RegExp): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = statSync(path, { throwIfNoEntry: false });
      if (st?.isDirectory()) walk(path);
      else if (st?.isFile() && re.test(path.slice(FIXTURES.length))) out.push(readFileSync(path, 'utf8'));
    }
  };
  walk(FIXTURES);
  assert.ok(out.length > 0, `no fixture matches ${String(re)}`);
  return [...new Set(out)];
}

/**
 * Calls `parse`: its result, or undefined when it threw a ParseError. Any other exception fails the test
 * (with the input in the message, so a shrunk counterexample can be pasted into a unit test).
 */
export function parseOrRefuse<T>(parse: (text: string) => T, text: string): T | undefined {
  try {
    return parse(text);
  } catch (err) {
    if (err instanceof ParseError) return undefined;
    assert.fail(
      `threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)} instead of a ParseError for ${JSON.stringify(text)}`,
    );
  }
}

/** Every number in a parse result, by path (`a.b`); recurses into objects, arrays and maps. */
export function numbersOf(value: unknown, path = '', out = new Map<string, number>()): Map<string, number> {
  if (typeof value === 'number') out.set(path, value);
  else if (value instanceof Map) for (const [k, v] of value) numbersOf(v, `${path}[${String(k)}]`, out);
  else if (typeof value === 'object' && value !== null)
    for (const [k, v] of Object.entries(value)) numbersOf(v, path ? `${path}.${k}` : k, out);
  return out;
}

/** Counters and gauges read from the kernel are whole, non-negative and exact: anything else is a wrong number. */
export function assertSaneNumbers(result: unknown, input: string): void {
  for (const [path, n] of numbersOf(result)) {
    assert.ok(Number.isSafeInteger(n) && n >= 0, `${path} = ${n} from ${JSON.stringify(input)}`);
  }
}

/** Every number of `got` equals the same number of `full` (a field may be missing, never different). */
export function assertSameNumbers(got: unknown, full: unknown, input: string): void {
  const want = numbersOf(full);
  for (const [path, n] of numbersOf(got)) {
    assert.equal(n, want.get(path), `${path} from ${JSON.stringify(input)}`);
  }
}

/** Text as HostFs.readSmall makes it from arbitrary bytes (invalid UTF-8 becomes U+FFFD). */
export const bytesAsText = (maxLength: number): fc.Arbitrary<string> =>
  fc.uint8Array({ maxLength }).map((b) => Buffer.from(b).toString('utf8'));

/**
 * Characters that must not turn into a different number when dropped anywhere in a file. Digits and blanks are left
 * out: a digit added to a number, or a blank splitting one in two in a positional format (stat, block stat), makes
 * valid numbers that no parser can tell from the kernel's own.
 */
export const STRAY = ['\0', '\uFFFD', '\u00e9', '-', '+', '.', 'x', ')', '(', ':', '/'] as const;

/** One edit of a text: insert, delete, replace a range, or cut it short. Positions wrap around the text length. */
export function edited(samples: readonly string[]): fc.Arbitrary<string> {
  const edit = fc.oneof(
    fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(),
      text: fc.oneof(fc.constantFrom(...STRAY), fc.string({ maxLength: 8 })),
    }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
    fc.record({
      kind: fc.constant('replace' as const),
      at: fc.nat(),
      length: fc.integer({ min: 1, max: 8 }),
      text: fc.string({ maxLength: 8, unit: 'binary' }),
    }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  );
  return fc
    .tuple(fc.constantFrom(...samples), fc.array(edit, { minLength: 1, maxLength: 4 }))
    .map(([sample, edits]) => {
      let s = sample;
      for (const e of edits) {
        const at = s.length === 0 ? 0 : e.at % (s.length + 1);
        if (e.kind === 'insert') s = s.slice(0, at) + e.text + s.slice(at);
        else if (e.kind === 'delete') s = s.slice(0, at) + s.slice(at + e.length);
        else if (e.kind === 'replace') s = s.slice(0, at) + e.text + s.slice(at + e.length);
        else s = s.slice(0, at);
      }
      return s;
    });
}

/** Positions of every run of decimal digits in text. */
export function digitRuns(text: string): { start: number; end: number }[] {
  return [...text.matchAll(/\d+/g)].map((m) => ({ start: m.index, end: m.index + m[0].length }));
}

/** Decimal numbers of 2^53 and beyond: the first that a double cannot hold exactly, 2^64 − 1, and far larger. */
export const giantNumber: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '9007199254740992',
    '9007199254740993',
    '18446744073709551615',
    '18446744073709551616',
    '9'.repeat(400),
  ),
  fc.bigInt({ min: 2n ** 53n, max: 2n ** 200n }).map(String),
);
