import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseStat } from '../../src/host/procfs/stat.js';
import { ParseError } from '../../src/host/parse-error.js';

// Captured on this machine (kernel 6.18) from a QEMU 7.2 started with `-accel kvm -name guest=ptest,debug-threads=on`.
const QEMU_VCPU =
  '5106 (CPU 0/KVM) S 1 5101 5101 0 -1 138412224 6 0 0 0 0 0 0 0 20 0 4 0 32996 364036096 5268 18446744073709551615 ' +
  '94747746807808 94747752668245 140722908629824 0 0 0 2147219511 3674112 16963 1 0 0 -1 1 0 0 0 0 0 94747755780344 ' +
  '94747760984496 94748202803200 140722908637724 140722908637907 140722908637907 140722908639196 0\n';
const QEMU_IOTHREAD =
  '5105 (IO iothread1) S 1 5101 5101 0 -1 138412224 4 0 0 0 0 0 0 0 20 0 4 0 32995 364036096 5268 18446744073709551615 ' +
  '94747746807808 94747752668245 140722908629824 0 0 0 2147220087 3674112 16963 1 0 0 -1 0 0 0 0 0 0 94747755780344 ' +
  '94747760984496 94748202803200 140722908637724 140722908637907 140722908637907 140722908639196 0\n';
// `cat /proc/self/stat`
const SELF =
  '4876 (cat) R 4874 4874 3752 0 -1 4194304 98 0 0 0 0 0 0 0 20 0 1 0 28442 3133440 354 18446744073709551615 ' +
  '94367291928576 94367291948457 140732525094560 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94367291964464 94367291966080 ' +
  '94367723868160 140732525095648 140732525095668 140732525095668 140732525096939 0\n';
// A thread of PID 1 with CPU time (and nice -10: skipped fields may be negative), and kthreadd (kernel thread: rss 0).
const BUSY_THREAD =
  '75 (tokio-rt-worker) S 0 0 0 0 -1 4194624 1448 1175811 0 622 12 63 1649 1114 10 -10 13 0 122 42897408 3172 ' +
  '18446744073709551615 1 1 0 0 0 0 0 4096 1256 0 0 0 -1 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n';
const KTHREADD =
  '2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 24 0 0 18446744073709551615 0 0 0 0 0 0 0 ' +
  '2147483647 0 1 0 0 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n';

describe('parseStat', () => {
  test('reads a QEMU vCPU thread whose comm holds a space and a slash', () => {
    assert.deepEqual(parseStat(QEMU_VCPU), {
      comm: 'CPU 0/KVM',
      state: 'S',
      flags: 138412224,
      utimeTicks: 0,
      stimeTicks: 0,
      numThreads: 4,
      starttimeTicks: 32996,
      rssPages: 5268,
    });
    assert.equal(parseStat(QEMU_IOTHREAD).comm, 'IO iothread1');
  });

  test('reads /proc/self/stat', () => {
    assert.deepEqual(parseStat(SELF), {
      comm: 'cat',
      state: 'R',
      flags: 4194304,
      utimeTicks: 0,
      stimeTicks: 0,
      numThreads: 1,
      starttimeTicks: 28442,
      rssPages: 354,
    });
  });

  test('reads utime, stime and num_threads from a busy thread', () => {
    assert.deepEqual(parseStat(BUSY_THREAD), {
      comm: 'tokio-rt-worker',
      state: 'S',
      flags: 4194624,
      utimeTicks: 12,
      stimeTicks: 63,
      numThreads: 13,
      starttimeTicks: 122,
      rssPages: 3172,
    });
  });

  test('reads a kernel thread (rss 0)', () => {
    const s = parseStat(KTHREADD);
    assert.equal(s.comm, 'kthreadd');
    assert.equal(s.rssPages, 0);
    assert.equal(s.starttimeTicks, 24);
  });

  test('takes the comm up to the LAST ")" (comm "a) b (c")', () => {
    const s = parseStat(SELF.replace('(cat)', '(a) b (c)'));
    assert.equal(s.comm, 'a) b (c');
    assert.equal(s.state, 'R');
    assert.equal(s.starttimeTicks, 28442);
  });

  test('is not fooled by a comm that looks like stat fields', () => {
    const s = parseStat(QEMU_VCPU.replace('(CPU 0/KVM)', '(x) Z 9 9 9 9)'));
    assert.equal(s.comm, 'x) Z 9 9 9 9');
    assert.equal(s.state, 'S');
    assert.equal(s.numThreads, 4);
  });

  test('accepts an empty comm and a line without trailing newline', () => {
    const s = parseStat(SELF.replace('(cat)', '()').trimEnd());
    assert.equal(s.comm, '');
    assert.equal(s.rssPages, 354);
  });

  test('reads counters beyond 2^32', () => {
    const fields = SELF.split(' ');
    fields[13] = '8589934592'; // utime, field 14
    assert.equal(parseStat(fields.join(' ')).utimeTicks, 8589934592);
  });

  test('stops at field 24: a line cut after the blank that ends rss parses, one cut right after its digits does not', () => {
    const cut = SELF.split(' ').slice(0, 24).join(' ');
    assert.equal(parseStat(`${cut} `).rssPages, 354);
    assert.throws(() => parseStat(cut), ParseError, 'rss may have lost digits');
  });

  test('throws ParseError on malformed input', () => {
    const fields = SELF.split(' ');
    const withField = (n: number, v: string) => fields.map((f, i) => (i === n - 1 ? v : f)).join(' ');
    for (const bad of [
      '',
      'garbage',
      '4876 (cat R 4874', // no ")"
      '4876 cat) R 4874', // no "("
      SELF.split(' ').slice(0, 23).join(' '), // truncated before rss
      '4876 (cat)\n',
      '4876 (cat) RS 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21', // state not one char
      withField(9, 'abc'), // flags
      withField(14, '-1'), // utime
      withField(15, '1.5'), // stime
      withField(20, ''), // num_threads (an empty field collapses the columns)
      withField(22, '9007199254740992'), // starttime = 2^53
      withField(24, '18446744073709551615'), // rss beyond 2^53
    ]) {
      assert.throws(() => parseStat(bad), ParseError, JSON.stringify(bad));
    }
  });

  test('round-trips any comm and any safe field values', () => {
    const comm = fc.string({ maxLength: 64 }).filter((s) => !s.includes('\n'));
    const u = fc.maxSafeNat();
    fc.assert(
      fc.property(
        comm,
        fc.constantFrom('R', 'S', 'D', 'Z', 'I'),
        u,
        u,
        u,
        u,
        u,
        u,
        (c, state, flags, utime, stime, threads, start, rss) => {
          const f = [
            '1',
            '0',
            '0',
            '0',
            '-1',
            String(flags),
            '0',
            '0',
            '0',
            '0',
            String(utime),
            String(stime),
            '0',
            '0',
            '20',
            '0',
            String(threads),
            '0',
            String(start),
            '0',
            String(rss),
            '18446744073709551615',
          ];
          const line = `42 (${c}) ${state} ${f.join(' ')}\n`;
          assert.deepEqual(parseStat(line), {
            comm: c,
            state,
            flags,
            utimeTicks: utime,
            stimeTicks: stime,
            numThreads: threads,
            starttimeTicks: start,
            rssPages: rss,
          });
        },
      ),
    );
  });
});
