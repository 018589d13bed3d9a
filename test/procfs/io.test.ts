import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIo } from '../../src/host/procfs/io.js';
import { ParseError } from '../../src/host/parse-error.js';

// /proc/PID/io of a QEMU 7.2 process on this machine.
const QEMU = `rchar: 272374
wchar: 38
syscr: 6
syscw: 6
read_bytes: 565248
write_bytes: 24576
cancelled_write_bytes: 0
`;

describe('parseIo', () => {
  test('reads a QEMU process', () => {
    assert.deepEqual(parseIo(QEMU), {
      rchar: 272374,
      wchar: 38,
      syscr: 6,
      syscw: 6,
      readBytes: 565248,
      writeBytes: 24576,
      cancelledWriteBytes: 0,
    });
  });

  test('reads /proc/self/io (zeros), counters beyond 2^32', () => {
    const text =
      'rchar: 6976\nwchar: 0\nsyscr: 10\nsyscw: 0\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n';
    assert.equal(parseIo(text).rchar, 6976);
    assert.equal(parseIo(QEMU.replace('rchar: 272374', 'rchar: 1099511627776')).rchar, 1099511627776);
  });

  test('refuses a last line without its newline: its number may have been cut', () => {
    assert.throws(() => parseIo(QEMU.trimEnd()), ParseError);
  });

  test('ignores unknown keys', () => {
    assert.equal(parseIo(`future_key: 5\n${QEMU}`).wchar, 38);
  });

  test('throws ParseError on malformed input', () => {
    for (const bad of [
      '',
      'garbage\n',
      QEMU.slice(0, QEMU.indexOf('write_bytes')), // truncated: write_bytes and cancelled missing
      QEMU.replace('wchar: 38', 'wchar: abc'),
      QEMU.replace('wchar: 38', 'wchar: -1'),
      QEMU.replace('wchar: 38', 'wchar:'),
      QEMU.replace('wchar: 38', 'wchar: 18446744073709551615'),
    ]) {
      assert.throws(() => parseIo(bad), ParseError, JSON.stringify(bad));
    }
  });
});
