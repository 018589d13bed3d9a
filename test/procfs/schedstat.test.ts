import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSchedstat } from '../../src/host/procfs/schedstat.js';
import { ParseError } from '../../src/host/parse-error.js';

describe('parseSchedstat', () => {
  test('reads /proc/self/schedstat', () => {
    assert.deepEqual(parseSchedstat('252185 0 1\n'), { runNs: 252185, waitNs: 0, timeslices: 1 });
  });

  test('reads QEMU thread schedstat (main loop, vCPU) captured on this machine', () => {
    assert.deepEqual(parseSchedstat('27356259 508457 20\n'), { runNs: 27356259, waitNs: 508457, timeslices: 20 });
    assert.deepEqual(parseSchedstat('2481385 0 6\n'), { runNs: 2481385, waitNs: 0, timeslices: 6 });
  });

  test('reads a long-lived thread (ns beyond 2^32)', () => {
    assert.deepEqual(parseSchedstat('3609933123456 629113 13\n'), {
      runNs: 3609933123456,
      waitNs: 629113,
      timeslices: 13,
    });
  });

  test('refuses a line without its newline: the last number may have been cut', () => {
    assert.throws(() => parseSchedstat('3609933123456 629113 13'), ParseError);
  });

  test('ignores fields a future kernel might append', () => {
    assert.deepEqual(parseSchedstat('1 2 3 4\n'), { runNs: 1, waitNs: 2, timeslices: 3 });
  });

  test('throws ParseError on malformed input', () => {
    for (const bad of [
      '',
      '\n',
      '252185 0\n',
      '252185',
      'abc 0 1\n',
      '252185 -1 1\n',
      '1 2 3x\n',
      '1.5 2 3\n',
      '9007199254740992 0 1\n',
    ]) {
      assert.throws(() => parseSchedstat(bad), ParseError, JSON.stringify(bad));
    }
  });
});
