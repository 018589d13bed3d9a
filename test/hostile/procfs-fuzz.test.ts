/**
 * The procfs and sysfs parsers under property-based fuzzing, on real samples (the fixture host and this machine's
 * own /proc and /sys): the only failure allowed is a ParseError, and a result never holds a wrong number — a file
 * cut short, a giant number or a stray byte gives either the true values or a ParseError.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ParseError } from '../../src/host/parse-error.js';
import { parseUint } from '../../src/host/parse-uint.js';
import { parseLibvirtCgroup } from '../../src/host/procfs/cgroup.js';
import { parseCmdline } from '../../src/host/procfs/cmdline.js';
import { parseIo } from '../../src/host/procfs/io.js';
import { parseSchedstat } from '../../src/host/procfs/schedstat.js';
import { parseStat } from '../../src/host/procfs/stat.js';
import { parseStatus } from '../../src/host/procfs/status.js';
import { parseBlockStat } from '../../src/host/sysfs/block-stat.js';
import {
  assertSameNumbers,
  assertSaneNumbers,
  bytesAsText,
  digitRuns,
  edited,
  fixtureTexts,
  giantNumber,
  parseOrRefuse,
  runs,
  STRAY,
} from '../support/fuzz.js';

const RUNS = runs(300);

/** This machine's own files, read the way the exporter reads them (the kernel's exact layout). */
function live(paths: string[]): string[] {
  const out: string[] = [];
  for (const path of paths) {
    try {
      out.push(readFileSync(path, 'utf8'));
    } catch {
      /* absent on this kernel, or not readable */
    }
  }
  return out;
}
const ownThreads = readdirSync('/proc/self/task').map((tid) => `/proc/self/task/${tid}`);
const blockDevices = (() => {
  try {
    return readdirSync('/sys/block').map((dev) => `/sys/block/${dev}/stat`);
  } catch {
    return [];
  }
})();

interface Target {
  name: string;
  parse: (text: string) => unknown;
  samples: string[];
  /** How a part can go missing: a line (key: value files) or a blank-separated field. Positional stat has neither (see below). */
  part?: 'line' | 'field';
}

/** Blocks a stat / block stat sample in the older layouts too: 11 and 15 fields, each ending in a newline. */
function olderBlockLayouts(sample: string): string[] {
  const fields = sample.trim().split(/\s+/);
  return [11, 15].map((n) => `${fields.slice(0, n).join(' ')}\n`);
}

const blockSamples = [...fixtureTexts(/sys\/.*\/stat$/), ...live(blockDevices)];
const TARGETS: Target[] = [
  {
    name: 'stat',
    parse: parseStat,
    samples: [...fixtureTexts(/proc\/\d+\/(task\/\d+\/)?stat$/), ...live(ownThreads.map((t) => `${t}/stat`))],
  },
  {
    name: 'status',
    parse: parseStatus,
    samples: [...fixtureTexts(/\/status$/), ...live(ownThreads.map((t) => `${t}/status`))],
    part: 'line',
  },
  {
    name: 'schedstat',
    parse: parseSchedstat,
    samples: [...fixtureTexts(/\/schedstat$/), ...live(ownThreads.map((t) => `${t}/schedstat`))],
    part: 'field',
  },
  {
    name: 'io',
    parse: parseIo,
    samples: [...fixtureTexts(/proc\/\d+\/io$/), ...live(['/proc/self/io'])],
    part: 'line',
  },
  {
    name: 'block stat',
    parse: parseBlockStat,
    samples: [...blockSamples, ...blockSamples.flatMap(olderBlockLayouts)],
    part: 'field',
  },
];

/** The sample with one part removed: the `n`-th line, or the `n`-th blank-separated field. */
function withoutPart(sample: string, part: 'line' | 'field', n: number): string {
  if (part === 'line') {
    const lines = sample.split('\n');
    lines.splice(n % Math.max(1, lines.length - 1), 1);
    return lines.join('\n');
  }
  const fields = [...sample.matchAll(/\S+\s*/g)];
  const f = fields[n % fields.length]!;
  return sample.slice(0, f.index) + sample.slice(f.index + f[0].length);
}

for (const t of TARGETS) {
  describe(`fuzz: ${t.name}`, () => {
    const full = new Map(t.samples.map((s) => [s, t.parse(s)]));

    test('anything (random bytes, random text, edited samples): whole non-negative numbers, or a ParseError', () => {
      fc.assert(
        fc.property(fc.oneof(bytesAsText(400), fc.string({ maxLength: 400 }), edited(t.samples)), (text) => {
          const r = parseOrRefuse(t.parse, text);
          if (r !== undefined) assertSaneNumbers(r, text);
        }),
        RUNS,
      );
    });

    test('cut short at every position: the full values, or a ParseError', () => {
      for (const [sample, want] of full) {
        for (let k = 0; k < sample.length; k++) {
          const r = parseOrRefuse(t.parse, sample.slice(0, k));
          if (r !== undefined) assertSameNumbers(r, want, sample.slice(0, k));
        }
      }
    });

    test('a giant number in place of any number: a ParseError, or a result that does not use it', () => {
      const withRuns = t.samples.filter((s) => digitRuns(s).length > 0);
      fc.assert(
        fc.property(fc.constantFrom(...withRuns), fc.nat(), giantNumber, (sample, i, giant) => {
          const runs = digitRuns(sample);
          const { start, end } = runs[i % runs.length]!;
          const text = sample.slice(0, start) + giant + sample.slice(end);
          const r = parseOrRefuse(t.parse, text);
          if (r !== undefined) assertSameNumbers(r, full.get(sample), text);
        }),
        RUNS,
      );
    });

    test('a stray byte (NUL, U+FFFD, sign, dot, bracket, colon, letter) anywhere: a ParseError or the same numbers', () => {
      fc.assert(
        fc.property(fc.constantFrom(...t.samples), fc.nat(), fc.constantFrom(...STRAY), (sample, at, c) => {
          const pos = at % (sample.length + 1);
          const text = sample.slice(0, pos) + c + sample.slice(pos);
          const r = parseOrRefuse(t.parse, text);
          if (r !== undefined) assertSameNumbers(r, full.get(sample), text);
        }),
        RUNS,
      );
    });

    const part = t.part;
    if (part) {
      test(`a missing ${part}: a ParseError, or the same numbers`, () => {
        fc.assert(
          fc.property(fc.constantFrom(...t.samples), fc.nat(), (sample, n) => {
            const text = withoutPart(sample, part, n);
            const r = parseOrRefuse(t.parse, text);
            if (r !== undefined) assertSameNumbers(r, full.get(sample), text);
          }),
          RUNS,
        );
      });
    }
  });
}

describe('fuzz: parseUint', () => {
  test('decimal digits: exactly their value up to 2^53 − 1, else a ParseError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.stringMatching(/^\d{1,30}$/), giantNumber), (digits) => {
        const r = parseOrRefuse((s) => parseUint(s, 0, s.length, 'n'), digits);
        if (BigInt(digits) <= BigInt(Number.MAX_SAFE_INTEGER)) assert.equal(r, Number(digits));
        else assert.equal(r, undefined, digits);
      }),
      runs(1000),
    );
  });

  test('anything with a character other than a digit (or nothing): a ParseError', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 30, unit: 'binary' }).filter((s) => !/^\d+$/.test(s)),
        (s) => {
          assert.throws(() => parseUint(s, 0, s.length, 'n'), ParseError);
        },
      ),
      runs(1000),
    );
  });
});

describe('fuzz: libvirt cgroup (a hint: never throws)', () => {
  const samples = fixtureTexts(/\/cgroup$/);
  const LEAF = /^(emulator|vcpu\d+|iothread\d+)$/;

  test('anything: a libvirt leaf or nothing', () => {
    fc.assert(
      fc.property(fc.oneof(bytesAsText(300), fc.string({ maxLength: 300 }), edited(samples)), (text) => {
        const leaf = parseLibvirtCgroup(text);
        assert.ok(leaf === undefined || LEAF.test(leaf), `${String(leaf)} from ${JSON.stringify(text)}`);
      }),
      RUNS,
    );
  });

  test('cut short at every position: the full leaf or nothing (never vcpu1 for vcpu12)', () => {
    const withLeaf = [...samples, '0::/machine.slice/machine-qemu\\x2d1\\x2dlab.scope/libvirt/vcpu12\n'];
    for (const sample of withLeaf) {
      const want = parseLibvirtCgroup(sample);
      for (let k = 0; k < sample.length; k++) {
        const got = parseLibvirtCgroup(sample.slice(0, k));
        assert.ok(
          got === undefined || got === want,
          `${String(got)} ≠ ${String(want)} from ${JSON.stringify(sample.slice(0, k))}`,
        );
      }
    }
  });
});

describe('fuzz: /proc/PID/cmdline (never throws)', () => {
  test('arguments joined with NULs come back as they were', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.string({ unit: 'binary' }).filter((s) => !s.includes('\0')),
          { minLength: 1, maxLength: 20 },
        ),
        (argv) => {
          assert.deepEqual(parseCmdline(`${argv.join('\0')}\0`), argv);
        },
      ),
      RUNS,
    );
  });

  test('anything: a list of strings', () => {
    fc.assert(
      fc.property(bytesAsText(400), (text) => {
        assert.ok(parseCmdline(text).every((a) => typeof a === 'string'));
      }),
      RUNS,
    );
  });
});
