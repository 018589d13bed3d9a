import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBlockStat } from '../../src/host/sysfs/block-stat.js';
import { ParseError } from '../../src/host/parse-error.js';

// `cat /sys/block/vda/stat` on this machine (kernel 6.18): 17 fields, each right-aligned in 8 columns plus a space.
const VDA_17 =
  '   28593     5764  1470594    15690    11247    15961  1451024    22908        0     8736    39274     4617       84   127736      611     1779       62\n';
// `cat /sys/block/loop0/stat`: an unused device.
const LOOP0_17 =
  '       0        0        0        0        0        0        0        0        0        0        0        0        0        0        0        0        0\n';
// The same counters in the layouts of older kernels: 15 fields (4.18–5.4, with discards) and 11 (before 4.18).
const VDA_15 = `${VDA_17.slice(0, VDA_17.lastIndexOf('     1779'))}\n`;
const VDA_11 = `${VDA_17.slice(0, VDA_17.indexOf('     4617'))}\n`;

const BASE = {
  readsCompleted: 28593,
  readsMerged: 5764,
  readSectors: 1470594,
  readTimeMs: 15690,
  writesCompleted: 11247,
  writesMerged: 15961,
  writeSectors: 1451024,
  writeTimeMs: 22908,
  inFlight: 0,
  ioTimeMs: 8736,
  weightedIoTimeMs: 39274,
};
const DISCARDS = { discardsCompleted: 4617, discardsMerged: 84, discardSectors: 127736, discardTimeMs: 611 };

describe('parseBlockStat', () => {
  test('reads 17 fields (discards and flushes)', () => {
    assert.deepEqual(parseBlockStat(VDA_17), { ...BASE, ...DISCARDS, flushesCompleted: 1779, flushTimeMs: 62 });
  });

  test('reads 15 fields (discards, no flushes)', () => {
    const s = parseBlockStat(VDA_15);
    assert.deepEqual(s, { ...BASE, ...DISCARDS });
    assert.ok(!('flushesCompleted' in s));
  });

  test('reads 11 fields (old kernels)', () => {
    const s = parseBlockStat(VDA_11);
    assert.deepEqual(s, BASE);
    assert.ok(!('discardsCompleted' in s));
  });

  test('reads an idle device, tabs, counters beyond 2^32', () => {
    assert.equal(parseBlockStat(LOOP0_17).flushTimeMs, 0);
    assert.equal(parseBlockStat('1\t2\t3\t4\t5\t6\t7\t8\t9\t10\t11\n').weightedIoTimeMs, 11);
    assert.equal(parseBlockStat(VDA_17.replace('1470594', '8589934592')).readSectors, 8589934592);
  });

  test('ignores fields past the 17th (a future kernel may append)', () => {
    assert.equal(parseBlockStat(`${VDA_17.trimEnd()}        5\n`).flushTimeMs, 62);
  });

  test('throws ParseError on malformed input', () => {
    const fields = VDA_17.trim().split(/\s+/);
    for (const bad of [
      '',
      '\n',
      'garbage\n',
      fields.slice(0, 10).join(' '), // too few
      fields.slice(0, 12).join(' '), // truncated between layouts
      fields.slice(0, 14).join(' '),
      fields.slice(0, 16).join(' '),
      VDA_17.replace('28593', 'abc'),
      VDA_17.replace('  5764', '-5764'),
      VDA_17.replace('15690', '156.0'),
      VDA_17.replace('  8736', '9007199254740993'), // beyond 2^53
      VDA_17.trimEnd(), // no newline: the last number may have been cut
      VDA_11.slice(0, -3), // cut inside field 11, which would read 392 instead of 39274
    ]) {
      assert.throws(() => parseBlockStat(bad), ParseError, JSON.stringify(bad));
    }
  });
});
